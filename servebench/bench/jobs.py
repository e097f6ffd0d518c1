"""What one Locust run of a target takes from the plan: its job, the server's resource source,
and the load generator's ceiling."""

from __future__ import annotations

import servebench.bench.calibrate as calibrate
from servebench.bench.locust_run import LocustJob
from servebench.bench.monitor import StatsSource, server_stats
from servebench.bench.plan import BenchPlan
from servebench.errors import UsageError
from servebench.models import ModelSpec


def locust_job(
    plan: BenchPlan,
    spec: ModelSpec,
    target: str,
    duration: float,
    rate: float,
    scenario: str | None = None,
) -> LocustJob:
    return LocustJob(
        stack_file=plan.state_dir.resolve() / "stack.json",
        scenario=scenario or plan.scenario,
        model=spec.name,
        target=target,
        duration_s=duration,
        users=plan.users,
        rate=rate,
        batch=plan.batch,
        workers=plan.workers,
        loadgen_cpus=plan.loadgen_cpus,
        options={
            "slo_ms": plan.slo_ms or spec.slo_ms,
            "warmup": plan.warmup_s,
            "encoding": plan.encoding,
            **plan.options,
        },
    )


def sampled_stats(backend: dict) -> StatsSource | None:
    """The server's CPU and memory source for one run (a fresh CPU clock each time), or None
    when it cannot be sampled (run_bench already warned)."""
    try:
        return server_stats(backend)
    except UsageError:
        return None


def calibration_case(plan: BenchPlan, target: str, model: str) -> calibrate.Case:
    return calibrate.case_for(target, model, plan.encoding, plan.loadgen_cpus, plan.workers)


def loadgen_ceiling(plan: BenchPlan, target: str, spec: ModelSpec) -> float | None:
    return calibrate.ceiling(
        calibrate.load(plan.state_dir), calibration_case(plan, target, spec.name)
    )

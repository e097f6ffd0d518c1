"""The MLPerf-style headline: the highest offered Poisson rate that still meets the SLO, found
by a search of one-window Locust runs that starts just under the closed-loop throughput."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from servebench.bench.jobs import loadgen_ceiling, locust_job, sampled_stats
from servebench.bench.locust_run import LocustJob, run_one_window
from servebench.bench.monitor import say
from servebench.bench.plan import BenchPlan
from servebench.bench.results import loadgen_busiest, loadgen_limits
from servebench.errors import UsageError
from servebench.models import ModelSpec
from servebench.stack_record import Stack
from servebench.target import Target

KNEE_START = 0.8  # the knee search's first rate, as a share of the closed-loop throughput


@dataclass(frozen=True)
class KneeStep:
    """One step of the knee search: a one-window run at ``rate``, and whether it met the SLO."""

    rate: float
    passed: bool
    p99_ms: float | None = None
    error_ratio: float | None = None
    warnings: tuple[str, ...] = ()  # why the load generator may have limited this step


def find_knee(
    step: Callable[[float], KneeStep],
    first_rate: float,
    max_steps: int = 6,
    tolerance: float = 0.10,
) -> tuple[float | None, list[KneeStep]]:
    """Bracket the knee by doubling or halving from ``first_rate``, then bisect geometrically
    until the passing and failing rates are within ``tolerance`` of each other. A first rate
    within a factor of two of the knee converges in six steps or fewer.

    Returns (the highest passing rate or None, every step in order).
    """
    passing = failing = None
    rate, steps = first_rate, []
    while len(steps) < max_steps:
        result = step(rate)
        steps.append(result)
        if result.passed:
            passing = rate if passing is None else max(passing, rate)
        else:
            failing = rate if failing is None else min(failing, rate)
        if passing is not None and failing is not None and failing / passing <= 1 + tolerance:
            break
        if failing is None:
            rate *= 2
        elif passing is None:
            rate /= 2
        else:
            rate = math.sqrt(passing * failing)
    return passing, steps


def converged(steps: list[KneeStep], tolerance: float = 0.10) -> bool:
    """True when a passing and a failing step bracket the knee within ``tolerance``."""
    passing = [s.rate for s in steps if s.passed]
    failing = [s.rate for s in steps if not s.passed]
    return bool(passing and failing) and min(failing) / max(passing) <= 1 + tolerance


def measure_knee(
    plan: BenchPlan, stack: Stack, spec: ModelSpec, target: str, run_dir: Path
) -> dict:
    """The knee of ``target``, the steps that found it, and its repeat at the knee."""
    slo_ms = plan.slo_ms or spec.slo_ms
    server = Target.parse(target).server
    # The knee lies below what the target serves in closed loop; starting just under that puts
    # the first step within 2x of the knee, where the search converges in six steps.
    capacity = _closed_loop_rps(plan, stack, spec, target, run_dir)
    first_rate = KNEE_START * capacity if capacity else 20.0

    ceiling = loadgen_ceiling(plan, target, spec)

    def step(rate: float, suffix: str = "") -> KneeStep:
        job = locust_job(
            plan, spec, target, plan.warmup_s + plan.window_s, rate, scenario="poisson"
        )
        folder = run_dir / spec.name / target / f"knee-{rate:.1f}{suffix}"
        label = f"{spec.name} {target} knee step @ {rate:.1f}/s"
        figures = _one_window(plan, stack, job, folder, label)
        p99 = figures["latency_ms"]["p99"]
        errors = figures["error_ratio"]
        passed = p99 is not None and p99 <= slo_ms and errors is not None and errors < 0.01
        shown = (f"p99 {p99:.2f} ms" if p99 is not None else "p99 —",
                 f"errors {errors:.1%}" if errors is not None else "no request")  # fmt: skip
        say(f"{label}: {shown[0]}, {shown[1]}: "
            f"{'meets' if passed else 'misses'} p99 <= {slo_ms:g} ms")  # fmt: skip
        busy = loadgen_busiest(figures["resources"], plan)
        limits = loadgen_limits(rate, ceiling, busy, plan, Target.parse(target).protocol)
        return KneeStep(rate, passed, p99, figures["error_ratio"], tuple(limits))

    knee, steps = find_knee(step, first_rate)
    # A single window's p99 is noisy (here it was not even monotonic in the rate), so the knee
    # is measured once more; a knee that fails its repeat is reported as unconfirmed.
    repeat = step(knee, "-repeat") if knee else None
    return {
        "model": spec.name,
        "target": target,
        "implementation": stack.backends[server]["implementation"],
        "slo_ms_p99": slo_ms,
        "closed_loop_rps": capacity,
        "knee_rps": knee,
        "converged": converged(steps),
        "probes": [vars(s) for s in steps],  # the results' name for the knee search's steps
        **_confirmation(knee, steps, repeat),
        "warnings": sorted(
            {f"probe at {s.rate:.1f}/s: {w}" for s in [*steps, repeat] if s for w in s.warnings}
        ),
    }


def _confirmation(knee: float | None, steps: list[KneeStep], repeat: KneeStep | None) -> dict:
    """The repeat step at the knee, and the spread of the p99s measured at that rate."""
    if repeat is None:
        return {"confirmed": False, "repeat": None, "p99_spread_ms": None}
    at_knee = [s.p99_ms for s in [*steps, repeat] if s.rate == knee and s.p99_ms is not None]
    return {
        "confirmed": repeat.passed,
        "repeat": vars(repeat),
        "p99_spread_ms": [min(at_knee), max(at_knee)] if at_knee else None,
    }


def overload_rate(
    plan: BenchPlan, stack: Stack, spec: ModelSpec, target: str, run_dir: Path
) -> tuple[float, str]:
    """The knee the overload scenario steps around, and where it came from: --rate (say, a knee
    that --find-knee found), or else KNEE_START of the closed-loop throughput, where the knee
    search starts, since the knee lies below that."""
    if plan.rate > 0:
        return plan.rate, "--rate"
    capacity = _closed_loop_rps(plan, stack, spec, target, run_dir)
    if not capacity:
        raise UsageError(f"{spec.name} {target} served nothing in closed loop; see its log")
    return KNEE_START * capacity, f"{KNEE_START:.0%} of the closed-loop {capacity:.0f} req/s"


def _closed_loop_rps(
    plan: BenchPlan, stack: Stack, spec: ModelSpec, target: str, run_dir: Path
) -> float | None:
    """Requests per second the target completes with plan.users users and no think time."""
    job = locust_job(plan, spec, target, plan.warmup_s + plan.window_s, 0.0, scenario="steady")
    folder = run_dir / spec.name / target / "knee-closed-loop"
    label = f"{spec.name} {target} closed loop"
    figures = _one_window(plan, stack, job, folder, label)
    say(f"{label}: {figures['achieved_rps'] or 0:.1f} req/s; the knee search starts at "
        f"{KNEE_START:.0%} of it")  # fmt: skip
    return figures["achieved_rps"] or None


def _one_window(plan: BenchPlan, stack: Stack, job: LocustJob, folder: Path, label: str) -> dict:
    """Run ``job`` (a warm-up, then one window) and return the window's figures from the log."""
    server = stack.backends[Target.parse(job.target).server]
    stats = sampled_stats(server)
    figures, run = run_one_window(
        job, folder, stats, stack.prometheus_url, label, plan.warmup_s, plan.window_s
    )
    if run.interrupted:
        raise KeyboardInterrupt
    return figures

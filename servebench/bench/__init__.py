"""`servebench bench`: each target under load one at a time, warm-up discarded, K windows,
everything measured written to results/<run-id>/ as it comes in."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from servebench import cpus
from servebench.bench import calibrate, cold_start
from servebench.bench.analysis import (
    RequestLog,
    prometheus_window,
    resource_window,
    server_time_beyond_client,
    server_window,
)
from servebench.bench.faults import AT_FRACTION, FaultInjector, recovery
from servebench.bench.knee import Probe, converged, find_knee
from servebench.bench.locust_run import LocustJob, run_locust
from servebench.bench.monitor import server_stats
from servebench.bench.phases import (
    Phase,
    first_broken,
    measure_phases,
    scenario_options,
    scenario_phases,
)
from servebench.bench.results import RESULTS_SCHEMA, manifest, new_run_id, write_json
from servebench.bench.stats import summarize
from servebench.clients import WIRE_FORMATS, client_options, make_client
from servebench.errors import UsageError
from servebench.export.layout import ArtifactLayout
from servebench.metrics.promql import scalar
from servebench.models import ModelSpec
from servebench.payloads import sample_batch
from servebench.stack import stack_identity

FRAMEWORK = {"torchserve": "torch", "tfserving": "tensorflow"}
NEAR_CEILING = 0.5  # warn above half the load generator's calibrated ceiling
LOADGEN_BUSY = 0.8  # warn above 80% of the load generator's CPUs
KNEE_START = 0.8  # the knee search's first rate, as a share of the closed-loop throughput


@dataclass
class BenchPlan:
    scenario: str
    models: list[ModelSpec]
    targets: list[str]
    warmup_s: float
    window_s: float
    repeat: int
    users: int
    loadgen_cpus: list[int]
    out: Path
    state_dir: Path
    rate: float = 0.0
    batch: int = 1
    workers: int = 0
    find_knee: bool = False
    slo_ms: float | None = None
    limits: bool = True
    limits_seconds: float = 5.0
    calibrate_s: float = 5.0  # measure the load generator's missing ceilings (0: never)
    options: dict = field(default_factory=dict)
    fault: str | None = None  # the fault scenario's kind: "worker" or "server"
    encoding: str = "native"  # REST bodies: each server's native best, or JSON on both
    aa: bool = False  # an A/A run: the one target measured as both arms of the comparison


def run_bench(plan: BenchPlan, stack: dict) -> Path:
    """Run the plan; return the run folder. Ctrl-C writes what was measured, then re-raises."""
    run_dir = plan.out / new_run_id()
    run_dir.mkdir(parents=True, exist_ok=False)
    calibration = _calibration(plan, stack)
    loadgen = {"cpus": plan.loadgen_cpus, "workers": plan.workers, "calibration": calibration}
    write_json(run_dir / "manifest.json", manifest(stack, loadgen))
    results = _header(plan, stack, calibration)
    save = lambda: write_json(run_dir / "results.json", results)  # noqa: E731
    save()
    results["warnings"] += _keep_context(plan, stack, run_dir)
    results["cold_starts"], left_out = cold_start.matching(plan.state_dir, stack)
    results["warnings"] += [left_out] if left_out else []
    results["idle_rss_mb"] = _idle_memory(stack, results["warnings"])
    try:
        results["parity"] = _parity(plan, stack)
        save()
        if plan.limits:
            results["in_process"] = measure_limits(plan, stack)
            save()
        for spec in plan.models:
            for target in plan.targets:
                if plan.find_knee:
                    results["knee"].append(_knee(plan, stack, spec, target, run_dir))
                elif plan.aa:
                    arms, interrupted = measure_aa(plan, stack, spec, target, run_dir)
                    for entry in arms:
                        _judge(entry, results, plan)
                        results["targets"].append(entry)
                    if interrupted:
                        raise KeyboardInterrupt
                else:
                    entry, interrupted = measure_target(plan, stack, spec, target, run_dir)
                    _judge(entry, results, plan)
                    results["targets"].append(entry)
                    if interrupted:
                        raise KeyboardInterrupt
                save()
        results["complete"] = True
    except KeyboardInterrupt:
        results["interrupted"] = True
        raise
    finally:
        results["finished_at"] = time.time()
        save()
    return run_dir


def _keep_context(plan: BenchPlan, stack: dict, run_dir: Path) -> list[str]:
    """Copy what the report needs besides the measurements, so a run folder stands alone:
    the stack record, the artifacts' manifests and the bad-input matrix of this very stack.
    Returns warnings."""
    context = run_dir / "context"
    context.mkdir()
    write_json(context / "stack.json", stack)
    for spec in plan.models:
        manifest_file = ArtifactLayout(Path(stack["artifacts"])).manifest(spec.name)
        if manifest_file.is_file():
            write_json(
                context / f"artifact-{spec.name}.json", json.loads(manifest_file.read_text())
            )
    bad_inputs = plan.state_dir / "bad-inputs.json"
    if not bad_inputs.is_file():
        return []
    matrix = json.loads(bad_inputs.read_text())
    if matrix.get("stack") != stack_identity(stack):
        # Another stack's answers (an earlier emulator run, say) must not judge this one.
        return [
            f"{bad_inputs} was made against another stack and is left out; run "
            "`servebench probe-bad-inputs` against this one"
        ]
    write_json(context / "bad-inputs.json", matrix)
    return []


def _parity(plan: BenchPlan, stack: dict) -> dict:
    """Same model, checked again right before the load: in-process (from export) and through
    every endpoint of the running stack."""
    from servebench.endpoint_parity import endpoint_parity

    in_process = []
    for spec in plan.models:
        manifest_file = ArtifactLayout(Path(stack["artifacts"])).manifest(spec.name)
        if manifest_file.is_file():
            in_process += json.loads(manifest_file.read_text())["parity"]
    endpoints = [
        case.as_dict()
        for case in endpoint_parity(stack)
        if case.model in {s.name for s in plan.models}
    ]
    return {"in_process": in_process, "endpoints": endpoints}


def _header(plan: BenchPlan, stack: dict, calibration: dict | None) -> dict:
    backends = stack["backends"]
    if plan.aa:  # the one server under test is both arms; the other plays no part
        server = plan.targets[0].split("-")[0]
        backends = {server: backends[server]}
    implementations = {name: b["implementation"] for name, b in backends.items()}
    emulated = [name for name, b in backends.items() if not b["real"]]
    warnings = []
    if emulated:
        warnings.append(
            f"{', '.join(emulated)} served by an emulator: its figures say nothing about the real "
            "server, and no verdict may be drawn from this run"
        )
    if calibration is None:
        warnings.append(
            "the load generator's ceiling is unknown for some of this run's cases: run "
            "`servebench calibrate` (or bench without --calibrate-seconds 0)"
        )
    if stack.get("mode") == "kubernetes" and any(t.endswith("-grpc") for t in plan.targets):
        warnings.append(
            "gRPC through a Kubernetes Service is balanced per connection (one per Locust user), "
            "not per request: with several replicas, gRPC load may fall unevenly on them"
        )
    return {
        "schema_version": RESULTS_SCHEMA,
        "started_at": time.time(),
        "finished_at": None,
        "complete": False,
        "interrupted": False,
        "scenario": plan.scenario,
        "params": {
            "models": [spec.name for spec in plan.models],
            "targets": plan.targets,
            "warmup_s": plan.warmup_s,
            "window_s": plan.window_s,
            "repeat": plan.repeat,
            "users": plan.users,
            "rate": plan.rate,
            "batch": plan.batch,
            "workers": plan.workers,
            "loadgen_cpus": plan.loadgen_cpus,
            "server_cpus": stack.get("server_cpus"),
            "server_threads": stack.get("server_threads"),
            "batch_size": stack.get("batch_size", 1),
            "encoding": plan.encoding,
            "find_knee": plan.find_knee,
            "aa": plan.aa,
            **plan.options,
        },
        "implementations": implementations,
        "aa": {"target": plan.targets[0], "arms": list(ARMS)} if plan.aa else None,
        "verdict_allowed": not emulated,
        "calibration": calibration,
        "warnings": warnings,
        "parity": {},
        "in_process": {},
        "targets": [],
        "knee": [],
    }


def measure_target(
    plan: BenchPlan, stack: dict, spec: ModelSpec, target: str, run_dir: Path, part: str = ""
) -> tuple[dict, bool]:
    """One Locust run of ``target``: a warm-up, then plan.repeat windows. ``part`` names a
    sub-folder, for a target measured in several runs."""
    job = _job(plan, stack, spec, target, plan.warmup_s + plan.repeat * plan.window_s, plan.rate)
    folder = run_dir / spec.name / target / part
    relative = folder.relative_to(run_dir).as_posix()
    server = target.split("-")[0]
    backend = stack["backends"][server]
    label = f"{spec.name} {target}"
    injector = _fault_injector(plan, backend, spec, folder)
    try:
        run = run_locust(job, folder, _server_stats(backend), _prometheus(stack), label)
    finally:
        fault = injector.finish() if injector else None
    log = RequestLog.read(folder)
    repetitions = []
    for index in range(plan.repeat):
        start = run.test_start + plan.warmup_s + index * plan.window_s
        end = start + plan.window_s
        if end > run.finished:
            break  # interrupted before this window was complete
        repetitions.append(_window(plan, stack, spec, target, log, run.samples, index, start, end))
    entry = {
        "model": spec.name,
        "target": target,
        "crosscheck": _crosscheck(stack, spec, target, folder, log, run),
        "server": server,
        "protocol": target.split("-")[1],
        "implementation": stack["backends"][server]["implementation"],
        "real": stack["backends"][server]["real"],
        **_wire(plan, stack, spec, target, folder),
        "offered_rps": plan.rate or None,
        "loadgen_ceiling_rps": _ceiling(plan, target, spec),
        "users": plan.users,
        "requests_logged": len(log),
        "repetitions": repetitions,
        "summary": summarize(repetitions) if repetitions else None,
        "files": {  # relative to the run folder, so the folder can be moved
            "locust_csv": f"{relative}/locust_stats.csv",
            "request_logs": sorted(f"{relative}/{p.name}" for p in folder.glob("requests-*.csv")),
            "locust_log": f"{relative}/locust.log",
        },
        "warnings": [],
    }
    entry.update(
        _phases(plan, job, log, run) if fault is None else _fault(fault, plan, job, log, run)
    )
    return entry, run.interrupted


ARMS = ("A", "B")


def measure_aa(
    plan: BenchPlan, stack: dict, spec: ModelSpec, target: str, run_dir: Path
) -> tuple[list[dict], bool]:
    """An A/A run: ``target`` measured as both arms of a comparison, in plan.repeat rounds of
    one Locust run per arm (a warm-up and one window, as a normal run has), the order
    alternating (AB, BA, AB...) so that a drift over the run favours neither arm. The verdict
    rules must find no winner between them. Returns (the arms' entries, interrupted)."""
    one_window = dataclasses.replace(plan, repeat=1)
    arms: dict[str, dict] = {}
    for round_index in range(plan.repeat):
        order = ARMS if round_index % 2 == 0 else ARMS[::-1]
        for arm in order:
            part = f"arm-{arm}-{round_index + 1}"
            entry, interrupted = measure_target(one_window, stack, spec, target, run_dir, part)
            arms[arm] = _add_round(arms.get(arm), entry, arm, round_index)
            if interrupted:
                return list(arms.values()), True
    return [arms[arm] for arm in ARMS], False


def _add_round(merged: dict | None, entry: dict, arm: str, round_index: int) -> dict:
    for repetition in entry["repetitions"]:
        repetition["index"] = round_index
    if merged is None:
        files = {name: [path] for name, path in entry["files"].items() if isinstance(path, str)}
        return {**entry, "arm": arm, "files": {**entry["files"], **files}}
    merged["repetitions"] += entry["repetitions"]
    merged["summary"] = summarize(merged["repetitions"]) if merged["repetitions"] else None
    merged["requests_logged"] += entry["requests_logged"]
    for name, path in entry["files"].items():
        merged["files"][name] += path if isinstance(path, list) else [path]
    counted = (
        merged["crosscheck"]["prometheus_requests"],
        entry["crosscheck"]["prometheus_requests"],
    )
    merged["crosscheck"] = {
        "log_requests": merged["crosscheck"]["log_requests"] + entry["crosscheck"]["log_requests"],
        "prometheus_requests": None if None in counted else sum(counted),
    }
    return merged


def _wire(plan: BenchPlan, stack: dict, spec: ModelSpec, target: str, folder: Path) -> dict:
    """What went over the wire: the encoding, and the mean request and response sizes. A REST
    comparison of raw float32 with JSON compares encodings as much as servers."""
    with make_client(target, stack, spec, **client_options(target, plan.encoding)) as codec:
        sizes = [_size(codec.encode(sample_batch(spec, plan.batch, seed))) for seed in range(4)]
    return {
        "encoding": WIRE_FORMATS[target][plan.encoding],
        "request_bytes_mean": sum(sizes) / len(sizes),
        "response_bytes_mean": _locust_response_bytes(folder, target),
    }


def _size(payload) -> int:
    return len(payload) if isinstance(payload, bytes) else payload.ByteSize()


def _locust_response_bytes(folder: Path, target: str) -> float | None:
    """Locust's mean reply size for the target ("Average Content Size")."""
    stats = folder / "locust_stats.csv"
    if not stats.is_file():
        return None
    with open(stats, newline="") as table:
        for row in csv.DictReader(table):
            if row.get("Name") == target and row.get("Average Content Size"):
                return float(row["Average Content Size"])
    return None


def _fault_injector(plan: BenchPlan, backend: dict, spec: ModelSpec, folder: Path):
    if plan.scenario != "fault":
        return None
    at_s = plan.warmup_s + (plan.window_s * plan.repeat) * AT_FRACTION
    injector = FaultInjector(plan.fault, backend, spec.name, folder, at_s)
    injector.start()
    return injector


def _fault(fault: dict, plan: BenchPlan, job: LocustJob, log: RequestLog, run) -> dict:
    """The fault, what it cost the clients, and the load before and after it."""
    injected = fault.get("injected_unix")
    if injected is None:
        return {"fault": fault}
    fault |= recovery(log, injected)
    at_s = injected - run.test_start
    phases = [
        Phase("before the fault", job.users, min(plan.warmup_s, at_s), at_s),
        Phase("after the fault", job.users, at_s, job.duration_s),
    ]
    return {"fault": fault, "phases": measure_phases(phases, log, run.samples, run.test_start)}


def _phases(plan: BenchPlan, job: LocustJob, log: RequestLog, run) -> dict:
    """For a shaped scenario (ramp, spike, soak): its phases, and the first that broke the p99
    objective or the error budget."""
    options = scenario_options({"duration": job.duration_s, "users": job.users, **job.options})
    phases = scenario_phases(plan.scenario, options)
    if not phases:
        return {}
    measured = measure_phases(phases, log, run.samples, run.test_start)
    return {
        "phases": measured,
        "slo_ms_p99": options.sb_slo_ms,
        "broke_at": first_broken(measured, options.sb_slo_ms, options.sb_error_budget),
    }


def _server_stats(backend: dict):
    """The server's CPU and memory source for one run (a fresh CPU clock each time), or None
    when it cannot be sampled (run_bench already warned)."""
    try:
        return server_stats(backend)
    except UsageError:
        return None


def _idle_memory(stack: dict, warnings: list[str]) -> dict[str, float]:
    """Each server's memory before any load; a warning for a server whose resources cannot be
    sampled, since its CPU and memory columns will stay empty."""
    idle = {}
    for name, backend in stack["backends"].items():
        try:
            source = server_stats(backend)
        except UsageError as exc:
            source, reason = None, str(exc)
        else:
            reason = "the stack records no process or container for it"
        if source is None:
            warnings.append(f"{name}: CPU and memory not sampled ({reason})")
            continue
        idle[name] = source()[1]
    return idle


def _crosscheck(stack, spec, target, folder: Path, log: RequestLog, run) -> dict:
    """All requests of the run as Prometheus counted them, next to the raw log's count. The
    exporters' PIDs (in the log file names) tell this run's series from earlier ones."""
    pids = "|".join(path.stem.removeprefix("requests-") for path in folder.glob("requests-*.csv"))
    selector = f'target="{target}",model="{spec.name}",loadgen_pid=~"{pids}"'
    span = f"{int(run.finished - run.test_start) + 30}s"
    counted = scalar(
        _prometheus(stack),
        f"sum(max_over_time(servebench_client_requests_total{{{selector}}}[{span}]))",
        at=run.finished,
    )
    return {"log_requests": len(log), "prometheus_requests": counted}


def _window(plan, stack, spec, target, log: RequestLog, samples, index, start, end) -> dict:
    prometheus = _prometheus(stack)
    server, protocol = target.split("-")
    figures = log.window(start, end)
    return {
        "index": index,
        "start_unix": start,
        "end_unix": end,
        "offered_rps": plan.rate or figures["completed_rps"],
        **figures,
        "prometheus": prometheus_window(prometheus, target, spec.name, start, end),
        "server_side": server_window(prometheus, server, protocol, spec.name, start, end),
        "resources": resource_window(samples, start, end),
    }


# Prometheus and the raw request log count the same requests; more apart than this is a warning.
CROSSCHECK_TOLERANCE = 0.01


def _judge(entry: dict, results: dict, plan: BenchPlan) -> None:
    """Serving efficiency, and warnings where the figures may not mean what they seem."""
    summary = entry["summary"]
    if summary is None:
        entry["warnings"].append("no complete measurement window")
        return
    achieved = summary["achieved_rps"]["median"] or 0.0
    limit = results["in_process"].get(entry["model"], {}).get(FRAMEWORK[entry["server"]])
    if limit and not plan.rate:
        entry["serving_efficiency"] = achieved / limit["rps"]
        entry["serving_efficiency_ci95"] = ratio_interval(
            summary["achieved_rps"]["ci95"], limit.get("rps_ci95")
        )
    offered = max((rep["offered_rps"] for rep in entry["repetitions"]), default=0.0)
    busy = max(
        (rep["resources"].get("loadgen_cpu_percent_mean", 0) for rep in entry["repetitions"]),
        default=0,
    )
    entry["warnings"] += loadgen_limits(
        offered, entry["loadgen_ceiling_rps"], busy, plan, entry["protocol"]
    )
    if not entry["real"]:
        entry["warnings"].append(f"served by the {entry['implementation']}, not the real server")
    entry["warnings"] += sorted(
        {reason for rep in entry["repetitions"] if (reason := server_time_beyond_client(rep))}
    )
    disagreement = crosscheck_disagreement(entry["crosscheck"])
    if disagreement is not None and disagreement > CROSSCHECK_TOLERANCE:
        entry["warnings"].append(
            f"Prometheus counted {entry['crosscheck']['prometheus_requests']:.0f} requests and "
            f"the raw log {entry['crosscheck']['log_requests']}, {disagreement:.1%} apart: the "
            "client-side metrics may have missed a load generator"
        )


def ratio_interval(served: dict | None, limit: dict | None) -> dict | None:
    """The interval of served / in-process from both intervals: the served rate's low end over
    the limit's high end, and the other way round."""
    if not served or not limit or limit["low"] <= 0:
        return None
    return {"low": max(served["low"], 0.0) / limit["high"], "high": served["high"] / limit["low"]}


def loadgen_limits(
    offered: float, ceiling: float | None, busy: float, plan: BenchPlan, protocol: str
) -> list[str]:
    """Why a window's figures may describe Locust rather than the server: an offered rate above
    half the load generator's calibrated ceiling, or its CPUs above 80% busy."""
    reasons = []
    if ceiling and offered > NEAR_CEILING * ceiling:
        reasons.append(
            f"{offered:.0f} req/s offered is above half the load generator's {protocol} "
            f"ceiling ({ceiling:.0f} req/s): this may measure Locust, not the server"
        )
    if busy > LOADGEN_BUSY * 100 * len(plan.loadgen_cpus):
        reasons.append(
            f"the load generator used {busy:.0f}% CPU of {len(plan.loadgen_cpus) * 100}%: "
            "it may be the bottleneck"
        )
    return reasons


def crosscheck_disagreement(crosscheck: dict) -> float | None:
    """How far Prometheus' request count is from the raw log's, relative to the log."""
    counted, logged = crosscheck.get("prometheus_requests"), crosscheck.get("log_requests")
    if counted is None or not logged:
        return None
    return abs(counted - logged) / logged


def _knee(plan: BenchPlan, stack: dict, spec: ModelSpec, target: str, run_dir: Path) -> dict:
    slo_ms = plan.slo_ms or spec.slo_ms
    server = target.split("-")[0]
    # The knee lies below what the target serves in closed loop; starting just under that puts
    # the first probe within 2x of the knee, where the search converges in six probes.
    capacity = _closed_loop_rps(plan, stack, spec, target, run_dir)
    first_rate = KNEE_START * capacity if capacity else 20.0

    ceiling = _ceiling(plan, target, spec)

    def probe(rate: float, suffix: str = "") -> Probe:
        job = _job(
            plan, stack, spec, target, plan.warmup_s + plan.window_s, rate, scenario="poisson"
        )
        folder = run_dir / spec.name / target / f"knee-{rate:.1f}{suffix}"
        figures = _one_window(plan, stack, job, folder, f"{spec.name} {target} @ {rate:.1f}/s")
        p99 = figures["latency_ms"]["p99"]
        passed = p99 is not None and p99 <= slo_ms and figures["error_ratio"] < 0.01
        busy = figures["resources"].get("loadgen_cpu_percent_mean", 0)
        limits = loadgen_limits(rate, ceiling, busy, plan, target.split("-")[1])
        return Probe(rate, passed, p99, figures["error_ratio"], tuple(limits))

    knee, probes = find_knee(probe, first_rate)
    # A single window's p99 is noisy (here it was not even monotonic in the rate), so the knee
    # is probed once more; a knee that fails its repeat is reported as unconfirmed.
    repeat = probe(knee, "-repeat") if knee else None
    return {
        "model": spec.name,
        "target": target,
        "implementation": stack["backends"][server]["implementation"],
        "slo_ms_p99": slo_ms,
        "closed_loop_rps": capacity,
        "knee_rps": knee,
        "converged": converged(probes),
        "probes": [vars(p) for p in probes],
        **_confirmation(knee, probes, repeat),
        "warnings": sorted(
            {f"probe at {p.rate:.1f}/s: {w}" for p in [*probes, repeat] if p for w in p.warnings}
        ),
    }


def _confirmation(knee: float | None, probes: list[Probe], repeat: Probe | None) -> dict:
    """The repeat probe at the knee, and the spread of the p99s measured at that rate."""
    if repeat is None:
        return {"confirmed": False, "repeat": None, "p99_spread_ms": None}
    at_knee = [p.p99_ms for p in [*probes, repeat] if p.rate == knee and p.p99_ms is not None]
    return {
        "confirmed": repeat.passed,
        "repeat": vars(repeat),
        "p99_spread_ms": [min(at_knee), max(at_knee)] if at_knee else None,
    }


def _closed_loop_rps(
    plan: BenchPlan, stack: dict, spec: ModelSpec, target: str, run_dir: Path
) -> float | None:
    """Requests per second the target completes with plan.users users and no think time."""
    job = _job(plan, stack, spec, target, plan.warmup_s + plan.window_s, 0.0, scenario="steady")
    folder = run_dir / spec.name / target / "knee-closed-loop"
    figures = _one_window(plan, stack, job, folder, f"{spec.name} {target} closed loop")
    return figures["achieved_rps"] or None


def _one_window(plan: BenchPlan, stack: dict, job: LocustJob, folder: Path, label: str) -> dict:
    """Run ``job`` (a warm-up, then one window) and return the window's figures from the log."""
    server = stack["backends"][job.target.split("-")[0]]
    run = run_locust(job, folder, _server_stats(server), _prometheus(stack), label)
    if run.interrupted:
        raise KeyboardInterrupt
    start, end = run.test_start + plan.warmup_s, run.test_start + plan.warmup_s + plan.window_s
    figures = RequestLog.read(folder).window(start, end)
    return {**figures, "resources": resource_window(run.samples, start, end)}


def measure_limits(plan: BenchPlan, stack: dict) -> dict:
    """Each model's in-process throughput in torch and TF, on the servers' CPUs and threads."""
    limits = {}
    for spec in plan.models:
        limits[spec.name] = {}
        for framework in ("torch", "tensorflow"):
            print(f"in-process limit: {spec.name} in {framework} ...", file=sys.stderr, flush=True)
            figures = _limit(stack, spec.name, framework, plan)
            limits[spec.name][framework] = figures
    return limits


def _limit(stack: dict, model: str, framework: str, plan: BenchPlan) -> dict:
    """The artifact in-process, at the served run's concurrency (its number of users)."""
    server_cpus = stack.get("server_cpus") or sorted(os.sched_getaffinity(0))
    seconds = plan.limits_seconds
    command = [
        sys.executable, "-m", "servebench.bench.limits", "--model", model, "--framework", framework,
        "--artifacts", stack["artifacts"], "--threads", str(stack.get("server_threads", 1)),
        "--seconds", str(seconds), "--batch", str(plan.batch), "--concurrency", str(plan.users),
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 120,
        preexec_fn=lambda: os.sched_setaffinity(0, server_cpus),
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    if result.returncode != 0:
        raise UsageError(
            f"in-process measurement of {model} in {framework} failed: "
            f"{result.stderr.strip()[-300:]}"
        )
    return json.loads(result.stdout)


def _job(plan, stack, spec, target, duration, rate, scenario=None) -> LocustJob:
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


def _prometheus(stack: dict) -> str:
    return stack["monitoring"]["prometheus"]["endpoints"]["http"]


def _case(plan: BenchPlan, target: str, model: str) -> calibrate.Case:
    return calibrate.case_for(target, model, plan.encoding, plan.loadgen_cpus, plan.workers)


def _calibration(plan: BenchPlan, stack: dict) -> dict | None:
    """The load generator's ceilings for this run's cases, measured first where
    calibration.json lacks them; None when some stay unknown."""
    needed = list(
        dict.fromkeys(
            _case(plan, target, spec.name) for spec in plan.models for target in plan.targets
        )
    )
    known = calibrate.load(plan.state_dir)
    missing = [case for case in needed if case.key not in known]
    if missing and plan.calibrate_s > 0:
        print(
            "calibrating the load generator first: "
            + ", ".join(case.describe() for case in missing),
            file=sys.stderr,
            flush=True,
        )
        server_cpus = stack.get("server_cpus") or cpus.default_split()[0]
        known = calibrate.calibrate(
            plan.state_dir, missing, plan.calibrate_s, server_cpus, _prometheus(stack)
        )
    if any(case.key not in known for case in needed):
        return None
    return {case.key: known[case.key] for case in needed}


def _ceiling(plan: BenchPlan, target: str, spec: ModelSpec) -> float | None:
    return calibrate.ceiling(calibrate.load(plan.state_dir), _case(plan, target, spec.name))

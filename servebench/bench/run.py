"""The measurement loop of `servebench bench`: each target under load one at a time, warm-up
discarded, K windows, everything measured written to results/<run-id>/ as it comes in."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
import time
from pathlib import Path

import servebench.bench.calibrate as calibrate
import servebench.bench.cold_start as cold_start
from servebench import cpus
from servebench.bench.analysis import prometheus_window, resource_window, server_window
from servebench.bench.faults import AT_FRACTION, FaultInjector, recovery
from servebench.bench.jobs import (
    calibration_case,
    loadgen_ceiling,
    locust_job,
    sampled_stats,
)
from servebench.bench.knee import measure_knee, overload_rate
from servebench.bench.limits import measure_limits
from servebench.bench.locust_run import LocustJob, run_locust
from servebench.bench.monitor import say, schedule, server_footprint, server_stats
from servebench.bench.phases import first_broken, measure_phases, recovery_s, soak_drift
from servebench.bench.plan import BenchPlan
from servebench.bench.results import (
    ARMS,
    RUN_RECORD,
    header,
    judge,
    keep_context,
    new_run_id,
    run_record,
    write_json,
)
from servebench.bench.rollout import (
    AT_FRACTIONS,
    KEY,
    NEW_VERSION,
    RATE_SHARE,
    RolloutDriver,
    answer_counts,
    step_figures,
    write_answer_key,
)
from servebench.bench.timing import TimeSpent
from servebench.clients import WIRE_FORMATS, client_options, make_client
from servebench.errors import UsageError
from servebench.export.layout import ArtifactLayout
from servebench.load.shapes import Phase, scenario_options, scenario_phases
from servebench.metrics.promql import scalar
from servebench.models import ModelSpec
from servebench.payloads import sample_batch
from servebench.request_log import RequestLog, log_files, writer_pid
from servebench.stack_record import Stack
from servebench.stats import summarize
from servebench.target import Target


def run_bench(plan: BenchPlan, stack: dict) -> Path:
    """Run the plan; return the run folder. Ctrl-C writes what was measured, then re-raises."""
    stack = Stack(stack)
    spent, began = TimeSpent(), time.time()
    run_dir = plan.out / new_run_id()
    run_dir.mkdir(parents=True, exist_ok=False)
    with spent.measure("calibration"):
        calibration = _calibration(plan, stack)
    loadgen = {"cpus": plan.loadgen_cpus, "workers": plan.workers, "calibration": calibration}
    write_json(run_dir / RUN_RECORD, run_record(stack, loadgen))
    results = header(plan, stack, calibration)
    save = lambda: write_json(run_dir / "results.json", results)  # noqa: E731
    save()
    results["warnings"] += keep_context(plan, stack, run_dir)
    results["cold_starts"], left_out = cold_start.matching(plan.state_dir, stack)
    results["warnings"] += [left_out] if left_out else []
    with spent.measure("idle memory"):
        results["idle_rss_mb"] = _idle_memory(stack, results["warnings"])
        results["footprint"] = {
            name: server_footprint(backend) for name, backend in stack.backends.items()
        }
    try:
        with spent.measure("parity"):
            results["parity"] = _parity(plan, stack)
        save()
        if plan.limits:
            with spent.measure("in-process limits"):
                results["in_process"] = measure_limits(plan, stack)
            save()
        for spec in plan.models:
            if plan.find_knee:
                for target in plan.targets:
                    with spent.measure("knee search"):
                        results["knee"].append(measure_knee(plan, stack, spec, target, run_dir))
                    save()
                continue
            entries, interrupted = measure_runs(plan, stack, spec, run_dir, spent)
            for entry in entries:
                judge(entry, results, plan)
                results["targets"].append(entry)
            save()
            if interrupted:
                raise KeyboardInterrupt
        results["complete"] = True
    except KeyboardInterrupt:
        results["interrupted"] = True
        raise
    finally:
        results["finished_at"] = time.time()
        results["time_s"] = spent.seconds
        results["time_total_s"] = results["finished_at"] - began
        save()
    return run_dir


def _parity(plan: BenchPlan, stack: Stack) -> dict:
    """Same model, checked again right before the load: in-process (from export) and through
    every endpoint of the running stack."""
    from servebench.endpoint_parity import endpoint_parity

    in_process = []
    for spec in plan.models:
        manifest_file = ArtifactLayout(stack.artifacts).manifest(spec.name)
        if manifest_file.is_file():
            in_process += json.loads(manifest_file.read_text())["parity"]
    # Only the models this run loads: a served model the run leaves alone (resnet18 beside
    # an mlp run) would cost seconds of parity calls and was never recorded anyway.
    models = {spec.name for spec in plan.models}
    endpoints = [case.as_dict() for case in endpoint_parity(stack, models)]
    return {"in_process": in_process, "endpoints": endpoints}


def measure_target(
    plan: BenchPlan,
    stack: Stack,
    spec: ModelSpec,
    target: str,
    run_dir: Path,
    part: str = "",
    spent: TimeSpent | None = None,
    rate: tuple[float, str | None] | None = None,
) -> tuple[dict, bool]:
    """One Locust run of ``target``: a warm-up, then one window, cut into STABILITY_SLICES to
    check that the run was steady. ``part`` names the run's sub-folder. ``spent`` adds where
    the time went. ``rate``: the offered rate and its basis, when already measured (else the
    scenario's)."""
    spent = spent or TimeSpent()
    if rate is None:
        with spent.measure("closed-loop capacity"):
            rate = _scenario_rate(plan, stack, spec, target, run_dir)
    rate, knee_basis = rate
    job = locust_job(plan, spec, target, plan.warmup_s + plan.window_s, rate)
    folder = run_dir / spec.name / target / part
    relative = folder.relative_to(run_dir).as_posix()
    parsed = Target.parse(target)
    backend = stack.backends[parsed.server]
    label = f"{spec.name} {target}"
    if plan.scenario == "rollout":
        folder.mkdir(parents=True, exist_ok=True)
        key = write_answer_key(spec, ArtifactLayout(stack.artifacts), plan.batch, folder / KEY)
        job = dataclasses.replace(job, options={**job.options, "expected": str(key.resolve())})
    driver = _event_driver(plan, backend, stack, spec, folder)
    try:
        parts = schedule(plan.warmup_s, 1, plan.window_s)
        run = run_locust(job, folder, sampled_stats(backend), stack.prometheus_url, label, parts)
    finally:
        events = driver.finish() if driver else None
    _account(spent, run, plan, job.duration_s)
    analysis_start = time.time()
    log = RequestLog.read(folder)
    repetitions = []
    start = run.test_start + plan.warmup_s
    end = start + plan.window_s
    if end <= run.finished:  # else interrupted before the window was complete
        repetitions.append(_window(plan, stack, spec, target, log, run.samples, 0, start, end))
    entry = {
        "model": spec.name,
        "target": target,
        "crosscheck": _crosscheck(stack, spec, target, folder, log, run),
        "server": parsed.server,
        "protocol": parsed.protocol,
        "implementation": backend["implementation"],
        "real": backend["real"],
        **_wire(plan, stack, spec, target, folder),
        "offered_rps": rate or None,
        **({"knee_basis": knee_basis} if knee_basis else {}),
        "loadgen_ceiling_rps": loadgen_ceiling(plan, target, spec),
        "users": plan.users,
        "requests_logged": len(log),
        "repetitions": repetitions,
        "summary": summarize(repetitions) if repetitions else None,
        "files": {  # relative to the run folder, so the folder can be moved
            "locust_csv": f"{relative}/locust_stats.csv",
            "request_logs": [f"{relative}/{path.name}" for path in log_files(folder)],
            "locust_log": f"{relative}/locust.log",
        },
        "warnings": [],
    }
    entry.update(_scenario_figures(plan, job, log, run, events))
    spent.add("analysis and Prometheus queries", time.time() - analysis_start)
    say(result_line(label + (f" {part}" if part else ""), entry))
    return entry, run.interrupted


def _account(spent: TimeSpent, run, plan: BenchPlan, load_s: float) -> None:
    """Locust's start-up, the warm-up, the windows and Locust's stop (drain, final scrape)."""
    spent.add("Locust start", run.test_start - run.spawned)
    spent.add("warm-up", min(plan.warmup_s, load_s))
    spent.add("measured load", max(load_s - plan.warmup_s, 0.0))
    spent.add("Locust stop", run.finished - run.test_start - load_s)


def result_line(label: str, entry: dict) -> str:
    """The target's result as the tables show it: medians across runs, from the raw log;
    a figure not measured is a dash, never a 0."""
    from servebench.missing import figure

    summary = entry.get("summary")
    if not summary:
        return f"{label}: no complete window"
    rps, p50, p99 = ((summary.get(key) or {}).get("median") for key in
                     ("achieved_rps", "latency_ms_p50", "latency_ms_p99"))  # fmt: skip
    errors = figure((summary.get("error_ratio") or {}).get("max"), ".2%")
    windows = len(entry["repetitions"])
    if p50 is None:  # no request succeeded
        return f"{label}: nothing served, errors {errors} in {windows} run(s)"
    return (f"{label}: {figure(rps, '.1f')} req/s, p50 {figure(p50, '.2f')} ms, "
            f"p99 {figure(p99, '.2f')} ms, errors {errors} "
            f"(median of {windows} run(s))")  # fmt: skip


def run_order(plan: BenchPlan) -> list[list[tuple[str, str | None]]]:
    """The plan of runs: for each of plan.runs rounds, each side once, as (target, A/A arm or
    None), the order reversed every other round (AB, BA, AB...) so that a drift over the run
    favours no side. An A/A run's two sides are its one target, as arms A and B."""
    sides = [(plan.targets[0], arm) for arm in ARMS] if plan.aa else [
        (target, None) for target in plan.targets
    ]  # fmt: skip
    return [sides if index % 2 == 0 else sides[::-1] for index in range(plan.runs)]


def measure_runs(
    plan: BenchPlan, stack: Stack, spec: ModelSpec, run_dir: Path, spent: TimeSpent
) -> tuple[list[dict], bool]:
    """Every side of the plan in plan.runs separate runs (run_order), each its own Locust
    process with its own warm-up and window, at the rate measured once before the first. Each
    side's entry holds one repetition per run: the verdict's intervals are over runs. Returns
    (the entries, interrupted)."""
    with spent.measure("closed-loop capacity"):
        rates = {target: _scenario_rate(plan, stack, spec, target, run_dir)
                 for target in dict.fromkeys(plan.targets)}  # fmt: skip
    runs: dict[tuple[str, str | None], list[dict]] = {}
    for index, sides in enumerate(run_order(plan)):
        for target, arm in sides:
            part = f"arm-{arm}-{index + 1}" if arm else f"run-{index + 1}"
            entry, interrupted = measure_target(
                _arm_plan(plan, arm), stack, spec, target, run_dir, part, spent, rates[target]
            )
            runs.setdefault((target, arm), []).append({**entry, **({"arm": arm} if arm else {})})
            if interrupted:
                return [merge_runs(entries) for entries in runs.values()], True
    return [merge_runs(entries) for entries in runs.values()], False


def _arm_plan(plan: BenchPlan, arm: str | None) -> BenchPlan:
    """Arm B of a power check holds each request plan.aa_hold_ms (--sb-hold-ms)."""
    if arm != ARMS[1] or not plan.aa_hold_ms:
        return plan
    return dataclasses.replace(plan, options={**plan.options, "hold_ms": plan.aa_hold_ms})


# What each run of an operations scenario measured about its event: the verdict's input.
ROUND_FIGURES = ("rollout", "fault", "recovery_s", "broke_at", "phases")


def merge_runs(entries: list[dict]) -> dict:
    """One side's entry from its runs: the first run's, with every run's window (its index the
    run's), every run's event figures in ``rounds``, and every run's files and counts."""
    windows = []
    for index, entry in enumerate(entries):
        windows += [{**window, "index": index} for window in entry["repetitions"]]
    rounds = [{key: entry[key] for key in ROUND_FIGURES if key in entry} for entry in entries]
    event = any(rounds)
    files = {
        name: [path for entry in entries for path in _as_list(entry["files"][name])]
        for name in entries[0]["files"]
    }
    counted = [entry["crosscheck"]["prometheus_requests"] for entry in entries]
    return {
        **entries[0],
        "runs": len(entries),
        **(
            {"rounds": [{"part": f"run-{i + 1}", **figures} for i, figures in enumerate(rounds)]}
            if event
            else {}
        ),  # fmt: skip
        "repetitions": windows,
        "summary": summarize(windows) if windows else None,
        "requests_logged": sum(entry["requests_logged"] for entry in entries),
        "files": files,
        "crosscheck": {
            "log_requests": sum(entry["crosscheck"]["log_requests"] for entry in entries),
            "prometheus_requests": None if None in counted else sum(counted),
        },
    }


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _wire(plan: BenchPlan, stack: Stack, spec: ModelSpec, target: str, folder: Path) -> dict:
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


def _scenario_rate(
    plan: BenchPlan, stack: Stack, spec: ModelSpec, target: str, run_dir: Path
) -> tuple[float, str | None]:
    """The open-loop rate and where it came from: overload steps around the knee, a rollout
    runs at RATE_SHARE of it; other scenarios take --rate as it is."""
    if plan.scenario not in ("overload", "rollout"):
        return plan.rate, None
    knee, basis = overload_rate(plan, stack, spec, target, run_dir)
    if plan.scenario == "overload":
        return knee, basis
    return RATE_SHARE * knee, f"{RATE_SHARE:.0%} of the knee ({basis})"


def _event_driver(plan: BenchPlan, backend: dict, stack: Stack, spec: ModelSpec, folder: Path):
    """The thread that injects the scenario's event (a fault, a rollout) during the load."""
    measured_s = plan.window_s
    if plan.scenario == "fault":
        at_s = plan.warmup_s + measured_s * AT_FRACTION
        driver = FaultInjector(plan.fault, backend, spec.name, folder, at_s)
    elif plan.scenario == "rollout":
        at_s = {label: plan.warmup_s + measured_s * share for label, share in AT_FRACTIONS.items()}
        layout = ArtifactLayout(stack.artifacts)
        driver = RolloutDriver(backend, layout, spec.name, folder, at_s)
    else:
        return None
    driver.start()
    return driver


def _scenario_figures(plan: BenchPlan, job: LocustJob, log: RequestLog, run, events) -> dict:
    if plan.scenario == "fault":
        return _fault(events, plan, job, log, run)
    if plan.scenario == "rollout":
        return _rollout(events, plan, job, log, run)
    return _phases(plan, job, log, run)


def _rollout(steps: list[dict], plan: BenchPlan, job: LocustJob, log: RequestLog, run) -> dict:
    """Each step's figures, every request's answer, and the load's phases around the steps:
    before, during each step, between them and after."""
    ends = [step["triggered_unix"] for step in steps[1:]] + [run.test_start + job.duration_s]
    figures = [step_figures(step, log, until) for step, until in zip(steps, ends, strict=True)]
    edges, labels = [min(plan.warmup_s, job.duration_s)], ["before the rollout"]
    between = {"rollout": f"on version {NEW_VERSION}", "rollback": "after the rollback"}
    for step in figures:
        edges += [step["triggered_unix"] - run.test_start, step["window_end_unix"] - run.test_start]
        labels += [f"{step['label']} (from v{step['from']})", between[step["label"]]]
    edges.append(job.duration_s)
    phases = [
        Phase(label, job.users, start, max(end, start))
        for label, start, end in zip(labels, edges, edges[1:], strict=False)
    ]
    return {
        "rollout": {"steps": figures, "answers": answer_counts(log)},
        "phases": measure_phases(phases, log, run.samples, run.test_start, job.rate),
    }


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
    measured = measure_phases(phases, log, run.samples, run.test_start, job.rate, options.sb_slo_ms)
    extra = {"drift": soak_drift(measured)} if plan.scenario == "soak" else {}
    if plan.scenario == "overload":
        extra = {"recovery_s": recovery_s(measured, log, run.test_start)}
    return {
        **extra,
        "phases": measured,
        "slo_ms_p99": options.sb_slo_ms,
        "broke_at": first_broken(measured, options.sb_slo_ms, options.sb_error_budget),
    }


def _idle_memory(stack: Stack, warnings: list[str]) -> dict[str, float]:
    """Each server's memory before any load; a warning for a server whose resources cannot be
    sampled, since its CPU and memory columns will stay empty."""
    idle = {}
    for name, backend in stack.backends.items():
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
    pids = "|".join(writer_pid(path) for path in log_files(folder))
    selector = f'target="{target}",model="{spec.name}",loadgen_pid=~"{pids}"'
    span = f"{int(run.finished - run.test_start) + 30}s"
    counted = scalar(
        stack.prometheus_url,
        f"sum(max_over_time(servebench_client_requests_total{{{selector}}}[{span}]))",
        at=run.finished,
    )
    return {"log_requests": len(log), "prometheus_requests": counted}


def _window(plan, stack, spec, target, log: RequestLog, samples, index, start, end) -> dict:
    prometheus = stack.prometheus_url
    parsed = Target.parse(target)
    figures = log.window(start, end)
    return {
        "index": index,
        "start_unix": start,
        "end_unix": end,
        "offered_rps": plan.rate or figures["completed_rps"],
        **figures,
        "stability": stability(log, start, end),
        "prometheus": prometheus_window(prometheus, target, spec.name, start, end),
        "server_side": server_window(
            prometheus, parsed.server, parsed.protocol, spec.name, start, end
        ),
        "resources": resource_window(samples, start, end),
    }


STABILITY_SLICES = 3  # a run's window is cut in three to see whether it was steady


def stability(log: RequestLog, start: float, end: float) -> dict:
    """The throughput of each slice of the window, and its spread relative to the median slice
    (perf_analyzer's stability check, inside one run: the verdict's evidence is the runs)."""
    edges = [start + (end - start) * i / STABILITY_SLICES for i in range(STABILITY_SLICES + 1)]
    rates = [log.window(a, b)["achieved_rps"] for a, b in zip(edges, edges[1:], strict=False)]
    middle = sorted(rates)[len(rates) // 2]
    return {"slices_rps": rates, "drift": (max(rates) - min(rates)) / middle if middle else None}


def _calibration(plan: BenchPlan, stack: Stack) -> dict | None:
    """The load generator's ceilings for this run's cases, measured first where
    calibration.json lacks them; None when some stay unknown."""
    needed = list(
        dict.fromkeys(
            calibration_case(plan, target, spec.name)
            for spec in plan.models
            for target in plan.targets
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
            plan.state_dir,
            missing,
            plan.calibrate_s,
            server_cpus,
            stack.prometheus_url,
            artifacts=stack.artifacts,
        )
    if any(case.key not in known for case in needed):
        return None
    return {case.key: known[case.key] for case in needed}

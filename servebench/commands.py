"""What each CLI subcommand does, apart from parsing its arguments: `servebench X-Y` runs
`X_Y_command`, whose parameters are named like the options (`cli.py` passes them by name)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, replace
from pathlib import Path

from servebench import cpus
from servebench.clients import ALL_TARGETS, BASELINE_TARGETS, TARGETS, stack_targets
from servebench.console import format_results, format_stack, print_artifacts, warn_if_emulated
from servebench.errors import CheckFailed, UsageError
from servebench.export.layout import FIRST_VERSION, ArtifactLayout
from servebench.export.parity import ParityCase, format_cases
from servebench.load import options as load
from servebench.missing import figure
from servebench.models import DEFAULT_MAX_BATCH, DEFAULT_SEED, select_models
from servebench.stack import (
    down,
    load_stack,
    refuse_second_stack,
    require_artifacts,
    stack_file,
    stack_identity,
    stack_models,
    up,
)
from servebench.stack_record import Stack
from servebench.target import Target


def export_command(
    model: str | None,
    out: Path,
    weights: Path | None,
    seed: int,
    max_batch: int,
    version: int = 1,
    model_file: Path | None = None,
    class_name: str | None = None,
    input_shape: tuple[int, ...] | None = None,
    atol: float | None = None,
    model_base: Path | None = None,
) -> int:
    from servebench.export.exporter import ensure_writable, export_model  # torch: only here
    from servebench.models.weights import load_state, seeded_state

    ensure_writable(out)
    if model_base is not None:
        ensure_writable(model_base, "--model-base")
    if model_file is None:
        if class_name or input_shape or atol is not None:
            raise UsageError("--class, --input-shape and --atol describe a --model-file")
        specs = select_models(model or "resnet18", out)
    else:
        specs = [_user_model(model_file, class_name, input_shape, model, atol, out)]
    if weights is not None and len(specs) > 1:
        raise UsageError("--weights fits one architecture; pick it with --model resnet18 or mlp")
    layout = ArtifactLayout(out)
    cases: list[ParityCase] = []
    for spec in specs:
        state = load_state(spec, weights) if weights else seeded_state(spec, seed)
        manifest = export_model(spec, state, layout, max_batch, version=version)
        cases += [ParityCase(**_case_fields(case)) for case in manifest["parity"]]
        print_artifacts(manifest, layout.manifest(spec.name, version))
    status = _report_parity(cases)
    if model_base is not None:
        _serve_first_versions(model_base, specs, layout)
    return status


def _serve_first_versions(base: Path, specs: list, layout: ArtifactLayout) -> None:
    from servebench.backends.tfserving import keep_first_versions

    placed = keep_first_versions(base, specs, layout)
    kept = [spec.name for spec in specs if spec.name not in placed]
    print(
        f"TF Serving's model base {base}: version {FIRST_VERSION} of "
        + ", ".join([f"{name} placed" for name in placed] + [f"{name} kept" for name in kept])
    )


def _user_model(
    model_file: Path,
    class_name: str | None,
    input_shape: tuple[int, ...] | None,
    name: str | None,
    atol: float | None,
    out: Path,
):
    """The spec of a user's model, recorded in the artifact folder ``out``."""
    from servebench.models import DEFAULT_ATOL
    from servebench.models.custom import describe_model_file, register

    if input_shape is None:
        raise UsageError("--model-file needs --input-shape, one sample's shape, e.g. 3,32,32")
    name = name or model_file.stem.lower().replace(".", "_")
    spec = describe_model_file(model_file, class_name, input_shape, name, atol or DEFAULT_ATOL)
    return register(spec, out)


def parity_command(
    model: str, artifacts: Path, endpoints: bool = False, state_dir: Path = Path(".servebench")
) -> int:
    """In-process parity of the artifacts, or with ``endpoints`` through the running stack."""
    from servebench.export.exporter import artifact_parity

    if endpoints:
        return endpoint_parity_command(state_dir)
    layout = ArtifactLayout(artifacts)
    cases = [
        case for spec in select_models(model, artifacts) for case in artifact_parity(spec, layout)
    ]
    return _report_parity(cases)


def endpoint_parity_command(state_dir: Path) -> int:
    from servebench.endpoint_parity import endpoint_parity

    stack = load_stack(state_dir)
    warn_if_emulated(stack)
    return _report_parity(endpoint_parity(stack))


def server_budget(server_cpus: str | None, server_threads: int | None) -> dict:
    """Both servers' CPUs and threads: by default the first half of the CPUs, one thread per
    CPU."""
    chosen = cpus.parse(server_cpus) if server_cpus else cpus.default_split()[0]
    return {"server_cpus": chosen, "server_threads": server_threads or len(chosen)}


def cold_start_command(
    model: str,
    artifacts: Path,
    repeat: int,
    server_cpus: str | None,
    server_threads: int | None,
    tfserving_bin: Path | None,
    state_dir: Path,
) -> int:
    from servebench.backends.tfserving import find_binary
    from servebench.bench import cold_start

    layout = ArtifactLayout(artifacts)
    models = select_models(model, artifacts)
    require_artifacts(models, layout)
    budget = server_budget(server_cpus, server_threads)
    binary = find_binary(tfserving_bin)
    record = cold_start.measure_cold_starts(models, layout, binary, budget, repeat)
    for name, server in record["servers"].items():
        ready, alive = server["ready_s"], server["alive_s"]
        starts = len(server["starts"])
        print(f"{name} ({server['implementation']}): ready in {ready['median']:.2f} s median "
              f"of {starts} starts, port open after {alive['median']:.2f} s")  # fmt: skip
    path = cold_start.save(state_dir, record)
    print(f"recorded in {path}; bench adds it to the results, and the verdict compares it")
    return 0


def up_command(
    model: str,
    artifacts: Path,
    state_dir: Path,
    server_cpus: str | None = None,
    server_threads: int | None = None,
    batch_size: int = 1,
    batch_delay_ms: int = 5,
    queue_size: int = 100,
    tfserving_bin: Path | None = None,
    mode: str = "local",
    with_diy: bool = False,
) -> int:
    """Both servers on ``server_cpus`` (None: the first half) with ``server_threads`` each
    (None: one per server CPU); batching only with ``batch_size`` above 1. ``with_diy`` adds
    the diy baseline on the same budget (it never batches)."""
    refuse_second_stack(state_dir)
    if with_diy and mode == "docker":
        raise UsageError(
            "--with-diy starts the baseline as a local process; use it with --mode local, or "
            "`docker compose --profile diy up` for its container"
        )
    if mode == "docker":
        from servebench.backends.docker_mode import connect

        connect()  # one clear line, before anything starts, when no engine answers
    require_artifacts(
        select_models(model, artifacts), ArtifactLayout(artifacts), with_diy
    )  # before "starting"
    plan_options = {
        **server_budget(server_cpus, server_threads),
        "batch_size": batch_size,
        "batch_delay_ms": batch_delay_ms if batch_size > 1 else 0,
        "queue_size": queue_size,
    }
    servers = "TorchServe, TF Serving, the diy baseline" if with_diy else "TorchServe, TF Serving"
    print(
        f"starting {servers} and Prometheus for {model}: servers on CPUs "
        f"{plan_options['server_cpus']}, {plan_options['server_threads']} thread(s) each, batching "
        + (
            f"{plan_options['batch_size']} / {plan_options['batch_delay_ms']} ms"
            if plan_options["batch_size"] > 1
            else "off"
        )
        + " ...",
        flush=True,
    )
    stack = up(
        select_models(model, artifacts),
        ArtifactLayout(artifacts),
        state_dir,
        plan_options,
        tfserving_bin,
        mode,
        with_diy,
    )
    print(format_stack(stack))
    warn_if_emulated(stack)
    print(f"stack recorded in {stack_file(state_dir)}; stop it with `servebench down`")
    return 0


def down_command(state_dir: Path) -> int:
    stopped = down(state_dir)
    if not stopped:
        print(f"nothing to stop: no stack is recorded in {stack_file(state_dir)}")
    for line in stopped:
        print(f"stopped {line}")
    return 0


def demo_command(out: Path, state_dir: Path) -> int:
    """The main job end to end: export, start the stack with the diy baseline beside it,
    parity through all four endpoints and the baseline's, the bad-input matrix, a short bench of
    both models on every target, the report, and the stack stopped again (also on Ctrl-C or an
    error). Ends with the report's path and a five-line summary."""
    refuse_second_stack(state_dir)
    status = export_command("all", out, None, seed=DEFAULT_SEED, max_batch=DEFAULT_MAX_BATCH)
    print("\n== starting the local stack, with the diy baseline")
    up_command("all", out, state_dir, with_diy=True)
    results = Path("results")
    try:
        print("\n== parity through all four endpoints and the diy baseline's")
        status = max(status, endpoint_parity_command(state_dir))
        print("\n== bad-input matrix")
        status = max(status, probe_bad_inputs_command(None, state_dir, None))
        print("\n== the load generator's ceiling")
        calibrate_command(duration=3.0, state_dir=state_dir)
        print("\n== a short bench: both models, all four targets and diy-rest, one at a time")
        short = BenchOptions(
            duration=3.0, warmup=1.0, repeat=2, users=2, limits_seconds=2.0,
            targets=",".join(ALL_TARGETS), state_dir=state_dir, out=results,
        )  # fmt: skip
        run_dir = measure(short)
        print_run(run_dir)
        print("\n== report")
        report_command(run_dir, results)
        print("\n== the knee: mlp on TorchServe REST, the highest Poisson rate with p99 <= 50 ms")
        knee = replace(
            short, scenario="poisson", find_knee=True, model="mlp", targets="torchserve-rest",
            warmup=1.0, duration=3.0, slo_ms=50.0, no_limits=True,
        )  # fmt: skip
        knee_dir = measure(knee)
        print_run(knee_dir)
        report_command(knee_dir, results)
    finally:
        print("\n== stopping the local stack")
        down_command(state_dir)
    print("\n== summary")
    print(demo_summary(run_dir, knee_dir))
    return status


def demo_summary(run_dir: Path, knee_dir: Path | None = None) -> str:
    """Where the reports are, then the report's own summary: who served, each model's rates
    (and mlp's knee), the run's grade and the verdict."""
    from servebench.report import RunData
    from servebench.report.summary import knee_text, summary_lines
    from servebench.report.verdict import verdict

    data = RunData.read(run_dir)
    report = f"report: {run_dir / 'report.html'} (also report.md)"
    lines = summary_lines(data.results, *verdict(data.results, data.stack, data.bad_inputs))
    if knee_dir is not None:
        report += f"; the knee: {knee_dir / 'report.html'}"
        knees = json.loads((knee_dir / "results.json").read_text())["knee"]
        after_rates = next(i for i, line in enumerate(lines) if " req/s " not in line and i)
        lines[after_rates:after_rates] = [f"{k['model']} knee: {knee_text(k)}" for k in knees]
    return "\n".join([report, *lines])


def _case_fields(case: dict) -> dict:
    return {
        key: case[key]
        for key in ("model", "candidate", "batch", "max_abs_diff", "max_rel_diff", "tolerance")
    }


def _report_parity(cases: list[ParityCase]) -> int:
    print(format_cases(cases))
    failed = [case for case in cases if not case.passed]
    if failed:
        # Changed weights move every artifact by the same amount, give or take float32 noise:
        # differences that agree to 1e-6 are one failure, named by the first artifact listed.
        worst = max(failed, key=lambda case: round(case.max_abs_diff, 6))
        raise CheckFailed(
            f"parity failed: {worst.model} via {worst.candidate} differs by "
            f"{worst.max_abs_diff:.3e} (tolerance {failed[0].as_dict()['tolerance']:g})"
        )
    return 0


def probe_bad_inputs_command(model: str | None, state_dir: Path, out: Path | None) -> int:
    from servebench import probe

    stack = load_stack(state_dir)
    specs = stack_models(stack, model)
    unknown = [spec.name for spec in specs if spec.name not in stack["models"]]
    if unknown:
        raise UsageError(
            f"the running stack does not serve {unknown[0]}; pick one of {stack['models']}"
        )
    results, problems = [], []
    for spec in specs:
        before = probe.torchserve_workers(stack, spec)
        model_results = probe.probe(stack, spec)
        after = probe.torchserve_workers(stack, spec)
        print(f"\n{spec.name}: bad input -> status (who answered)")
        print(probe.format_matrix(model_results))
        if before != after:
            problems.append(f"{spec.name}: TorchServe worker PIDs changed from {before} to {after}")
        problems += [
            f"{r.model} / {r.case} / {r.target}: {r.problem}" for r in model_results if r.problem
        ]
        results += model_results
    out = out or state_dir / "bad-inputs.json"
    out.write_text(json.dumps(_probe_record(stack, results), indent=2) + "\n")
    print(f"\nmessages and details: {out}")
    warn_if_emulated(stack)
    if problems:
        raise CheckFailed(f"{len(problems)} problem(s), first: {problems[0]}")
    return 0


def _probe_record(stack: dict, results) -> dict:
    from servebench.probe import as_records

    implementations = {name: b["implementation"] for name, b in stack["backends"].items()}
    return {
        "schema_version": 1,
        "stack": stack_identity(stack),
        "implementations": implementations,
        "results": as_records(results),
    }


WINDOWED = ("steady", "poisson")  # scenarios measured in repeated, interchangeable windows


@dataclass(frozen=True)
class BenchOptions:
    """`servebench bench`'s options, with their defaults (the parser shows these)."""

    scenario: str = "steady"
    model: str | None = None  # None: every model the stack serves
    targets: str = ",".join(TARGETS)
    duration: float | None = None  # None: load.WINDOW_S, or load.SOAK_S for soak
    warmup: float = 5.0
    repeat: int = 3
    users: int = load.USERS
    rate: float = 0.0
    batch: int = load.BATCH
    workers: int = 0
    loadgen_cpus: str | None = None
    server_cpus: str | None = None
    find_knee: bool = False
    slo_ms: float | None = None
    step_seconds: float | None = None
    step_users: int | None = None
    spike_users: int | None = None
    encoding: str = load.ENCODING
    fault: str = "worker"
    aa: bool = False
    aa_hold_ms: float = 0.0
    calibrate_seconds: float = 5.0
    no_limits: bool = False
    limits_seconds: float = 5.0
    out: Path = Path("results")
    state_dir: Path = Path(".servebench")


def bench_command(options: BenchOptions) -> int:
    print_run(measure(options))
    return 0


def print_run(run_dir: Path) -> None:
    """A bench run's table, the A/A line, where the time went, and where the results are."""
    from servebench.bench.timing import time_line

    results = json.loads((run_dir / "results.json").read_text())
    print(format_results(results))
    if results.get("aa"):
        from servebench.report.sections import aa_line
        from servebench.report.verdict import findings

        print(aa_line(results["aa"], findings(results, None, None)))
    print(time_line(results["time_s"], results["time_total_s"]))
    print(f"\nresults: {run_dir}/results.json")


def measure(options: BenchOptions) -> Path:
    """Check the options against the running stack, run the bench, return its run folder."""
    from servebench.bench import run_bench

    stack = load_stack(options.state_dir)
    plan = _bench_plan(options, stack)
    if not options.aa:  # an A/A run of TorchServe has nothing to do with the emulator
        warn_if_emulated(stack)
    try:
        return run_bench(plan, stack)
    except KeyboardInterrupt:
        print(f"\ninterrupted: what was measured is in {options.out}/ (results.json, "
              "complete=false)")  # fmt: skip
        raise


def _bench_plan(args: BenchOptions, stack: dict):
    """The BenchPlan for ``args`` on ``stack``; any option the stack cannot honour is a
    UsageError. With --server-cpus, the running servers move there first."""
    from servebench.bench import BenchPlan

    targets = _bench_targets(args.targets, stack)
    specs = _bench_models(args.model, stack)
    _check_scenario(args, targets, stack, specs)
    if args.server_cpus:
        _move_servers(stack, args.server_cpus)
    loadgen = cpus.parse(args.loadgen_cpus) if args.loadgen_cpus else _loadgen_default(stack)
    shaped = args.scenario in ("ramp", "spike", "soak")  # one shape, read phase by phase
    window = args.duration or (load.SOAK_S if args.scenario == "soak" else load.WINDOW_S)
    return BenchPlan(
        scenario=args.scenario,
        models=specs,
        targets=targets,
        warmup_s=args.warmup,
        window_s=window,
        runs=1 if shaped else args.repeat,
        users=args.users,
        loadgen_cpus=loadgen,
        out=args.out,
        state_dir=args.state_dir,
        rate=args.rate if args.scenario in ("poisson", "overload", "rollout") else 0.0,
        batch=args.batch,
        workers=args.workers,
        find_knee=args.find_knee,
        slo_ms=args.slo_ms,
        limits=not args.no_limits,
        limits_seconds=args.limits_seconds,
        options={
            name: getattr(args, name)
            for name in ("step_seconds", "step_users", "spike_users")
            if getattr(args, name) is not None
        },
        fault=args.fault if args.scenario == "fault" else None,
        encoding=args.encoding,
        aa=args.aa,
        aa_hold_ms=args.aa_hold_ms,
        calibrate_s=args.calibrate_seconds,
    )


def _bench_targets(text: str, stack: dict) -> list[str]:
    targets = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in targets if t not in ALL_TARGETS]
    if unknown or not targets:
        raise UsageError(
            f"unknown target {unknown[:1] or targets}; choose from {', '.join(ALL_TARGETS)}"
        )
    absent = [t for t in targets if t not in stack_targets(stack)]
    if absent:
        raise UsageError(
            f"the running stack has no {absent[0]}; start it with `servebench up --with-diy`"
        )
    return targets


def _bench_models(model: str | None, stack: dict) -> list:
    specs = stack_models(stack, model)
    missing = [spec.name for spec in specs if spec.name not in stack["models"]]
    if missing:
        raise UsageError(
            f"the running stack does not serve {missing[0]}; "
            "start it with `servebench up --model all`"
        )
    return specs


def _check_scenario(args: BenchOptions, targets: list[str], stack: dict, specs: list) -> None:
    from servebench.bench.locust_run import scenario_names

    if args.scenario not in scenario_names():
        raise UsageError(f"unknown scenario {args.scenario!r}; choose one of {scenario_names()}")
    if args.scenario == "poisson" and args.rate <= 0 and not args.find_knee:
        raise UsageError(
            "the poisson scenario needs --rate (arrivals per second), or use --find-knee"
        )
    if args.aa and (len(targets) != 1 or args.find_knee or args.scenario not in WINDOWED):
        raise UsageError(
            "--aa compares one target with itself: give one --targets, a steady or poisson "
            "scenario, and no --find-knee"
        )
    if args.aa_hold_ms and not args.aa:
        raise UsageError("--aa-hold-ms slows arm B of an A/A run: give --aa as well")
    if args.aa_hold_ms < 0:
        raise UsageError(f"--aa-hold-ms {args.aa_hold_ms:g}: give a delay of 0 ms or more")
    if args.aa and targets[0] in BASELINE_TARGETS:
        raise UsageError(
            f"--aa tests the verdict's rules, and the verdict leaves {targets[0]} out; give "
            f"one of {', '.join(TARGETS)}"
        )
    if args.scenario == "fault":
        from servebench.bench.faults import check_fault

        for target in targets:
            check_fault(args.fault, target, stack["backends"][Target.parse(target).server])
    if args.scenario == "rollout":
        from servebench.bench.rollout import check_rollout

        for spec, target in itertools.product(specs, targets):
            check_rollout(spec, stack, Target.parse(target).server)


def _move_servers(stack: dict, server_cpus: str) -> None:
    """Pin the running local servers to ``server_cpus``, as `up --server-cpus` would have."""
    from servebench.backends.process import session_tree

    if not all(b.get("pid") for b in stack["backends"].values()):
        raise UsageError(
            f"--server-cpus moves local processes, and this stack runs in {stack['mode']} "
            "mode; set the servers' CPUs where they are started (compose.yaml, k8s/ or up)"
        )
    stack["server_cpus"] = cpus.parse(server_cpus)
    for backend in stack["backends"].values():
        cpus.pin_processes(session_tree(backend["pid"]), stack["server_cpus"])


def _loadgen_default(stack: dict) -> list[int]:
    rest = [cpu for cpu in cpus.available() if cpu not in (stack.get("server_cpus") or [])]
    return rest or cpus.available()


def calibrate_command(
    duration: float = 10.0,
    users: int = 32,
    model: str | None = None,
    workers: int = 0,
    loadgen_cpus: str | None = None,
    server_cpus: str | None = None,
    state_dir: Path = Path(".servebench"),
) -> int:
    from servebench.bench.calibrate import calibrate, every_case

    server_default, loadgen_default = cpus.default_split()
    server = cpus.parse(server_cpus) if server_cpus else server_default
    loadgen = cpus.parse(loadgen_cpus) if loadgen_cpus else loadgen_default
    try:
        stack = load_stack(state_dir)
    except UsageError:
        stack = {}
    prometheus = stack["monitoring"]["prometheus"]["endpoints"]["http"] if stack else None
    # where a user's model (export --model-file) is described
    artifacts = Stack(stack).artifacts if stack else None
    models = [spec.name for spec in select_models(model or "all", artifacts)]
    cases = every_case(models, loadgen, workers)
    known = calibrate(state_dir, cases, duration, server, prometheus, users, artifacts)
    for case in cases:
        figures = known[case.key]
        print(f"load generator ceiling, {case.describe()}: "
              f"{figure(figures['ceiling_rps'], '.0f')} req/s "
              f"(p50 {figure(figures['latency_ms_p50'], '.2f')} ms, Locust CPU "
              f"{figure(figures['loadgen_cpu_percent_mean'], '.0f')}% "
              f"on CPUs {loadgen})")  # fmt: skip
    print(f"recorded in {state_dir / 'calibration.json'}; bench warns above half of it")
    return 0


def report_command(
    run_dir: Path | None, results: Path = Path("results"), formats: str = "html,md"
) -> int:
    """Write the report of ``run_dir`` (None: the newest run in ``results``) in ``formats``."""
    from servebench import report

    wanted = [f.strip() for f in formats.replace("both", "html,md").split(",") if f.strip()]
    if not wanted or set(wanted) - {"html", "md"}:
        raise UsageError(f"--format {formats!r}: use html, md, or html,md (both)")
    if run_dir is None:
        run_dir = newest_run(results)
    elif run_dir.name == "results.json":  # the file itself, not its folder
        run_dir = run_dir.parent
    for path in report.write(run_dir, wanted):
        print(f"wrote {path}")
    return 0


def compare_command(
    run_a: Path, run_b: Path, label: str | None = None, out: Path | None = None
) -> int:
    """Judge two run folders by the verdict's rules; write compare.md and compare.html."""
    from servebench.report.compare import as_report, compare, lines
    from servebench.report.render import html, markdown

    run_a, run_b = (path.parent if path.name == "results.json" else path for path in (run_a, run_b))
    comparison = compare(run_a, run_b, label)
    print("\n".join(lines(comparison)))
    out = out or Path("results") / f"compare-{run_a.name}-vs-{run_b.name}"
    out.mkdir(parents=True, exist_ok=True)
    report = as_report(comparison)
    (out / "compare.md").write_text(markdown(report))
    (out / "compare.html").write_text(html(report))
    print(f"wrote {out / 'compare.md'} and {out / 'compare.html'}")
    return 0


def newest_run(results_root: Path) -> Path:
    runs = sorted(p for p in results_root.glob("*") if (p / "results.json").is_file())
    if not runs:
        raise UsageError(f"no runs in {results_root}/; run `servebench bench` first")
    return runs[-1]


def validate_command(root: Path | None) -> int:
    from servebench import validate

    checked, findings = validate.run_all(root) if root else validate.run_all()
    for item in checked:
        print(f"checked {item}")
    for finding in findings:
        print(f"FAIL [{finding.check}] {finding.subject}: {finding.message}")
    if findings:
        raise CheckFailed(f"{len(findings)} finding(s) in the deployment files")
    print("all deployment files valid")
    return 0

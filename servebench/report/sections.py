"""Each report section as blocks: ("p", text), ("table", head, rows), ("img", name, uri),
("pre", text). Every figure comes from the run folder."""

from __future__ import annotations

from servebench.clients import ALL_TARGETS
from servebench.missing import MISSING, figure
from servebench.report.plots import (
    latency_cdf,
    latency_vs_load,
    operations_over_time,
    throughput_over_time,
)
from servebench.report.verdict import (
    BASELINES,
    NAMES,
    Finding,
    detectable_said,
    remedies,
    server_names,
)
from servebench.target import Target

WEAK_SPREAD = 0.25  # an interval wider than +-25% of its median is too loose to lean on
WEAK_MARK = " (weak)"
WEAK_NOTE = (
    "(weak): the 95% interval is wider than +-25% of the median, so the runs were too short "
    "or too few to lean on this figure; measure longer, e.g. `servebench bench --duration 30s "
    "--repeat 5`."
)


def _num(value, digits: int = 3) -> str:
    if value is None:
        return MISSING
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _ci(summary_item: dict | None) -> str:
    """The median, its 95% interval clamped to what is possible (every figure here is
    non-negative), and a mark when the interval is too wide to lean on."""
    if not summary_item or summary_item.get("median") is None:
        return MISSING
    median = summary_item["median"]
    text = _num(median)
    ci = summary_item.get("ci95")
    if ci:
        text += f" [{_num(max(ci['low'], 0.0))}, {_num(ci['high'])}]"
        if is_weak(median, ci):
            text += WEAK_MARK
    return text


def is_weak(median: float, ci: dict) -> bool:
    """Whether an interval is wider than WEAK_SPREAD of its median on either side."""
    half_width = (ci["high"] - ci["low"]) / 2
    return half_width > WEAK_SPREAD * abs(median)


def with_weak_note(blocks: list) -> list:
    """The blocks, plus what "(weak)" means when a table carries the mark."""
    marked = any(
        WEAK_MARK in str(cell) for b in blocks if b[0] == "table" for row in b[2] for cell in row
    )
    return blocks + [("p", WEAK_NOTE)] if marked else blocks


def headline_section(data) -> list:
    """The answer first: the verdict (or why there is none and what would give one), each
    model's rates, and the summary `demo` prints."""
    from servebench.report.summary import summary_lines

    reasons, rows = data.verdict
    fixes = remedies(data.results)
    if reasons and not data.results.get("aa"):
        blocks = [("p", "No verdict, because " + "; ".join(reasons) + ".")]
        blocks += [("p", f"To get one: {fix}.") for fix in dict.fromkeys(fixes)]
    else:
        decided = [[f.criterion, f.scope, NAMES.get(f.winner, "none"), f.text] for f in rows]
        blocks = [("table", ["criterion", "scope", "winner", "finding"], decided)]
    names = server_names(data.results.get("implementations", {}))
    knees = {(k["model"], k["target"]): k for k in data.results.get("knee", [])}
    for model in data.models:
        table = [
            [
                e["target"],
                names[e["server"]],
                _ci((e.get("summary") or {}).get("achieved_rps")),
                _ci((e.get("summary") or {}).get("latency_ms_p99")),
            ]
            for e in data.results["targets"]
            if e["model"] == model
        ]
        head = ["target", "served by", "req/s", "p99 ms"]
        if knees:
            head.append("knee req/s")
            table = [row + [_knee_cell(knees.get((model, row[0])))] for row in table]
            table += [
                [
                    k["target"],
                    names[Target.parse(k["target"]).server],
                    MISSING,
                    MISSING,
                    _knee_cell(k),
                ]
                for (m, target), k in knees.items()
                if m == model and not any(row[0] == target for row in table)
            ]
        blocks += [("p", f"{model}:"), ("table", head, table)]
    lines = summary_lines(data.results, reasons, rows)
    return with_weak_note(blocks + [("pre", "\n".join(lines))])


def _knee_cell(knee: dict | None) -> str:
    if knee is None:
        return "not searched"
    if not knee["knee_rps"]:
        return f"none at p99 <= {_num(knee['slo_ms_p99'])} ms"
    return f"{_num(knee['knee_rps'])} at p99 <= {_num(knee['slo_ms_p99'])} ms"


def _runs_of(params: dict) -> str:
    runs = params.get("runs", params.get("repeat", 1))
    return f"{runs} separate run" + ("s" if runs != 1 else "")


def _yes_no(flag: bool | None) -> str:
    return "unknown" if flag is None else ("yes" if flag else "no")


def _image_said(image: dict | None) -> str:
    """A container's image, its platform, and whether it stood in for an official one."""
    if not image:
        return "a local process" if image is None else "not known"
    said = f"{image['image']} ({image.get('os')}/{image.get('architecture')})"
    if image.get("stand_in"):
        said += f", a labelled STAND-IN for {image.get('stands_in_for') or 'an official image'}"
    return said


def setup_section(data) -> list:
    manifest, params = data.manifest, data.results["params"]
    cpu = manifest.get("cpu", {})
    processes = params.get("workers") or 1
    loop = f"open-loop rate {params['rate']:g}/s" if params.get("rate") else "closed loop"
    batching = "off" if params.get("batch_size", 1) <= 1 else f"batch {params['batch_size']}"
    blocks = [
        ("p", f"Machine: {cpu.get('model', '?')}, {cpu.get('cores', '?')} cores, "
              f"{cpu.get('arch', '?')}, AVX {_yes_no(cpu.get('avx'))}. Servers on CPUs "
              f"{params.get('server_cpus')} with {params.get('server_threads')} thread(s) each; "
              f"Locust on CPUs {params.get('loadgen_cpus')} ({processes} process(es))."),
        ("p", f"Scenario {data.results['scenario']}: {_runs_of(params)} of each target, "
              f"interleaved (AB, BA, ...), each its own Locust with a warm-up of "
              f"{params['warmup_s']:g} s discarded and a window of {params['window_s']:g} s; "
              f"{params['users']} user(s), {loop}; server batching {batching}."),
    ]  # fmt: skip
    recorded, images = manifest.get("implementations", {}), manifest.get("images") or {}
    rows = [
        [name, impl, server_kind(impl, recorded.get(name)), _image_said(images.get(name))]
        for name, impl in data.results["implementations"].items()
    ]
    blocks.append(("table", ["backend", "implementation", "kind", "image"], rows))
    model_rows = [
        [name, _model_source(a), a["weights_sha256"][:16] + "...", str(a["input"]["shape"]),
         str(a["max_batch"])]
        for name, a in data.artifacts.items()
    ]  # fmt: skip
    header = ["model", "source", "weights sha256", "input shape", "max batch"]
    blocks.append(("table", header, model_rows))
    blocks.append(("p", "Package versions and the servers' configurations: see the appendix."))
    return blocks


def server_kind(implementation: str, recorded: dict | None) -> str:
    """The Setup table's kind: "real" only for a server the run recorded as real (one whose
    version was verified), "EMULATOR" for the emulator, and "UNVERIFIED" for anything else,
    such as a --tfserving-bin that printed no version, or a run that recorded nothing."""
    if "emulator" in implementation:
        return "EMULATOR"
    if recorded and recorded.get("real") is True and recorded["implementation"] == implementation:
        return "real"
    return "UNVERIFIED"


def _model_source(manifest: dict) -> str:
    user = manifest.get("user_model")
    if not user:
        return "servebench's reference model; TF twin written by hand"
    return (f"yours: {user['class']} from {user['definition']}; SavedModel "
            f"{user['tf_savedmodel']}; parity tolerance {user['parity_tolerance']:g}")  # fmt: skip


def config_appendix(data) -> list:
    """Package versions and each server's configuration file, as the run used them."""
    manifest = data.manifest
    packages = [[k, str(v)] for k, v in manifest.get("packages", {}).items()]
    packages += [
        ["python", manifest.get("python", "?")],
        ["git", manifest.get("git_sha", "?")[:12]],
    ]
    blocks = [("table", ["package", "version"], packages)]
    for name, text in manifest.get("server_configs", {}).items():
        blocks.append(("p", f"{name} configuration:"))
        blocks.append(("pre", text.strip()))
    return blocks


def parity_section(data) -> list:
    """One line: how many comparisons, whether all passed, the largest difference."""
    parity = data.results.get("parity") or {}
    cases = parity.get("in_process", []) + parity.get("endpoints", [])
    if not cases:
        return [("p", "No parity results were recorded with this run.")]
    failed = [
        f"{c['candidate']} ({c['model']}, batch {c['batch']})" for c in cases if not c["passed"]
    ]
    largest = max(c["max_abs_diff"] for c in cases)
    verdict = "all within" if not failed else f"{len(failed)} FAILED ({', '.join(failed)}) of"
    return [
        (
            "p",
            f"The same inputs (batch 1 and 8) through in-process PyTorch (the reference), the "
            f"exported artifacts and every endpoint: {len(cases)} comparisons, {verdict} the "
            f"1e-4 tolerance; the largest absolute difference {largest:.2e}. Every comparison "
            "is in the appendix.",
        )
    ]


def parity_appendix(data) -> list:
    parity = data.results.get("parity") or {}
    rows = [
        [
            c["model"],
            c["candidate"],
            str(c["batch"]),
            f"{c['max_abs_diff']:.2e}",
            "yes" if c["passed"] else "NO",
        ]
        for c in parity.get("in_process", []) + parity.get("endpoints", [])
    ]
    if not rows:
        return [("p", "No parity results were recorded with this run.")]
    return [("table", ["model", "compared with torch", "batch", "max abs diff", "ok"], rows)]


def _bytes(entry: dict) -> str:
    return f"{_num(entry.get('request_bytes_mean'))} / {_num(entry.get('response_bytes_mean'))}"


def targets_section(data) -> list:
    head = [
        "model",
        "target",
        "implementation",
        "on the wire",
        "request / reply bytes",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "errors",
        "server CPU %",
        "server RSS MB",
    ]
    rows = []
    for entry in data.results["targets"]:
        summary = entry.get("summary") or {}
        reps = entry["repetitions"]
        cpu = [r["resources"].get("server_cpu_percent_mean") for r in reps]
        rss = [r["resources"].get("server_rss_mb_max") for r in reps]
        rows.append(
            [
                entry["model"],
                target_label(entry),
                entry["implementation"],
                entry.get("encoding", "not recorded"),
                _bytes(entry),
                _ci(summary.get("achieved_rps")),
                _ci(summary.get("latency_ms_p50")),
                _ci(summary.get("latency_ms_p90")),
                _ci(summary.get("latency_ms_p99")),
                _ci(summary.get("latency_ms_p99.9")),
                figure((summary.get("error_ratio") or {}).get("max"), ".2%"),
                _num(max((c for c in cpu if c is not None), default=None)),
                _num(max((r for r in rss if r is not None), default=None)),
            ]
        )
    blocks = [
        (
            "p",
            "Medians across runs (each target in separate, interleaved runs), with the 95% "
            "confidence interval of the mean over runs in brackets. Latency is client-side, "
            "from the raw request log; failed and timed-out requests count as infinitely slow "
            "in every percentile (a percentile that falls on them shows --).",
        ),
        ("table", head, rows),
    ]
    blocks = with_weak_note(blocks)
    warnings = data.results.get("warnings", []) + [
        f"{e['model']} {e['target']}: {w}" for e in data.results["targets"] for w in e["warnings"]
    ]
    blocks += [("p", f"Warning: {w}") for w in warnings]
    return blocks


NO_BASELINE = (
    "The diy baseline was not measured in this run: `servebench up --with-diy`, then "
    "`servebench bench --targets torchserve-rest,tfserving-rest,diy-rest` puts a small web app "
    "of your own beside the servers."
)


def baseline_section(data) -> list:
    """The diy arm beside the servers' REST endpoints: what a dedicated server buys over a
    small web app of one's own. Shown, never judged: the verdict leaves it out."""
    entries = data.results["targets"]
    baselines = [e for e in entries if e["server"] in BASELINES]
    if not baselines:
        return [("p", NO_BASELINE)]
    rows = []
    for diy in baselines:
        diy_rps = _median_of(diy, "achieved_rps")
        for entry in entries:
            if entry["model"] != diy["model"] or entry["protocol"] != "rest":
                continue
            rps = _median_of(entry, "achieved_rps")
            ratio = f"{rps / diy_rps:.2f}x" if rps is not None and diy_rps else MISSING
            rows.append(
                [
                    entry["model"],
                    entry["target"],
                    entry["implementation"],
                    _ci((entry.get("summary") or {}).get("achieved_rps")),
                    _ci((entry.get("summary") or {}).get("latency_ms_p99")),
                    "1 (the baseline)" if entry is diy else ratio,
                ]
            )
    text = (
        "A third arm, outside the verdict: the same model exported to ONNX, run by ONNX Runtime "
        "inside a small Starlette app under uvicorn, on the same CPUs and threads, REST only. "
        "It asks what a dedicated server buys over wrapping the model in a web app of your own. "
        "Last column: each REST endpoint's throughput over the baseline's."
    )
    head = ["model", "target", "implementation", "req/s", "p99 ms", "req/s vs diy"]
    return with_weak_note([("p", text), ("table", head, rows)])


def _median_of(entry: dict, key: str) -> float | None:
    return ((entry.get("summary") or {}).get(key) or {}).get("median")


def _efficiency(entry: dict) -> str:
    interval = entry.get("serving_efficiency_ci95")
    if entry.get("serving_efficiency") is None or not interval:
        return _num(entry.get("serving_efficiency"))
    low, high = _num(interval["low"]), _num(interval["high"])
    return f"{_num(entry['serving_efficiency'])} [{low}, {high}]"


def target_label(entry: dict) -> str:
    """The target, and in an A/A run the arm."""
    return f"{entry['target']} (arm {entry['arm']})" if entry.get("arm") else entry["target"]


def fault_line(fault: dict) -> str:
    """One sentence on an injected fault and what it cost the clients."""
    if fault.get("injected_unix") is None:
        why = fault.get("error", "the run ended first")
        return f"the {fault['kind']} fault was not injected ({why})"
    line = (
        f"{fault['kind']} killed (pid {fault['pid']}); {fault['failed_after']} requests failed "
        f"after it; longest stretch without a successful reply {_num(fault['outage_s'])} s; "
        f"replies succeeded again {_num(fault['recovered_after_s'])} s after the kill"
    )
    if fault.get("restarts") is not None:
        line += f"; container restarts: {fault['restarts']}"
    if fault.get("restarted_after_s") is not None:
        line += (
            f"; the container started again {_num(fault['restarted_after_s'])} s after the kill "
            f"and loaded the model in {_num(fault.get('model_loaded_after_restart_s'))} s"
        )
    return line


def operations_section(data) -> list:
    """Ramp steps, the spike and its surroundings, soak slices, the time around a fault or a
    rollout: one row per phase, a line on what each event cost, and each run over time."""
    head = ["model", "target", "phase", "users", "seconds", "req/s", "p50 ms", "p99 ms", "errors",
            "server CPU %", "server RSS MB", "Locust RSS MB"]  # fmt: skip
    rows, verdicts = [], []
    for entry in (run for target in data.results["targets"] for run in _runs(target)):
        for phase in entry.get("phases", []):
            rows.append(
                [
                    entry["model"],
                    entry["target"],
                    phase["label"] + entry["run_said"],
                    str(phase["users"]),
                    f"{phase['start_s']:.0f}-{phase['end_s']:.0f}",
                    _num(phase["achieved_rps"]),
                    _num(phase["latency_ms"]["p50"]),
                    _num(phase["latency_ms"]["p99"]),
                    figure(phase.get("error_ratio"), ".2%"),
                    _num(phase["resources"].get("server_cpu_percent_mean")),
                    _num(phase["resources"].get("server_rss_mb_max")),
                    _num(phase["resources"].get("loadgen_rss_mb_max")),
                ]
            )
        said = f"{entry['model']} {entry['target']}{entry['run_said']}"
        if "recovery_s" in entry:
            verdicts.append(f"{said}: {overload_line(entry)}")
        if entry.get("drift"):
            verdicts.append(f"{said}: {drift_line(entry['drift'])}")
        if "fault" in entry:
            verdicts.append(f"{said}: {fault_line(entry['fault'])}")
        if "rollout" in entry:
            verdicts.append(f"{said}: {rollout_line(entry)}")
        if "broke_at" in entry:
            broke = entry["broke_at"]
            verdicts.append(
                f"{said}: "
                + (
                    f"p99 passed {_num(entry['slo_ms_p99'])} ms or errors passed the budget "
                    f"first in {broke}"
                    if broke
                    else f"every phase met p99 <= {_num(entry['slo_ms_p99'])} ms"
                )
            )
    if not rows:
        return [("p", "This scenario keeps one load level: see the per-target results.")]
    blocks = [
        ("p", "Each phase of the load shape, from the raw request log (seconds from the start)."),
        ("table", head, rows),
    ]
    blocks += [("p", line) for line in verdicts]
    for entry in data.results["targets"]:
        if entry.get("phases") and (image := operations_over_time(entry, data.run_dir)):
            blocks.append(("img", f"{entry['model']}-{entry['target']}-over-time", image))
    if any(len(entry.get("rounds", [])) > 1 for entry in data.results["targets"]):
        blocks.append(("p", "Over time: each target's first run; every run's request log is in "
                       "its round-N folder."))  # fmt: skip
    return blocks


def _runs(entry: dict) -> list[dict]:
    """The entry once per run of it (an operations scenario's rounds), each naming its run
    where there are several."""
    rounds = entry.get("rounds") or []
    if len(rounds) < 2:
        return [{**entry, "run_said": ""}]
    return [{**entry, **figures, "run_said": f" (run {index + 1} of {len(rounds)})"}
            for index, figures in enumerate(rounds)]  # fmt: skip


def rollout_line(entry: dict) -> str:
    """Each step of a rollout, and every request's answer."""
    rollout = entry["rollout"]
    steps = [_rollout_step(step) for step in rollout["steps"]]
    answers = rollout["answers"]
    counted = " + ".join(f"{answers[key]:,} {key}" for key in ("v1", "v2", "wrong", "failed"))
    basis = entry.get("knee_basis", "?")
    return (f"rollout at {_num(entry.get('offered_rps'))} req/s offered ({basis}): "
            + "; ".join(steps or ["no step ran"])
            + f". Answers: {counted} = {answers['requests']:,} requests"
            + _memory_with_two_versions(entry.get("phases", [])))  # fmt: skip


def _memory_with_two_versions(phases: list[dict]) -> str:
    """The server's peak RSS during the steps, when both versions were loaded, against
    before."""
    rss = {p["label"]: p["resources"].get("server_rss_mb_max") for p in phases}
    before = rss.get("before the rollout")
    during = [v for label, v in rss.items() if label.startswith("roll") and v is not None]
    if before is None or not during:
        return ""
    # "Up to", not "peaked": a container's memory figure can fall as the kernel reclaims cache.
    return (f". Server RSS during the steps, with both versions loaded: up to "
            f"{_num(max(during))} MB ({_num(before)} MB before)")  # fmt: skip


def _rollout_step(step: dict) -> str:
    move = f"{step['label']} v{step['from']} -> v{step['to']}"
    if step.get("error"):
        return f"{move} FAILED ({step['error']})"
    errors = ", ".join(f"{count:,} {kind}" for kind, count in step["errors"].items())
    stale = step["old_after_all_new"]
    return (
        f"{move}: first v{step['to']} answer after {_num(step['first_new_s'])} s, only "
        f"v{step['to']} after {_num(step['all_new_s'])} s; "
        f"{errors or 'no failed requests'} during it; "
        + ("no" if not stale else f"{stale:,} (SHOULD BE NONE)")
        + f" v{step['from']} answers after that"
    )


def overload_line(entry: dict) -> str:
    """What the server did with the excess, step by step, and whether it recovered."""
    steps = []
    for phase in entry.get("phases", []):
        kinds = ", ".join(f"{count:,} {kind}" for kind, count in sorted(phase["errors"].items()))
        offered = _num(phase.get("offered_rps"))
        steps.append(f"{phase['label']} ({offered}/s offered): {kinds or 'no errors'}")
    recovery = entry.get("recovery_s")
    after = (
        f"back to its normal p99 {_num(recovery)} s after the load dropped"
        if recovery is not None
        else "NOT back to its normal p99 before the run ended"
    )
    basis = entry.get("knee_basis", "?")
    return f"overload around a knee of {_num(entry.get('offered_rps'))} req/s ({basis}): " + (
        "; ".join(steps) + f"; {after}"
    )


def drift_line(drift: dict) -> str:
    """A soak from its first slice to its last, and what grew more than 10%."""
    names = {"server_rss_mb": ("server RSS", "MB"), "loadgen_rss_mb": ("Locust RSS", "MB"),
             "p99_ms": ("p99", "ms")}  # fmt: skip
    parts = [
        f"{label} {_num(f['first'])} -> {_num(f['last'])} {unit} ({f['change']:+.1%})"
        for key, (label, unit) in names.items()
        if (f := drift.get(key))
    ]
    flagged = [names[key][0] for key in drift.get("flagged", [])]
    text = "soak, first slice to last: " + "; ".join(parts)
    return text + (f". GROWTH above 10%: {', '.join(flagged)}" if flagged else "")


def knee_section(data) -> list:
    """Each knee search: the highest Poisson rate whose p99 met the objective, its repeat, the
    p99 spread at that rate, and every probe."""
    knees = data.results.get("knee", [])
    if not knees:
        return [("p", "No knee search in this run (`bench --scenario poisson --find-knee`).")]
    rows = [
        [
            knee["model"],
            knee["target"],
            _num(knee["slo_ms_p99"]),
            _num(knee["knee_rps"]),
            "yes" if knee["converged"] else "NO",
            _confirmed(knee),
            "; ".join(
                f"{_num(probe['rate'])}/s: p99 {_num(probe['p99_ms'])} ms"
                + ("" if probe["passed"] else " (failed)")
                for probe in knee["probes"]
            ),
        ]
        for knee in knees
    ]
    head = ["model", "target", "p99 objective ms", "knee req/s", "converged",
            "repeat at the knee (p99 spread)", "probes"]  # fmt: skip
    warnings = [f"{k['model']} {k['target']}: {w}" for k in knees for w in k.get("warnings", [])]
    return [("table", head, rows)] + [("p", f"Warning: {w}") for w in warnings]


def _confirmed(knee: dict) -> str:
    if knee.get("repeat") is None:
        return "not probed" if knee["knee_rps"] else "no knee"
    spread = knee.get("p99_spread_ms") or [None, None]
    verdict = "passed" if knee["confirmed"] else "FAILED: unconfirmed"
    return f"{verdict} (p99 {_num(spread[0])}-{_num(spread[1])} ms)"


def plots_section(data) -> list:
    blocks = []
    for model in data.models:
        blocks.append(("img", f"{model}-latency-vs-load", latency_vs_load(data.results, model)))
        blocks.append(
            ("img", f"{model}-latency-cdf", latency_cdf(data.results, data.run_dir, model))
        )
        blocks.append(
            (
                "img",
                f"{model}-throughput",
                throughput_over_time(data.results, data.run_dir, model),
            )
        )
    return blocks


def time_section(data) -> list:
    rows = []
    for entry in data.results["targets"]:
        reps = entry["repetitions"]
        if not reps:
            continue
        side = reps[-1]["server_side"]
        if side.get("note"):
            server_text = side["note"]
        elif entry["server"] == "torchserve":
            server_text = (
                f"server {_num(side.get('server_ms_mean'))} ms = queue "
                f"{_num(side.get('queue_ms_mean'))} ms + {_num(side.get('after_queue_ms_mean'))} "
                "ms after it (means)"
            )
        else:
            mean, p99 = _num(side.get("latency_ms_mean")), _num(side.get("latency_ms_p99"))
            server_text = f"request {mean} ms mean, p99 {p99} ms"
        rows.append(
            [
                entry["model"],
                target_label(entry),
                _num(reps[-1]["latency_ms"]["mean"]),
                server_text,
                _efficiency(entry),
            ]
        )
    limits = [
        [model, framework, figures.get("artifact", "the eager model"),
         str(figures.get("concurrency", 1)), _ci({"median": figures["rps"],
                                                  "ci95": figures.get("rps_ci95")}),
         _num(figures["latency_ms"]["p50"])]
        for model, frameworks in data.results.get("in_process", {}).items()
        for framework, figures in frameworks.items()
    ]  # fmt: skip
    blocks = [
        (
            "p",
            "Client latency (mean, last window) against the server's own account of the same "
            "requests; the rest is transport, (de)serialization and the frontend.",
        ),
        ("table", ["model", "target", "client mean ms", "server's own time", "efficiency"], rows),
        (
            "p",
            "In-process limits: each side's served artifact called directly, on the servers' "
            "CPUs and threads, from as many threads as the served run had users. Serving "
            "efficiency = served req/s / this; its interval spans both rates' intervals.",
        ),
        ("table", ["model", "framework", "what was called", "callers", "req/s", "p50 ms"], limits),
    ]
    return with_weak_note(blocks)


def _cold_starts(record: dict | None) -> list:
    if not record:
        return [("p", "Cold starts alone were not timed (`servebench cold-start`).")]
    rows = [
        [name, server["implementation"], str(len(server["starts"])), _ci(server["alive_s"]),
         _ci(server["model_load_s"]), _ci(server["ready_s"])]
        for name, server in record["servers"].items()
    ]  # fmt: skip
    head = ["server", "implementation", "starts", "port open s", "then models s", "ready s"]
    text = (
        "Each server started alone on the servers' CPUs (`servebench cold-start`), medians with "
        "95% intervals. A server that opens its port only once its models are loaded shows no "
        "model time apart."
    )
    return [("p", text), ("table", head, rows)]


def deployment_section(data) -> list:
    names = server_names(data.results.get("implementations", {}))
    blocks = []
    if data.stack:
        rows = [
            [name, b["implementation"], _num(b["ready_seconds"])]
            for name, b in data.stack["backends"].items()
        ]
        blocks.append(
            (
                "p",
                "Time from process start to every model READY/AVAILABLE when `up` started this "
                "stack (one measurement, both servers starting at once).",
            )
        )
        blocks.append(("table", ["server", "implementation", "seconds to ready"], rows))
    blocks += _cold_starts(data.results.get("cold_starts"))
    idle = data.results.get("idle_rss_mb", {})
    memory = []
    measured = {entry["server"] for entry in data.results["targets"]}
    baselines = [server for server in BASELINES if server in idle or server in measured]
    for server in ("torchserve", "tfserving", *baselines):
        loaded = [
            r["resources"].get("server_rss_mb_max")
            for e in data.results["targets"]
            if e["server"] == server
            for r in e["repetitions"]
        ]
        loaded = [v for v in loaded if v is not None]
        memory.append(
            [names[server], _num(idle.get(server)), _num(max(loaded) if loaded else None)]
        )
    blocks.append(("table", ["server", "RSS at idle MB", "RSS under load MB (max)"], memory))
    blocks += _footprint(data.results.get("footprint") or {}, names)
    blocks += _maintenance()
    sizes = [
        [
            model,
            f"{a['artifacts']['torchserve_mar']['bytes'] / 1e6:.1f}",
            f"{a['artifacts']['tf_savedmodel']['bytes'] / 1e6:.1f}",
            _megabytes(a["artifacts"].get("onnx")),
        ]
        for model, a in data.artifacts.items()
    ]
    blocks.append(("table", ["model", ".mar MB", "SavedModel MB", "ONNX MB (diy)"], sizes))
    blocks += _rest_vs_grpc(data, names)
    blocks += _bad_input_summary(data)
    return blocks


def _megabytes(artifact: dict | None) -> str:
    return f"{artifact['bytes'] / 1e6:.1f}" if artifact else MISSING


def _footprint(footprint: dict, names: dict[str, str]) -> list:
    """Processes and threads at idle: a frontend-and-workers design against a single process."""
    rows = [
        [names[server], str(found["processes"]), str(found["threads"]),
         f"{found['image_bytes'] / 1e6:,.0f}" if found.get("image_bytes") else MISSING]
        for server, found in footprint.items()
        if found
    ]  # fmt: skip
    if not rows:
        return []
    head = ["server", "processes", "threads", "image MB (containers)"]
    return [("p", "What each server runs, at idle before the load:"), ("table", head, rows)]


# Dated facts, not measurements: each says when it was true.
MAINTENANCE = [
    ["TorchServe", "0.12.0 (2024-09)", "\"Limited Maintenance: no planned updates, bug fixes, new "
     "features, or security patches\" in its README since 2025-02-28", "2026-11-27"],
    ["TensorFlow Serving", "2.20.0 (2026-04)",
     "releases follow TensorFlow's (2.20.0 goes with TF 2.20)", "2026-11-27"],
]  # fmt: skip


def _maintenance() -> list:
    head = ["project", "latest release", "maintenance status", "as of"]
    text = "Maintenance status of the projects (not of what served this run), a dated fact:"
    return [("p", text), ("table", head, MAINTENANCE)]


def _rest_vs_grpc(data, names: dict[str, str]) -> list:
    by_key = {(e["model"], e["server"], e["protocol"]): e for e in data.results["targets"]}
    rows = []
    for (model, server, protocol), entry in sorted(by_key.items()):
        other = by_key.get((model, server, "grpc"))
        if (
            protocol != "rest"
            or other is None
            or not entry.get("summary")
            or not other.get("summary")
        ):
            continue
        rest_p50 = entry["summary"]["latency_ms_p50"]["median"]
        grpc_p50 = other["summary"]["latency_ms_p50"]["median"]
        rest_rps = entry["summary"]["achieved_rps"]["median"]
        grpc_rps = other["summary"]["achieved_rps"]["median"]
        rows.append(
            [
                model,
                names[server],
                f"{_num(rest_p50)} / {_num(grpc_p50)}",
                f"{_num(rest_rps)} / {_num(grpc_rps)}",
            ]
        )
    if not rows:
        return []
    return [
        ("p", "REST vs gRPC on each server (p50 ms, req/s):"),
        ("table", ["model", "server", "p50 REST / gRPC", "req/s REST / gRPC"], rows),
    ]


NO_BAD_INPUTS = (
    "No bad-input matrix was recorded; run `servebench probe-bad-inputs` before `bench`."
)


def _bad_input_summary(data) -> list:
    if not data.bad_inputs:
        return [("p", NO_BAD_INPUTS)]
    results = data.bad_inputs["results"]
    broken = [f"{r['model']} {r['case']} on {r['target']}" for r in results if r.get("problem")]
    cases = len({(r["model"], r["case"]) for r in results})
    text = f"Bad input: {cases} cases on {len({r['target'] for r in results})} endpoints"
    text += f"; broken contracts: {', '.join(broken)}" if broken else "; no broken contract"
    return [("p", text + ". The whole matrix is in the appendix.")]


def bad_input_appendix(data) -> list:
    if not data.bad_inputs:
        return [("p", NO_BAD_INPUTS)]
    results = data.bad_inputs["results"]
    targets = sorted({r["target"] for r in results}, key=ALL_TARGETS.index)
    rows = []
    for model in sorted({r["model"] for r in results}):
        for case in dict.fromkeys(r["case"] for r in results):
            cells = {
                r["target"]: f"{r['status']} ({r['answered_by']})"
                + (" !" if r.get("problem") else "")
                for r in results
                if r["model"] == model and r["case"] == case
            }
            rows.append([model, case, *(cells.get(t, MISSING) for t in targets)])
    return [
        (
            "p",
            "Bad input: status and who answered (model code = the handler or the SavedModel's "
            "in-graph checks; server = the server before that code; ! = a broken contract).",
        ),
        ("table", ["model", "case", *targets], rows),
    ]


VERDICT_METHOD = (
    "How this was decided: each criterion compares the two sides' runs (one value per separate "
    "run, never windows of one run), as the ratio of their geometric means with a Welch "
    "interval on the logs, at 1 - 0.05/m for the m claims of this verdict (Bonferroni), so that "
    "all of them together name a false winner at most 5% of the time. A winner needs an "
    "interval that excludes 1 and a difference of 5% or more; an interval within +-5% is "
    "equivalent; anything else is inconclusive, with the smallest difference the runs could "
    "have detected (80% of the time). A side that failed more than 0.1% of its requests in a "
    "run cannot win on speed, and a p99 needs 459 requests in every run (MLPerf LoadGen's "
    "early-stopping bound at 99% confidence)."
)


def verdict_section(data) -> list:
    reasons, rows = data.verdict
    aa = data.results.get("aa")
    blocks = [("p", VERDICT_METHOD)]
    if aa:
        blocks.append(("p", aa_line(aa, rows)))
        if reasons:
            blocks.append(("p", "A normal run would withhold every winner here: "
                           + "; ".join(reasons) + "."))  # fmt: skip
    elif reasons:
        blocks.append(("p", "No winner is named in this report: " + "; ".join(reasons) + "."))
        criteria = ", ".join(dict.fromkeys(f.criterion for f in rows))
        scopes = len({f.scope for f in rows})
        text = f"Withheld on all {len(rows)} findings ({criteria}; {scopes} scopes)."
        return blocks + [("p", text)]
    blocks.append(
        (
            "table",
            ["criterion", "scope", "winner", "finding"],
            [[f.criterion, f.scope, NAMES.get(f.winner, "none"), f.text] for f in rows],
        )
    )
    return blocks


def aa_line(aa: dict, rows: list[Finding]) -> str:
    """What an A/A run found: any winner between two arms of one target is a false positive.
    With a hold on arm B (the power check), arm A must win on throughput."""
    hold = (aa.get("hold_ms") or {}).get("B")
    if hold:
        return _power_line(aa, hold, rows)
    named = [f"{f.criterion} ({f.scope})" for f in rows if f.winner]
    head = f"A/A run: {aa['target']} measured as both arms, in interleaved runs (AB, BA, ...). "
    if not named:
        return head + f"The verdict rules named no winner on {len(rows)} criteria, as they must."
    return head + (
        f"The verdict rules named a winner on {len(named)} of {len(rows)} criteria, each a false "
        f"positive: {', '.join(named)}."
    )


def _power_line(aa: dict, hold: float, rows: list[Finding]) -> str:
    """The power check: arm B held each request ``hold`` ms, so arm A is faster by design."""
    head = (f"Power check: {aa['target']} as both arms, arm B holding each request {hold:g} ms "
            "before sending (counted in its latency). ")  # fmt: skip
    throughput = [f for f in rows if f.criterion == "throughput"]
    found = [f for f in throughput if f.winner == "A"]
    wrong = [f"{f.criterion} ({f.scope})" for f in rows if f.winner == "B"]
    said = "; ".join(f.text for f in throughput)
    if wrong:
        return head + f"The rules named arm B, the slower, on {', '.join(wrong)}: WRONG. {said}"
    power = [f.estimate for f in throughput if f.estimate]
    widest = max(power, key=lambda estimate: estimate.detectable(), default=None)
    could = (
        f" (these runs could detect differences above {detectable_said(widest)})" if widest else ""
    )
    if found and len(found) == len(throughput):
        return head + f"The rules found the known difference: {said}{could}."
    return head + f"The rules did not find the known difference: {said}{could}."


# The report's sections, in order: a new section is a function of the run data above, and a
# line here.
SECTIONS = {
    "Headline": headline_section,
    "Setup": setup_section,
    "Same model": parity_section,
    "Per-target results": targets_section,
    "The diy baseline": baseline_section,
    "Operations": operations_section,
    "Knee": knee_section,
    "Plots": plots_section,
    "Where the time goes": time_section,
    "Deployment facts": deployment_section,
    "Verdict": verdict_section,
    "Appendix: versions and configuration": config_appendix,
    "Appendix: every parity comparison": parity_appendix,
    "Appendix: the bad-input matrix": bad_input_appendix,
}

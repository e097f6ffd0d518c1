"""The verdict: per criterion, a winner with its ratio and interval, "equivalent within ±5%",
or "inconclusive" with the smallest difference the run could have seen.

Pure functions of results.json (and the stack and bad-input records kept beside it). The unit
of evidence is a run: each target is measured in several separate, interleaved runs, and every
comparison is over those runs (`compare_runs`), never over windows of one run. The same engine
judges the two servers (the verdict), one target against itself (A/A) and two run folders
(`servebench compare`). No winner is named at all when a side was served by the emulator, when
the load generator was near its ceiling, or when the harness could not measure something.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from servebench.load.options import OPERATIONS
from servebench.stats import RatioEstimate, log_ratio, median, tail_minimum
from servebench.target import BASELINE_SERVERS, Target

SERVERS = ("torchserve", "tfserving")
# The baselines (`up --with-diy`) are measured and reported beside the servers, and never take
# part in their verdict: not as a side, not as a reason to withhold it.
BASELINES = BASELINE_SERVERS
NAMES = {
    "torchserve": "TorchServe",
    "tfserving": "TF Serving",
    "diy": "diy baseline",
    "A": "arm A",
    "B": "arm B",
}
ARMS = ("A", "B")  # the two sides of an A/A run, or of `servebench compare`
MIN_EFFECT = 1.05  # below a 5% difference no winner is named, however narrow the interval
# All the claims of one verdict share a 5% chance of any false winner (Bonferroni): each
# interval is at 1 - 0.05 / m for m claims. In a closed loop throughput, p99 and efficiency are
# largely one effect (Little's law), so this is conservative; it is also simple to state.
FAMILY_ALPHA = 0.05
# Failed requests count as infinitely slow in every percentile. At 1% failed they ARE the p99,
# so a speed claim needs far fewer: at 0.1% they move a p99 no further than the successes' p98.9.
SPEED_ERROR_BUDGET = 0.001
ERROR_BUDGET = 0.01  # an operations run (rollout) fails a real share of requests by design
ROBUSTNESS_MARGIN = 2  # broken contracts: one against none is an anecdote (a single timeout)
TAIL_CONFIDENCE = 0.99  # a percentile is claimed only from runs holding tail_minimum requests
SCHEMA_WITH_RUNS = 2  # results before this took their intervals from windows of one run


@dataclass(frozen=True)
class Finding:
    criterion: str
    scope: str  # e.g. "mlp, REST"
    winner: str | None  # a side ("torchserve", "tfserving", "A", "B"), or None
    text: str
    outcome: str = "inconclusive"  # winner | equivalent | small | inconclusive | not measured
    estimate: RatioEstimate | None = None


@dataclass(frozen=True)
class Sides:
    """The two sides a verdict compares, and how each is named in its text."""

    keys: tuple[str, str] = SERVERS
    names: dict | None = None

    def name(self, side: str) -> str:
        return (self.names or NAMES).get(side, NAMES.get(side, side))


def server_names(implementations: dict) -> dict[str, str]:
    """Display names that say when a side was the emulator: "TF Serving (emulator)"."""
    return {
        side: name + (" (emulator)" if "emulator" in implementations.get(side, "") else "")
        for side, name in NAMES.items()
    }


REAL_TF_SERVING = (
    "`servebench up --tfserving-bin /path/to/tensorflow_model_server` (or `docker compose "
    "--profile bench run --rm bench` where the official tensorflow/serving image can be pulled), "
    "then `servebench bench`"
)


def blockers(results: dict) -> list[str]:
    """Why no winner may be named, if any reason applies to the whole run."""
    return [reason for reason, _ in _blocking(results)]


def remedies(results: dict) -> list[str]:
    """For each reason of `blockers`, the command that would lift it."""
    return [remedy for _, remedy in _blocking(results)]


def _blocking(results: dict) -> list[tuple[str, str]]:
    """(reason, the command that lifts it) for every reason no winner may be named."""
    measured = _compared(results.get("targets", []) + results.get("knee", []))
    return [
        *_not_real(results),
        *_older_schema(results),
        *_near_ceiling(measured),
        *_calibration_gaps(results),
        *_unsampled_loadgen(_compared(results.get("targets", []))),
        *_parity_gaps(results),
    ]


def _not_real(results: dict) -> list[tuple[str, str]]:
    emulated = [
        name
        for name, impl in results.get("implementations", {}).items()
        if "emulator" in impl and name not in BASELINES
    ]
    if not emulated and results.get("verdict_allowed", False):
        return []
    reason = (
        "the TF Serving side was served by the servebench emulator, not TF Serving"
        if emulated
        else "a backend was not the real server, or could not be verified as one"
    )
    return [(reason, REAL_TF_SERVING)]


def _older_schema(results: dict) -> list[tuple[str, str]]:
    version = results.get("schema_version", 1)
    if version >= SCHEMA_WITH_RUNS or results.get("scenario") in OPERATIONS:
        return []
    return [(
        "this run's intervals come from windows of a single run per target (results schema "
        f"{version}), which leave run-to-run variation out",
        "`servebench bench` again with this version: each target in separate, interleaved runs",
    )]  # fmt: skip


def _near_ceiling(measured: list[dict]) -> list[tuple[str, str]]:
    near = [
        f"{t['model']} {t['target']}" + (" (knee probes)" if "probes" in t else "")
        for t in measured
        if any("ceiling" in w or "bottleneck" in w for w in t.get("warnings", []))
    ]
    if not near:
        return []
    return [(
        f"the load generator was near its ceiling for {', '.join(near)}",
        "`servebench bench` with fewer `--users` or a lower `--rate`, or more Locust CPUs "
        "(`--loadgen-cpus`, `--workers`)",
    )]  # fmt: skip


def _calibration_gaps(results: dict) -> list[tuple[str, str]]:
    """A ceiling never measured, or measured by a calibration that served nothing or failed
    requests: either way the load generator cannot be ruled out as the bottleneck."""
    calibration = results.get("calibration")
    fix = "`servebench calibrate`, or `servebench bench` without `--calibrate-seconds 0`"
    if calibration is None:
        return [(
            "the load generator's ceiling was never measured (`servebench calibrate`), so it "
            "cannot be ruled out as the bottleneck",
            fix,
        )]  # fmt: skip
    broken = [
        f"{key} ({_calibration_fault(case)})"
        for key, case in calibration.items()
        if isinstance(case, dict) and _calibration_fault(case)
    ]
    if not broken:
        return []
    return [(
        "not measured: the load generator's ceiling for " + ", ".join(broken),
        "`servebench calibrate` again (check that Locust and the trivial server can start)",
    )]  # fmt: skip


def _calibration_fault(case: dict) -> str | None:
    ceiling = case.get("ceiling_rps", case.get("rps"))
    if not ceiling:
        return "its calibration served nothing"
    errors = case.get("error_ratio")
    if errors:
        return f"its calibration failed {errors:.1%} of its requests"
    return None


def _unsampled_loadgen(entries: list[dict]) -> list[tuple[str, str]]:
    """Runs in which Locust's CPU was never sampled: its load cannot be ruled out."""
    missing = [
        f"{entry['model']} {entry['target']} run {index + 1}"
        for entry in entries
        for index, rep in enumerate(entry.get("repetitions", []))
        if "loadgen_cpu_percent_mean" not in (rep.get("resources") or {})
    ]
    if not missing:
        return []
    return [(
        "not measured: the load generator's CPU was not sampled in " + ", ".join(missing[:4])
        + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        + ", so it cannot be ruled out as the bottleneck",
        "`servebench bench` again; check that the Locust process can be read (psutil)",
    )]  # fmt: skip


def _parity_gaps(results: dict) -> list[tuple[str, str]]:
    """Endpoint parity failed, or was never checked for a compared target: without it the two
    sides may not compute the same function."""
    fix = (
        "`servebench export` again, restart with `servebench down && servebench up`, and check "
        "`servebench parity --endpoints`"
    )
    cases = [
        case
        for case in results.get("parity", {}).get("endpoints", [])
        if not _is_baseline(case["candidate"].split(" ")[0])
    ]
    broken = [
        f"{case['candidate']} ({case['model']}, batch {case['batch']})"
        for case in cases
        if case.get("passed") is not True
    ]
    if broken:
        return [(
            f"endpoint parity failed for {', '.join(broken)}: the servers did not compute the "
            "same function",
            fix,
        )]  # fmt: skip
    checked = {(case["model"], case["candidate"].split(" ")[0]) for case in cases}
    unchecked = [
        f"{entry['model']} {entry['target']}"
        for entry in _compared(results.get("targets", []))
        if (entry["model"], entry["target"]) not in checked
        and results.get("scenario") not in OPERATIONS
    ]
    if unchecked or (results.get("targets") and not cases):
        return [(
            "endpoint parity was not checked for " + (", ".join(unchecked) or "any target"),
            fix,
        )]  # fmt: skip
    return []


def _is_baseline(target: str) -> bool:
    return Target.parse(target).server in BASELINES


def _compared(entries: list[dict]) -> list[dict]:
    """The entries of the compared servers' targets: a baseline's are left out."""
    return [entry for entry in entries if not _is_baseline(entry["target"])]


# --- the engine ---------------------------------------------------------------------------


def compare_runs(
    criterion: str,
    scope: str,
    runs: dict,
    higher_is_better: bool,
    unit: str,
    sides: Sides = Sides(),
    claims: int = 1,
    extra_variance: float = 0.0,
) -> Finding:
    """``runs``: side -> one value per run. The ratio of the sides' geometric means with its
    interval at 1 - FAMILY_ALPHA / claims, then one outcome: a winner (the interval excludes 1
    and the difference is at least MIN_EFFECT), equivalent (the interval lies within
    ±MIN_EFFECT), a difference too small to count, or inconclusive with what it could detect."""
    a, b = ([v for v in runs.get(side) or [] if v is not None] for side in sides.keys)
    first, second = (sides.name(side) for side in sides.keys)
    if not a or not b:
        return Finding(criterion, scope, None, "not measured for both sides", "not measured")
    if min(a + b) <= 0:
        return Finding(criterion, scope, None, f"not measured: a run measured 0 {unit}",
                       "not measured")  # fmt: skip
    said = _runs_said({side: runs[side] for side in sides.keys})
    medians = f"{median(a):.3g} vs {median(b):.3g} {unit}"
    estimate = log_ratio(a, b, 1 - FAMILY_ALPHA / max(claims, 1), extra_variance)
    if estimate is None:
        return Finding(criterion, scope, None, f"inconclusive: {medians}, {said}; an interval "
                       "needs at least 2 runs per side (`--repeat 3` or more)")  # fmt: skip
    interval = f"{first}/{second} {estimate.ratio:.3f}x [{estimate.low:.3f}, {estimate.high:.3f}]"
    if estimate.low >= 1 / MIN_EFFECT and estimate.high <= MIN_EFFECT:
        return Finding(criterion, scope, None, f"equivalent within ±{MIN_EFFECT - 1:.0%}: "
                       f"{interval} ({medians}, {said})", "equivalent", estimate)  # fmt: skip
    if estimate.low > 1 or estimate.high < 1:
        return _decided(criterion, scope, estimate, higher_is_better, sides, f"{medians}, {said}")
    needed = estimate.runs_needed(MIN_EFFECT - 1)
    return Finding(criterion, scope, None,
                   f"inconclusive: {interval} ({medians}, {said}); this run could detect "
                   f"differences above {detectable_said(estimate)}; about {needed} runs per side "
                   f"would detect {MIN_EFFECT - 1:.0%}", "inconclusive", estimate)  # fmt: skip


def detectable_said(estimate: RatioEstimate) -> str:
    """The smallest difference these runs would find, as a share; huge ones said as such."""
    detect = estimate.detectable()
    return f"{detect:.0%}" if detect < 10 else "1000% (the runs disagree wildly)"


def _decided(criterion, scope, estimate: RatioEstimate, higher_is_better, sides, said) -> Finding:
    """The interval excludes 1: the better side, by how much, unless under MIN_EFFECT."""
    a_better = (estimate.ratio > 1) == higher_is_better
    winner, loser = sides.keys if a_better else sides.keys[::-1]
    ratio, low, high = estimate.ratio, estimate.low, estimate.high
    if ratio < 1:  # shown as the larger over the smaller
        ratio, low, high = 1 / ratio, 1 / high, 1 / low
    interval = f"{ratio:.2f}x [{low:.2f}, {high:.2f}]"
    if ratio < MIN_EFFECT:
        return Finding(criterion, scope, None, f"a difference under {MIN_EFFECT - 1:.0%}: "
                       f"{interval} ({said}); not a winner", "small", estimate)  # fmt: skip
    text = f"{sides.name(winner)} by {interval} ({said}; {sides.name(loser)} the other)"
    return Finding(criterion, scope, winner, text, "winner", estimate)


def _runs_said(values: dict) -> str:
    counts = {len(side or []) for side in values.values()}
    if counts == {1}:
        return "one run each"
    return " and ".join(f"{n} runs" for n in sorted(counts)) + (" each" if len(counts) == 1 else "")


# --- the findings ---------------------------------------------------------------------------

SPEED = (  # criterion, what one run gives, higher is better, unit
    ("throughput", "achieved_rps", True, "req/s"),
    ("tail latency (p99)", "p99", False, "ms"),
    ("serving efficiency", "efficiency", True, "of in-process"),
    ("memory under load", "server_rss_mb_max", False, "MB"),
)


def run_sides(results: dict, sides: Sides | None = None) -> Sides:
    """The sides a results.json compares: the two servers, or the two arms of an A/A run."""
    if sides is not None:
        return sides
    if results.get("aa"):
        return Sides(ARMS)
    return Sides(SERVERS, server_names(results.get("implementations", {})))


def findings(
    results: dict, stack: dict | None, bad_inputs: dict | None, sides: Sides | None = None
) -> list[Finding]:
    """Every criterion for every model and protocol both sides were measured on."""
    aa = bool(results.get("aa"))
    sides = run_sides(results, sides)
    side_key = "arm" if sides.keys == ARMS else "server"
    by_key = {
        (t["model"], t.get(side_key), t["protocol"]): t
        for t in _compared(results.get("targets", []))
    }
    scopes = sorted({(model, protocol) for model, _, protocol in by_key})
    rows: list[Finding] = []
    # An operations scenario offers each server load relative to its own knee, and injects an
    # event: its req/s and p99 are not a speed comparison. It is judged on the event.
    operations = results.get("scenario") in OPERATIONS
    # The claims judged: efficiency only where in-process limits were measured.
    claims = len(scopes) * (len(SPEED) - (0 if results.get("in_process") else 1))
    for model, protocol in scopes:
        pair = {side: by_key.get((model, side, protocol)) for side in sides.keys}
        if operations:
            rows += operations_findings(f"{model}, {protocol.upper()}", pair, sides)
            continue
        scope = f"{model}, {protocol.upper() if protocol == 'grpc' else 'REST'}" + _encodings(
            pair, sides
        )
        if aa:
            scope += f", A/A of {results['aa']['target']}"
        rows += speed_findings(scope, pair, sides, claims, results.get("params", {}))
    if aa or side_key == "arm":  # robustness and start-up belong to a server, not to an arm
        return rows
    if bad_inputs:
        rows.append(_robustness(bad_inputs))
    if stack or results.get("cold_starts"):
        rows.append(_time_to_ready(stack or {}, results.get("cold_starts")))
    return rows


def per_run(entry: dict | None, figure: str) -> list[float | None]:
    """One value of ``figure`` per run of ``entry`` (its ``repetitions``, one per run)."""
    if not entry:
        return []
    reps = entry.get("repetitions") or []
    if figure == "p99":
        return [(rep.get("latency_ms") or {}).get("p99") for rep in reps]
    if figure == "server_rss_mb_max":
        return [(rep.get("resources") or {}).get(figure) for rep in reps]
    if figure == "efficiency":
        limit = entry.get("in_process_rps")
        return [rep.get("achieved_rps") / limit if limit else None for rep in reps]
    return [rep.get(figure) for rep in reps]


def speed_findings(
    scope: str, pair: dict, sides: Sides, claims: int, params: dict | None = None
) -> list[Finding]:
    """Throughput, p99, efficiency and memory over the sides' runs. A side over the speed
    error budget in any run cannot win on speed; a p99 needs enough requests in every run."""
    failing = _over_error_budget(pair, sides)
    rows = []
    for criterion, figure, higher_is_better, unit in SPEED:
        if failing and figure != "server_rss_mb_max":
            rows.append(Finding(criterion, scope, None, f"no verdict: {failing}", "not measured"))
            continue
        if figure == "p99" and (short := _too_few_for_p99(pair, sides, params or {})):
            rows.append(Finding(criterion, scope, None, short, "not measured"))
            continue
        if figure == "efficiency" and not all(
            (entry or {}).get("in_process_rps") for entry in pair.values()
        ):
            why = "not measured: no in-process limit (bench without --no-limits, closed loop)"
            rows.append(Finding(criterion, scope, None, why, "not measured"))
            continue
        runs = {side: per_run(entry, figure) for side, entry in pair.items()}
        extra = _limit_variance(pair) if figure == "efficiency" else 0.0
        rows.append(
            compare_runs(criterion, scope, runs, higher_is_better, unit, sides, claims, extra)
        )
    return rows


def _limit_variance(pair: dict) -> float:
    """The in-process limits' own uncertainty, as a variance of the log ratio: both sides'
    efficiencies divide by a measured limit."""
    return sum((entry or {}).get("in_process_log_variance") or 0.0 for entry in pair.values())


def _over_error_budget(pair: dict, sides: Sides) -> str | None:
    """Which side failed more than the speed error budget in any run."""
    over = []
    for side, entry in pair.items():
        ratios = [rep.get("error_ratio") for rep in (entry or {}).get("repetitions", [])]
        worst = max((r for r in ratios if r is not None), default=None)
        if worst is not None and worst > SPEED_ERROR_BUDGET:
            over.append(f"{sides.name(side)} failed {worst:.2%} of its requests in a run")
    if not over:
        return None
    return (" and ".join(over) + f" (the speed budget is {SPEED_ERROR_BUDGET:.1%}: failures "
            "count as infinitely slow, and at 1% they would be the p99)")  # fmt: skip


def _too_few_for_p99(pair: dict, sides: Sides, params: dict) -> str | None:
    """A p99 from fewer requests than tail_minimum cannot be bounded: say how long to run."""
    needed = tail_minimum(0.99, TAIL_CONFIDENCE)
    counts = [
        rep.get("requests") or 0 for entry in pair.values() for rep in (entry or {}).get(
            "repetitions", [])
    ]  # fmt: skip
    if not counts or min(counts) >= needed:
        return None
    window = params.get("window_s") or 0
    longer = f" (--duration {math.ceil(window * needed / max(min(counts), 1))}s)" if window else ""
    return (f"not measured: too few requests for p99 in a run ({min(counts)} in the smallest, "
            f"{needed} needed at {TAIL_CONFIDENCE:.0%} confidence, MLPerf LoadGen's bound); "
            f"run longer{longer}")  # fmt: skip


def _encodings(pair: dict, sides: Sides) -> str:
    """What each side sent, beside every claim: raw float32 against JSON is a comparison of
    encodings as much as of servers."""
    used = {side: (entry or {}).get("encoding") for side, entry in pair.items()}
    if None in used.values():
        return ""
    if len(set(used.values())) == 1:
        return f" ({next(iter(used.values()))}, both)"
    return " (" + ", ".join(f"{sides.name(side)} {enc}" for side, enc in used.items()) + ")"


# --- operations: a rollout, a fault, an overload ------------------------------------------


def operations_findings(scope: str, pair: dict, sides: Sides = Sides()) -> list[Finding]:
    """A rollout, a fault or an overload, judged per model and protocol where both sides ran
    it, on each side's runs of it (``rounds``; one run, without). A run in which the harness
    could not do its part (a fault not injected, a rollout step never taken) is left out and
    said; it is never a finding against the server."""
    entries = [entry for entry in pair.values() if entry]
    if len(entries) < 2:
        return []
    runs = {side: entry.get("rounds") or [entry] for side, entry in pair.items()}
    rows = []
    if all("rollout" in entry for entry in entries):
        rows += _rollout_findings(scope, runs, sides)
    if all("recovery_s" in entry for entry in entries):
        rows.append(_seconds_finding("recovery after overload", scope, {
            side: [run["recovery_s"] for run in side_runs] for side, side_runs in runs.items()
        }, sides, missing="never back to its normal p99"))  # fmt: skip
        rows.append(_goodput(scope, runs, sides))
    if all((entry.get("fault") or {}).get("kind") == "server" for entry in entries):
        rows.append(_fault_finding(scope, runs, sides))
    return rows


def _rollout_findings(scope: str, runs: dict, sides: Sides) -> list[Finding]:
    taken = {side: [run for run in side_runs if _steps_taken(run)] for side, side_runs in
             runs.items()}  # fmt: skip
    untaken = _harness_gaps(runs, taken, sides, "a rollout step was never taken")
    if untaken:
        return [
            Finding(criterion, scope, None, f"not measured: {untaken}", "not measured")
            for criterion in ("failed requests during rollout and rollback",
                              "time until only the new version answers",
                              "old-version answers after the switch")
        ]  # fmt: skip
    return [
        _error_finding(
            "failed requests during rollout and rollback",
            scope,
            {
                side: [_rollout_failed_ratio(run) for run in side_runs]
                for side, side_runs in taken.items()
            },
            sides,
        ),  # fmt: skip
        _seconds_finding(
            "time until only the new version answers",
            scope,
            {
                side: [_rollout_seconds(run) for run in side_runs]
                for side, side_runs in taken.items()
            },
            sides,
        ),  # fmt: skip
        _stale_finding(scope, taken, sides),
    ]


def _steps_taken(run: dict) -> bool:
    """Both steps (rollout, rollback) were triggered: what happened then is the server's."""
    steps = (run.get("rollout") or {}).get("steps") or []
    return len(steps) >= 2 and all(step.get("triggered_unix") for step in steps)


def _harness_gaps(runs: dict, kept: dict, sides: Sides, what: str) -> str | None:
    """Which side lost runs to the harness, said; None when every run was measured."""
    gaps = [
        f"{sides.name(side)} in {len(runs[side]) - len(kept[side])} of {len(runs[side])} run(s)"
        for side in runs
        if len(kept[side]) < len(runs[side])
    ]
    return f"{what} for {' and '.join(gaps)}" if gaps else None


def _rollout_failed_ratio(run: dict) -> float | None:
    answers = run["rollout"]["answers"]
    failed = sum(sum(step["errors"].values()) for step in run["rollout"]["steps"])
    return failed / answers["requests"] if answers["requests"] else None


def _rollout_seconds(run: dict) -> float | None:
    """Both steps' times to the new version alone, added; None when a step never got there."""
    seconds = [step.get("all_new_s") for step in run["rollout"]["steps"]]
    return None if not seconds or None in seconds else sum(seconds)


def _stale_finding(scope: str, runs: dict, sides: Sides) -> Finding:
    """Answers by the old version to requests sent after the server said only the new one
    serves: a correctness fact, not noise, so any at all lose to none. A step that never
    finished switching could not be checked: that side is not measured, never "none"."""
    criterion = "old-version answers after the switch"
    counts = {side: [step.get("old_after_all_new") for run in side_runs
                     for step in run["rollout"]["steps"]]
              for side, side_runs in runs.items()}  # fmt: skip
    stale = {side: sum(v for v in values if v is not None) for side, values in counts.items()}
    text = f"{stale[sides.keys[0]]:,} vs {stale[sides.keys[1]]:,} ({_runs_said(runs)})"
    dirty = [side for side in sides.keys if stale[side]]
    if len(dirty) == 2:
        return Finding(criterion, scope, None, f"both answered with the old version after the "
                       f"switch: {text}", "inconclusive")  # fmt: skip
    clean = [side for side in sides.keys if side not in dirty]
    unchecked = [side for side in clean if None in counts[side]]
    if unchecked:
        names = " and ".join(sides.name(side) for side in unchecked)
        return Finding(criterion, scope, None, f"not measured: a step of {names} never finished "
                       f"switching, so its later answers could not be checked; {text}",
                       "not measured")  # fmt: skip
    if not dirty:
        return Finding(criterion, scope, None, f"neither answered with the old version after "
                       f"the switch: {text}", "equivalent")  # fmt: skip
    (winner,) = clean
    return Finding(criterion, scope, winner, f"{sides.name(winner)}: none; {text}", "winner")


def _error_finding(criterion: str, scope: str, ratios: dict, sides: Sides) -> Finding:
    """Lower wins, by at least the error budget in points, and by runs whose spread leaves no
    doubt (every run of the winner below every run of the other); a few failures are noise."""
    a, b = ([v for v in ratios[side] if v is not None] for side in sides.keys)
    if not a or not b:
        return Finding(criterion, scope, None, "not measured for both sides", "not measured")
    text = f"{median(a):.2%} vs {median(b):.2%} of the requests ({_runs_said(ratios)}, medians)"
    if abs(median(a) - median(b)) < ERROR_BUDGET:
        return Finding(criterion, scope, None, f"no difference that counts (under "
                       f"{ERROR_BUDGET:.0%} apart): {text}", "equivalent")  # fmt: skip
    if len(a) < 2 or len(b) < 2 or not (max(a) < min(b) or max(b) < min(a)):
        return Finding(criterion, scope, None, f"inconclusive: {text}; the runs overlap or "
                       "there are fewer than 2 per side")  # fmt: skip
    winner = sides.keys[0] if median(a) < median(b) else sides.keys[1]
    return Finding(criterion, scope, winner, f"{sides.name(winner)}: {text}", "winner")


def _seconds_finding(
    criterion: str, scope: str, seconds: dict, sides: Sides, missing: str = "did not finish"
) -> Finding:
    """Fewer seconds win; a side that did not get there in every run loses to one that did."""
    short = {side: sum(v is None for v in values) for side, values in seconds.items()}
    said = _runs_said(seconds)
    if all(short.values()):
        return Finding(criterion, scope, None, f"both {missing} ({said})", "inconclusive")
    if any(short.values()):
        (loser,) = [side for side, n in short.items() if n]
        (winner,) = set(sides.keys) - {loser}
        done = median(seconds[winner])
        times = "" if said == "one run each" else f" in {short[loser]} of {len(seconds[loser])}"
        return Finding(criterion, scope, winner, f"{sides.name(winner)} {done:.3g} s; "
                       f"{sides.name(loser)} {missing}{times} ({said})", "winner")  # fmt: skip
    floored = {side: [max(v, 0.001) for v in values] for side, values in seconds.items()}
    return compare_runs(criterion, scope, floored, False, "s", sides)


def _fault_finding(scope: str, runs: dict, sides: Sides) -> Finding:
    """Recovery after a server kill, over the runs where the kill was done: a kill never
    injected is the harness's failure, not the server's."""
    criterion = "recovery after a server kill"
    injected = {side: [run for run in side_runs if (run.get("fault") or {}).get("injected_unix")]
                for side, side_runs in runs.items()}  # fmt: skip
    gap = _harness_gaps(runs, injected, sides, "the kill was never injected")
    if gap:
        reasons = "; ".join(
            sorted(
                {
                    (run.get("fault") or {}).get("error", "")
                    for side_runs in runs.values()
                    for run in side_runs
                }
                - {""}
            )  # fmt: skip
        )
        return Finding(criterion, scope, None, f"not measured: {gap}"
                       + (f" ({reasons})" if reasons else ""), "not measured")  # fmt: skip
    return _seconds_finding(criterion, scope, {
        side: [run["fault"].get("recovered_after_s") for run in side_runs]
        for side, side_runs in injected.items()
    }, sides, missing="never answered again")  # fmt: skip


def _goodput(scope: str, runs: dict, sides: Sides) -> Finding:
    """At the highest overload step: the requests served within the latency objective per
    second (higher wins). Shedding the excess fast keeps goodput; rejecting nearly everything
    does not, however short the p99 of the few it served."""
    peaks = {side: [max(run["phases"], key=lambda p: p.get("offered_rps") or 0)
                    for run in side_runs] for side, side_runs in runs.items()}  # fmt: skip
    said = "; ".join(f"{sides.name(side)} {_errors_said(side_peaks)}"
                     for side, side_peaks in peaks.items())  # fmt: skip
    goodput = {side: [peak.get("goodput_rps") for peak in side_peaks]
               for side, side_peaks in peaks.items()}  # fmt: skip
    finding = compare_runs("goodput within the SLO at the overload peak", scope, goodput, True,
                           "req/s", sides)  # fmt: skip
    return Finding(finding.criterion, scope, finding.winner, f"{finding.text}; shed: {said}",
                   finding.outcome, finding.estimate)  # fmt: skip


def _errors_said(peaks: list[dict]) -> str:
    counts: dict[str, int] = {}
    for peak in peaks:
        for kind, n in peak["errors"].items():
            counts[kind] = counts.get(kind, 0) + n
    return ", ".join(f"{n:,} {kind}" for kind, n in counts.items()) or "no errors"


# --- the servers' own criteria: bad input, start-up ---------------------------------------


def _time_to_ready(stack: dict, cold_starts: dict | None) -> Finding:
    """Each server started alone, several times (`servebench cold-start`), compared like any
    measurement over runs; one start per server, as `up` makes, is an anecdote."""
    timed = (cold_starts or {}).get("servers", {})
    starts = {server: [s["ready_s"] for s in timed.get(server, {}).get("starts", [])]
              for server in SERVERS}  # fmt: skip
    if all(starts.values()):
        scope = f"cold start alone, {min(len(v) for v in starts.values())}+ starts each"
        return compare_runs("time to ready", scope, starts, False, "s")
    seconds = {s: stack.get("backends", {}).get(s, {}).get("ready_seconds") for s in SERVERS}
    if None in seconds.values():
        return Finding("time to ready", "all models", None, "not measured for both servers",
                       "not measured")  # fmt: skip
    return Finding(
        "time to ready",
        "all models",
        None,
        f"measured once per server, both starting at once ({seconds['torchserve']:.3g} s "
        f"TorchServe, {seconds['tfserving']:.3g} s TF Serving): no winner without repeated "
        "cold starts (`servebench cold-start --repeat 3` starts each alone)",
    )


def _robustness(bad_inputs: dict) -> Finding:
    """Fewer broken contracts wins, by at least ROBUSTNESS_MARGIN. A broken contract is what
    the probe recorded as a problem (and what the report's summary counts): invalid input
    accepted, a rejection that did not arrive as 4xx / INVALID_ARGUMENT, or a failure after."""
    problems = {server: 0 for server in SERVERS}
    for result in bad_inputs["results"]:
        server = Target.parse(result["target"]).server
        if server in problems and result.get("problem"):
            problems[server] += 1  # a baseline's answers are shown, never scored
    a, b = problems["torchserve"], problems["tfserving"]
    criterion, scope = "robustness to bad input", "bad-input matrix"
    if abs(a - b) < ROBUSTNESS_MARGIN:
        return Finding(criterion, scope, None, f"no difference that counts ({a} vs {b} broken "
                       f"contracts; a winner needs {ROBUSTNESS_MARGIN} fewer)",
                       "equivalent")  # fmt: skip
    winner = "torchserve" if a < b else "tfserving"
    return Finding(criterion, scope, winner, f"{NAMES[winner]}: {min(a, b)} broken contracts vs "
                   f"{max(a, b)} (see the bad-input summary)", "winner")  # fmt: skip


def verdict(
    results: dict, stack: dict | None, bad_inputs: dict | None, sides: Sides | None = None
) -> tuple[list[str], list[Finding]]:
    """(reasons no winner may be named, findings); with reasons, every winner is withheld,
    except in an A/A run, whose findings test the rules themselves."""
    reasons = blockers(results)
    rows = findings(results, stack, bad_inputs, sides)
    if reasons and not results.get("aa"):  # an A/A run shows what the rules would say
        rows = [Finding(r.criterion, r.scope, None, "no verdict: withheld", "withheld")
                for r in rows]  # fmt: skip
    return reasons, rows

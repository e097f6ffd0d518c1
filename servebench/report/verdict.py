"""The verdict: per criterion, the winner and the margin, or "no significant difference".

Pure functions of results.json (and the stack and bad-input records kept beside it). No winner
is named at all when a side was served by the emulator, or when the load generator was near
its ceiling: such figures cannot support a claim about the servers.
"""

from __future__ import annotations

from dataclasses import dataclass

from servebench.load.options import OPERATIONS
from servebench.stats import ci95, median
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
ARMS = ("A", "B")  # the two sides of an A/A run: one target, measured twice
SINGLE_SAMPLE_MARGIN = 1.25  # with one measurement, only a 25% difference is called
MIN_EFFECT = 1.05  # below a 5% difference no winner is named, however narrow the intervals
ERROR_BUDGET = 0.01  # a server failing more of its requests cannot win on speed
MIN_COLD_STARTS = 3  # fewer timed starts per server name no winner on time to ready


@dataclass(frozen=True)
class Finding:
    criterion: str
    scope: str  # e.g. "mlp, REST"
    winner: str | None  # "torchserve", "tfserving", or None
    text: str


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
    reasons = []
    emulated = [
        name
        for name, impl in results.get("implementations", {}).items()
        if "emulator" in impl and name not in BASELINES
    ]
    if emulated or not results.get("verdict_allowed", False):
        reasons.append(
            (
                "the TF Serving side was served by the servebench emulator, not TF Serving"
                if emulated
                else "a backend was not the real server",
                REAL_TF_SERVING,
            )
        )
    measured = _compared(results.get("targets", []) + results.get("knee", []))
    near = [
        f"{t['model']} {t['target']}" + (" (knee probes)" if "probes" in t else "")
        for t in measured
        if any("ceiling" in w or "bottleneck" in w for w in t.get("warnings", []))
    ]
    if near:
        reasons.append(
            (
                f"the load generator was near its ceiling for {', '.join(near)}",
                "`servebench bench` with fewer `--users` or a lower `--rate`, or more Locust "
                "CPUs (`--loadgen-cpus`, `--workers`)",
            )
        )
    if results.get("calibration") is None:
        reasons.append(
            (
                "the load generator's ceiling was never measured (`servebench calibrate`), so "
                "it cannot be ruled out as the bottleneck",
                "`servebench calibrate`, or `servebench bench` without `--calibrate-seconds 0`",
            )
        )
    broken = [
        f"{case['candidate']} ({case['model']}, batch {case['batch']})"
        for case in results.get("parity", {}).get("endpoints", [])
        if not case.get("passed", True) and not _is_baseline(case["candidate"].split(" ")[0])
    ]
    if broken:
        reasons.append(
            (
                f"endpoint parity failed for {', '.join(broken)}: the servers did not compute "
                "the same function",
                "`servebench export` again, restart with `servebench down && servebench up`, "
                "and check `servebench parity --endpoints`",
            )
        )
    return reasons


def _is_baseline(target: str) -> bool:
    return Target.parse(target).server in BASELINES


def _compared(entries: list[dict]) -> list[dict]:
    """The entries of the compared servers' targets: a baseline's are left out."""
    return [entry for entry in entries if not _is_baseline(entry["target"])]


def compare_intervals(
    criterion: str,
    scope: str,
    values: dict,
    higher_is_better: bool,
    unit: str,
    sides: tuple[str, str] = SERVERS,
) -> Finding:
    """``values``: side (a server, or an A/A arm) -> {"median": x, "ci95": {"low", "high"} or
    None}."""
    a, b = (values.get(side) for side in sides)
    if not a or not b or a.get("median") is None or b.get("median") is None:
        return Finding(criterion, scope, None, "not measured for both servers")
    if _overlap(a.get("ci95"), b.get("ci95")):
        return Finding(criterion, scope, None, "no significant difference (95% intervals overlap)")
    medians = (a["median"], b["median"])
    if a.get("ci95") is None or b.get("ci95") is None:
        return _single_sample(criterion, scope, medians, sides, higher_is_better, unit)
    return _winner(criterion, scope, medians, sides, higher_is_better, unit)


def _single_sample(criterion, scope, medians, sides, higher_is_better, unit) -> Finding:
    a, b = medians
    ratio = max(a, b) / min(a, b) if min(a, b) > 0 else float("inf")
    if ratio < SINGLE_SAMPLE_MARGIN:
        return Finding(criterion, scope, None, "no significant difference (one measurement each)")
    finding = _winner(criterion, scope, medians, sides, higher_is_better, unit)
    return Finding(criterion, scope, finding.winner, finding.text + " (one measurement each)")


def _winner(criterion, scope, medians, sides, higher_is_better, unit) -> Finding:
    a, b = medians
    first_wins = (a > b) if higher_is_better else (a < b)
    winner, loser = sides if first_wins else sides[::-1]
    best, worst = (a, b) if first_wins else (b, a)
    ratio = best / worst if worst else float("inf")
    if not higher_is_better:
        ratio = worst / best if best else float("inf")
    if ratio < MIN_EFFECT:
        return Finding(
            criterion,
            scope,
            None,
            f"no meaningful difference ({a:.3g} vs {b:.3g} {unit}: under {MIN_EFFECT - 1:.0%})",
        )
    text = f"{NAMES[winner]} by {ratio:.2f}x ({best:.3g} vs {worst:.3g} {unit} for {NAMES[loser]})"
    return Finding(criterion, scope, winner, text)


def _overlap(a: dict | None, b: dict | None) -> bool:
    if a is None or b is None:
        return False
    return a["low"] <= b["high"] and b["low"] <= a["high"]


def findings(results: dict, stack: dict | None, bad_inputs: dict | None) -> list[Finding]:
    """Every criterion for every model and protocol both sides were measured on. The sides
    are the two servers, or in an A/A run the two arms of the one target."""
    aa = bool(results.get("aa"))
    sides = ARMS if aa else SERVERS
    names = server_names(results.get("implementations", {}))
    rows = []
    by_key = {
        (t["model"], t["arm"] if aa else t["server"], t["protocol"]): t
        for t in _compared(results.get("targets", []))
    }
    scopes = sorted({(model, protocol) for model, _, protocol in by_key})
    # An operations scenario offers each server load relative to its own knee, and injects an
    # event: its req/s and p99 are not a speed comparison. It is judged on the event.
    operations = results.get("scenario") in OPERATIONS
    for model, protocol in scopes:
        if operations:
            pair = {side: by_key.get((model, side, protocol)) for side in sides}
            rows += operations_findings(f"{model}, {protocol.upper()}", pair)
            continue
        pair = {side: by_key.get((model, side, protocol)) for side in sides}
        scope = f"{model}, {protocol.upper() if protocol == 'grpc' else 'REST'}" + _encodings(
            pair, names
        )
        if aa:
            scope += f", A/A of {results['aa']['target']}"
        rows += _speed_findings(scope, pair, sides)
        rows.append(
            compare_intervals(
                "memory under load",
                scope,
                _resource(pair, "server_rss_mb_max"),
                False,
                "MB",
                sides,
            )  # fmt: skip
        )
    if aa:  # robustness and start-up belong to a server, not to an arm
        return rows
    if bad_inputs:
        rows.append(_robustness(bad_inputs))
    if stack or results.get("cold_starts"):
        rows.append(_time_to_ready(stack or {}, results.get("cold_starts")))
    return rows


SPEED = (  # criterion, the summary's key (None: serving efficiency), higher is better, unit
    ("throughput", "achieved_rps", True, "req/s"),
    ("tail latency (p99)", "latency_ms_p99", False, "ms"),
    ("serving efficiency", None, True, "of in-process"),
)


def _speed_findings(scope: str, pair: dict, sides: tuple[str, str]) -> list[Finding]:
    failing = _over_error_budget(pair)
    if failing:
        return [
            Finding(criterion, scope, None, f"no verdict: {failing}") for criterion, *_ in SPEED
        ]
    return [
        compare_intervals(
            criterion,
            scope,
            _metric(pair, key) if key else _efficiency(pair),
            higher_is_better,
            unit,
            sides,
        )
        for criterion, key, higher_is_better, unit in SPEED
    ]


def operations_findings(scope: str, pair: dict) -> list[Finding]:
    """A rollout, a fault or an overload, judged per model and protocol where both servers
    ran it, on each server's runs of it (``rounds``; one run, without): the medians and their
    intervals, or with one run each, only the single-measurement margin."""
    entries = [entry for entry in pair.values() if entry]
    if len(entries) < 2:
        return []
    runs = {server: entry.get("rounds") or [entry] for server, entry in pair.items()}
    rows = []
    if all("rollout" in entry for entry in entries):
        rows.append(_error_finding("failed requests during rollout and rollback", scope, {
            server: [_rollout_failed_ratio(run) for run in side] for server, side in runs.items()
        }))  # fmt: skip
        rows.append(_seconds_finding("time until only the new version answers", scope, {
            server: [_rollout_seconds(run) for run in side] for server, side in runs.items()
        }))  # fmt: skip
        rows.append(_stale_finding(scope, runs))
    if all("recovery_s" in entry for entry in entries):
        rows.append(_seconds_finding("recovery after overload", scope, {
            server: [run["recovery_s"] for run in side] for server, side in runs.items()
        }, missing="never back to its normal p99"))  # fmt: skip
        rows.append(_shedding(scope, runs))
    if all((entry.get("fault") or {}).get("kind") == "server" for entry in entries):
        rows.append(_seconds_finding("recovery after a server kill", scope, {
            server: [run["fault"].get("recovered_after_s") for run in side]
            for server, side in runs.items()
        }, missing="never answered again"))  # fmt: skip
    return rows


def _rollout_failed_ratio(run: dict) -> float:
    answers = run["rollout"]["answers"]
    failed = sum(sum(step["errors"].values()) for step in run["rollout"]["steps"])
    return failed / answers["requests"] if answers["requests"] else 0.0


def _rollout_seconds(run: dict) -> float | None:
    """Both steps' times to the new version alone, added; None when a step never got there."""
    seconds = [step.get("all_new_s") for step in run["rollout"]["steps"]]
    return None if not seconds or None in seconds else sum(seconds)


def _stale_finding(scope: str, runs: dict) -> Finding:
    """Answers by the old version to requests sent after the server said only the new one
    serves: a correctness fact, not noise, so any at all lose to none."""
    criterion = "old-version answers after the switch"
    stale = {server: sum(step.get("old_after_all_new") or 0 for run in side
                         for step in run["rollout"]["steps"])
             for server, side in runs.items()}  # fmt: skip
    text = f"{stale[SERVERS[0]]:,} vs {stale[SERVERS[1]]:,} ({_runs_said(runs)})"
    if all(stale.values()) or not any(stale.values()):
        return Finding(criterion, scope, None, f"{'both' if any(stale.values()) else 'neither'}"
                       f" answered with the old version after the switch: {text}")  # fmt: skip
    winner = SERVERS[0] if stale[SERVERS[0]] == 0 else SERVERS[1]
    return Finding(criterion, scope, winner, f"{NAMES[winner]}: none; {text}")


def _runs_said(values: dict) -> str:
    counts = {len(side) for side in values.values()}
    if counts == {1}:
        return "one run each"
    return " and ".join(f"{n} runs" for n in sorted(counts)) + (" each" if len(counts) == 1 else "")


def _over_runs(values: list[float]) -> dict:
    return {"median": median(values), "ci95": ci95(values)}


def _error_finding(criterion: str, scope: str, ratios: dict) -> Finding:
    """Lower wins, by at least the error budget, in points, and with more than one run each,
    by intervals that do not overlap: a few failures are noise below that."""
    a, b = (_over_runs(ratios[server]) for server in SERVERS)
    text = f"{a['median']:.2%} vs {b['median']:.2%} of the requests ({_runs_said(ratios)}"
    text += ", medians)" if a["ci95"] and b["ci95"] else ")"
    if abs(a["median"] - b["median"]) < ERROR_BUDGET:
        return Finding(criterion, scope, None, f"no meaningful difference: {text}")
    if _overlap(a["ci95"], b["ci95"]):
        return Finding(criterion, scope, None, f"no significant difference: {text}")
    winner = SERVERS[0] if a["median"] < b["median"] else SERVERS[1]
    return Finding(criterion, scope, winner, f"{NAMES[winner]}: {text}")


def _seconds_finding(
    criterion: str, scope: str, seconds: dict, missing: str = "did not finish"
) -> Finding:
    """Fewer seconds win; a side that did not get there in every run loses to one that did."""
    short = {server: sum(v is None for v in side) for server, side in seconds.items()}
    said = _runs_said(seconds)
    if all(short.values()):
        return Finding(criterion, scope, None, f"both {missing} ({said})")
    if any(short.values()):
        (loser,) = [server for server, n in short.items() if n]
        (winner,) = set(SERVERS) - {loser}
        done = median(seconds[winner])
        times = "" if said == "one run each" else f" in {short[loser]} of {len(seconds[loser])}"
        return Finding(criterion, scope, winner, f"{NAMES[winner]} {done:.3g} s; "
                       f"{NAMES[loser]} {missing}{times} ({said})")  # fmt: skip
    values = {
        server: _over_runs([max(value, 0.001) for value in side])
        for server, side in seconds.items()
    }
    return _with_runs(compare_intervals(criterion, scope, values, False, "s"), seconds)


def _with_runs(finding: Finding, values: dict) -> Finding:
    """The number of runs beside a finding from several; one run says so already."""
    said = _runs_said(values)
    if said == "one run each":
        return finding
    return Finding(finding.criterion, finding.scope, finding.winner, f"{finding.text} ({said})")


def _shedding(scope: str, runs: dict) -> Finding:
    """At the highest overload step: the p99 of what was served (lower wins: shedding the
    excess keeps it short, queueing it does not), with each side's errors by kind there, added
    over its runs."""
    peaks = {server: [max(run["phases"], key=lambda p: p.get("offered_rps") or 0) for run in side]
             for server, side in runs.items()}  # fmt: skip
    said = "; ".join(f"{NAMES[server]} {_errors_said(side)}" for server, side in peaks.items())
    p99s = {server: [peak["latency_ms"]["p99"] for peak in side] for server, side in peaks.items()}
    values = {server: _over_runs(side) for server, side in p99s.items()}
    finding = _with_runs(compare_intervals("p99 of what was served at the overload peak", scope,
                                           values, False, "ms"), p99s)  # fmt: skip
    return Finding(finding.criterion, scope, finding.winner, f"{finding.text}; shed: {said}")


def _errors_said(peaks: list[dict]) -> str:
    counts: dict[str, int] = {}
    for peak in peaks:
        for kind, n in peak["errors"].items():
            counts[kind] = counts.get(kind, 0) + n
    return ", ".join(f"{n:,} {kind}" for kind, n in counts.items()) or "no errors"


def _encodings(pair: dict, names: dict[str, str]) -> str:
    """What each side sent, beside every claim: raw float32 against JSON is a comparison of
    encodings as much as of servers."""
    used = {side: (entry or {}).get("encoding") for side, entry in pair.items()}
    if None in used.values():
        return ""
    if len(set(used.values())) == 1:
        return f" ({next(iter(used.values()))}, both)"
    return " (" + ", ".join(f"{names[side]} {encoding}" for side, encoding in used.items()) + ")"


def _over_error_budget(pair: dict) -> str | None:
    """Which server failed more than the error budget in any window: its speed only counted
    the requests it did not fail."""
    over = []
    for server, entry in pair.items():
        ratio = ((entry or {}).get("summary") or {}).get("error_ratio", {}).get("max")
        if ratio is not None and ratio > ERROR_BUDGET:
            over.append(f"{NAMES[server]} failed {ratio:.1%} of its requests")
    if not over:
        return None
    return " and ".join(over) + f" (budget {ERROR_BUDGET:.0%}); speed counts successes only"


def _time_to_ready(stack: dict, cold_starts: dict | None) -> Finding:
    """Each server started alone, at least three times (`servebench cold-start`), compared like
    any measurement; one start per server, as `up` makes, is an anecdote."""
    timed = (cold_starts or {}).get("servers", {})
    counts = [len(timed.get(server, {}).get("starts", [])) for server in SERVERS]
    if min(counts) >= MIN_COLD_STARTS:
        values = {server: timed[server]["ready_s"] for server in SERVERS}
        scope = f"cold start alone, {min(counts)}+ starts each"
        return compare_intervals("time to ready", scope, values, False, "s")
    if max(counts) > 0:
        return Finding(
            "time to ready",
            "cold start alone",
            None,
            f"only {min(counts)} timed start(s) of one server: no winner under "
            f"{MIN_COLD_STARTS} (`servebench cold-start --repeat {MIN_COLD_STARTS}`)",
        )
    seconds = {s: stack.get("backends", {}).get(s, {}).get("ready_seconds") for s in SERVERS}
    if None in seconds.values():
        return Finding("time to ready", "all models", None, "not measured for both servers")
    return Finding(
        "time to ready",
        "all models",
        None,
        f"measured once per server ({seconds['torchserve']:.3g} s TorchServe, "
        f"{seconds['tfserving']:.3g} s TF Serving): no winner without repeated cold starts "
        f"(`servebench cold-start` starts each alone {MIN_COLD_STARTS} times)",
    )


def _metric(pair: dict, key: str) -> dict:
    return {
        server: (entry.get("summary") or {}).get(key) if entry else None
        for server, entry in pair.items()
    }


def _efficiency(pair: dict) -> dict:
    values = {}
    for server, entry in pair.items():
        if entry and entry.get("serving_efficiency") is not None:
            # Both the served rate and the in-process limit are uncertain: the interval of
            # their ratio spans both, so an efficiency ranks only where neither could reverse.
            values[server] = {
                "median": entry["serving_efficiency"],
                "ci95": entry.get("serving_efficiency_ci95") or _unbounded(entry),
            }
    return values


def _unbounded(entry: dict) -> dict | None:
    """Served windows with an interval, over a limit without a usable one (its interval
    reached zero: too few calls per window) bound the ratio on no side; that is not one
    measurement each, which the single-sample margin would judge."""
    served = ((entry.get("summary") or {}).get("achieved_rps") or {}).get("ci95")
    return {"low": 0.0, "high": float("inf")} if served else None


def _resource(pair: dict, key: str) -> dict:
    from servebench.stats import ci95, median

    values = {}
    for server, entry in pair.items():
        if entry:
            samples = [rep["resources"].get(key) for rep in entry["repetitions"]]
            values[server] = {"median": median(samples), "ci95": ci95(samples)}
    return values


def _robustness(bad_inputs: dict) -> Finding:
    """Fewer broken contracts (invalid input accepted, 5xx, a failed request afterwards) wins."""
    problems = {server: 0 for server in SERVERS}
    for result in bad_inputs["results"]:
        server = Target.parse(result["target"]).server
        if server not in problems:
            continue  # a baseline's answers are shown, never scored against the servers
        bad_status = result["status"].startswith("HTTP 5") or result["status"] in (
            "INTERNAL",
            "UNKNOWN",
        )
        if result.get("problem") or bad_status:
            problems[server] += 1
    a, b = problems["torchserve"], problems["tfserving"]
    if a == b:
        return Finding(
            "robustness to bad input",
            "bad-input matrix",
            None,
            f"no difference ({a} problem answers each)",
        )
    winner = "torchserve" if a < b else "tfserving"
    return Finding(
        "robustness to bad input",
        "bad-input matrix",
        winner,
        f"{NAMES[winner]}: {min(a, b)} problem answers vs {max(a, b)} "
        "(5xx/INTERNAL, accepted invalid input, or a failure afterwards)",
    )


def verdict(
    results: dict, stack: dict | None, bad_inputs: dict | None
) -> tuple[list[str], list[Finding]]:
    """(reasons no winner may be named, findings); with reasons, every winner is withheld,
    except in an A/A run, whose findings test the rules themselves."""
    reasons = blockers(results)
    rows = findings(results, stack, bad_inputs)
    if reasons and not results.get("aa"):  # an A/A run shows what the rules would say
        rows = [Finding(r.criterion, r.scope, None, "no verdict: withheld") for r in rows]
    return reasons, rows

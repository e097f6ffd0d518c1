"""The phases of a shaped scenario (servebench.load.shapes), measured from the raw request log:
each ramp step, the spike and the time around it, or the slices of a soak. A single window over
a ramp would mix every step into one figure and hide where the latency objective broke."""

from __future__ import annotations

from servebench.bench.analysis import resource_window
from servebench.load.shapes import Phase
from servebench.request_log import RequestLog


def measure_phases(
    phases: list[Phase],
    log: RequestLog,
    samples: list[dict],
    test_start: float,
    rate: float = 0,
    slo_ms: float | None = None,
) -> list[dict]:
    """Each phase's figures, for the part of it that ran: a ramp stops once it breaks, and the
    time after its last reply would dilute the last step's rate. With ``slo_ms``, also the
    goodput: requests served within it, per second."""
    measured = []
    last_reply = float(log.end.max()) if len(log) else test_start
    for phase in phases:
        start = test_start + phase.start_s
        end = min(test_start + phase.end_s, last_reply)
        if end - start < 1.0:
            continue
        figures = log.window(start, end)
        measured.append(
            {
                "label": phase.label,
                "users": phase.users,
                "start_s": phase.start_s,
                "end_s": end - test_start,
                "offered_rps": rate * phase.rate_share if rate else None,
                "requests": figures["requests"],
                "successes": figures["successes"],
                "achieved_rps": figures["achieved_rps"],
                "error_ratio": figures["error_ratio"],
                "errors": figures["errors"],
                "latency_ms": figures["latency_ms"],
                "resources": resource_window(samples, start, end),
                **({"goodput_rps": log.goodput_rps(start, end, slo_ms)} if slo_ms else {}),
            }
        )
    return measured


RECOVERED_P99 = 1.5  # back to normal: a second whose p99 is within 1.5x the first phase's


def recovery_s(phases: list[dict], log: RequestLog, test_start: float) -> float | None:
    """Seconds from the load's drop (the last phase's start) to the first second whose
    requests all succeeded with a p99 within RECOVERED_P99 of the first phase's; None when that
    never came."""
    normal = phases[0]["latency_ms"]["p99"] if phases else None
    if normal is None or len(phases) < 2:
        return None
    drop, end = test_start + phases[-1]["start_s"], test_start + phases[-1]["end_s"]
    second = drop
    while second + 1.0 <= end:
        figures = log.window(second, second + 1.0)
        p99 = figures["latency_ms"]["p99"]
        if figures["requests"] and not figures["error_ratio"] and p99 <= RECOVERED_P99 * normal:
            return second - drop
        second += 1.0
    return None


GROWTH_FLAG = 0.10  # a soak whose memory grew more than this from first to last slice is flagged


def soak_drift(phases: list[dict]) -> dict:
    """From the first slice to the last: the server's and Locust's mean RSS and the p99, each
    as (first, last, change), and which grew more than GROWTH_FLAG."""
    if len(phases) < 2:
        return {}
    first, last = phases[0], phases[-1]
    drift = {
        "server_rss_mb": _change(first["resources"], last["resources"], "server_rss_mb_mean"),
        "loadgen_rss_mb": _change(first["resources"], last["resources"], "loadgen_rss_mb_mean"),
        "p99_ms": _change(first["latency_ms"], last["latency_ms"], "p99"),
    }
    drift["flagged"] = [
        name for name, figures in drift.items() if figures and figures["change"] > GROWTH_FLAG
    ]
    return drift


def _change(first: dict, last: dict, key: str) -> dict | None:
    before, after = first.get(key), last.get(key)
    if not before or after is None:
        return None
    return {"first": before, "last": after, "change": after / before - 1}


def first_broken(phases: list[dict], slo_ms: float, error_budget: float) -> str | None:
    """The first phase whose p99 passed the objective or whose failures passed the budget."""
    for phase in phases:
        p99 = phase["latency_ms"]["p99"]
        if (p99 is not None and p99 > slo_ms) or (phase["error_ratio"] or 0) > error_budget:
            return phase["label"]
    return None

"""The phases of a shaped scenario (servebench.load.shapes), measured from the raw request log:
each ramp step, the spike and the time around it, or the slices of a soak. A single window over
a ramp would mix every step into one figure and hide where the latency objective broke."""

from __future__ import annotations

from servebench.bench.analysis import resource_window
from servebench.load.shapes import Phase
from servebench.request_log import RequestLog


def measure_phases(
    phases: list[Phase], log: RequestLog, samples: list[dict], test_start: float
) -> list[dict]:
    """Each phase's figures, for the part of it that ran: a ramp stops once it breaks, and the
    time after its last reply would dilute the last step's rate."""
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
                "achieved_rps": figures["achieved_rps"],
                "error_ratio": figures["error_ratio"],
                "latency_ms": figures["latency_ms"],
                "resources": resource_window(samples, start, end),
            }
        )
    return measured


def first_broken(phases: list[dict], slo_ms: float, error_budget: float) -> str | None:
    """The first phase whose p99 passed the objective or whose failures passed the budget."""
    for phase in phases:
        p99 = phase["latency_ms"]["p99"]
        if (p99 is not None and p99 > slo_ms) or phase["error_ratio"] > error_budget:
            return phase["label"]
    return None

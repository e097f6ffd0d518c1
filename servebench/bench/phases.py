"""The phases of a shaped scenario, measured from the raw request log: each ramp step, the
spike and the time around it, or the slices of a soak. A single window over a ramp would mix
every step into one figure and hide where the latency objective broke."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from servebench.bench.analysis import resource_window
from servebench.load.options import add_options
from servebench.request_log import RequestLog

SOAK_SLICES = 10


@dataclass(frozen=True)
class Phase:
    label: str
    users: int
    start_s: float  # from the test start
    end_s: float


def scenario_options(overrides: dict) -> argparse.Namespace:
    """The --sb-* values Locust runs a scenario with: its defaults, then ``overrides``."""
    parser = argparse.ArgumentParser()
    add_options(parser)
    options = parser.parse_args([])
    for name, value in overrides.items():
        setattr(options, f"sb_{name}", value)
    return options


def scenario_phases(scenario: str, options: argparse.Namespace) -> list[Phase]:
    """The phases the scenario's load shape goes through after the warm-up; none for a flat
    load."""
    duration, step, warmup = options.sb_duration, options.sb_step_seconds, options.sb_warmup
    if scenario == "ramp":
        return [
            Phase(
                f"step {k + 1}", (k + 1) * options.sb_step_users, start, min(start + step, duration)
            )
            for k, start in enumerate(_starts(warmup, duration, step))
        ]
    if scenario == "spike":
        spike_start = (duration - step) / 2
        return [
            Phase("before", options.sb_users, min(warmup, spike_start), spike_start),
            Phase("spike", options.sb_spike_users, spike_start, spike_start + step),
            Phase("after", options.sb_users, spike_start + step, duration),
        ]
    if scenario == "soak":
        width = (duration - warmup) / SOAK_SLICES
        return [
            Phase(f"slice {k + 1}", options.sb_users, warmup + k * width, warmup + (k + 1) * width)
            for k in range(SOAK_SLICES)
        ]
    return []


def _starts(first: float, end: float, step: float) -> list[float]:
    return [first + k * step for k in range(math.ceil((end - first) / step))]


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

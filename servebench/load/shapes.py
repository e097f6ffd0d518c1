"""The load shapes of the shaped scenarios (ramp, spike, soak), each defined once as its phases
after the warm-up. The Locust scenario files follow them; bench measures each phase apart."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from servebench.load.options import add_options

SOAK_SLICES = 10


@dataclass(frozen=True)
class Phase:
    label: str
    users: int
    start_s: float  # from the test start
    end_s: float
    rate_share: float = 1.0  # open loop: the share of --sb-rate offered in this phase


def scenario_options(overrides: dict) -> argparse.Namespace:
    """The --sb-* values Locust runs a scenario with: its defaults, then ``overrides``."""
    parser = argparse.ArgumentParser()
    add_options(parser)
    options = parser.parse_args([])
    for name, value in overrides.items():
        setattr(options, f"sb_{name}", value)
    return options


def ramp(options: argparse.Namespace) -> list[Phase]:
    """--sb-step-users more users every --sb-step-seconds."""
    duration, step = options.sb_duration, options.sb_step_seconds
    starts = _starts(options.sb_warmup, duration, step)
    return [
        Phase(f"step {k + 1}", (k + 1) * options.sb_step_users, start, min(start + step, duration))
        for k, start in enumerate(starts)
    ]


def spike(options: argparse.Namespace) -> list[Phase]:
    """--sb-spike-users for one step in the middle of the run, --sb-users around it."""
    duration, step = options.sb_duration, options.sb_step_seconds
    spike_start = (duration - step) / 2
    return [
        Phase("before", options.sb_users, min(options.sb_warmup, spike_start), spike_start),
        Phase("spike", options.sb_spike_users, spike_start, spike_start + step),
        Phase("after", options.sb_users, spike_start + step, duration),
    ]


def soak(options: argparse.Namespace) -> list[Phase]:
    """--sb-users throughout, cut into slices to show drift."""
    warmup = options.sb_warmup
    width = (options.sb_duration - warmup) / SOAK_SLICES
    return [
        Phase(f"slice {k + 1}", options.sb_users, warmup + k * width, warmup + (k + 1) * width)
        for k in range(SOAK_SLICES)
    ]


OVERLOAD = (("at half the knee", 0.5), ("1.5x the knee", 1.5), ("3x the knee", 3.0),
            ("recovery at half the knee", 0.5))  # fmt: skip


def overload(options: argparse.Namespace) -> list[Phase]:
    """Open loop around --sb-rate, the target's knee: half of it, then 1.5x and 3x, then half
    again to watch the recovery; the warm-up runs at half."""
    warmup = options.sb_warmup
    width = (options.sb_duration - warmup) / len(OVERLOAD)
    return [
        Phase(label, options.sb_users, warmup + k * width, warmup + (k + 1) * width, share)
        for k, (label, share) in enumerate(OVERLOAD)
    ]


SHAPES = {"ramp": ramp, "spike": spike, "soak": soak, "overload": overload}


def scenario_phases(scenario: str, options: argparse.Namespace) -> list[Phase]:
    """The phases the scenario's load shape goes through after the warm-up; none for a flat
    load."""
    shape = SHAPES.get(scenario)
    return shape(options) if shape else []


def users_at(phases: list[Phase], run_time: float, warmup_users: int) -> int:
    """The users a shape asks for at ``run_time``: those of the phase it is in, and
    ``warmup_users`` before the first phase."""
    users = warmup_users
    for phase in phases:
        if run_time >= phase.start_s:
            users = phase.users
    return users


def rate_share_at(phases: list[Phase], run_time: float) -> float:
    """The share of --sb-rate offered at ``run_time``: its phase's, or the first phase's during
    the warm-up."""
    share = phases[0].rate_share if phases else 1.0
    for phase in phases:
        if run_time >= phase.start_s:
            share = phase.rate_share
    return share


def _starts(first: float, end: float, step: float) -> list[float]:
    return [first + k * step for k in range(math.ceil((end - first) / step))]

"""Where a bench run's time goes: seconds per activity, so waste shows and can be cut."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class TimeSpent:
    """Seconds per activity, in the order first seen."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, activity: str, seconds: float) -> None:
        self.seconds[activity] = self.seconds.get(activity, 0.0) + max(seconds, 0.0)

    @contextmanager
    def measure(self, activity: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.add(activity, time.monotonic() - start)


def time_line(seconds: dict[str, float], total_s: float) -> str:
    """ "where the time went: 113 s = warm-up 8 s, windows 60 s, ..., other 2 s"."""
    other = total_s - sum(seconds.values())
    parts = [f"{name} {value:.0f} s" for name, value in seconds.items() if value >= 0.5]
    if other >= 0.5:
        parts.append(f"other {other:.0f} s")
    return f"where the time went: {total_s:.0f} s = " + ", ".join(parts)

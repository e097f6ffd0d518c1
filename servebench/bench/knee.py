"""The MLPerf-style headline: the highest offered Poisson rate that still meets the SLO."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Probe:
    rate: float
    passed: bool
    p99_ms: float | None = None
    error_ratio: float | None = None
    warnings: tuple[str, ...] = ()  # why the load generator may have limited this probe


def find_knee(
    probe: Callable[[float], Probe],
    first_rate: float,
    max_probes: int = 6,
    tolerance: float = 0.10,
) -> tuple[float | None, list[Probe]]:
    """Bracket the knee by doubling or halving from ``first_rate``, then bisect geometrically
    until the passing and failing rates are within ``tolerance`` of each other. A first rate
    within a factor of two of the knee converges in six probes or fewer.

    Returns (the highest passing rate or None, every probe in order).
    """
    passing = failing = None
    rate, probes = first_rate, []
    while len(probes) < max_probes:
        result = probe(rate)
        probes.append(result)
        if result.passed:
            passing = rate if passing is None else max(passing, rate)
        else:
            failing = rate if failing is None else min(failing, rate)
        if passing is not None and failing is not None and failing / passing <= 1 + tolerance:
            break
        if failing is None:
            rate *= 2
        elif passing is None:
            rate /= 2
        else:
            rate = math.sqrt(passing * failing)
    return passing, probes


def converged(probes: list[Probe], tolerance: float = 0.10) -> bool:
    """True when a passing and a failing probe bracket the knee within ``tolerance``."""
    passing = [p.rate for p in probes if p.passed]
    failing = [p.rate for p in probes if not p.passed]
    return bool(passing and failing) and min(failing) / max(passing) <= 1 + tolerance

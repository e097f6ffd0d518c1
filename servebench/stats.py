"""Summaries across repetitions: medians, and 95% confidence intervals of the mean."""

from __future__ import annotations

import functools
import math
import statistics


def t_quantile(probability: float, df: int) -> float:
    """Student's t quantile, exactly (to 1e-9): Newton's method on the CDF, which is the
    integral of the density. From below, on a concave CDF, Newton only ever climbs."""
    target = probability - 0.5
    if target <= 0:
        raise ValueError("t_quantile takes a probability above 0.5")
    quantile = 0.0
    for _ in range(200):
        step = (_t_integral(quantile, df) - target) / _t_density(quantile, df)
        quantile -= step
        if abs(step) < 1e-9:
            return quantile
    raise ArithmeticError(f"t quantile did not converge (p={probability}, df={df})")


@functools.cache
def t95(df: int) -> float:
    """The two-sided 95% critical value for ``df`` degrees of freedom."""
    return t_quantile(0.975, df)


def _t_density(x: float, df: int) -> float:
    scale = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    return scale * (1 + x * x / df) ** (-(df + 1) / 2)


def _t_integral(x: float, df: int, steps: int = 4000) -> float:
    """The density's integral from 0 to ``x`` (Simpson's rule; the density is smooth)."""
    if x == 0:
        return 0.0
    h = x / steps
    odd = sum(_t_density((2 * i - 1) * h, df) for i in range(1, steps // 2 + 1))
    even = sum(_t_density(2 * i * h, df) for i in range(1, steps // 2))
    return h / 3 * (_t_density(0, df) + 4 * odd + 2 * even + _t_density(x, df))


def ci95(values: list[float]) -> dict | None:
    """Mean and its 95% confidence interval; None with fewer than two values."""
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    half = t95(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": len(values)}


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(repetitions: list[dict]) -> dict:
    """Median and CI of the achieved rate and of each latency quantile (raw log) across reps."""
    summary = {}
    rates = [rep["achieved_rps"] for rep in repetitions]
    summary["achieved_rps"] = {"median": median(rates), "ci95": ci95(rates)}
    for name in ("p50", "p90", "p99", "p99.9", "mean"):
        values = [rep["latency_ms"].get(name) for rep in repetitions]
        summary[f"latency_ms_{name}"] = {"median": median(values), "ci95": ci95(values)}
    ratios = [rep["error_ratio"] for rep in repetitions]
    summary["error_ratio"] = {"median": median(ratios), "max": max(ratios) if ratios else None}
    return summary

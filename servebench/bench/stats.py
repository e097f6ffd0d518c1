"""Summaries across repetitions: medians, and 95% confidence intervals of the mean."""

from __future__ import annotations

import math
import statistics

# Two-sided 95% Student t critical values by degrees of freedom (1..10); 1.96 beyond.
T95 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
}


def ci95(values: list[float]) -> dict | None:
    """Mean and its 95% confidence interval; None with fewer than two values."""
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    half = T95.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))
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

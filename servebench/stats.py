"""Summaries across runs: medians, 95% intervals of the mean, and the ratio of two sides."""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass


@functools.lru_cache(maxsize=4096)
def t_quantile(probability: float, df: float) -> float:
    """Student's t quantile for any (also fractional, as Welch's) degrees of freedom, to 1e-10:
    bisection on the CDF, which is exact through the regularized incomplete beta function."""
    if probability <= 0.5 or probability >= 1:
        raise ValueError("t_quantile takes a probability above 0.5 and below 1")
    low, high = 0.0, 1.0
    while t_cdf(high, df) < probability:
        high *= 2
    while high - low > 1e-10 * max(1.0, high):
        middle = (low + high) / 2
        low, high = (middle, high) if t_cdf(middle, df) < probability else (low, middle)
    return (low + high) / 2


@functools.cache
def t95(df: float) -> float:
    """The two-sided 95% critical value for ``df`` degrees of freedom."""
    return t_quantile(0.975, df)


def t_cdf(x: float, df: float) -> float:
    """P(T <= x) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * incomplete_beta(df / 2, 0.5, df / (df + x * x))
    return 1 - tail if x >= 0 else tail


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), by its continued fraction (modified
    Lentz), on the side of x where the fraction converges fast."""
    if x <= 0 or x >= 1:
        return 0.0 if x <= 0 else 1.0
    if x > (a + 1) / (a + b + 2):
        return 1 - incomplete_beta(b, a, 1 - x)
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(log_front + a * math.log(x) + b * math.log1p(-x)) / a
    return front * _beta_fraction(a, b, x)


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1) < 1e-14:
            return fraction
    raise ArithmeticError(f"incomplete beta did not converge (a={a}, b={b}, x={x})")


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
    """Median and CI of the achieved rate and of each latency quantile (raw log) across runs
    (one entry each); a quantile that fell on failed requests is left out of its median."""
    summary = {}
    rates = [rep["achieved_rps"] for rep in repetitions]
    summary["achieved_rps"] = {"median": median(rates), "ci95": ci95(rates)}
    for name in ("p50", "p90", "p99", "p99.9", "mean"):
        values = [rep["latency_ms"].get(name) for rep in repetitions]
        summary[f"latency_ms_{name}"] = {"median": median(values), "ci95": ci95(values)}
    ratios = [rep["error_ratio"] for rep in repetitions if rep.get("error_ratio") is not None]
    summary["error_ratio"] = {"median": median(ratios), "max": max(ratios) if ratios else None}
    return summary


POWER = 0.8  # the smallest detectable difference is the one found 80% of the time


@dataclass(frozen=True)
class RatioEstimate:
    """The ratio of two sides' geometric means over runs (a / b), with its interval at
    ``level``: Welch's t on the log of each run's value, so neither side's spread is assumed
    equal to the other's, and a ratio's interval is symmetric where it should be, in logs."""

    ratio: float
    low: float
    high: float
    log_se: float
    df: float
    level: float
    runs: tuple[int, int]

    def detectable(self) -> float:
        """The smallest difference (as a fraction, 0.05 = 5%) that runs this noisy would find
        POWER of the time at this level."""
        return math.exp((self._critical() + t_quantile(POWER, self.df)) * self.log_se) - 1

    def runs_needed(self, difference: float, most: int = 10_000) -> int:
        """About how many runs per side would detect ``difference`` (0.05 = 5%), the spread
        per run staying what it was."""
        per_run = self.log_se * math.sqrt(min(self.runs))
        target = math.log1p(difference)
        for runs in range(2, most):
            df = max(2 * runs - 2, 1)
            critical = t_quantile(1 - (1 - self.level) / 2, df) + t_quantile(POWER, df)
            if critical * per_run / math.sqrt(runs) <= target:
                return runs
        return most

    def _critical(self) -> float:
        return t_quantile(1 - (1 - self.level) / 2, self.df)


def log_ratio(
    a: list[float], b: list[float], level: float = 0.95, extra_variance: float = 0.0
) -> RatioEstimate | None:
    """a / b over runs (each list one value per run, all above zero); None with fewer than two
    runs on a side. ``extra_variance``: a variance of the log ratio known from elsewhere (the
    in-process limits an efficiency divides by), added to the runs' own."""
    if len(a) < 2 or len(b) < 2 or min(a + b) <= 0:
        return None
    logs_a, logs_b = [math.log(v) for v in a], [math.log(v) for v in b]
    var_a = statistics.variance(logs_a) / len(a)
    var_b = statistics.variance(logs_b) / len(b)
    spread = var_a + var_b
    if spread > 0:
        df = spread**2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1))
    else:
        df = len(a) + len(b) - 2.0
    se = math.sqrt(spread + extra_variance)
    center = statistics.fmean(logs_a) - statistics.fmean(logs_b)
    half = t_quantile(1 - (1 - level) / 2, df) * se
    return RatioEstimate(
        math.exp(center), math.exp(center - half), math.exp(center + half), se, df, level,
        (len(a), len(b)),
    )  # fmt: skip


def tail_minimum(quantile: float, confidence: float = 0.99) -> int:
    """The fewest requests in which a ``quantile`` (0.99 for p99) can be bounded at all: with n
    requests and none beyond it, P(all n below the true quantile) = quantile^n must fall to
    1 - confidence. MLPerf LoadGen's early-stopping bound with no over-latency query (459 for
    p99 at 99% confidence)."""
    return math.ceil(math.log(1 - confidence) / math.log(quantile))

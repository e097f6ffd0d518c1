"""The confidence intervals' critical values: exact Student t quantiles at any sample size."""

import math
import statistics

import pytest

from servebench.stats import ci95, log_ratio, t95, t_quantile, tail_minimum

# Two-sided 95% critical values from published t tables.
PUBLISHED = {1: 12.706, 4: 2.776, 11: 2.201, 20: 2.086, 30: 2.042, 120: 1.980}


@pytest.mark.parametrize("df", sorted(PUBLISHED))
def test_t95_matches_published_tables(df):
    assert t95(df) == pytest.approx(PUBLISHED[df], abs=5e-4)


def test_other_quantiles_match_tables():
    assert t_quantile(0.95, 5) == pytest.approx(2.015, abs=5e-4)
    assert t_quantile(0.995, 10) == pytest.approx(3.169, abs=5e-4)


def test_a_dozen_windows_use_t_not_the_normal_value():
    # Beyond 10 degrees of freedom a normal 1.96 understates the interval by about 11% at n=12.
    values = [float(v) for v in range(12)]
    interval = ci95(values)
    half = (interval["high"] - interval["low"]) / 2
    expected = 2.201 * statistics.stdev(values) / math.sqrt(len(values))
    assert half == pytest.approx(expected, rel=1e-3)


def test_a_probability_at_or_below_one_half_is_refused():
    with pytest.raises(ValueError):
        t_quantile(0.5, 3)


def test_fractional_degrees_of_freedom_lie_between_their_neighbours():
    # Welch's degrees of freedom are rarely whole.
    assert t95(4) > t_quantile(0.975, 4.5) > t95(5)


def test_the_ratio_of_runs_is_the_ratio_of_geometric_means_with_a_welch_interval():
    a, b = [100.0, 110.0, 105.0], [50.0, 52.0, 51.0]
    estimate = log_ratio(a, b)
    geometric = math.exp(statistics.fmean(map(math.log, a)) - statistics.fmean(map(math.log, b)))
    assert estimate.ratio == pytest.approx(geometric)
    assert estimate.low < estimate.ratio < estimate.high and estimate.runs == (3, 3)
    assert 2 <= estimate.df <= 4  # Welch: between the smaller side's n - 1 and n_a + n_b - 2
    wider = log_ratio(a, b, level=0.99)
    assert wider.low < estimate.low and wider.high > estimate.high
    assert log_ratio([1.0], [2.0, 3.0]) is None and log_ratio([0.0, 1.0], [1.0, 2.0]) is None


def test_noisier_runs_detect_only_larger_differences_and_need_more_runs():
    quiet = log_ratio([100, 101, 99], [100, 100.5, 99.5])
    noisy = log_ratio([100, 120, 80], [100, 115, 85])
    assert quiet.detectable() < noisy.detectable()
    assert quiet.runs_needed(0.05) < noisy.runs_needed(0.05)
    assert noisy.runs_needed(0.05) > 3


def test_a_p99_needs_459_requests_as_in_mlperf_loadgen():
    # LoadGen's early stopping, with no query over the latency bound, at 99% confidence.
    assert tail_minimum(0.99) == 459
    assert tail_minimum(0.90) == 44
    assert tail_minimum(0.999) > 4000

"""The confidence intervals' critical values: exact Student t quantiles at any sample size."""

import math
import statistics

import pytest

from servebench.stats import ci95, t95, t_quantile

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

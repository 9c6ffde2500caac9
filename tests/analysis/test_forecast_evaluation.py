"""Losses against hand-computed values and their defining properties; the rolling-origin evaluation against a
second, plain implementation; daily alignment of side information by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccm.analysis.forecast import (
    EwmaForecaster,
    GarchForecaster,
    intraday_realised_variance,
    mse,
    qlike,
    realised_variance,
    rolling_evaluation,
)
from ccm.analysis.forecast.features import daily_values
from ccm.errors import InputError

positive = st.floats(min_value=1e-8, max_value=1e2, allow_nan=False, allow_infinity=False)


def test_qlike_and_mse_by_hand():
    realised = np.array([0.04, 0.01, 0.0009])
    forecast = np.array([0.02, 0.01, 0.0027])
    # ratios 2, 1, 1/3: (2 − ln 2 − 1) + 0 + (1/3 + ln 3 − 1)
    expected = ((1 - math.log(2)) + (1 / 3 + math.log(3) - 1)) / 3
    assert qlike(realised, forecast) == pytest.approx(expected, rel=1e-12)
    assert qlike(realised, forecast) == pytest.approx(0.246266, abs=1e-6)  # (0.306853 + 0.431946) / 3
    assert mse(realised, forecast) == pytest.approx((0.02**2 + 0 + 0.0018**2) / 3, rel=1e-12)


@given(st.lists(positive, min_size=1, max_size=20))
def test_qlike_is_zero_when_the_forecast_is_the_realised(values):
    r = np.array(values)
    assert qlike(r, r) == pytest.approx(0.0, abs=1e-12)
    assert mse(r, r) == 0.0


@given(positive, positive)
def test_qlike_is_positive_when_the_forecast_differs(r, f):
    if not math.isclose(r, f, rel_tol=1e-6):
        assert qlike(np.array([r]), np.array([f])) > 0
    # scale-free: the same relative miss at any level costs the same
    assert qlike(np.array([r * 1e-4]), np.array([f * 1e-4])) == pytest.approx(qlike(np.array([r]), np.array([f])),
                                                                          rel=1e-9, abs=1e-12)


def test_losses_reject_bad_inputs():
    with pytest.raises(InputError, match="> 0"):
        qlike(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    with pytest.raises(InputError, match="forecast"):
        mse(np.array([1.0]), np.array([0.0]))
    with pytest.raises(InputError, match="shape"):
        qlike(np.array([1.0, 2.0]), np.array([1.0]))


def test_rolling_ewma_equals_the_plain_recursion():
    rng = np.random.default_rng(3)
    x = 0.02 * rng.standard_normal(400)
    result = rolling_evaluation(EwmaForecaster(horizon_days=4), x, test_start=300, refit_every=25)
    seed = np.mean(x[:30] ** 2)
    path = [seed]
    for r in x:
        path.append(0.94 * path[-1] + 0.06 * r * r)
    origins = np.arange(300, 397)  # last origin 400 − 4
    assert np.array_equal(result.origins, origins)
    assert result.forecast == pytest.approx(4 * np.array(path)[origins], rel=1e-12)
    assert result.realised == pytest.approx([np.sum(x[t:t + 4] ** 2) for t in origins], rel=1e-12)
    assert result.refits == 4 + 1  # origins 300, 325, 350, 375; then the fit on everything for "now"
    assert result.n_test == 97 and result.n_zero_realised == 0
    assert result.latest_variance == pytest.approx(4 * path[-1], rel=1e-12)


def test_rolling_garch_refits_on_the_expanding_window_only():
    """Each block's forecasts equal a model fitted by hand on the returns before the block's first origin."""
    rng = np.random.default_rng(11)
    x = 0.02 * rng.standard_normal(700) * np.exp(np.sin(np.arange(700) / 40))
    result = rolling_evaluation(GarchForecaster(horizon_days=2), x, test_start=500, refit_every=100)
    for start in (500, 600):
        by_hand = GarchForecaster(horizon_days=2).fit(x[:start]).predict_variance(x)
        stop = min(start + 100, 699)
        assert result.forecast[start - 500:stop - 500] == pytest.approx(by_hand[start:stop], rel=1e-10)


def test_origins_with_zero_realised_variance_are_left_out_and_counted():
    rng = np.random.default_rng(5)
    x = 0.02 * rng.standard_normal(200)
    x[150] = 0.0
    result = rolling_evaluation(EwmaForecaster(), x, test_start=100, refit_every=50)
    assert result.n_zero_realised == 1 and result.n_test == 99
    keep = result.realised > 0
    assert result.qlike == pytest.approx(qlike(result.realised[keep], result.forecast[keep]))


def test_bad_test_window_is_refused():
    x = np.full(50, 0.01)
    with pytest.raises(InputError, match="test period"):
        rolling_evaluation(EwmaForecaster(horizon_days=5), x, test_start=47)
    with pytest.raises(InputError, match="refit"):
        rolling_evaluation(EwmaForecaster(), x, test_start=40, refit_every=0)


def test_realised_variance_is_a_rolling_sum():
    x = np.array([0.1, 0.2, -0.3, 0.4])
    assert realised_variance(x, 2) == pytest.approx([0.05, 0.13, 0.25])


def test_intraday_realised_variance_by_hand():
    day = 86400
    # 2-hour bars (open times) over two days and a bar on a third; prices chosen so log returns are simple
    stamps = np.array([0, 7200, 14400, day, day + 7200, 3 * day])
    prices = 100 * np.exp(np.array([0.0, 0.01, -0.01, 0.02, 0.02, 0.05]))
    rv = intraday_realised_variance(np.array([0, day + 5, 2 * day, 3 * day, 9 * day]), stamps, prices)
    # day 0: returns 0.01, −0.02; day 1: 0.03, 0.0; day 2: none; day 3: 0.03
    assert rv[:2] == pytest.approx([0.0001 + 0.0004, 0.0009])
    assert np.isnan(rv[2]) and np.isnan(rv[4])
    assert rv[3] == pytest.approx(0.0009)


def test_daily_values_sum_funding_and_take_the_last_implied_vol():
    day = 86400
    stamps = np.array([day + 8 * 3600, day + 16 * 3600, day, 3 * day])  # unsorted on purpose
    values = np.array([0.0002, -0.0001, 0.0003, 0.0005])
    days = np.array([0, day, 2 * day, 3 * day + 1])
    assert daily_values(days, stamps, values, how="sum") == pytest.approx([np.nan, 0.0004, np.nan, 0.0005],
                                                                         nan_ok=True)
    assert daily_values(days, stamps, values, how="last") == pytest.approx([np.nan, -0.0001, np.nan, 0.0005],
                                                                          nan_ok=True)


def test_diebold_mariano_without_lags_is_a_one_sample_t_test():
    from scipy import stats

    from ccm.analysis.forecast import diebold_mariano

    rng = np.random.default_rng(1)
    a = rng.gamma(2.0, size=500)
    b = a + 0.05 + 0.3 * rng.standard_normal(500)
    stat, p = diebold_mariano(a, b, lags=0)
    t = stats.ttest_1samp(a - b, 0.0)
    # DM divides by the population variance (ddof 0), the t test by the sample variance (ddof 1)
    assert stat == pytest.approx(t.statistic * np.sqrt(500 / 499), rel=1e-10)
    assert stat < 0 and p == pytest.approx(2 * stats.norm.sf(abs(stat)))
    assert diebold_mariano(a, a, lags=3) == (0.0, 1.0)


def test_diebold_mariano_newey_west_variance_by_a_plain_double_loop():
    from ccm.analysis.forecast import diebold_mariano

    rng = np.random.default_rng(2)
    e = rng.standard_normal(300)
    d = 0.1 + e + np.concatenate([[0.0], e[:-1]]) * 0.8  # MA(1): overlapping-forecast-like dependence
    m, lags = d.shape[0], 4
    u = d - d.mean()
    v = 0.0
    for i in range(m):
        for j in range(m):
            k = abs(i - j)
            if k <= lags:
                v += (1 - k / (lags + 1)) * u[i] * u[j]
    v /= m
    stat, _ = diebold_mariano(d, np.zeros(m), lags=lags)
    assert stat == pytest.approx(d.mean() / np.sqrt(v / m), rel=1e-10)


def test_qlike_test_compares_the_same_origins():
    from ccm.analysis.forecast import qlike_test

    rng = np.random.default_rng(9)
    x = 0.02 * rng.standard_normal(300)
    ewma = rolling_evaluation(EwmaForecaster(horizon_days=2), x, test_start=200)
    fast = rolling_evaluation(EwmaForecaster(horizon_days=2, lam=0.8), x, test_start=200)
    stat, p = qlike_test(fast, ewma)
    # by hand: per-origin QLIKE of the two plain EWMA loops, DM with H − 1 = 1 Bartlett lag
    losses = []
    for lam in (0.8, 0.94):
        path = [np.mean(x[:30] ** 2)]
        for r in x:
            path.append(lam * path[-1] + (1 - lam) * r * r)
        f = 2 * np.array(path)[200:299]
        realised = x[200:299] ** 2 + x[201:300] ** 2
        losses.append(realised / f - np.log(realised / f) - 1)
    d = losses[0] - losses[1]
    u = d - d.mean()
    v = (u @ u + 2 * 0.5 * (u[1:] @ u[:-1])) / d.size
    want = d.mean() / math.sqrt(v / d.size)
    assert stat == pytest.approx(want, rel=1e-9)
    assert p == pytest.approx(math.erfc(abs(want) / math.sqrt(2)), rel=1e-9)  # two-sided normal
    assert qlike_test(ewma, ewma) == (0.0, 1.0)
    with pytest.raises(InputError, match="different test origins"):
        qlike_test(rolling_evaluation(EwmaForecaster(horizon_days=2), x, test_start=210), ewma)

"""Historical simulation windows against hand-computed returns; filtering against a plain loop."""

from __future__ import annotations

import numpy as np
import pytest

from ccm.errors import InputError
from ccm.scenario import ewma_covariance, ewma_variance, historical_simulation

DATES = np.array(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"], dtype="datetime64[D]")
PRICES = np.array([[100.0, 10.0], [110.0, 9.0], [99.0, 9.9], [120.0, 12.0], [60.0, 12.0]])


def test_window_count_and_values_by_hand():
    s = historical_simulation(DATES, PRICES, ["BTC", "ETH"], horizon_days=2)
    n_returns, h = len(PRICES) - 1, 2
    assert len(s) == n_returns - h + 1 == 3
    assert s.kind == "historical-simulation"
    assert s.names == ("2024-01-03", "2024-01-04", "2024-01-05") == s.dates
    expected = [[99 / 100 - 1, 9.9 / 10 - 1], [120 / 110 - 1, 12 / 9 - 1], [60 / 99 - 1, 12 / 9.9 - 1]]
    np.testing.assert_allclose(s.price_returns, expected, rtol=1e-12)


def test_one_day_windows_and_full_window():
    one = historical_simulation(DATES, PRICES, ["BTC", "ETH"])
    assert len(one) == 4
    np.testing.assert_allclose(one.price_returns[3], [-0.5, 0.0], atol=1e-12)
    full = historical_simulation(DATES, PRICES, ["BTC", "ETH"], horizon_days=4)
    np.testing.assert_allclose(full.price_returns, [[-0.4, 0.2]], rtol=1e-12)


def test_posix_seconds_and_intraday_names():
    seconds = np.array([0, 7200, 14400])
    s = historical_simulation(seconds, PRICES[:3], ["BTC", "ETH"])
    assert s.names == ("1970-01-01T02:00:00", "1970-01-01T04:00:00")


def _ewma_loop(x, lam, seed_window=30):
    var = [np.mean(x[:seed_window] ** 2, axis=0)]
    for row in x:
        var.append(lam * var[-1] + (1 - lam) * row**2)
    return np.array(var)


def test_ewma_variance_by_hand():
    x = np.array([[0.1], [-0.2]])
    # seed = (0.01 + 0.04) / 2; then 0.94·0.025 + 0.06·0.01 and 0.94·0.0241 + 0.06·0.04
    np.testing.assert_allclose(ewma_variance(x, 0.94)[:, 0], [0.025, 0.0241, 0.025054], rtol=1e-12)


def test_ewma_covariance_matches_the_recursion():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.03, size=(200, 3))
    cov = x[:30].T @ x[:30] / 30
    for row in x:
        cov = 0.9 * cov + 0.1 * np.outer(row, row)
    np.testing.assert_allclose(ewma_covariance(x, 0.9), cov, rtol=1e-10)
    np.testing.assert_allclose(np.diag(ewma_covariance(x, 0.9)), _ewma_loop(x, 0.9)[-1], rtol=1e-10)


def test_filtered_windows_rescale_each_return():
    rng = np.random.default_rng(7)
    n = 60
    log_prices = np.cumsum(rng.normal(0, 0.02, size=(n, 2)) * np.linspace(1, 3, n)[:, None], axis=0)
    prices = 100 * np.exp(log_prices)
    dates = np.arange(n).astype("datetime64[D]")
    s = historical_simulation(dates, prices, ["A", "B"], horizon_days=3, filtered=True, ewma_lambda=0.9)
    x = np.diff(np.log(prices), axis=0)
    var = _ewma_loop(x, 0.9)
    scaled = x * np.sqrt(var[-1]) / np.sqrt(var[:-1])
    expected = [np.exp(scaled[k:k + 3].sum(axis=0)) - 1 for k in range(len(x) - 2)]
    np.testing.assert_allclose(s.price_returns, expected, rtol=1e-10)
    # the last return is measured at nearly today's vol: its scale factor is close to 1
    assert abs(np.sqrt(var[-1] / var[-2]) - 1).max() < 0.2


def test_bad_inputs():
    with pytest.raises(InputError):
        historical_simulation(DATES, PRICES, ["BTC", "ETH"], horizon_days=5)
    with pytest.raises(InputError):
        historical_simulation(DATES[::-1], PRICES, ["BTC", "ETH"])
    with pytest.raises(InputError):
        historical_simulation(DATES, PRICES, ["BTC"])
    bad = PRICES.copy()
    bad[2, 1] = 0.0
    with pytest.raises(InputError):
        historical_simulation(DATES, bad, ["BTC", "ETH"])

"""Monte Carlo moments against their inputs, within sampling error."""

from __future__ import annotations

import numpy as np
import pytest

from ccm.errors import InputError
from ccm.scenario import estimate_covariance, ewma_variance, monte_carlo, monte_carlo_from_prices

ASSETS = ("BTC", "ETH", "USDC")
# daily vols 3%, 4%, 0.1%; correlations 0.8 (BTC/ETH), 0.1 and −0.05
SD = np.array([0.03, 0.04, 0.001])
CORR = np.array([[1.0, 0.8, 0.1], [0.8, 1.0, -0.05], [0.1, -0.05, 1.0]])
COV = CORR * np.outer(SD, SD)
PATHS = 200_000


def _log(s):
    return np.log1p(s.price_returns)


def _check_moments(x, cov):
    n = len(x)
    se_mean = x.std(axis=0) / np.sqrt(n)
    assert (np.abs(x.mean(axis=0)) < 4.5 * se_mean).all()
    for i in range(x.shape[1]):
        for j in range(x.shape[1]):
            products = x[:, i] * x[:, j]
            se = products.std() / np.sqrt(n)
            assert abs(products.mean() - cov[i, j]) < 4.5 * se, (i, j)


def _kurtosis(x):
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    return (z**4).mean(axis=0)


@pytest.mark.parametrize("distribution", ["normal", "t"])
def test_moments_match_the_covariance(distribution):
    s = monte_carlo(ASSETS, COV, paths=PATHS, rng=np.random.default_rng(11), distribution=distribution, dof=6.0)
    assert s.kind == "montecarlo" and len(s) == PATHS
    _check_moments(_log(s), COV)


def test_horizon_scales_the_covariance():
    s = monte_carlo(ASSETS, COV, paths=PATHS, rng=np.random.default_rng(5), horizon_days=4)
    _check_moments(_log(s), 4 * COV)


def test_t_has_fatter_tails_and_same_seed_reproduces():
    normal = _log(monte_carlo(ASSETS, COV, paths=PATHS, rng=np.random.default_rng(2)))
    t = _log(monte_carlo(ASSETS, COV, paths=PATHS, rng=np.random.default_rng(2), distribution="t", dof=6.0))
    # normal kurtosis 3; t(6) kurtosis 3 + 6/(6 − 4) = 6
    np.testing.assert_allclose(_kurtosis(normal), 3.0, atol=0.1)
    assert (_kurtosis(t) > 4.5).all()
    again = monte_carlo(ASSETS, COV, paths=PATHS, rng=np.random.default_rng(2), distribution="t", dof=6.0)
    np.testing.assert_array_equal(_log(again), t)


def test_vol_shift_model():
    s = monte_carlo(ASSETS, COV, paths=1000, rng=np.random.default_rng(1), vol_beta=2.0)
    np.testing.assert_allclose(s.vol_shifts, np.maximum(-2.0 * s.price_returns, -0.9))
    none = monte_carlo(ASSETS, COV, paths=10, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(none.vol_shifts, 0.0)


def _history(n=400, seed=4):
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal(np.zeros(3), COV, size=n)
    return 100 * np.exp(np.vstack([np.zeros((1, 3)), np.cumsum(x, axis=0)])), x


def test_sample_covariance_and_vol_filter():
    prices, x = _history()
    np.testing.assert_allclose(estimate_covariance(prices, method="sample"), np.cov(x.T), rtol=1e-9)
    filtered = estimate_covariance(prices, method="sample", vol_filter=True)
    vol = np.sqrt(ewma_variance(x)[-1])
    np.testing.assert_allclose(np.sqrt(np.diag(filtered)), vol, rtol=1e-9)
    np.testing.assert_allclose(filtered / np.outer(vol, vol), np.corrcoef(x.T), rtol=1e-9, atol=1e-12)


def test_from_prices_and_errors():
    prices, _ = _history()
    s = monte_carlo_from_prices(prices, ASSETS, paths=50, rng=np.random.default_rng(0), covariance="ewma",
                                distribution="t", dof=4.0)
    assert s.price_returns.shape == (50, 3) and (s.price_returns > -1).all()
    with pytest.raises(InputError):
        monte_carlo(ASSETS, COV, paths=10, rng=np.random.default_rng(0), distribution="t", dof=2.0)
    with pytest.raises(InputError):
        monte_carlo(ASSETS, COV[:2, :2], paths=10, rng=np.random.default_rng(0))
    with pytest.raises(InputError):
        estimate_covariance(prices, method="garch")

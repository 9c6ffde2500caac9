"""The EWMA filter: log returns and exponentially weighted (RiskMetrics) variance and covariance, shared by
historical simulation (volatility filtering), Monte Carlo and the var margin model. The EWMA *forecaster* that
the volatility models are measured against (``ccm.analysis.forecast.ewma``) is built on this filter.

Recursion, for daily log returns x_0 … x_{n−1} (zero mean assumed, as RiskMetrics does):
``σ²_0 = seed``, ``σ²_{t+1} = λ σ²_t + (1 − λ) x_t²``. ``σ²_t`` is the forecast for day t made with the returns
before it; ``σ²_n`` is the forecast for the next, unseen day ("now"). The seed is the mean of x² over the first
``min(n, seed_window)`` returns (default 30).
"""

from __future__ import annotations

import numpy as np

from ccm._typing import FloatArray
from ccm.errors import InputError

DEFAULT_LAMBDA = 0.94
SEED_WINDOW = 30


def log_returns(prices: FloatArray) -> FloatArray:
    """Daily log returns of a price matrix.

    Parameters
    ----------
    prices : ndarray of shape (n_times, n_assets), all > 0.

    Returns
    -------
    ndarray of shape (n_times − 1, n_assets).
    """
    prices = np.asarray(prices, dtype=float)
    if prices.ndim != 2:
        raise InputError(f"prices must be a (n_times, n_assets) matrix, got shape {prices.shape}",
                         record="price history", field="prices")
    bad = ~np.isfinite(prices) | (prices <= 0)
    if bad.any():
        t, a = np.argwhere(bad)[0]
        raise InputError("prices must be finite and > 0", record=f"row {t}", field=f"column {a}")
    return np.diff(np.log(prices), axis=0)


def _check_lambda(lam: float) -> None:
    if not 0.0 < lam < 1.0:
        raise InputError(f"EWMA decay λ must be in (0, 1), got {lam}", record="model", field="ewma_lambda")


def ewma_variance(returns: FloatArray, lam: float = DEFAULT_LAMBDA, *, seed_window: int = SEED_WINDOW) -> FloatArray:
    """EWMA variance forecasts.

    Parameters
    ----------
    returns : ndarray of shape (n, n_assets), daily log returns.
    lam : decay λ in (0, 1).

    Returns
    -------
    ndarray of shape (n + 1, n_assets): row t is σ²_t (the forecast for return t); row n is the forecast now.
    """
    _check_lambda(lam)
    x = np.asarray(returns, dtype=float)
    if x.ndim != 2 or len(x) == 0:
        raise InputError("need at least one return to estimate a volatility", record="price history")
    out = np.empty((len(x) + 1, x.shape[1]))
    out[0] = np.mean(x[:seed_window] ** 2, axis=0)
    for t in range(len(x)):
        out[t + 1] = lam * out[t] + (1.0 - lam) * x[t] ** 2
    return out


def ewma_covariance(returns: FloatArray, lam: float = DEFAULT_LAMBDA, *,
                    seed_window: int = SEED_WINDOW) -> FloatArray:
    """EWMA covariance forecast for the next day: ``Σ = λⁿ S₀ + Σ_t (1 − λ) λ^(n−1−t) x_t x_tᵀ`` with the seed
    ``S₀`` = mean of x xᵀ over the first ``seed_window`` returns; its diagonal is ``ewma_variance(...)[-1]``.

    Returns
    -------
    ndarray of shape (n_assets, n_assets).
    """
    _check_lambda(lam)
    x = np.asarray(returns, dtype=float)
    if x.ndim != 2 or len(x) == 0:
        raise InputError("need at least one return to estimate a covariance", record="price history")
    n = len(x)
    head = x[:seed_window]
    seed = head.T @ head / len(head)
    weights = (1.0 - lam) * lam ** np.arange(n - 1, -1, -1, dtype=float)
    return lam**n * seed + (x * weights[:, None]).T @ x

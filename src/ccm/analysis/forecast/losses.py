"""Loss functions for variance forecasts (Patton 2011, "Volatility forecast comparison using imperfect volatility
proxies", J. Econometrics 160: both are robust to the noise of a conditionally unbiased proxy)."""

from __future__ import annotations

import numpy as np

from ccm._typing import FloatArray
from ccm.errors import InputError


def _pair(realised: FloatArray, forecast: FloatArray) -> tuple[FloatArray, FloatArray]:
    r = np.asarray(realised, dtype=float)
    f = np.asarray(forecast, dtype=float)
    if r.shape != f.shape or r.ndim != 1 or r.shape[0] == 0:
        raise InputError(f"realised {r.shape} and forecast {f.shape} must be non-empty series of one shape",
                         field="forecast")
    if not (np.isfinite(f).all() and (f > 0).all()):
        raise InputError("variance forecasts must be finite and > 0",
                         record=f"origin {int(np.flatnonzero(~(np.isfinite(f) & (f > 0)))[0])}", field="forecast")
    if not (np.isfinite(r).all() and (r >= 0).all()):
        raise InputError("realised variances must be finite and ≥ 0",
                         record=f"origin {int(np.flatnonzero(~(np.isfinite(r) & (r >= 0)))[0])}", field="realised")
    return r, f


def qlike_losses(realised: FloatArray, forecast: FloatArray) -> FloatArray:
    """QLIKE loss of each forecast, ``r/f − ln(r/f) − 1`` (Patton 2011, eq. 24 with b = −2): ≥ 0, and 0 only where
    f = r.

    Parameters
    ----------
    realised : ndarray of shape (m,), realised variance proxies, > 0 (QLIKE is infinite at 0).
    forecast : ndarray of shape (m,), variance forecasts in the same units, > 0.

    Returns
    -------
    ndarray of shape (m,).
    """
    r, f = _pair(realised, forecast)
    if (r <= 0).any():
        raise InputError("QLIKE needs realised variances > 0", record=f"origin {int(np.flatnonzero(r <= 0)[0])}",
                         field="realised", hint="leave out origins whose realised proxy is 0")
    ratio = r / f
    return ratio - np.log(ratio) - 1.0


def qlike(realised: FloatArray, forecast: FloatArray) -> float:
    """Mean QLIKE loss (see :func:`qlike_losses`)."""
    return float(np.mean(qlike_losses(realised, forecast)))


def mse(realised: FloatArray, forecast: FloatArray) -> float:
    """Mean squared error of variance forecasts ``mean((r − f)²)`` (Patton 2011, eq. 24 with b = 0),
    in the squared units of the variances."""
    r, f = _pair(realised, forecast)
    return float(np.mean((r - f) ** 2))


def diebold_mariano(losses_a: FloatArray, losses_b: FloatArray, *, lags: int) -> tuple[float, float]:
    """Diebold–Mariano test of equal expected loss (Diebold & Mariano 1995): ``d = a − b``,
    ``DM = mean(d) / sqrt(V / m)`` with V the Newey–West (Bartlett) long-run variance of d over ``lags`` lags
    (use H − 1 for overlapping H-day forecasts), two-sided p-value from the standard normal.

    Parameters
    ----------
    losses_a, losses_b : ndarray of shape (m,), per-origin losses of two forecasts of the same targets.
    lags : autocovariance lags ≥ 0.

    Returns
    -------
    (DM statistic: < 0 when a has the lower loss; p-value). (0.0, 1.0) when the losses are identical.
    """
    from scipy.stats import norm

    d = np.asarray(losses_a, dtype=float) - np.asarray(losses_b, dtype=float)
    m = d.shape[0]
    if d.ndim != 1 or m < 2 or np.asarray(losses_b).shape != d.shape:
        raise InputError("need two loss series of one shape with at least 2 origins", field="losses")
    if lags < 0 or lags >= m:
        raise InputError(f"lags must be in [0, {m - 1}], got {lags}", field="lags")
    u = d - d.mean()
    variance = u @ u / m
    for k in range(1, lags + 1):  # a handful of lags, each a vector product
        variance += 2.0 * (1.0 - k / (lags + 1)) * (u[k:] @ u[:-k]) / m
    if variance <= 0:
        return 0.0, 1.0
    stat = float(d.mean() / np.sqrt(variance / m))
    return stat, float(2.0 * norm.sf(abs(stat)))

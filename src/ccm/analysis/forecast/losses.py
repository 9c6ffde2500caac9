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


def qlike(realised: FloatArray, forecast: FloatArray) -> float:
    """Mean QLIKE loss ``r/f − ln(r/f) − 1`` (Patton 2011, eq. 24 with b = −2): ≥ 0, and 0 only where f = r.

    Parameters
    ----------
    realised : ndarray of shape (m,), realised variance proxies, > 0 (QLIKE is infinite at 0).
    forecast : ndarray of shape (m,), variance forecasts in the same units, > 0.
    """
    r, f = _pair(realised, forecast)
    if (r <= 0).any():
        raise InputError("QLIKE needs realised variances > 0", record=f"origin {int(np.flatnonzero(r <= 0)[0])}",
                         field="realised", hint="leave out origins whose realised proxy is 0")
    ratio = r / f
    return float(np.mean(ratio - np.log(ratio) - 1.0))


def mse(realised: FloatArray, forecast: FloatArray) -> float:
    """Mean squared error of variance forecasts ``mean((r − f)²)`` (Patton 2011, eq. 24 with b = 0),
    in the squared units of the variances."""
    r, f = _pair(realised, forecast)
    return float(np.mean((r - f) ** 2))

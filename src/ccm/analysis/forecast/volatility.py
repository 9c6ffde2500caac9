"""``forecast_volatility``: the one call other parts of ccm use to get a forward-looking daily volatility."""

from __future__ import annotations

import numpy as np

from ccm._typing import FloatArray
from ccm.analysis.forecast.models import make_forecaster
from ccm.errors import InputError
from ccm.scenario.ewma_filter import log_returns

DAYS_PER_YEAR = 365  # crypto trades every day: annualised vol = daily vol × √365


def forecast_volatility(prices_or_returns: FloatArray, *, model: str = "garch", horizon_days: int = 1,
                        kind: str = "prices") -> float | FloatArray:
    """Daily volatility expected over the next ``horizon_days`` days, from a daily history.

    The model is fitted on the whole history and forecasts the variance of the H-day log return,
    ``V_H = E[Σ_{i=1}^{H} x_{n+i}²]``; the result is the average daily volatility over the horizon,
    ``sqrt(V_H / H)``, a decimal (0.03 = 3 % a day). Multiply by ``sqrt(H)`` for the vol of the H-day return and by
    ``sqrt(365)`` to annualise. For EWMA it equals today's RiskMetrics vol whatever H; for GARCH it bends towards
    the long-run level as H grows.

    Parameters
    ----------
    prices_or_returns : ndarray of shape (n,) or (n, n_assets): daily closes (``kind="prices"``, > 0) or daily log
        returns (``kind="returns"``), oldest first.
    model : ``"ewma"``, ``"garch"``, ``"gjr"`` or ``"gbm"`` (see :func:`make_forecaster`).
    horizon_days : H ≥ 1.
    kind : ``"prices"`` or ``"returns"``.

    Returns
    -------
    float for a 1-d input; ndarray of shape (n_assets,) for a 2-d input (each column fitted separately).
    """
    data = np.asarray(prices_or_returns, dtype=float)
    if data.ndim not in (1, 2):
        raise InputError(f"need a (n,) or (n, n_assets) history, got shape {data.shape}", field="prices_or_returns")
    matrix = data[:, None] if data.ndim == 1 else data
    if kind == "prices":
        returns = log_returns(matrix)
    elif kind == "returns":
        returns = matrix
    else:
        raise InputError(f"kind must be 'prices' or 'returns', got {kind!r}", field="kind")
    vols = np.empty(returns.shape[1])
    for j in range(returns.shape[1]):  # one fit per asset (a handful of assets)
        fitted = make_forecaster(model, horizon_days=horizon_days).fit(returns[:, j])
        vols[j] = np.sqrt(fitted.predict_variance(returns[:, j])[-1] / horizon_days)
    return float(vols[0]) if data.ndim == 1 else vols

"""Historical simulation: every overlapping h-step window of a price history as a scenario, optionally
volatility-filtered (filtered historical simulation, FHS).

Windows. ``n_times`` prices give n = n_times − 1 one-step log returns x_t = log(P_{t+1}/P_t) and n − h + 1
overlapping h-step windows; window k covers returns k … k+h−1 and its scenario return is
``exp(Σ x) − 1 = P_{k+h} / P_k − 1``. The scenario is named by the window's end time (the time of P_{k+h}).

Filtering (Barone-Adesi et al.; the "volatility scaling" of LCH PAIRS and CME SPAN 2, ccp.md §1.7, §2.3):
each one-step return is rescaled to today's volatility, ``x̃_t = x_t · σ_now / σ_t``, with σ_t the EWMA forecast
for step t made before it and σ_now the forecast for the next step (see :mod:`ccm.scenario.ewma_filter`); windows are
then summed from the filtered returns. An asset whose σ_t is 0 (a price that never moved) keeps its return.
Implied-vol shifts are 0 (a price history carries no implied vols); multipliers are 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ccm._typing import FloatArray
from ccm.errors import InputError
from ccm.scenario.base import ScenarioSet
from ccm.scenario.ewma_filter import DEFAULT_LAMBDA, ewma_variance, log_returns


def as_datetime64(timestamps: Sequence | np.ndarray) -> np.ndarray:
    """Timestamps as datetime64[s]: accepts datetime64 values, ISO strings, or POSIX seconds (numbers)."""
    ts = np.asarray(timestamps)
    if np.issubdtype(ts.dtype, np.number):
        return ts.astype("int64").astype("datetime64[s]")
    return ts.astype("datetime64[s]")


def iso_labels(timestamps: np.ndarray) -> tuple[str, ...]:
    """ISO labels: dates (``2024-08-05``) when every timestamp is midnight UTC, else seconds."""
    ts = as_datetime64(timestamps)
    days = ts.astype("datetime64[D]")
    unit = "D" if np.array_equal(days.astype("datetime64[s]"), ts) else "s"
    return tuple(str(s) for s in np.datetime_as_string(ts, unit=unit))


def filter_returns(returns: FloatArray, lam: float = DEFAULT_LAMBDA) -> FloatArray:
    """Rescale one-step returns by σ_now / σ_t (EWMA with decay ``lam``).

    Parameters
    ----------
    returns : ndarray of shape (n, n_assets).

    Returns
    -------
    ndarray of shape (n, n_assets).
    """
    variance = ewma_variance(returns, lam)
    sigma_t, sigma_now = np.sqrt(variance[:-1]), np.sqrt(variance[-1])
    ratio = np.divide(sigma_now[None, :], sigma_t, out=np.ones_like(sigma_t), where=sigma_t > 0)
    return np.asarray(returns, dtype=float) * ratio


def historical_simulation(
    timestamps: Sequence | np.ndarray,
    prices: FloatArray,
    assets: Sequence[str],
    *,
    horizon_days: int = 1,
    filtered: bool = False,
    ewma_lambda: float = DEFAULT_LAMBDA,
) -> ScenarioSet:
    """Every overlapping window of ``horizon_days`` steps as a scenario (kind "historical-simulation").

    Parameters
    ----------
    timestamps : n_times sorted, distinct times (datetime64, ISO strings or POSIX seconds).
    prices : ndarray of shape (n_times, n_assets), all > 0.
    assets : the n_assets column names.
    horizon_days : window length h in steps of the history (days for a daily history).
    filtered : rescale returns to today's EWMA volatility (filtered HS).
    ewma_lambda : EWMA decay for the filter.

    Returns
    -------
    ScenarioSet with n_times − h scenarios (n − h + 1 for n returns), named and dated by the window end.
    """
    prices = np.asarray(prices, dtype=float)
    ts = as_datetime64(timestamps)
    assets = tuple(assets)
    if prices.ndim != 2 or prices.shape != (len(ts), len(assets)):
        raise InputError(f"prices have shape {prices.shape}, expected ({len(ts)}, {len(assets)}) "
                         "(one row per timestamp, one column per asset)", record="price history", field="prices")
    if len(ts) > 1 and not (np.diff(ts) > np.timedelta64(0, "s")).all():
        raise InputError("timestamps must be strictly increasing", record="price history", field="timestamps")
    h = int(horizon_days)
    if h < 1 or h > len(ts) - 1:
        raise InputError(f"horizon of {h} steps needs at least {h + 1} prices, got {len(ts)}",
                         record="price history", field="horizon_days")
    x = log_returns(prices)
    if filtered:
        x = filter_returns(x, ewma_lambda)
    cumulative = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    window_logs = cumulative[h:] - cumulative[:-h]
    labels = iso_labels(ts[h:])
    return ScenarioSet(assets=assets, names=labels, price_returns=np.expm1(window_logs), dates=labels,
                       kind="historical-simulation")

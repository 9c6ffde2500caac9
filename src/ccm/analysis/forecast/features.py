"""Inputs of the volatility forecasters: a daily series with optional side information, the realised-variance
target and the HAR-style features.

Conventions used by every forecaster in this package (all variances are of daily log returns, decimal units):

* ``returns[t]`` is the log return of day t (close of day t−1 to close of day t).
* An *origin* ``t`` (0 ≤ t ≤ n) stands at the close of day t−1: it has seen ``returns[:t]`` and the side
  information of days < t, and forecasts the days t, t+1, …, t+H−1.
* The *realised proxy* of origin t is ``Σ_{i=t}^{t+H−1} returns[i]²`` (the sum of squared daily log returns over the
  H days; zero mean assumed, as RiskMetrics does). It is defined for t ≤ n − H.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ccm._typing import FloatArray
from ccm.errors import InputError

HAR_WINDOWS = (1, 5, 22)  # daily, weekly, monthly (Corsi 2009)


@dataclass(frozen=True, slots=True, kw_only=True)
class DailySeries:
    """Daily log returns of one asset and what is known beside them, on the same days.

    returns : ndarray of shape (n,), daily log returns (decimal).
    realised : ndarray of shape (n,) or None, day-t realised variance from intraday returns (e.g. the sum of
        squared 2-hour log returns of day t); NaN where the intraday data miss that day. None: ``returns**2``.
    extra : ndarray of shape (n, k) or None, side information known at the close of day t (funding rate,
        implied-volatility index, …); NaN where missing.
    extra_names : the k names of ``extra``'s columns.
    """

    returns: FloatArray
    realised: FloatArray | None = None
    extra: FloatArray | None = None
    extra_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        x = np.asarray(self.returns, dtype=float)
        if x.ndim != 1:
            raise InputError(f"returns must be one series of shape (n,), got shape {x.shape}", record="returns")
        if not np.isfinite(x).all():
            raise InputError("returns must be finite", record=f"day {int(np.flatnonzero(~np.isfinite(x))[0])}",
                             field="returns")
        object.__setattr__(self, "returns", x)
        if self.realised is not None:
            rv = np.asarray(self.realised, dtype=float)
            if rv.shape != x.shape:
                raise InputError(f"realised variance has shape {rv.shape}, returns {x.shape}", field="realised")
            if (rv < 0).any():
                raise InputError("realised variance must be ≥ 0", record=f"day {int(np.flatnonzero(rv < 0)[0])}",
                                 field="realised")
            object.__setattr__(self, "realised", rv)
        if self.extra is not None:
            ex = np.asarray(self.extra, dtype=float)
            if ex.ndim != 2 or ex.shape[0] != x.shape[0] or ex.shape[1] != len(self.extra_names):
                raise InputError(f"extra features have shape {ex.shape}; need ({x.shape[0]}, "
                                 f"{len(self.extra_names)}) for names {self.extra_names}", field="extra")
            object.__setattr__(self, "extra", ex)
        elif self.extra_names:
            raise InputError("extra_names given without extra features", field="extra_names")

    @property
    def n_days(self) -> int:
        return int(self.returns.shape[0])

    def head(self, n: int) -> DailySeries:
        """The first ``n`` days (what an origin n has seen)."""
        return DailySeries(returns=self.returns[:n],
                           realised=None if self.realised is None else self.realised[:n],
                           extra=None if self.extra is None else self.extra[:n], extra_names=self.extra_names)


def as_series(data: DailySeries | FloatArray) -> DailySeries:
    """A :class:`DailySeries` from itself or from an ndarray of shape (n,) of daily log returns."""
    return data if isinstance(data, DailySeries) else DailySeries(returns=np.asarray(data, dtype=float))


def realised_variance(returns: FloatArray, horizon_days: int) -> FloatArray:
    """The realised proxy of every origin: ``out[t] = Σ_{i=t}^{t+H−1} returns[i]²``.

    Parameters
    ----------
    returns : ndarray of shape (n,), daily log returns.
    horizon_days : H ≥ 1.

    Returns
    -------
    ndarray of shape (n − H + 1,) (empty when n < H), variance of the H-day return (decimal², not annualised).
    """
    check_horizon(horizon_days)
    sq = np.asarray(returns, dtype=float) ** 2
    if sq.shape[0] < horizon_days:
        return np.empty(0)
    csum = np.concatenate([[0.0], np.cumsum(sq)])
    return csum[horizon_days:] - csum[:-horizon_days]


def check_horizon(horizon_days: int) -> None:
    if int(horizon_days) != horizon_days or horizon_days < 1:
        raise InputError(f"horizon must be a whole number of days ≥ 1, got {horizon_days}", field="horizon_days")


def trailing_mean(values: FloatArray, window: int) -> FloatArray:
    """Mean of the ``window`` values before each origin: ``out[t] = mean(values[t−window:t])`` for
    t = 0 … n (NaN when t < window, or when a value in the window is NaN).

    Returns
    -------
    ndarray of shape (n + 1,).
    """
    v = np.asarray(values, dtype=float)
    csum = np.concatenate([[0.0], np.cumsum(v)])
    out = np.full(v.shape[0] + 1, np.nan)
    out[window:] = (csum[window:] - csum[:-window]) / window
    return out


def har_features(series: DailySeries) -> tuple[FloatArray, tuple[str, ...]]:
    """HAR-style features of every origin t = 0 … n, from data before t only.

    Columns: ``rv_1d``, ``rv_5d``, ``rv_22d`` (mean daily realised variance over the last 1, 5, 22 days: from
    squared daily log returns, or from the intraday realised variance when the series has it, with the squared daily
    return filling days the intraday data miss), then the side information of day t−1 (``series.extra_names``).

    Returns
    -------
    (ndarray of shape (n + 1, 3 + k), NaN where a window reaches before day 0 or side information is missing;
    the column names).
    """
    daily = series.returns**2
    if series.realised is not None:
        daily = np.where(np.isnan(series.realised), daily, series.realised)
    columns = [trailing_mean(daily, w) for w in HAR_WINDOWS]
    names = tuple(f"rv_{w}d" for w in HAR_WINDOWS)
    if series.extra is not None:
        lagged = np.vstack([np.full((1, series.extra.shape[1]), np.nan), series.extra])
        columns.extend(lagged.T)
        names += series.extra_names
    return np.column_stack(columns), names


def intraday_realised_variance(day_seconds: np.ndarray, bar_seconds: np.ndarray, bar_prices: FloatArray) -> FloatArray:
    """Daily realised variance from intraday prices: for each day, the sum of the squared log returns of the bars
    that open on that UTC day (the first one measured from the previous bar's close).

    Parameters
    ----------
    day_seconds : ndarray of shape (n,), POSIX seconds of the days wanted (any time within the UTC day).
    bar_seconds : ndarray of shape (m,), POSIX seconds of the intraday bars (bar open times), strictly increasing.
    bar_prices : ndarray of shape (m,), the bars' closing prices (> 0).

    Returns
    -------
    ndarray of shape (n,): realised variance (decimal²) per day; NaN for days with no intraday return.
    """
    bar_seconds = np.asarray(bar_seconds, dtype=np.int64)
    r2 = np.diff(np.log(np.asarray(bar_prices, dtype=float))) ** 2
    bar_day = bar_seconds[1:] // 86400
    days = np.asarray(day_seconds, dtype=np.int64) // 86400
    first = bar_day.min() if bar_day.size else 0
    span = int(bar_day.max() - first + 1) if bar_day.size else 0
    sums = np.bincount(bar_day - first, weights=r2, minlength=span)
    counts = np.bincount(bar_day - first, minlength=span)
    out = np.full(days.shape[0], np.nan)
    inside = (days >= first) & (days < first + span)
    idx = days[inside] - first
    out[inside] = np.where(counts[idx] > 0, sums[idx], np.nan)
    return out


def daily_values(day_seconds: np.ndarray, stamps: np.ndarray, values: FloatArray, *, how: str) -> FloatArray:
    """Side information per UTC day: for each wanted day, the ``"sum"`` or the ``"last"`` of the values stamped
    within that day (e.g. the day's 8-hour funding rates summed into a daily rate; the day's implied-vol close).

    Parameters
    ----------
    day_seconds : ndarray of shape (n,), POSIX seconds within each wanted UTC day.
    stamps : ndarray of shape (m,), POSIX seconds of the values (any order; ``"last"`` is the latest stamp).
    values : ndarray of shape (m,).
    how : ``"sum"`` or ``"last"``.

    Returns
    -------
    ndarray of shape (n,), NaN for days without a value.
    """
    if how not in ("sum", "last"):
        raise InputError(f"how must be 'sum' or 'last', got {how!r}", field="how")
    days = np.asarray(day_seconds, dtype=np.int64) // 86400
    order = np.argsort(np.asarray(stamps, dtype=np.int64), kind="stable")
    value_day = np.asarray(stamps, dtype=np.int64)[order] // 86400
    v = np.asarray(values, dtype=float)[order]
    out = np.full(days.shape[0], np.nan)
    if value_day.size == 0:
        return out
    unique, start = np.unique(value_day, return_index=True)
    if how == "sum":
        per_day = np.add.reduceat(v, start)
    else:
        per_day = v[np.r_[start[1:] - 1, v.shape[0] - 1]]
    pos = np.searchsorted(unique, days)
    found = (pos < unique.shape[0]) & (unique[np.minimum(pos, unique.shape[0] - 1)] == days)
    out[found] = per_day[pos[found]]
    return out

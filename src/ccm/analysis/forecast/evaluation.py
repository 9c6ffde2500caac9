"""Rolling-origin out-of-sample evaluation of the volatility forecasters on an expanding window."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from ccm._typing import FloatArray, IntArray
from ccm.analysis.forecast.features import DailySeries, as_series, realised_variance
from ccm.analysis.forecast.losses import diebold_mariano, mse, qlike, qlike_losses
from ccm.errors import InputError
from ccm.scenario.ewma_filter import SEED_WINDOW


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationResult:
    """Out-of-sample forecasts of one model against the realised proxy.

    origins : ndarray of shape (m,), origin index t of each test forecast (it has seen returns[:t]).
    forecast : ndarray of shape (m,), H-day variance forecasts (decimal², not annualised).
    realised : ndarray of shape (m,), ``Σ_{i=t}^{t+H−1} returns[i]²``.
    qlike, mse : mean losses over the origins with realised > 0 (``n_test`` of them; QLIKE is infinite at 0).
    n_zero_realised : origins left out because their realised proxy is exactly 0.
    refits : number of times the model was fitted; fit_seconds, predict_seconds: time spent.
    latest_variance : the H-day forecast "now" (from every return, the model fitted on all of them).
    """

    horizon_days: int
    origins: IntArray
    forecast: FloatArray
    realised: FloatArray
    qlike: float
    mse: float
    n_test: int
    n_zero_realised: int
    refits: int
    fit_seconds: float
    predict_seconds: float
    latest_variance: float


def rolling_evaluation(model, data: DailySeries | FloatArray, *, test_start: int, refit_every: int = 30,
                       on_refit: Callable[[int, int], None] | None = None) -> EvaluationResult:
    """Refit ``model`` (a clone of it) on an expanding window every ``refit_every`` origins from ``test_start`` and
    forecast each test origin with the latest fit (the variance is still filtered through every return before the
    origin; only the parameters wait for the next refit).

    Parameters
    ----------
    model : an unfitted forecaster (``fit(series) -> self``, ``predict_variance(series) -> (n + 1,)``, param
        ``horizon_days``); it is not modified.
    data : the daily series (n days).
    test_start : first test origin t ≥ 30 (the first fit uses returns[:t]; EWMA's 30-day seed must lie before it);
        test origins are t … n − H.
    refit_every : origins between refits (30 ≈ monthly).
    on_refit : called with (refits done, refits in all) after each fit.
    """
    series = as_series(data)
    horizon = int(model.get_params()["horizon_days"])
    n = series.n_days
    realised_all = realised_variance(series.returns, horizon)
    last = n - horizon  # last origin with a full realised window
    if refit_every < 1:
        raise InputError(f"refit step must be ≥ 1 day, got {refit_every}", field="refit_every")
    if not SEED_WINDOW <= test_start <= last:
        raise InputError(f"the test period must start after the first {SEED_WINDOW} days (EWMA's seed window) and "
                         f"leave {horizon} day(s) to realise: start {test_start}, {n} days", field="test_start",
                         hint="start the test inside the history (--test-from), after the days the models fit on")
    starts = np.arange(test_start, last + 1, refit_every)
    forecasts = np.empty(last + 1 - test_start)
    fit_seconds = predict_seconds = 0.0
    for k, start in enumerate(starts):
        stop = min(start + refit_every, last + 1)
        began = time.perf_counter()
        fitted = clone(model).fit(series.head(start))
        fit_seconds += time.perf_counter() - began
        began = time.perf_counter()
        forecasts[start - test_start:stop - test_start] = fitted.predict_variance(series.head(stop))[start:stop]
        predict_seconds += time.perf_counter() - began
        if on_refit is not None:
            on_refit(k + 1, starts.shape[0] + 1)
    began = time.perf_counter()
    latest = float(clone(model).fit(series).predict_variance(series)[-1])
    fit_seconds += time.perf_counter() - began
    if on_refit is not None:
        on_refit(starts.shape[0] + 1, starts.shape[0] + 1)
    origins = np.arange(test_start, last + 1)
    realised = realised_all[test_start:]
    keep = realised > 0
    return EvaluationResult(horizon_days=horizon, origins=origins, forecast=forecasts, realised=realised,
                            qlike=qlike(realised[keep], forecasts[keep]), mse=mse(realised[keep], forecasts[keep]),
                            n_test=int(keep.sum()), n_zero_realised=int((~keep).sum()), refits=starts.shape[0] + 1,
                            fit_seconds=fit_seconds, predict_seconds=predict_seconds, latest_variance=latest)


def qlike_test(result: EvaluationResult, baseline: EvaluationResult) -> tuple[float, float]:
    """Diebold–Mariano test of ``result`` against ``baseline`` on per-origin QLIKE losses (same test origins;
    origins with a zero realised proxy left out; H − 1 Newey–West lags for the overlap of H-day windows).

    Returns
    -------
    (DM statistic, < 0 when ``result`` has the lower loss; two-sided p-value).
    """
    if not np.array_equal(result.origins, baseline.origins):
        raise InputError("the two evaluations cover different test origins", field="baseline")
    keep = result.realised > 0
    a = qlike_losses(result.realised[keep], result.forecast[keep])
    b = qlike_losses(baseline.realised[keep], baseline.forecast[keep])
    return diebold_mariano(a, b, lags=min(result.horizon_days - 1, a.shape[0] - 1))

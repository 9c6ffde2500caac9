"""RiskMetrics EWMA volatility forecaster (the baseline every other model is measured against)."""

from __future__ import annotations

from typing import Self

from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ccm._typing import FloatArray
from ccm.analysis.forecast.features import DailySeries, as_series, check_horizon
from ccm.errors import InputError
from ccm.scenario.ewma_filter import DEFAULT_LAMBDA, SEED_WINDOW, ewma_variance


class EwmaForecaster(BaseEstimator):
    """RiskMetrics exponentially weighted variance, ``σ²_{t+1} = λ σ²_t + (1 − λ) x_t²`` (λ = 0.94 for daily data,
    J.P. Morgan/Reuters, RiskMetrics — Technical Document, 1996), from :func:`ccm.scenario.ewma_filter.ewma_variance`
    (seeded with the mean of x² over the first 30 returns).

    The H-day forecast is H σ²_{t} (square-root-of-time: EWMA has a flat term structure). Nothing is estimated;
    ``fit`` only checks the inputs and records the sample size, so that every model has the same contract.

    Parameters
    ----------
    horizon_days : H ≥ 1.
    lam : decay λ in (0, 1).
    """

    def __init__(self, horizon_days: int = 1, lam: float = DEFAULT_LAMBDA) -> None:
        self.horizon_days = horizon_days
        self.lam = lam

    def fit(self, data: DailySeries | FloatArray) -> Self:
        series = as_series(data)
        check_horizon(self.horizon_days)
        if series.n_days < 1:
            raise InputError("need at least one return to fit EWMA", record="returns")
        self.n_fit_ = series.n_days
        return self

    def predict_variance(self, data: DailySeries | FloatArray) -> FloatArray:
        """H-day variance forecasts of every origin.

        Returns
        -------
        ndarray of shape (n + 1,): row t is the forecast of ``Σ_{i=t}^{t+H−1} x_i²`` from ``x[:t]`` (rows before
        the 30-day seed window use the seed, which looks ahead; evaluations start later); row n is "now".
        """
        check_is_fitted(self, "n_fit_")
        series = as_series(data)
        return self.horizon_days * ewma_variance(series.returns[:, None], self.lam, seed_window=SEED_WINDOW)[:, 0]

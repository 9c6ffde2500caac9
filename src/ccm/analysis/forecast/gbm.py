"""Gradient-boosted volatility forecaster on HAR-style features (scikit-learn ``HistGradientBoostingRegressor``).

Features of origin t (see :func:`ccm.analysis.forecast.features.har_features`): the mean daily realised variance
over the last 1, 5 and 22 days (Corsi 2009) and any side information of day t−1 (funding rate, implied-volatility
index), NaN where missing (the trees route missing values themselves). Target: the realised proxy
``Σ_{i=t}^{t+H−1} x_i²``.

Loss: Gamma deviance with a log link, ``2 (y/μ − ln(y/μ) − 1)``, which is twice Patton's QLIKE: the trees minimise
the same loss the forecasts are judged by, and the forecast is a conditional mean (no retransformation bias, as a
squared-error fit on log variance would have). The Gamma loss needs y > 0: training origins whose realised proxy
is exactly 0 (flat days) are left out.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from ccm._typing import FloatArray
from ccm.analysis.forecast.features import (
    HAR_WINDOWS,
    DailySeries,
    as_series,
    check_horizon,
    har_features,
    realised_variance,
)
from ccm.errors import InputError

TARGET_SCALE = 1e4  # variances of per-cent returns: keeps the booster's raw scores near 0
MIN_TRAIN_ORIGINS = 200


class GbmForecaster(BaseEstimator):
    """HAR features → H-day realised variance, with ``HistGradientBoostingRegressor(loss="gamma")``.

    Parameters
    ----------
    horizon_days : H ≥ 1.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization : passed to the booster
        (defaults chosen small and strongly regularised: a few thousand daily rows are little data).
    random_state : the booster's seed (without early stopping or subsampling the fit is deterministic).
    n_threads : OpenMP threads for the booster. 1 by default: trees this small fit in ~0.2 s on one thread
        (3,000 daily rows), and extra threads on a busy 2-core machine made one fit take 3–11 s.

    Attributes (after ``fit``)
    --------------------------
    model_ : the fitted ``HistGradientBoostingRegressor``.
    feature_names_ : names of the feature columns.
    n_train_ : number of training origins.
    """

    def __init__(self, horizon_days: int = 1, max_iter: int = 150, learning_rate: float = 0.05,
                 max_leaf_nodes: int = 8, min_samples_leaf: int = 80, l2_regularization: float = 1.0,
                 random_state: int = 0, n_threads: int = 1) -> None:
        self.horizon_days = horizon_days
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, data: DailySeries | FloatArray) -> Self:
        series = as_series(data)
        check_horizon(self.horizon_days)
        features, names = har_features(series)
        target = realised_variance(series.returns, self.horizon_days)  # origins 0 … n − H
        first = max(HAR_WINDOWS)
        rows = np.arange(first, target.shape[0])
        rows = rows[target[rows] > 0]
        if rows.shape[0] < MIN_TRAIN_ORIGINS:
            need = MIN_TRAIN_ORIGINS + first + self.horizon_days
            raise InputError(f"the gradient-boosted model needs at least {need} daily returns to train, got "
                             f"{series.n_days}", record="returns",
                             hint="give a longer history or an earlier --test-from")
        booster = HistGradientBoostingRegressor(
            loss="gamma", max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization, early_stopping=False, random_state=self.random_state)
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            self.model_ = booster.fit(features[rows] * _scales(names), target[rows] * TARGET_SCALE)
        self.feature_names_ = names
        self.n_train_ = int(rows.shape[0])
        return self

    def predict_variance(self, data: DailySeries | FloatArray) -> FloatArray:
        """H-day variance forecasts of every origin (features from data before each origin only).

        Returns
        -------
        ndarray of shape (n + 1,): row t forecasts ``Σ_{i=t}^{t+H−1} x_i²``; row n is "now".
        """
        check_is_fitted(self, "model_")
        series = as_series(data)
        features, names = har_features(series)
        if names != self.feature_names_:
            raise InputError(f"features {names} differ from the fitted ones {self.feature_names_}", field="extra")
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self.model_.predict(features * _scales(names)) / TARGET_SCALE


def _scales(names: tuple[str, ...]) -> FloatArray:
    """Realised-variance columns in per-cent² like the target; side information as given."""
    return np.array([TARGET_SCALE if name.startswith("rv_") else 1.0 for name in names])

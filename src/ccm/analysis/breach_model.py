"""The learned breach model and the calibration report that compares it with the analytic one (no I/O).

:class:`BreachClassifier` follows the scikit-learn contract (``fit`` returns self, learned state ends in ``_``)
and wraps a ``HistGradientBoostingClassifier`` on the features of ``breach_features.account_features``
(NaN is a valid value: "no liquidation within range" for distances, "no equity" for ratios).
:func:`calibration_report` gives the Brier score, ROC AUC and the reliability curve of any probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import brier_score_loss, roc_auc_score

from ccm._typing import BoolArray, FloatArray
from ccm.errors import InputError


class BreachClassifier:
    """P(coverage < 1 within the horizon the training labels used), from account features.

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization : passed to
        ``HistGradientBoostingClassifier`` (shallow, regularised trees: breaches are rare events).
    random_state : seed of the early-stopping split.

    Attributes
    ----------
    model_ : the fitted HistGradientBoostingClassifier.
    feature_names_ : tuple of the training columns' names (checked at predict time when given).
    base_rate_ : share of positive labels in training.
    """

    def __init__(self, *, max_iter: int = 200, learning_rate: float = 0.1, max_leaf_nodes: int = 15,
                 min_samples_leaf: int = 100, l2_regularization: float = 1.0, random_state: int = 0) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    def fit(self, features: FloatArray, label: BoolArray, feature_names: tuple[str, ...] | None = None
            ) -> BreachClassifier:
        """Fit on features (N, F) and labels (N,) (both classes must occur)."""
        x = np.asarray(features, dtype=float)
        y = np.asarray(label, dtype=bool)
        if x.ndim != 2 or x.shape[0] != y.shape[0]:
            raise InputError(f"features {x.shape} and labels {y.shape} do not match", record="training set")
        if y.all() or not y.any():
            raise InputError("the training labels hold one class only", record="training set",
                             hint="use a longer or more volatile history, or a longer horizon")
        self.model_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization,
            early_stopping=True, validation_fraction=0.15, n_iter_no_change=20, random_state=self.random_state,
        ).fit(x, y)
        self.feature_names_ = tuple(feature_names) if feature_names is not None else None
        self.base_rate_ = float(y.mean())
        return self

    def predict_proba(self, features: FloatArray, feature_names: tuple[str, ...] | None = None) -> FloatArray:
        """Breach probability per row, shape (N,) (not scikit-learn's (N, 2): only the breach class)."""
        if not hasattr(self, "model_"):
            raise InputError("the breach classifier is not fitted", record="model", hint="call fit first")
        if feature_names is not None and self.feature_names_ is not None and tuple(feature_names) != \
                self.feature_names_:
            raise InputError(f"features {list(feature_names)} differ from the training features "
                             f"{list(self.feature_names_)}", record="features")
        return self.model_.predict_proba(np.asarray(features, dtype=float))[:, 1]


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationResult:
    """Scores of probabilities p against outcomes y (n rows).

    brier : mean (p − y)²; brier_climatology : the Brier score of always predicting the base rate (skill is
    1 − brier / brier_climatology); auc : ROC AUC (NaN with one class); base_rate : mean y; mean_probability :
    mean p; prob_pred, prob_true : the reliability curve (mean p and observed frequency per non-empty bin,
    ``sklearn.calibration.calibration_curve`` with quantile bins); n : rows.
    """

    n: int
    base_rate: float
    mean_probability: float
    brier: float
    brier_climatology: float
    auc: float
    prob_pred: FloatArray
    prob_true: FloatArray

    @property
    def brier_skill(self) -> float:
        return 1.0 - self.brier / self.brier_climatology if self.brier_climatology > 0 else float("nan")


def calibration_report(label: BoolArray, probability: FloatArray, *, n_bins: int = 10) -> CalibrationResult:
    """Brier score, AUC and reliability curve of ``probability`` (n,) for outcomes ``label`` (n,)."""
    y = np.asarray(label, dtype=bool)
    p = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    if y.shape != p.shape or y.size == 0:
        raise InputError(f"labels {y.shape} and probabilities {p.shape} do not match", record="evaluation set")
    both = y.any() and not y.all()
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy="quantile")
    rate = float(y.mean())
    return CalibrationResult(
        n=int(y.size), base_rate=rate, mean_probability=float(p.mean()), brier=float(brier_score_loss(y, p)),
        brier_climatology=rate * (1.0 - rate), auc=float(roc_auc_score(y, p)) if both else float("nan"),
        prob_pred=prob_pred, prob_true=prob_true)


__all__ = ["BreachClassifier", "CalibrationResult", "calibration_report"]

"""GARCH(1,1) and GJR-GARCH(1,1,1) volatility forecasters: parameters estimated by the ``arch`` package (Gaussian
quasi-maximum likelihood, zero mean), variance filtered and projected here with numpy.

Model (daily log returns x_t, decimal): ``σ²_{t+1} = ω + (α + γ·1[x_t < 0]) x_t² + β σ²_t`` (γ = 0 for GARCH;
Glosten, Jagannathan & Runkle 1993 for γ ≠ 0). The recursion starts, as ``arch`` does, from the backcast
``b = Σ_{i<75} w_i x_i²`` with ``w_i ∝ 0.94^i``: ``σ²_0 = ω + (α + γ/2 + β) b``.

Multi-step: with persistence ``φ = α + γ/2 + β`` (symmetric innovations), ``σ²_{t+h|t} = ω + φ σ²_{t+h−1|t}``;
the H-day forecast is ``Σ_{h=1}^{H} σ²_{t+h|t}``.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from scipy.signal import lfilter
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ccm._typing import FloatArray
from ccm.analysis.forecast.features import DailySeries, as_series, check_horizon
from ccm.errors import InputError, ModelError

SCALE = 100.0  # arch is fitted on per-cent returns (its optimiser is tuned for variances near 1)
BACKCAST_WINDOW = 75
MIN_FIT_DAYS = 100


def backcast(returns: FloatArray) -> float:
    """arch's starting value: ``Σ_{i<τ} w_i x_i²`` with ``w_i ∝ 0.94^i``, τ = min(75, n)."""
    x = np.asarray(returns, dtype=float)[:BACKCAST_WINDOW]
    w = 0.94 ** np.arange(x.shape[0])
    return float(np.sum(w * x**2) / np.sum(w))


def garch_variance(returns: FloatArray, *, omega: float, alpha: float, beta: float, gamma: float = 0.0,
                   start: float) -> FloatArray:
    """One-day conditional variances of a GJR-GARCH(1,1,1) (GARCH when γ = 0), without a Python loop.

    Parameters
    ----------
    returns : ndarray of shape (n,), daily log returns.
    omega, alpha, beta, gamma : parameters in decimal variance units (ω per day).
    start : the backcast b (see the module docstring).

    Returns
    -------
    ndarray of shape (n + 1,): row t is σ²_t, the variance of ``returns[t]`` given ``returns[:t]``; row n is the
    forecast for the next, unseen day.
    """
    x = np.asarray(returns, dtype=float)
    shock = omega + (alpha + gamma * (x < 0)) * x**2  # ω + (α + γ·1[x<0]) x² (the term entering σ²_{t+1})
    s0 = omega + (alpha + 0.5 * gamma + beta) * start
    rest = lfilter([1.0], [1.0, -beta], shock, zi=[beta * s0])[0]
    return np.concatenate([[s0], rest])


def horizon_sum(next_variance: FloatArray, *, omega: float, persistence: float, horizon_days: int) -> FloatArray:
    """``Σ_{h=1}^{H} σ²_{t+h|t}`` with ``σ²_{t+1|t}`` = ``next_variance`` and ``σ²_{t+h|t} = ω + φ σ²_{t+h−1|t}``.

    Closed form (no loop over the H days): ``σ²_{t+h|t} = φ^{h−1} σ²_{t+1|t} + ω Σ_{k<h−1} φ^k`` (for φ < 1 the
    familiar ``V_L + φ^{h−1}(σ²_{t+1|t} − V_L)``, ``V_L = ω/(1 − φ)``), so the sum is ``σ²_{t+1|t} G + ω W`` with
    ``G = Σ_{k<H} φ^k`` and ``W = Σ_{k≤H−2} (H−1−k) φ^k``; see :func:`_geometric_sums`.

    Parameters
    ----------
    next_variance : ndarray of shape (m,), one-day-ahead variances.
    omega : ω, per day (decimal²); persistence : φ ≥ 0; horizon_days : H ≥ 1.

    Returns
    -------
    ndarray of shape (m,).
    """
    geometric, weighted = _geometric_sums(float(persistence), int(horizon_days))
    return np.asarray(next_variance, dtype=float) * geometric + omega * weighted


def _geometric_sums(phi: float, horizon: int) -> tuple[float, float]:
    """``G = Σ_{k=0}^{H−1} φ^k = (φ^H − 1)/δ`` and ``W = Σ_{k=0}^{H−2} (H−1−k) φ^k = (G − H)/δ``, δ = φ − 1.

    Near φ = 1 (|Hδ| < 0.1) ``G − H`` would cancel, so both come from the binomial expansion of ``(1 + δ)^H``:
    ``G = Σ_j C(H, j+1) δ^j`` and ``W = Σ_j C(H, j+2) δ^j`` (16 terms: truncation far below 1e-15 relative).
    """
    delta = phi - 1.0
    if abs(horizon * delta) < 0.1:
        g_term, w_term = float(horizon), horizon * (horizon - 1) / 2.0  # C(H, 1), C(H, 2)
        g = w = 0.0
        for j in range(16):
            g += g_term
            w += w_term
            g_term *= (horizon - j - 1) / (j + 2) * delta  # C(H, j+2) δ^{j+1}
            w_term *= (horizon - j - 2) / (j + 3) * delta  # C(H, j+3) δ^{j+1}
        return g, w
    with np.errstate(over="ignore"):  # inf for φ > 1 and a horizon too long to hold
        g = float(np.expm1(horizon * np.log1p(delta)) / delta) if phi > 0 else 1.0
    return g, (g - horizon) / delta


class GarchForecaster(BaseEstimator):
    """GARCH(1,1) (``asymmetric=False``) or GJR-GARCH(1,1,1) (``asymmetric=True``) H-day variance forecaster.

    Parameters
    ----------
    horizon_days : H ≥ 1.
    asymmetric : add the leverage term γ·1[x<0]·x² (GJR).

    Attributes (after ``fit``)
    --------------------------
    omega_, alpha_, gamma_, beta_ : parameters, decimal variance units (``omega_`` per day; ``gamma_`` = 0 for
        GARCH).
    persistence_ : α + γ/2 + β.
    long_run_variance_ : ω / (1 − persistence) (daily, decimal²), NaN when persistence ≥ 1.
    backcast_ : the starting value computed from the fitted sample (reused by ``predict_variance``).
    loglik_ : the maximised Gaussian log-likelihood (of per-cent returns, as ``arch`` reports it).
    converged_ : whether the optimiser reported success (the estimates are kept either way when finite with
        ω > 0, α ≥ 0, β ≥ 0, α + γ ≥ 0, arch's own constraints).
    """

    def __init__(self, horizon_days: int = 1, asymmetric: bool = False) -> None:
        self.horizon_days = horizon_days
        self.asymmetric = asymmetric

    def fit(self, data: DailySeries | FloatArray) -> Self:
        from arch import arch_model  # imported on use: arch is slow to import

        series = as_series(data)
        check_horizon(self.horizon_days)
        if series.n_days < MIN_FIT_DAYS:
            raise InputError(f"GARCH needs at least {MIN_FIT_DAYS} daily returns to fit, got {series.n_days}",
                             record="returns", hint="give a longer history or an earlier --test-from")
        spec = arch_model(SCALE * series.returns, mean="Zero", vol="GARCH", p=1, o=int(self.asymmetric), q=1,
                          dist="normal", rescale=False)
        result = spec.fit(disp="off", show_warning=False)
        params = result.params
        gamma = float(params["gamma[1]"]) if self.asymmetric else 0.0
        usable = np.isfinite(np.asarray(params, dtype=float)).all() and params["omega"] > 0 \
            and params["alpha[1]"] >= 0 and params["beta[1]"] >= 0 and params["alpha[1]"] + gamma >= 0
        if not usable:
            raise ModelError(f"GARCH estimation failed (optimizer flag {result.convergence_flag}, parameters "
                             f"{ {k: round(float(v), 6) for k, v in params.items()} })")
        # SLSQP sometimes stops with a flag (e.g. 8, "positive directional derivative") at a usable optimum:
        # kept, and said in converged_
        self.converged_ = bool(result.convergence_flag == 0)
        self.omega_ = float(params["omega"]) / SCALE**2
        self.alpha_ = float(params["alpha[1]"])
        self.gamma_ = gamma
        self.beta_ = float(params["beta[1]"])
        self.persistence_ = self.alpha_ + 0.5 * self.gamma_ + self.beta_
        self.long_run_variance_ = self.omega_ / (1 - self.persistence_) if self.persistence_ < 1 else float("nan")
        self.backcast_ = backcast(series.returns)
        self.loglik_ = float(result.loglikelihood)
        return self

    def predict_variance(self, data: DailySeries | FloatArray) -> FloatArray:
        """H-day variance forecasts of every origin with the fitted parameters (filtered through ``data``, which
        should start where the fitted sample started so that the backcast applies).

        Returns
        -------
        ndarray of shape (n + 1,): row t forecasts ``Σ_{i=t}^{t+H−1} x_i²`` from ``x[:t]``; row n is "now".
        """
        check_is_fitted(self, "omega_")
        series = as_series(data)
        one_day = garch_variance(series.returns, omega=self.omega_, alpha=self.alpha_, beta=self.beta_,
                                 gamma=self.gamma_, start=self.backcast_)
        return horizon_sum(one_day, omega=self.omega_, persistence=self.persistence_,
                           horizon_days=self.horizon_days)

"""Analytic breach probability: P(coverage < 1 within h) from the distance to liquidation and a volatility.

Model. The account breaches when the uniform relative move of the (non-stable) underlying prices reaches
``−distance_down`` or ``+distance_up`` (``ccm.risk.distance``). The price is a geometric Brownian motion with
daily volatility σ, so the log-move X_t = ln(S_t / S_0) is a Brownian motion with variance σ² per day and drift
μ per day: μ = 0 (``drift="zero"``, the default: the reflection principle in its textbook form) or μ = −σ²/2
(``drift="martingale"``: the *price* has no drift). The account breaches within h days when X leaves the
interval (a, b) = (ln(1 − d_down), ln(1 + d_up)) before h.

* one barrier (the other distance NaN: no liquidation within the searched range): the first-passage closed
  form of a drifted Brownian motion, P(min_{t≤h} X_t ≤ a) = Φ((a − μh)/s) + e^{2μa/σ²} Φ((a + μh)/s) with
  s = σ√h; driftless, 2Φ(a/s) (reflection principle). Symmetrically for the upper barrier.
* two barriers: the exact probability of leaving the strip, 1 − survival, with the survival probability from the
  method of images (Feller, vol. II, §X.5; Borodin & Salminen, Handbook of Brownian Motion, 1.1.15.4) and the
  drift put in by Girsanov's theorem. With L = b − a, k = μ/σ² and the images c = 2nL (sign +) and
  c = 2b − 2nL (sign −), n ∈ ℤ:
  survival = Σ_n ± e^{k c} [Φ((b − c − k s²)/s) − Φ((a − c − k s²)/s)].
  The series converges for every s but needs more images as s / L grows; from s = L/2 the eigenfunction
  expansion of the same survival (Cox & Miller) is used instead, whose terms fall as e^{−n²π²s²/(2L²)}; about
  ten terms each way. When s > 3L the survival is below 1e-18, so the probability is 1.
  This is *not* the union bound: the union P_down + P_up double counts paths that touch both barriers; the
  exact probability is at most that sum.

Continuous monitoring: a path that dips through the barrier between two observations counts. Coverage observed
only at daily closes breaches less often than this probability says (see docs/breach-model-card.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import ndtr

from ccm._typing import FloatArray, IntArray
from ccm.analysis.breach_features import account_vol_daily, asset_exposures, dominant_asset
from ccm.errors import InputError
from ccm.risk.context import RiskContext
from ccm.risk.coverage import CoverageResult

Drift = Literal["zero", "martingale"]

#: s / L beyond which the survival in the strip is below 1e-18 (the probability is then 1).
STRIP_SATURATION = 3.0
#: Images kept: those within this many standard deviations of the strip.
IMAGE_SIGMAS = 12.0
#: s / L below which the image series is used, above which the eigenfunction series.
SERIES_SWITCH = 0.5
#: Eigenfunction terms kept until n²π²s²/(2L²) exceeds this (e^{−40} ≈ 4e-18).
EIGEN_DECAY = 40.0


def _check(distance_down: FloatArray, distance_up: FloatArray, vol: FloatArray, horizon_days: float) -> None:
    for name, values in (("distance_down", distance_down), ("distance_up", distance_up)):
        bad = values < 0
        if bad.any():
            k = int(np.flatnonzero(bad.reshape(-1))[0])
            raise InputError(f"{name} must be ≥ 0 (a relative move), got {values.reshape(-1)[k]}",
                             record=f"account row {k}", field=name)
    bad = ~(np.isfinite(vol) & (vol >= 0))
    if bad.any():
        k = int(np.flatnonzero(bad.reshape(-1))[0])
        raise InputError(f"volatility must be finite and ≥ 0, got {vol.reshape(-1)[k]}", record=f"account row {k}",
                         field="vol_daily")
    if not (np.isfinite(horizon_days) and horizon_days >= 0):
        raise InputError(f"horizon must be finite and ≥ 0 days, got {horizon_days}", field="horizon_days")


def _phi_difference(upper: FloatArray, lower: FloatArray) -> FloatArray:
    """Φ(upper) − Φ(lower) without cancellation when both lie far in the right tail."""
    right = lower > 0
    return np.where(right, ndtr(-lower) - ndtr(-upper), ndtr(upper) - ndtr(lower))


def one_barrier_probability(barrier: FloatArray, s: FloatArray, drift_total: FloatArray, k: float) -> FloatArray:
    """P(the log-move touches ``barrier`` (≠ 0, either sign) within the horizon), elementwise.

    ``s`` = σ√h (> 0), ``drift_total`` = μh, ``k`` = μ/σ². For a lower barrier a < 0:
    Φ((a − μh)/s) + e^{2ka} Φ((a + μh)/s); an upper barrier b > 0 is the lower barrier −b of −X (drift −μ).
    """
    sign = np.sign(barrier)
    depth = -np.abs(barrier)  # the barrier as a lower one: of X itself (a < 0) or of −X (b > 0, drift −μ)
    m = -sign * drift_total
    return ndtr((depth - m) / s) + np.exp(-2.0 * k * sign * depth) * ndtr((depth + m) / s)


def strip_survival_images(a: FloatArray, b: FloatArray, s: FloatArray, k: float) -> FloatArray:
    """P(a < X_t < b for every t ≤ h) for X a Brownian motion from 0 with sd ``s`` at h and k = μ/σ², by the
    method of images with Girsanov (module docstring); shapes (n,), a < 0 < b finite, s > 0. Fast when s ≪ b − a
    (the images needed grow with s / (b − a)); vectorised over accounts × images."""
    width = b - a
    n_images = int(np.ceil((IMAGE_SIGMAS * float(np.max(s / width, initial=0.0)) + 1.0) / 2.0)) + 1
    n = np.arange(-n_images, n_images + 1, dtype=float)[:, None]
    shift = k * s**2
    total = np.zeros(a.shape)
    for c, sign in ((2.0 * n * width, 1.0), (2.0 * b - 2.0 * n * width, -1.0)):
        mass = _phi_difference((b - c - shift) / s, (a - c - shift) / s)
        if k == 0.0:
            term = mass
        else:  # e^{kc} can overflow where the mass underflows: multiply in logs
            with np.errstate(over="ignore", invalid="ignore"):
                term = np.where(mass > 0, np.exp(k * c + np.log(np.where(mass > 0, mass, 1.0))), 0.0)
        total = total + sign * term.sum(axis=0)
    return np.clip(total, 0.0, 1.0)


def strip_survival_eigen(a: FloatArray, b: FloatArray, s: FloatArray, k: float) -> FloatArray:
    """The same survival by the eigenfunction expansion of the killed process (Cox & Miller 1965, §5.7), drift by
    Girsanov: with L = b − a and w_n = nπ/L,
    e^{ka − k²s²/2} (2/L) Σ_{n≥1} sin(w_n (−a)) e^{−w_n² s²/2} w_n (1 − (−1)^n e^{kL}) / (k² + w_n²).
    Fast when s is not small against L (the terms needed fall as L / s)."""
    width = b - a
    r_min = float(np.min(s / width, initial=np.inf))
    terms = int(np.ceil(np.sqrt(2.0 * EIGEN_DECAY) / (np.pi * r_min))) + 1
    n = np.arange(1, terms + 1, dtype=float)[:, None]
    w = n * np.pi / width
    series = np.sin(w * -a) * np.exp(-0.5 * (w * s) ** 2) * w * (1.0 - (-1.0) ** n * np.exp(k * width)) / (k**2 + w**2)
    return np.clip(np.exp(k * a - 0.5 * (k * s) ** 2) * (2.0 / width) * series.sum(axis=0), 0.0, 1.0)


def strip_survival(a: FloatArray, b: FloatArray, s: FloatArray, k: float) -> FloatArray:
    """Survival in the strip (a, b), shapes (n,): images where s < SERIES_SWITCH·(b − a), eigenfunctions elsewhere,
    so that each account needs about ten terms whatever its s / (b − a)."""
    near = s < SERIES_SWITCH * (b - a)
    out = np.empty(a.shape)
    if near.any():
        out[near] = strip_survival_images(a[near], b[near], s[near], k)
    if (~near).any():
        out[~near] = strip_survival_eigen(a[~near], b[~near], s[~near], k)
    return out


def analytic_breach_probability(
    distance_down: FloatArray,
    distance_up: FloatArray,
    vol_daily: FloatArray | float,
    horizon_days: float,
    *,
    drift: Drift = "zero",
) -> FloatArray:
    """Probability that each account's coverage falls below 1 within ``horizon_days``.

    Parameters
    ----------
    distance_down, distance_up : ndarray of shape (n,), the relative down / up move of the underlying prices at
        which coverage reaches 1 (``CoverageResult.distance_down/up``), fractions ≥ 0. NaN = no liquidation in
        that direction within the searched range (contributes nothing); 0 = already breached (probability 1);
        a down distance ≥ 1 can never be reached.
    vol_daily : ndarray of shape (n,) or a scalar, daily volatility of the log price (decimal: 0.03 = 3 %/day).
    horizon_days : horizon h in days (24 h = 1.0), ≥ 0.
    drift : "zero" (driftless log price, the default) or "martingale" (log drift −σ²/2, so the price itself is
        driftless).

    Returns
    -------
    ndarray of shape (n,), probabilities in [0, 1] (the exact two-sided first passage, not the union bound).
    """
    down = np.asarray(distance_down, dtype=float)
    up = np.asarray(distance_up, dtype=float)
    if down.shape != up.shape:
        raise InputError(f"distance_down {down.shape} and distance_up {up.shape} differ in shape",
                         field="distance_up")
    vol = np.broadcast_to(np.asarray(vol_daily, dtype=float), down.shape)
    horizon_days = float(horizon_days)
    _check(np.nan_to_num(down, nan=1.0), np.nan_to_num(up, nan=1.0), vol, horizon_days)
    if drift not in ("zero", "martingale"):
        raise InputError(f"unknown drift {drift!r}", field="drift", hint="zero or martingale")
    k = 0.0 if drift == "zero" else -0.5
    with np.errstate(divide="ignore"):
        a = np.where(np.isnan(down) | (down >= 1.0), -np.inf, np.log1p(-np.minimum(down, 1.0)))
        b = np.where(np.isnan(up), np.inf, np.log1p(up))
    s = vol * np.sqrt(horizon_days)
    touched = (a == 0.0) | (b == 0.0)
    has_a, has_b = np.isfinite(a), np.isfinite(b)
    live = ~touched & (s > 0) & (has_a | has_b)
    out = np.where(touched, 1.0, 0.0)

    one = live & (has_a != has_b)
    if one.any():
        sigma, sd = vol[one], s[one]
        out[one] = one_barrier_probability(np.where(has_a[one], a[one], b[one]), sd, k * sigma**2 * horizon_days, k)
    two = live & has_a & has_b
    if two.any():
        aa, bb, sd = a[two], b[two], s[two]
        saturated = sd > STRIP_SATURATION * (bb - aa)
        p = np.ones(aa.shape)
        keep = ~saturated
        if keep.any():
            p[keep] = 1.0 - strip_survival(aa[keep], bb[keep], sd[keep], k)
        out[two] = p
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountBreachResult:
    """Analytic breach probability per account, each array of shape (n_accounts,).

    probability : P(coverage < 1 within ``horizon_days``); dominant : index into the book's assets of the
    underlying whose volatility was used (−1: none); vol_daily : that volatility; distance_down, distance_up :
    the distances used (``CoverageResult``).
    """

    account_ids: np.ndarray
    probability: FloatArray
    dominant: IntArray
    vol_daily: FloatArray
    distance_down: FloatArray
    distance_up: FloatArray
    horizon_days: float
    drift: str


def account_breach_probability(ctx: RiskContext, result: CoverageResult, vol_daily_by_asset: FloatArray,
                               horizon_days: float, *, drift: Drift = "zero") -> AccountBreachResult:
    """The analytic probability for every account of ``ctx``, each with its dominant underlying's volatility.

    Parameters
    ----------
    ctx, result : the accounts' context and coverage with distances (``ccm.risk.metrics.evaluate``).
    vol_daily_by_asset : ndarray of shape (n_assets,) in ``ctx.book.assets`` order, daily vol (NaN for stables).
    """
    vols = np.asarray(vol_daily_by_asset, dtype=float)
    if vols.shape != (ctx.book.n_assets,):
        raise InputError(f"{vols.shape[0] if vols.ndim else 0} volatilities for {ctx.book.n_assets} assets",
                         field="vol_daily_by_asset")
    dominant = dominant_asset(asset_exposures(ctx), ctx.moving)
    vol = account_vol_daily(dominant, vols)
    probability = analytic_breach_probability(result.distance_down, result.distance_up, vol, horizon_days,
                                              drift=drift)
    return AccountBreachResult(account_ids=result.account_ids, probability=probability, dominant=dominant,
                               vol_daily=vol, distance_down=result.distance_down, distance_up=result.distance_up,
                               horizon_days=float(horizon_days), drift=drift)


__all__ = ["AccountBreachResult", "Drift", "account_breach_probability", "analytic_breach_probability",
           "one_barrier_probability", "strip_survival", "strip_survival_eigen", "strip_survival_images"]

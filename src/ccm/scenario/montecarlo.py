"""Monte Carlo scenarios: multivariate normal or Student-t log returns with a covariance estimated from a
price history (sample or EWMA), optionally volatility-filtered.

Model. Daily log returns x ~ N(0, Σ) or multivariate t with ν degrees of freedom whose *covariance* is Σ
(scale matrix Σ·(ν − 2)/ν, so ν > 2). Zero drift: stress horizons are days, where the mean is noise.
Horizon: one draw per path with covariance h·Σ (square-root-of-time scaling). For the normal this is exactly
the sum of h independent daily draws; for the t it keeps the daily fat tails at the horizon (a sum of h t draws
would be closer to normal), which is the conservative choice for stress. Scenario returns are simple returns
``exp(x) − 1``.

Vol filtering (``vol_filter=True``): Σ = D R D with R the sample correlation of the log returns and D the
latest EWMA volatilities (today's level of risk, the history's dependence; cf. OCC STANS, ccp.md §2.1).

Implied-vol shifts (``vol_beta`` = β ≥ 0): ``vol_shift = −β × price return`` per asset and path (vols rise
when prices fall, the leverage effect; β = 0 leaves vols unchanged), floored at −0.9.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ccm._typing import FloatArray
from ccm.errors import InputError
from ccm.scenario.base import ScenarioSet
from ccm.scenario.ewma_filter import DEFAULT_LAMBDA, ewma_covariance, ewma_variance, log_returns

#: Floor of the vol shift from ``vol_beta`` (vols never fall by more than 90%).
MIN_VOL_SHIFT = -0.9


def estimate_covariance(prices: FloatArray, *, method: str = "ewma", ewma_lambda: float = DEFAULT_LAMBDA,
                        vol_filter: bool = False) -> FloatArray:
    """Daily log-return covariance from a price history.

    Parameters
    ----------
    prices : ndarray of shape (n_times, n_assets), all > 0, n_times ≥ 3.
    method : "sample" (``numpy.cov``, ddof = 1, demeaned) or "ewma" (RiskMetrics, zero mean, decay
        ``ewma_lambda``; see :mod:`ccm.scenario.ewma_filter`).
    vol_filter : replace the volatilities by the latest EWMA ones, keeping the sample correlation.

    Returns
    -------
    ndarray of shape (n_assets, n_assets).
    """
    x = log_returns(prices)
    if len(x) < 2:
        raise InputError("need at least 3 prices to estimate a covariance", record="price history")
    if method == "sample":
        cov = np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
    elif method == "ewma":
        cov = ewma_covariance(x, ewma_lambda)
    else:
        raise InputError(f"unknown covariance method {method!r}", record="model", field="covariance",
                         hint="use 'sample' or 'ewma'")
    if vol_filter:
        sample = np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
        sd = np.sqrt(np.diag(sample))
        safe = np.where(sd > 0, sd, 1.0)
        corr = sample / np.outer(safe, safe)
        np.fill_diagonal(corr, 1.0)
        vol = np.sqrt(ewma_variance(x, ewma_lambda)[-1])
        cov = corr * np.outer(vol, vol)
    return cov


def _factor(cov: FloatArray) -> FloatArray:
    """A matrix L with L Lᵀ = cov (symmetric square root; tolerates singular, e.g. pegged, assets)."""
    w, v = np.linalg.eigh((cov + cov.T) / 2.0)
    if w.min(initial=0.0) < -1e-10 * max(w.max(initial=0.0), 1e-300):
        raise InputError("covariance is not positive semi-definite", record="model", field="covariance")
    return v * np.sqrt(np.clip(w, 0.0, None))


def monte_carlo(
    assets: Sequence[str],
    covariance: FloatArray,
    *,
    paths: int,
    rng: np.random.Generator,
    horizon_days: float = 1.0,
    distribution: str = "normal",
    dof: float = 5.0,
    vol_beta: float = 0.0,
) -> ScenarioSet:
    """Simulate ``paths`` scenarios of h-day returns (kind "montecarlo", names ``"mc-0"`` …).

    Parameters
    ----------
    assets : the n_assets column names.
    covariance : ndarray of shape (n_assets, n_assets), daily log-return covariance Σ.
    paths : number of scenarios.
    rng : the random generator.
    horizon_days : h; the draws have covariance h·Σ.
    distribution : "normal" or "t" (multivariate Student-t with covariance h·Σ).
    dof : ν of the t, > 2.
    vol_beta : β of the vol-shift model ``vol_shift = −β × price return`` (0 = none).

    Returns
    -------
    ScenarioSet with ``paths`` scenarios; price returns ``exp(x) − 1``.
    """
    assets = tuple(assets)
    cov = np.asarray(covariance, dtype=float)
    if cov.shape != (len(assets), len(assets)) or not np.isfinite(cov).all():
        raise InputError(f"covariance has shape {cov.shape}, expected {(len(assets), len(assets))}, finite",
                         record="model", field="covariance")
    if int(paths) < 1:
        raise InputError("paths must be ≥ 1", record="model", field="paths")
    if horizon_days <= 0:
        raise InputError("horizon_days must be > 0", record="model", field="horizon_days")
    paths = int(paths)
    factor = _factor(cov * horizon_days)
    z = rng.standard_normal((paths, len(assets))) @ factor.T
    if distribution == "t":
        if not dof > 2:
            raise InputError(f"Student-t degrees of freedom must be > 2 for a finite covariance, got {dof}",
                             record="model", field="dof")
        # scale matrix Σ(ν−2)/ν and a χ²_ν mixing variable: x = √((ν−2)/ν) · z · √(ν/W) = z · √((ν−2)/W)
        w = rng.chisquare(dof, size=(paths, 1))
        x = z * np.sqrt((dof - 2.0) / w)
    elif distribution == "normal":
        x = z
    else:
        raise InputError(f"unknown distribution {distribution!r}", record="model", field="distribution",
                         hint="use 'normal' or 't'")
    returns = np.expm1(x)
    vols = np.maximum(-vol_beta * returns, MIN_VOL_SHIFT) if vol_beta else None
    return ScenarioSet(assets=assets, names=tuple(f"mc-{k}" for k in range(paths)), price_returns=returns,
                       vol_shifts=vols, kind="montecarlo")


def monte_carlo_from_prices(
    prices: FloatArray,
    assets: Sequence[str],
    *,
    paths: int,
    rng: np.random.Generator,
    horizon_days: float = 1.0,
    covariance: str = "ewma",
    ewma_lambda: float = DEFAULT_LAMBDA,
    vol_filter: bool = False,
    distribution: str = "normal",
    dof: float = 5.0,
    vol_beta: float = 0.0,
) -> ScenarioSet:
    """:func:`estimate_covariance` from ``prices`` (n_times, n_assets), then :func:`monte_carlo`."""
    cov = estimate_covariance(prices, method=covariance, ewma_lambda=ewma_lambda, vol_filter=vol_filter)
    return monte_carlo(assets, cov, paths=paths, rng=rng, horizon_days=horizon_days, distribution=distribution,
                       dof=dof, vol_beta=vol_beta)

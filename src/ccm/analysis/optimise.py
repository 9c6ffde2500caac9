"""Proactive recommendations for a book: margin add-ons, collateral swaps and haircut proposals in one call.

* add-ons (``analysis.optimise_addon``): per account, the stablecoin collateral that brings the probability of
  reaching coverage 1 within the horizon under the target;
* swaps (``analysis.optimise_collateral``): for the accounts left uncovered by the stress scenarios, the
  collateral swaps that maximise their worst stressed adjusted equity;
* haircuts (``analysis.optimise_haircut``): per collateral asset with a volatility forecast, the configured
  haircut formula re-evaluated with that forecast, at the largest balance of the asset in the book.

Volatilities are daily decimals here; the one-factor vol of each account is that of its dominant underlying
(largest gross exposure, ``ccm.analysis.breach_features``, as ``ccm breach`` does), and an asset without a
forecast falls back to its configured annualised ``volatility`` ÷ √365.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ccm._typing import FloatArray
from ccm.analysis.breach_features import account_vol_daily, asset_exposures, dominant_asset
from ccm.analysis.optimise_addon import AddonResult, ProbabilityFunction, margin_addons
from ccm.analysis.optimise_collateral import SwapResult, optimise_collateral
from ccm.analysis.optimise_haircut import DAYS_PER_YEAR, HaircutResult, propose_haircuts
from ccm.errors import InputError
from ccm.risk.context import LENDING_CODE, RiskContext
from ccm.scenario.base import ScenarioSet
from ccm.stress.run import run_stress


@dataclass(frozen=True, slots=True, kw_only=True)
class RecommendResult:
    """Everything ``ccm recommend`` reports; ``asset_vol_daily`` (n_assets,) is the vol each asset was given."""

    addons: AddonResult
    swaps: SwapResult
    haircuts: HaircutResult
    scenario_names: tuple[str, ...]
    asset_vol_daily: FloatArray


def asset_vols(ctx: RiskContext, forecast_vol_daily: FloatArray) -> FloatArray:
    """Daily vol per book asset: the forecast (NaN = none), else the configured volatility ÷ √365; stablecoins
    without either get 0. A non-stable asset with neither raises :class:`InputError`."""
    out = np.asarray(forecast_vol_daily, dtype=float).copy()
    for k, asset in enumerate(ctx.book.assets):  # the few assets
        if np.isfinite(out[k]):
            continue
        configured = ctx.config.asset(asset).volatility
        if configured is not None:
            out[k] = configured / np.sqrt(DAYS_PER_YEAR)
        elif not ctx.moving[k]:
            out[k] = 0.0
        else:
            raise InputError(f"no volatility for {asset}: no price history and no configured volatility",
                             record="--prices", field=asset,
                             hint=f"pass --prices {asset}=FILE or set assets.{asset}.volatility in the config")
    return out


def largest_balance_usd(ctx: RiskContext) -> FloatArray:
    """Largest positive balance value (USD) of each asset over the book's accounts, (n_assets,)."""
    bal = ctx.book.balances
    values = bal.data * ctx.market.asset_prices[bal.indices]
    out = np.zeros(len(ctx.book.assets))
    np.maximum.at(out, bal.indices, np.maximum(values, 0.0))
    return out


def swap_candidates(ctx: RiskContext, scenarios: ScenarioSet, *, below: float, limit: int) -> np.ndarray:
    """Rows of the non-lending accounts whose worst stressed coverage is below ``below``, worst first, at most
    ``limit`` (stress run of ``ccm.stress.run``, streamed in chunks of scenarios)."""
    stressed = run_stress(ctx, scenarios, top_accounts=0)
    coverage = stressed.worst_coverage
    has_collateral = np.diff(ctx.book.balances.indptr) > 0
    rows = np.flatnonzero((coverage < below) & has_collateral & (ctx.model_code != LENDING_CODE))
    return rows[np.argsort(coverage[rows], kind="stable")][:limit]


def recommend(ctx: RiskContext, *, forecast_vol_daily: FloatArray, target_probability: float,
              horizon_days: float, scenarios: ScenarioSet, swap_cost_bp: float | FloatArray = 10.0,
              stressed_below: float = 1.0, max_swap_accounts: int = 100, addon_asset: str = "USDC",
              probability: ProbabilityFunction | None = None) -> RecommendResult:
    """Add-ons, swaps and haircut proposals for the book of ``ctx``.

    Parameters
    ----------
    forecast_vol_daily : (n_assets,) forecast daily vol per book asset, NaN where there is none.
    target_probability, horizon_days : the add-on target P(coverage < 1 within the horizon) ≤ p.
    scenarios : stress scenarios of the swap optimisation (any assets; realigned to the book's).
    swap_cost_bp : swap cost in basis points, one figure or (n_assets, n_assets).
    stressed_below, max_swap_accounts : swaps are sought for at most this many accounts whose worst stressed
        coverage is below ``stressed_below``, worst first.
    """
    if max_swap_accounts < 0:
        raise InputError(f"max swap accounts must be ≥ 0, got {max_swap_accounts}", record="--max-swap-accounts")
    vols = asset_vols(ctx, forecast_vol_daily)
    account_vol = account_vol_daily(dominant_asset(asset_exposures(ctx), ctx.moving), vols)
    addons = margin_addons(ctx, account_vol, target_probability=target_probability,
                           horizon_days=horizon_days, asset=addon_asset, probability=probability)
    aligned = scenarios.for_assets(ctx.book.assets, stable=ctx.haircuts.stable)
    rows = swap_candidates(ctx, aligned, below=stressed_below, limit=max_swap_accounts)
    swaps = optimise_collateral(ctx, aligned, rows, cost_bp=swap_cost_bp)
    forecast = np.asarray(forecast_vol_daily, dtype=float) * np.sqrt(DAYS_PER_YEAR)
    haircuts = propose_haircuts(ctx.book.assets, ctx.config, forecast, largest_balance_usd(ctx))
    return RecommendResult(addons=addons, swaps=swaps, haircuts=haircuts, scenario_names=aligned.names,
                           asset_vol_daily=vols)

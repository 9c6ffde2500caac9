"""Backing ratios of an issuer (exchange, stablecoin, synth issuer) and Synthetix-style staker c-ratios.

Per asset a, with quantities L_a (liabilities: what customers or holders are owed) and R_a (reserves held),
USD prices p_a and haircut value h(·) from the risk config's asset haircuts (``ccm.risk.haircut``: static or
volatility haircut, liquidity add-on, value tiers)::

    reserve_ratio_a         = R_a · p_a ÷ (L_a · p_a)                (= R_a ÷ L_a)
    haircut_reserve_ratio_a = h(R_a, p_a) ÷ (L_a · p_a)
    total ratios            = Σ_a reserves (or haircut reserves) USD ÷ Σ_a L_a · p_a

(reference/defi.md §3.1; DESIGN §2 ``backing_ratio``). A ratio with zero liabilities is +inf (unbounded).
Under a :class:`~ccm.scenario.ScenarioSet` prices become p·(1 + return) and haircuts are re-evaluated with the
scenario's haircut and liquidity multipliers, all scenarios at once on (S, n_assets) arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ccm._typing import FloatArray
from ccm.division import guarded_ratio
from ccm.risk.haircut import HaircutTable, haircut_values
from ccm.scenario.base import ScenarioSet


@dataclass(frozen=True, slots=True, kw_only=True)
class BackingResult:
    """Backing per asset and in total; arrays have shape (n_assets,), or (S, n_assets) / (S,) under scenarios.

    Attributes
    ----------
    assets : the n_assets names.
    liabilities, reserves : quantities in asset units, shape (n_assets,).
    prices : USD prices, (n_assets,) or (S, n_assets).
    liabilities_usd, reserves_usd, haircut_reserves_usd : USD values.
    reserve_ratio, haircut_reserve_ratio : per asset; +inf where liabilities are 0.
    total_liabilities_usd, total_reserves_usd, total_haircut_reserves_usd : sums over assets (scalar or (S,)).
    total_reserve_ratio, total_haircut_reserve_ratio : total ratios (scalar or (S,)).
    """

    assets: tuple[str, ...]
    liabilities: FloatArray
    reserves: FloatArray
    prices: FloatArray
    liabilities_usd: FloatArray
    reserves_usd: FloatArray
    haircut_reserves_usd: FloatArray
    reserve_ratio: FloatArray
    haircut_reserve_ratio: FloatArray
    total_liabilities_usd: FloatArray
    total_reserves_usd: FloatArray
    total_haircut_reserves_usd: FloatArray
    total_reserve_ratio: FloatArray
    total_haircut_reserve_ratio: FloatArray


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioBackingResult:
    """Backing in every scenario and where it is worst.

    Attributes
    ----------
    names : the S scenario names.
    backing : :class:`BackingResult` with (S, n_assets) and (S,) arrays.
    worst_asset : int array (n_assets,), per asset the scenario with the lowest haircut reserve ratio.
    worst_total : index of the scenario with the lowest total haircut reserve ratio.
    """

    names: tuple[str, ...]
    backing: BackingResult
    worst_asset: np.ndarray
    worst_total: int


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    return guarded_ratio(numerator, denominator, otherwise=np.inf)  # no liabilities: unbounded


def backing_ratios(
    assets: tuple[str, ...],
    liabilities: FloatArray,
    reserves: FloatArray,
    prices: FloatArray,
    haircuts: HaircutTable,
    *,
    haircut_multiplier: FloatArray | None = None,
    liquidity_multiplier: FloatArray | None = None,
) -> BackingResult:
    """Reserve and haircut reserve ratios per asset and in total.

    Parameters
    ----------
    assets : the n_assets names; ``haircuts`` is compiled for them (``compile_haircuts(assets, config)``).
    liabilities, reserves : ndarray (n_assets,), quantities ≥ 0 in asset units.
    prices : ndarray (n_assets,) or (S, n_assets), USD.
    haircut_multiplier, liquidity_multiplier : optional, broadcasting with ``prices`` (stress multipliers).
    """
    liabilities = np.asarray(liabilities, dtype=float)
    reserves = np.asarray(reserves, dtype=float)
    prices = np.asarray(prices, dtype=float)
    index = np.arange(len(assets))
    liabilities_usd = liabilities * prices
    reserves_usd = reserves * prices
    haircut_usd = haircut_values(reserves, prices, index, haircuts, haircut_multiplier=haircut_multiplier,
                                 liquidity_multiplier=liquidity_multiplier)
    total_l, total_r, total_h = (x.sum(axis=-1) for x in (liabilities_usd, reserves_usd, haircut_usd))
    return BackingResult(
        assets=tuple(assets), liabilities=liabilities, reserves=reserves, prices=prices,
        liabilities_usd=liabilities_usd, reserves_usd=reserves_usd, haircut_reserves_usd=haircut_usd,
        reserve_ratio=_ratio(reserves_usd, liabilities_usd), haircut_reserve_ratio=_ratio(haircut_usd, liabilities_usd),
        total_liabilities_usd=total_l, total_reserves_usd=total_r, total_haircut_reserves_usd=total_h,
        total_reserve_ratio=_ratio(total_r, total_l), total_haircut_reserve_ratio=_ratio(total_h, total_l),
    )


def backing_under_scenarios(
    assets: tuple[str, ...],
    liabilities: FloatArray,
    reserves: FloatArray,
    prices: FloatArray,
    haircuts: HaircutTable,
    scenarios: ScenarioSet,
    *,
    proxy: str | None = "BTC",
) -> ScenarioBackingResult:
    """Backing ratios in each scenario (prices × (1 + return), haircuts × multiplier, volume × multiplier).

    The scenarios are realigned on ``assets`` first (``ScenarioSet.for_assets``: a stablecoin the set does not
    name stays put, another missing asset follows ``proxy``).
    """
    aligned = scenarios.for_assets(assets, haircuts.stable, proxy=proxy)
    scenario_prices = np.asarray(prices, dtype=float)[None, :] * (1.0 + aligned.price_returns)
    backing = backing_ratios(assets, liabilities, reserves, scenario_prices, haircuts,
                             haircut_multiplier=aligned.haircut_multipliers,
                             liquidity_multiplier=aligned.liquidity_multipliers)
    if len(aligned) == 0:
        return ScenarioBackingResult(names=(), backing=backing, worst_asset=np.zeros(len(assets), dtype=np.int64),
                                     worst_total=-1)
    return ScenarioBackingResult(
        names=aligned.names, backing=backing,
        worst_asset=np.argmin(backing.haircut_reserve_ratio, axis=0),
        worst_total=int(np.argmin(backing.total_haircut_reserve_ratio)),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class StakerResult:
    """Synthetix-style staking position(s); arrays broadcast to the inputs' shape, e.g. (n_stakers,) or
    (S, n_stakers).

    Attributes
    ----------
    debt_usd : debt share × total system debt.
    c_ratio : collateral value ÷ debt (+inf without debt); the displayed "c-ratio" (3.0 = 300%).
    flagged : debt ÷ collateral ≥ liquidation ratio (c-ratio ≤ 1 ÷ liquidation ratio).
    max_issuable_usd : collateral × issuance ratio (the debt allowed at the target c-ratio).
    issuable_usd : max(0, max issuable − debt): what may still be minted.
    burn_to_target_usd : max(0, debt − max issuable): debt to burn to return to the target c-ratio.
    liquidation_usd : for flagged stakers, the debt liquidated to restore the target with the penalty P,
        S = (D − V·r) ÷ (1 − (1 + P)·r) capped at D; 0 when not flagged.
    """

    debt_usd: FloatArray
    c_ratio: FloatArray
    flagged: np.ndarray
    max_issuable_usd: FloatArray
    issuable_usd: FloatArray
    burn_to_target_usd: FloatArray
    liquidation_usd: FloatArray


def staker_c_ratio(
    collateral_usd: FloatArray,
    debt_share: FloatArray,
    total_debt_usd: float | FloatArray,
    *,
    target_c_ratio: float = 3.0,
    liquidation_ratio: float = 1.0 / 1.5,
    liquidation_penalty: float = 0.3,
) -> StakerResult:
    """Synthetix v2 staking c-ratios (reference/defi.md §2.5).

    Parameters
    ----------
    collateral_usd : collateral value (SNX + escrow, USD), any shape; scenario values broadcast, e.g. (S, n).
    debt_share : each staker's share of the system debt (0–1), broadcasting with ``collateral_usd``.
    total_debt_usd : total system debt in USD (scalar or broadcasting, e.g. (S, 1)).
    target_c_ratio : the issuance target; issuance ratio r = 1 ÷ target (default 300%, r = 1/3).
    liquidation_ratio : debt ÷ collateral at which a staker is flagged (mainnet 0.6667 = c-ratio 150%).
    liquidation_penalty : P, the penalty paid from collateral on liquidated debt (default 30%).
    """
    if target_c_ratio <= 1.0 / liquidation_ratio or liquidation_ratio <= 0:
        raise ValueError("the target c-ratio must exceed the liquidation c-ratio (1 ÷ liquidation ratio)")
    r = 1.0 / target_c_ratio
    if (1.0 + liquidation_penalty) * r >= 1.0:
        raise ValueError("(1 + penalty) ÷ target c-ratio must be < 1, else liquidation cannot restore the target")
    collateral = np.asarray(collateral_usd, dtype=float)
    debt = np.asarray(debt_share, dtype=float) * np.asarray(total_debt_usd, dtype=float)
    collateral, debt = np.broadcast_arrays(collateral, debt)
    c_ratio = _ratio(collateral, debt)
    flagged = (debt > 0) & (debt >= liquidation_ratio * collateral)
    max_issuable = collateral * r
    to_liquidate = np.minimum(debt, (debt - collateral * r) / (1.0 - (1.0 + liquidation_penalty) * r))
    return StakerResult(
        debt_usd=debt, c_ratio=c_ratio, flagged=flagged, max_issuable_usd=max_issuable,
        issuable_usd=np.maximum(0.0, max_issuable - debt), burn_to_target_usd=np.maximum(0.0, debt - max_issuable),
        liquidation_usd=np.where(flagged, np.maximum(0.0, to_liquidate), 0.0),
    )

"""Collateral haircuts: static, tiered by value, volatility-based and a liquidity (size) add-on.

For a positive balance of USD value ``v`` of asset a:

    h_base = max(haircut_a, z · σ_a · √(liquidation_days_a / 365))          # static vs. volatility
    h_liq  = Y_a · (σ_a / √365) · √(v / ADV_a)                               # square-root impact
    h      = min(1, h_base + h_liq)
    value  = v · (1 − h) · T_a(v) / v,   T_a(v) = Σ_k rate_k · |[lower_k, upper_k] ∩ [0, v]|

(T is the value-weighted tier ladder, Binance/Bybit style; no tiers means T(v) = v.) Negative balances
(borrowings) count at full value. All functions work on the stored entries of a balances matrix, so
haircuts are re-evaluated whenever prices move, which is how collateral that falls together with the
exposure (wrong-way risk) is caught.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ccm._typing import FloatArray, IntArray
from ccm.book.book import row_sums
from ccm.risk.config import AssetRisk, RiskConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class HaircutTable:
    """Per-asset haircut parameters as arrays of shape (n_assets,) or (n_assets, n_tiers)."""

    base: FloatArray
    liquidity_scale: FloatArray  # Y·σ_daily/√ADV, 0 when off
    tier_upper: FloatArray  # (n_assets, n_tiers), +inf padded
    tier_rate: FloatArray  # (n_assets, n_tiers), 1.0 padded
    has_tiers: np.ndarray  # bool (n_assets,)
    stable: np.ndarray  # bool (n_assets,)


@dataclass(frozen=True, slots=True, kw_only=True)
class HaircutBreakdown:
    """The parts of one asset's haircut (decimals).

    static : the configured ``haircut``.
    volatility : z·σ·√(liquidation_days/365); 0 when the asset has no volatility.
    base : min(1, max(static, volatility)): the haircut before the size add-on and the tiers.
    liquidity_scale : Y·σ_daily/√ADV; a balance worth v USD gets the add-on liquidity_scale·√v (0 when off).
    """

    static: float
    volatility: float
    base: float
    liquidity_scale: float


def haircut_breakdown(setting: AssetRisk, confidence_z: float) -> HaircutBreakdown:
    """The static, volatility and liquidity parts of ``setting``'s haircut (the module docstring's formula)."""
    vol_h = 0.0
    if setting.volatility is not None:
        vol_h = float(confidence_z * setting.volatility * np.sqrt(setting.liquidation_days / 365.0))
    liq = 0.0
    if setting.adv_usd and setting.volatility is not None:
        liq = float(setting.impact_coefficient * setting.volatility / np.sqrt(365.0) / np.sqrt(setting.adv_usd))
    return HaircutBreakdown(static=setting.haircut, volatility=vol_h, base=min(1.0, max(setting.haircut, vol_h)),
                            liquidity_scale=liq)


def compile_haircuts(assets: tuple[str, ...], config: RiskConfig) -> HaircutTable:
    """Turn the per-asset config into arrays aligned with ``assets``.

    Tier ladders get one extra tail column: value above the last finite bound counts at rate 0
    (Bybit's "> 50 BTC: 0"); a ladder whose last bound is infinite has no tail.
    """
    n = len(assets)
    settings = [config.asset(a) for a in assets]
    base = np.zeros(n)
    liq = np.zeros(n)
    n_cols = max([len(s.tiers) for s in settings] + [0]) + 1
    upper = np.full((n, n_cols), np.inf)
    rate = np.zeros((n, n_cols))
    rate[:, 0] = 1.0  # no tiers: the whole value at rate 1
    has_tiers = np.zeros(n, dtype=bool)
    for k, s in enumerate(settings):
        parts = haircut_breakdown(s, config.haircut_confidence_z)
        base[k], liq[k] = parts.base, parts.liquidity_scale
        if s.tiers:
            has_tiers[k] = True
            upper[k, : len(s.tiers)] = [t.up_to_usd for t in s.tiers]
            rate[k, : len(s.tiers)] = [t.rate for t in s.tiers]
    return HaircutTable(
        base=base,
        liquidity_scale=liq,
        tier_upper=upper,
        tier_rate=rate,
        has_tiers=has_tiers,
        stable=np.array([s.stable for s in settings], dtype=bool),
    )


def tiered_value(value: FloatArray, asset: IntArray, table: HaircutTable) -> FloatArray:
    """Σ_k rate_k × overlap of [0, value] with tier k, shape of ``value`` (value ≥ 0)."""
    upper = table.tier_upper[asset]  # (..., n_tiers)
    lower = np.concatenate([np.zeros(upper.shape[:-1] + (1,)), upper[..., :-1]], axis=-1)
    with np.errstate(invalid="ignore"):  # ∞ − ∞ in the padding after an open-ended last tier
        overlap = np.clip(value[..., None] - lower, 0.0, None)
        overlap = np.minimum(overlap, upper - lower)
    overlap = np.where(np.isfinite(overlap), overlap, 0.0)
    return np.sum(table.tier_rate[asset] * overlap, axis=-1)


def haircut_values(
    quantity: FloatArray,
    price: FloatArray,
    asset: IntArray,
    table: HaircutTable,
    *,
    haircut_multiplier: FloatArray | None = None,
    liquidity_multiplier: FloatArray | None = None,
) -> FloatArray:
    """USD value after haircut of each balance; arrays broadcast (e.g. (S, nnz) prices).

    Parameters
    ----------
    quantity : balances in asset units (negative = borrowed, counted at full value).
    price : USD prices of the balances' assets.
    asset : asset index of each balance (into the table's arrays).
    haircut_multiplier : optional factor on the base haircut (stress: haircuts × k), broadcasting.
    liquidity_multiplier : optional factor on average daily volume (stress: ADV ÷ k is 1/k), broadcasting.
    """
    value = quantity * price
    positive = value > 0
    v = np.where(positive, value, 0.0)
    base = table.base[asset] if haircut_multiplier is None else table.base[asset] * haircut_multiplier
    liquidity = table.liquidity_scale[asset]
    if liquidity_multiplier is not None:
        liquidity = liquidity / np.sqrt(liquidity_multiplier)
    h = np.minimum(1.0, base + liquidity * np.sqrt(v))
    after = v * (1.0 - h)
    tiers = np.broadcast_to(table.has_tiers[asset], v.shape)
    if np.any(tiers):
        # Below its first bound a ladder is one flat rate; the full ladder (a (…, n_tiers) intermediate) is
        # evaluated only for the balances above it — rare, and the costly part in stress runs.
        asset_b = np.broadcast_to(asset, v.shape)
        ratio = np.where(tiers, table.tier_rate[asset_b, 0], 1.0)
        deep = tiers & (v > table.tier_upper[asset_b, 0])
        if np.any(deep):
            v_d = v[deep]
            ratio[deep] = tiered_value(v_d, asset_b[deep], table) / v_d
        after = after * ratio
    return np.where(positive, after, value)


def collateral_values(
    balances: sp.csr_matrix,
    asset_prices: FloatArray,
    table: HaircutTable,
    *,
    price_multiplier: FloatArray | None = None,
    haircut_rows: np.ndarray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Raw and haircut collateral value per account.

    Parameters
    ----------
    balances : csr_matrix (n_accounts, n_assets).
    asset_prices : ndarray (n_assets,), USD.
    price_multiplier : optional ndarray (nnz,) or (B, nnz) aligned with ``balances.data`` (moves).
    haircut_rows : optional bool (n_accounts,); rows where it is False are valued without haircut.

    Returns
    -------
    (raw, after_haircut) : two ndarrays of shape (n_accounts,), or (B, n_accounts) with B moves.
    """
    cols = balances.indices
    price = asset_prices[cols]
    if price_multiplier is not None:
        price = price * price_multiplier
    raw = balances.data * price
    cut = haircut_values(balances.data, price, cols, table)
    if haircut_rows is not None:
        rows = np.repeat(np.arange(balances.shape[0]), np.diff(balances.indptr))
        cut = np.where(haircut_rows[rows], cut, raw)
    return row_sums(raw, balances.indptr), row_sums(cut, balances.indptr)


def collateral_values_scenarios(
    balances: sp.csr_matrix,
    scenario_prices: FloatArray,
    table: HaircutTable,
    *,
    haircut_multiplier: FloatArray | None = None,
    liquidity_multiplier: FloatArray | None = None,
    haircut_rows: np.ndarray | None = None,
) -> FloatArray:
    """Haircut collateral value per account in each scenario, shape (n_scenarios, n_accounts).

    ``scenario_prices`` and the optional multipliers have shape (n_scenarios, n_assets); haircuts are
    re-evaluated per scenario. Rows where ``haircut_rows`` is False are valued without haircut.
    """
    cols = balances.indices
    cut = haircut_values(
        balances.data[None, :], scenario_prices[:, cols], cols[None, :], table,
        haircut_multiplier=None if haircut_multiplier is None else haircut_multiplier[:, cols],
        liquidity_multiplier=None if liquidity_multiplier is None else liquidity_multiplier[:, cols],
    )
    if haircut_rows is not None:
        rows = np.repeat(np.arange(balances.shape[0]), np.diff(balances.indptr))
        cut = np.where(haircut_rows[rows][None, :], cut, balances.data[None, :] * scenario_prices[:, cols])
    nnz = cols.shape[0]
    aggregate = sp.csr_matrix((np.ones(nnz), np.arange(nnz), balances.indptr), shape=(balances.shape[0], nnz))
    return np.asarray(aggregate @ cut.T).T

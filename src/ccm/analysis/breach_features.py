"""What the breach models see of an account: exposures per underlying, the volatility that drives it, and the
feature matrix of the learned model (numpy only, no I/O).

Exposure per (account, asset), USD, at the context's market:

* ``net_delta`` = ∂(equity)/∂(relative price move), first order, split by asset: positions' underlying leg
  (linear: q × Δ × F; inverse: q × coin delta × the coin's price), the USD value of coin-settled positions
  (it moves with its settlement coin) and balance × price for non-stable collateral (and borrowings);
* ``gamma`` = Σ q × ½ Γ F² (settlement units converted to USD): the second-order coefficient, P&L ≈
  delta·r + gamma·r² for a relative move r;
* ``vega`` = Σ q × vega (USD per 1.00 of implied vol);
* ``gross`` = Σ |notional| (delta-one: |underlying-leg delta|; options: |q| × spot, one coin per contract)
  + |balance| × price for non-stable assets.

The *dominant* underlying of an account is the non-stable asset with the largest gross exposure; its
volatility is the one the analytic model uses (the distance to liquidation is a uniform move of all
non-stable prices, so one volatility has to stand for them; for a single-asset account it is exact, for a
BTC/ETH mix it is the larger leg's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ccm._typing import FloatArray, IntArray
from ccm.book.book import row_of_nonzeros
from ccm.division import guarded_ratio
from ccm.pricing.contracts import option_greeks
from ccm.risk.context import RiskContext
from ccm.risk.coverage import CoverageResult

#: Clip bounds of ratio features (a ratio to a tiny equity would otherwise dominate the trees' bins).
RATIO_CLIP = 1_000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetExposure:
    """USD exposures per account and asset, each of shape (n_accounts, n_assets) (module docstring)."""

    net_delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    gross: FloatArray
    option_gross: FloatArray


def _per_asset(rows: IntArray, assets: IntArray, values: FloatArray, n_accounts: int, n_assets: int) -> FloatArray:
    flat = np.bincount(rows * n_assets + assets, weights=values, minlength=n_accounts * n_assets)
    return flat.reshape(n_accounts, n_assets)


def asset_exposures(ctx: RiskContext) -> AssetExposure:
    """Exposures per (account, asset) at the context's market, vectorised over stored positions."""
    book, mkt = ctx.book, ctx.market
    n, k = book.n_accounts, book.n_assets
    cols = book.positions.indices
    q = book.positions.data
    ins = book.instruments
    under = ins.underlying[cols]
    spot = mkt.spot[cols]
    is_option = ins.is_option[cols]
    to_usd = mkt.settle_price[cols]
    inverse = ins.inverse[cols]
    settle_asset = ins.settlement_asset[cols]
    # Underlying leg: ∂(position value)/∂(relative move of F): q·Δ·F for linear (Δ in coins), q·unit delta (coins
    # per relative move) × the coin's price for inverse. Settlement leg: a coin-settled position's USD value moves
    # with its coin's price.
    delta = q * mkt.unit_delta[cols] * np.where(inverse, 1.0, mkt.forward[cols]) * to_usd
    settled_usd = (q * mkt.unit_value[cols] + ctx.entry_total) * to_usd * ctx.moving[settle_asset]
    greeks = option_greeks(mkt.forward[cols], strike=np.where(is_option, ins.strike[cols], 1.0), tau=mkt.tau[cols],
                           vol=np.where(is_option, mkt.vol[cols], 0.0), is_call=ins.is_call[cols],
                           inverse=inverse)
    gamma = np.where(is_option, q * 0.5 * greeks["gamma"] * mkt.forward[cols] ** 2 * to_usd, 0.0)
    vega = np.where(is_option, q * greeks["vega"] * to_usd, 0.0)
    notional = np.where(is_option, np.abs(q) * spot, np.abs(delta))
    rows = ctx.position_row
    bal = book.balances
    b_rows = row_of_nonzeros(bal)
    b_value = bal.data * mkt.asset_prices[bal.indices] * ctx.moving[bal.indices]
    return AssetExposure(
        net_delta=(_per_asset(rows, under, delta, n, k) + _per_asset(rows, settle_asset, settled_usd, n, k)
                   + _per_asset(b_rows, bal.indices, b_value, n, k)),
        gamma=_per_asset(rows, under, gamma, n, k),
        vega=_per_asset(rows, under, vega, n, k),
        gross=_per_asset(rows, under, notional, n, k) + _per_asset(b_rows, bal.indices, np.abs(b_value), n, k),
        option_gross=_per_asset(rows, under, np.where(is_option, notional, 0.0), n, k),
    )


def dominant_asset(exposure: AssetExposure, moving: np.ndarray) -> IntArray:
    """Index (into the book's assets) of each account's largest gross non-stable exposure, shape (n_accounts,);
    −1 for an account with none."""
    gross = np.where(moving[None, :], exposure.gross, 0.0)
    best = np.argmax(gross, axis=1)
    return np.where(gross[np.arange(gross.shape[0]), best] > 0, best, -1)


def account_vol_daily(dominant: IntArray, vol_daily_by_asset: FloatArray) -> FloatArray:
    """Daily volatility of each account's dominant asset, shape (n_accounts,); accounts without one (−1) get the
    largest of the assets' volatilities (they can only breach through borrowings or stable depegs, which
    the distance search does not move, so their distance is NaN and the volatility does not matter)."""
    vols = np.asarray(vol_daily_by_asset, dtype=float)
    fallback = float(np.nanmax(vols)) if np.isfinite(vols).any() else 0.0
    return np.where(dominant >= 0, vols[np.maximum(dominant, 0)], fallback)


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """numerator ÷ denominator where denominator > 0 (NaN elsewhere: trees treat NaN as its own branch), clipped."""
    return np.clip(guarded_ratio(numerator, denominator), -RATIO_CLIP, RATIO_CLIP)


def feature_names(assets: tuple[str, ...], moving: np.ndarray) -> tuple[str, ...]:
    """Column names of :func:`account_features` for a book with these assets."""
    per_asset = [f"{kind}_{a}" for a, m in zip(assets, moving, strict=True) if m
                 for kind in ("net_delta", "gamma", "vega")]
    return ("coverage_ratio", "margin_utilisation", "leverage", "distance_down", "distance_up", "vol_daily",
            "sigmas_down", "sigmas_up", "concentration", "option_share", "stable_collateral_share", "borrowed_share",
            "log10_equity",
            *per_asset)


def account_features(ctx: RiskContext, result: CoverageResult, vol_daily_by_asset: FloatArray) -> FloatArray:
    """Feature matrix of the learned breach model, shape (n_accounts, len(feature_names(...))).

    Parameters
    ----------
    ctx, result : the accounts' context and coverage (with distances) at the same market.
    vol_daily_by_asset : ndarray of shape (n_assets,), daily volatility forecast per book asset (NaN for stables).

    Exposures (net delta, gamma, vega per non-stable underlying) and leverage are divided by the adjusted
    equity (NaN where it is ≤ 0); distances keep NaN for "no liquidation within range"; ``sigmas_down/up`` are
    the log distances in daily standard deviations, |ln(1 ∓ d)| / σ (the analytic model's scale).
    """
    exposure = asset_exposures(ctx)
    moving = ctx.moving
    ae = result.adjusted_equity
    gross_total = exposure.gross[:, moving].sum(axis=1)
    bal = ctx.book.balances
    b_rows = row_of_nonzeros(bal)
    value = bal.data * ctx.market.asset_prices[bal.indices]
    n = ctx.n_accounts
    positive = np.bincount(b_rows, weights=np.maximum(value, 0.0), minlength=n)
    stable = np.bincount(b_rows, weights=np.maximum(value, 0.0) * ~moving[bal.indices], minlength=n)
    borrowed = np.bincount(b_rows, weights=np.maximum(-value, 0.0), minlength=n)
    vol = account_vol_daily(dominant_asset(exposure, moving), vol_daily_by_asset)
    columns = [
        np.clip(np.nan_to_num(result.coverage_ratio, nan=RATIO_CLIP), -RATIO_CLIP, RATIO_CLIP),
        np.clip(result.margin_utilisation, -RATIO_CLIP, RATIO_CLIP),
        _ratio(gross_total, ae),
        result.distance_down,
        result.distance_up,
        vol,
        _ratio(-np.log1p(-np.minimum(result.distance_down, 1.0)), vol),
        _ratio(np.log1p(result.distance_up), vol),
        _ratio(exposure.gross[:, moving].max(axis=1, initial=0.0), gross_total),
        _ratio(exposure.option_gross[:, moving].sum(axis=1), gross_total),
        _ratio(stable, positive),
        _ratio(borrowed, positive),
        np.log10(np.maximum(ae, 1.0)),
    ]
    for j in np.flatnonzero(moving):
        columns += [_ratio(exposure.net_delta[:, j], ae), _ratio(exposure.gamma[:, j], ae),
                    _ratio(exposure.vega[:, j], ae)]
    return np.column_stack(columns)


__all__ = ["AssetExposure", "account_features", "account_vol_daily", "asset_exposures", "dominant_asset",
           "feature_names"]

"""Deribit-style portfolio margin: a risk matrix per (underlying, settlement asset) group.

For each group (reference/exchanges.md §1.5):

1. Grid: price moves m_k = price_range · k / buckets, k = −buckets..buckets, each with vol up / same /
   down: σ_up = max(σ(1 + vol_up·(30/DTE)^p), min_vol_up), σ_down = max(σ(1 − vol_down·(30/DTE)^p), 0),
   p = vega_power_short below 30 days, vega_power_long from 30 days, DTE floored at min_dte_days.
2. Extended moves (vol up only), scaled by extended_table_factor · price_range/|m| ·
   (1+m)/(1+sign(m)·price_range), then damped on the aggregate:
   adj ← sign(adj)·max(0, |adj| − (max(|m|/price_range, 1) − 1) · extended_dampener / edge price).
3. Scenario P&L in settlement units (coin for inverse) is summed over the group's positions; gains are
   multiplied by pnl_offset; worst case = max(0, −min over scenarios).
4. Roll shock per expiry: max(min_annualised_move, annualised_move_risk · τ) × |net coin delta of the
   expiry| (perpetuals use the minimum), in coins of the underlying.
5. IM = Σ groups (worst case × settlement price + roll shock × index); MM = mm_factor × IM.

Positions are revalued on whole arrays — scenarios × instruments once (or scenarios × positions when
each account has its own base move) — and aggregated with one sparse product per chunk of accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ccm._typing import FloatArray, IntArray
from ccm.book.book import nonzeros_of_rows
from ccm.pricing.contracts import unit_value
from ccm.risk.context import RiskContext, instrument_terms
from ccm.risk.margin.base import Requirement

_PARAMS = ("price_range", "vol_up", "vol_down", "vega_power_short", "vega_power_long", "min_vol_up",
           "min_dte_days", "extended_table_factor", "extended_dampener", "pnl_offset", "min_annualised_move",
           "annualised_move_risk", "mm_factor")

#: Upper bound on scenario × position cells held in memory at once (chunking over accounts).
CHUNK_CELLS = 6_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskMatrix:
    """Scenario grid per asset (rows = ``Book.assets``; only underlyings are filled), padded to n_scen.

    Attributes
    ----------
    moves : (n_assets, n_scen) relative price moves.
    vol_kind : (n_assets, n_scen) int8, +1 up, 0 same, −1 down.
    weight : (n_assets, n_scen) P&L scaling (1 in the standard table, the extended scaling otherwise).
    extended : (n_assets, n_scen) bool.
    params : name → (n_assets,) parameter arrays.
    """

    moves: FloatArray
    vol_kind: np.ndarray
    weight: FloatArray
    extended: np.ndarray
    params: dict[str, FloatArray]

    @property
    def n_scenarios(self) -> int:
        return int(self.moves.shape[1])


def build_risk_matrix(ctx: RiskContext) -> RiskMatrix:
    assets = ctx.book.assets
    underlyings = np.unique(ctx.book.instruments.underlying)
    tables = {}
    for u in underlyings:
        prm = ctx.config.portfolio_for(assets[u])
        k = np.arange(-prm.buckets, prm.buckets + 1) / prm.buckets * prm.price_range
        std_moves = np.repeat(k, 3)
        std_vol = np.tile(np.array([1, 0, -1], dtype=np.int8), k.shape[0])
        ext = np.asarray(prm.extended_moves, dtype=float)
        ext_weight = (prm.extended_table_factor * prm.price_range / np.abs(ext)
                      * (1 + ext) / (1 + np.sign(ext) * prm.price_range))
        tables[u] = (
            np.concatenate([std_moves, ext]),
            np.concatenate([std_vol, np.ones(ext.shape[0], dtype=np.int8)]),
            np.concatenate([np.ones(std_moves.shape[0]), ext_weight]),
            np.concatenate([np.zeros(std_moves.shape[0], bool), np.ones(ext.shape[0], bool)]),
            prm,
        )
    n_scen = max([t[0].shape[0] for t in tables.values()] + [1])
    n = len(assets)
    moves = np.zeros((n, n_scen))
    vol_kind = np.zeros((n, n_scen), dtype=np.int8)
    weight = np.ones((n, n_scen))
    extended = np.zeros((n, n_scen), dtype=bool)
    params = {name: np.zeros(n) for name in _PARAMS}
    for u, (mv, vk, wt, ex, prm) in tables.items():
        s = mv.shape[0]  # padding repeats the zero move at unchanged vol: P&L 0, changes nothing
        moves[u, :s], vol_kind[u, :s], weight[u, :s], extended[u, :s] = mv, vk, wt, ex
        for name in _PARAMS:
            params[name][u] = getattr(prm, name)
    return RiskMatrix(moves=moves, vol_kind=vol_kind, weight=weight, extended=extended, params=params)


def shocked_vols(vol: FloatArray, tau: FloatArray, under: IntArray, rm: RiskMatrix) -> FloatArray:
    """Implied vols in each scenario, shape (n_scen, len(vol)); inputs aligned (n,)."""
    prm = {k: v[under] for k, v in rm.params.items()}
    dte = np.maximum(tau * 365.0, prm["min_dte_days"])
    power = np.where(dte < 30.0, prm["vega_power_short"], prm["vega_power_long"])
    term = (30.0 / dte) ** power
    up = np.maximum(vol * (1.0 + prm["vol_up"] * term), prm["min_vol_up"])
    down = np.maximum(vol * (1.0 - prm["vol_down"] * term), 0.0)
    kind = rm.vol_kind[under].T  # (n_scen, n)
    return np.where(kind > 0, up, np.where(kind < 0, down, vol))


def _unit_pnl(ctx: RiskContext, rm: RiskMatrix, cols: IntArray, base_mult: FloatArray) -> FloatArray:
    """Scenario P&L of one unit of each instrument ``cols`` around base forward × base_mult.

    Shape (n_scen, len(cols)), settlement units; vols fixed at the base (sticky strike) then shocked.
    """
    mkt = ctx.market
    under = ctx.book.instruments.underlying[cols]
    terms = instrument_terms(ctx, cols)
    forward = mkt.forward[cols] * base_mult
    vol = mkt.vol[cols]
    base = unit_value(forward, vol=vol, **terms)
    scen_forward = forward * (1.0 + rm.moves[under].T)
    scen = unit_value(scen_forward, vol=shocked_vols(vol, mkt.tau[cols], under, rm), **terms)
    return scen - base


def _groups(ctx: RiskContext) -> tuple[IntArray, IntArray, IntArray]:
    """Group of each instrument, and each group's underlying and settlement asset."""
    ins = ctx.book.instruments
    pairs = ins.underlying * len(ctx.book.assets) + ins.settlement_asset
    uniq, group = np.unique(pairs, return_inverse=True)
    return group.astype(np.int64), uniq // len(ctx.book.assets), uniq % len(ctx.book.assets)


def _roll_rate(ctx: RiskContext, rm: RiskMatrix) -> FloatArray:
    """Roll-shock rate per instrument (n_instruments,): 0 for spot, the minimum for perpetuals."""
    ins, mkt = ctx.book.instruments, ctx.market
    u = ins.underlying
    dated = np.maximum(rm.params["min_annualised_move"][u], rm.params["annualised_move_risk"][u]
                       * np.maximum(mkt.tau, 0.0))
    perp = ins.is_future & ~np.isfinite(ins.expiry_s)
    rate = np.where(perp, rm.params["min_annualised_move"][u], dated)
    return np.where(ins.is_spot, 0.0, rate)


def portfolio_requirement(ctx: RiskContext, moves: FloatArray | None = None) -> Requirement:
    """Risk-matrix IM and MM per account (USD), optionally under per-account uniform moves."""
    book = ctx.book
    n = book.n_accounts
    rm = build_risk_matrix(ctx)
    group, group_under, group_settle = _groups(ctx)
    n_groups = group_under.shape[0]
    expiry_key = np.unique(np.nan_to_num(book.instruments.expiry_s, nan=-1.0), return_inverse=True)[1]
    roll_rate = _roll_rate(ctx, rm)
    shared = moves is None or (moves.size > 0 and np.all(moves == moves[0]))
    shared_move = 0.0 if moves is None or moves.size == 0 else float(moves[0])
    shared_pnl = None
    if shared:
        all_cols = np.arange(book.n_instruments)
        mult = 1.0 + shared_move * ctx.moving[book.instruments.underlying]
        shared_pnl = _unit_pnl(ctx, rm, all_cols, mult)

    im = np.zeros(n)
    mm = np.zeros(n)
    driver = np.zeros(book.positions.nnz)
    indptr = book.positions.indptr
    rows_per_chunk = max(1, CHUNK_CELLS // max(1, rm.n_scenarios * n_groups))
    start = 0
    while start < n:
        stop = min(n, start + rows_per_chunk)
        # keep the positions of the chunk bounded too
        while stop - start > 1 and (indptr[stop] - indptr[start]) * rm.n_scenarios > CHUNK_CELLS:
            stop = start + max(1, (stop - start) // 2)
        rows = np.arange(start, stop)
        nz = nonzeros_of_rows(indptr, rows)
        res = _chunk(ctx, rm, rows, nz, moves, shared_pnl, group, group_under, group_settle, expiry_key,
                     roll_rate)
        im[rows], mm[rows], driver[nz] = res
        start = stop
    return Requirement(initial=im, maintenance=mm, position_driver=driver,
                       balance_driver=np.zeros(book.balances.nnz))


def _chunk(ctx, rm, rows, nz, moves, shared_pnl, group, group_under, group_settle, expiry_key, roll_rate):
    book, mkt = ctx.book, ctx.market
    n_rows, n_groups, n_scen = rows.shape[0], group_under.shape[0], rm.n_scenarios
    cols = book.positions.indices[nz]
    q = book.positions.data[nz]
    local_row = np.repeat(np.arange(n_rows), np.diff(book.positions.indptr[rows[0]: rows[-1] + 2]))
    row_move = np.zeros(n_rows) if moves is None else moves[rows]

    if shared_pnl is not None:
        pnl = shared_pnl[:, cols] * q  # (n_scen, nnz)
    else:
        under = book.instruments.underlying[cols]
        pnl = _unit_pnl(ctx, rm, cols, 1.0 + row_move[local_row] * ctx.moving[under]) * q

    bins = local_row * n_groups + group[cols]
    agg_matrix = sp.csr_matrix((np.ones(cols.shape[0]), (bins, np.arange(cols.shape[0]))),
                               shape=(n_rows * n_groups, cols.shape[0]))
    weight = rm.weight[group_under]  # (G, n_scen)
    agg = np.asarray(agg_matrix @ pnl.T).reshape(n_rows, n_groups, n_scen) * weight

    # Prices per (row, group), moved by the row's move where the asset moves.
    settle_mult = 1.0 + row_move[:, None] * ctx.moving[group_settle][None, :]
    under_mult = 1.0 + row_move[:, None] * ctx.moving[group_under][None, :]
    settle_price = mkt.asset_prices[group_settle][None, :] * settle_mult  # (n_rows, G)
    under_price = mkt.asset_prices[group_under][None, :] * under_mult

    # Extended dampener, in settlement units at the edge price.
    ext = rm.extended[group_under]  # (G, n_scen)
    if ext.any():
        pr = rm.params["price_range"][group_under][:, None]
        mv = rm.moves[group_under]
        excess = np.maximum(np.abs(mv) / pr, 1.0) - 1.0  # (G, n_scen)
        coin_settled = (group_settle == group_under)[:, None]
        edge = np.where(coin_settled, 1.0 + np.sign(mv) * pr, 1.0)  # (G, n_scen)
        damp_usd = rm.params["extended_dampener"][group_under][:, None] * excess
        damp_units = damp_usd[None] / (settle_price[:, :, None] * edge[None])
        damped = np.sign(agg) * np.maximum(0.0, np.abs(agg) - damp_units)
        agg = np.where(ext[None], damped, agg)

    offset = rm.params["pnl_offset"][group_under][None, :, None]
    agg = np.where(agg > 0, agg * offset, agg)
    worst_idx = np.argmin(agg, axis=2)  # (n_rows, G)
    worst = np.maximum(0.0, -np.take_along_axis(agg, worst_idx[..., None], axis=2)[..., 0])

    # Roll shock: |net coin delta| per (row, group, expiry).
    if shared_pnl is not None:
        delta = mkt.unit_delta[cols] if moves is None or row_move[0] == 0 else _moved_delta(ctx, cols, row_move[0])
    else:
        delta = _moved_delta(ctx, cols, row_move[local_row])
    n_exp = int(expiry_key.max()) + 1 if expiry_key.size else 1
    key = (local_row * n_groups + group[cols]) * n_exp + expiry_key[cols]
    uniq, inv = np.unique(key, return_inverse=True)
    net = np.abs(np.bincount(inv, weights=q * delta, minlength=uniq.shape[0]))
    # all positions in one (row, group, expiry) bucket share the rate
    rate = np.zeros(uniq.shape[0])
    rate[inv] = roll_rate[cols]
    roll_coin = np.bincount(uniq // n_exp, weights=net * rate, minlength=n_rows * n_groups).reshape(n_rows, n_groups)
    roll_usd = roll_coin * under_price

    group_im = worst * settle_price + roll_usd
    mm_factor = rm.params["mm_factor"][group_under][None, :]
    im = group_im.sum(axis=1)
    mm = (group_im * mm_factor).sum(axis=1)

    # Drivers: each position's loss in its group's worst scenario (before offset/dampener), USD.
    scen = worst_idx.reshape(-1)[bins]
    pnl_at_worst = pnl[scen, np.arange(cols.shape[0])] * weight[group[cols], scen]
    driver = np.maximum(0.0, -pnl_at_worst) * settle_price.reshape(-1)[bins]
    driver = np.where(worst.reshape(-1)[bins] > 0, driver, 0.0)
    return im, mm, driver


def _moved_delta(ctx: RiskContext, cols: IntArray, move) -> FloatArray:
    from ccm.pricing.contracts import unit_delta

    mkt = ctx.market
    mult = 1.0 + np.asarray(move) * ctx.moving[ctx.book.instruments.underlying[cols]]
    return unit_delta(mkt.forward[cols] * mult, vol=mkt.vol[cols], **instrument_terms(ctx, cols))

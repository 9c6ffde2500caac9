"""Deribit-style portfolio margin: a risk matrix per (underlying, settlement asset) group.

For each group (reference/exchanges.md §1.5):

1. Grid: price moves m_k = price_range · k / buckets, k = −buckets..buckets, each with vol up / same /
   down: σ_up = max(σ(1 + vol_up·(30/DTE)^p), min_vol_up), σ_down = max(σ(1 − vol_down·(30/DTE)^p), 0),
   p = vega_power_short below 30 days, vega_power_long from 30 days, DTE floored at min_dte_days.
2. Extended moves (vol up only), scaled by extended_table_factor · price_range/|m| ·
   (1+m)/(1+sign(m)·price_range), then damped on the aggregate:
   adj ← sign(adj)·max(0, |adj| − (max(|m|/price_range, 1) − 1) · extended_dampener / edge price),
   the edge price being the settlement asset's USD price, at the ±price_range edge for coin settlement.
3. Scenario P&L in settlement units (coin for inverse) is summed over the group's positions and valued in
   USD at the settlement price; a group's gains count at pnl_offset. With ``cross_settlement`` (X:PM, the
   default) the groups of one underlying are added scenario by scenario — the coin-settled and the
   USDC-settled BTC books share the BTC scenarios — otherwise each group stands alone (S:PM).
   Worst case = max(0, −min over scenarios).
4. Roll shock per expiry: max(min_annualised_move, annualised_move_risk · τ) × |net coin delta of the
   expiry| (perpetuals use the minimum; spot none), in coins of the underlying.
5. IM = Σ worst cases + Σ groups roll shock × index; MM = mm_factor × IM (per underlying).

Evaluation is batched: a leading axis of B base moves (for distance to liquidation, every account shifted
by the same move) or per-account moves (B = 1, each account its own base). Instruments are revalued once
per (base move, scenario) on whole arrays, positions aggregated per group with one sparse product per
chunk of accounts; nothing loops over accounts, positions or scenarios in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ccm._typing import FloatArray, IntArray
from ccm.book.book import nonzeros_of_rows
from ccm.pricing import _black76_compiled as _compiled
from ccm.pricing.contracts import unit_delta, unit_value
from ccm.risk.context import RiskContext, instrument_terms, shared_moves
from ccm.risk.margin import _portfolio_compiled as _fused
from ccm.risk.margin.base import Requirement

_PARAMS = ("price_range", "vol_up", "vol_down", "vega_power_short", "vega_power_long", "min_vol_up",
           "min_dte_days", "extended_table_factor", "extended_dampener", "pnl_offset", "min_annualised_move",
           "annualised_move_risk", "mm_factor", "cross_settlement")

#: Upper bound on cells (accounts × groups × base moves × scenarios, or positions × scenarios) per chunk.
CHUNK_CELLS = 8_000_000


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
    tables = {}
    for u in np.unique(ctx.book.instruments.underlying):
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
            params[name][u] = float(getattr(prm, name))
    return RiskMatrix(moves=moves, vol_kind=vol_kind, weight=weight, extended=extended, params=params)


def shocked_vol_levels(
    vol: FloatArray, tau: FloatArray, under: IntArray, rm: RiskMatrix
) -> tuple[FloatArray, FloatArray]:
    """(σ_up, σ_down) per instrument or position, shapes like ``vol``."""
    prm = {k: v[under] for k, v in rm.params.items()}
    dte = np.maximum(tau * 365.0, prm["min_dte_days"])
    power = np.where(dte < 30.0, prm["vega_power_short"], prm["vega_power_long"])
    term = (30.0 / dte) ** power
    up = np.maximum(vol * (1.0 + prm["vol_up"] * term), prm["min_vol_up"])
    down = np.maximum(vol * (1.0 - prm["vol_down"] * term), 0.0)
    return up, down


def scenario_unit_pnl(ctx: RiskContext, rm: RiskMatrix, cols: IntArray, base_forward: FloatArray) -> FloatArray:
    """Risk-matrix P&L of one unit of each instrument ``cols`` around each base forward.

    Parameters
    ----------
    base_forward : ndarray of shape (n_base, len(cols)), the (possibly moved) forwards.

    Returns
    -------
    ndarray of shape (n_base, n_scen, len(cols)), settlement units; vols fixed (sticky strike), shocked
    per scenario.
    """
    mkt = ctx.market
    under = ctx.book.instruments.underlying[cols]
    terms = instrument_terms(ctx, cols)
    vol = mkt.vol[cols]
    up, down = shocked_vol_levels(vol, mkt.tau[cols], under, rm)
    if _compiled.AVAILABLE and base_forward.size * rm.n_scenarios >= 4096:
        return _compiled.scenario_pnl(base_forward, vol, up, down, under, rm.moves, rm.vol_kind,
                                      terms["is_option"], terms["inverse"], terms["strike"], terms["tau"],
                                      terms["is_call"])
    return scenario_unit_pnl_numpy(terms, vol, up, down, under, rm, base_forward)


def scenario_unit_pnl_numpy(terms, vol, up, down, under, rm: RiskMatrix, base_forward) -> FloatArray:
    """The numpy implementation of :func:`scenario_unit_pnl` (the compiled kernel is tested against it)."""
    kind = rm.vol_kind[under].T  # (n_scen, n)
    scen_vol = np.where(kind > 0, up, np.where(kind < 0, down, vol))
    base = unit_value(base_forward, vol=vol, **terms)  # (n_base, n)
    scen_forward = base_forward[:, None, :] * (1.0 + rm.moves[under].T)[None]  # (n_base, n_scen, n)
    scen = unit_value(scen_forward, vol=np.broadcast_to(scen_vol, scen_forward.shape), **terms)
    return scen - base[:, None, :]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Layout:
    """Per-book constants: groups, how groups combine, expiry buckets and roll rates.

    group : (n_instruments,) group of each instrument; group_under, group_settle : (n_groups,) assets.
    combine : (n_groups, n_combined) 0/1 matrix adding groups whose scenarios are netted (same underlying
        under cross_settlement); combined_under : (n_combined,) underlying of each combination.
    """

    group: IntArray
    group_under: IntArray
    group_settle: IntArray
    combine: FloatArray
    combined_under: IntArray
    expiry_key: IntArray
    n_expiries: int
    roll_rate: FloatArray

    @property
    def n_groups(self) -> int:
        return int(self.group_under.shape[0])


def _layout(ctx: RiskContext, rm: RiskMatrix) -> _Layout:
    ins, mkt = ctx.book.instruments, ctx.market
    n_assets = len(ctx.book.assets)
    uniq, group = np.unique(ins.underlying * n_assets + ins.settlement_asset, return_inverse=True)
    # Roll buckets: one per expiry, one for perpetuals, one for spot (rate 0) — never shared.
    bucket_time = np.where(ins.is_spot, -2.0, np.nan_to_num(ins.expiry_s, nan=-1.0))
    expiry_key = np.unique(bucket_time, return_inverse=True)[1]
    u = ins.underlying
    dated = np.maximum(rm.params["min_annualised_move"][u],
                       rm.params["annualised_move_risk"][u] * np.maximum(mkt.tau, 0.0))
    perp = ins.is_future & ~np.isfinite(ins.expiry_s)
    rate = np.where(perp, rm.params["min_annualised_move"][u], dated)
    group_under = (uniq // n_assets).astype(np.int64)
    cross = rm.params["cross_settlement"][group_under] > 0
    combo_key = np.where(cross, group_under, n_assets + np.arange(group_under.shape[0]))
    combo_keys, combo = np.unique(combo_key, return_inverse=True)
    combine = np.zeros((group_under.shape[0], combo_keys.shape[0]))
    combine[np.arange(group_under.shape[0]), combo] = 1.0
    combined_under = np.zeros(combo_keys.shape[0], dtype=np.int64)
    combined_under[combo] = group_under
    return _Layout(
        group=group.astype(np.int64),
        group_under=group_under,
        group_settle=(uniq % n_assets).astype(np.int64),
        combine=combine,
        combined_under=combined_under,
        expiry_key=expiry_key.astype(np.int64),
        n_expiries=int(expiry_key.max()) + 1 if expiry_key.size else 1,
        roll_rate=np.where(ins.is_spot, 0.0, rate),
    )


def portfolio_requirement(ctx: RiskContext, moves: FloatArray | None = None) -> Requirement:
    """Risk-matrix IM and MM per account (USD).

    ``moves``: None; (n_accounts,) each account's prices shifted by its own move; or (B, n_accounts),
    batched — fastest when every account shares the B moves (the distance-to-liquidation grid).
    """
    book = ctx.book
    driver = np.zeros(book.positions.nnz)
    zeros = np.zeros(book.balances.nnz)
    shared = shared_moves(moves)
    if moves is None or (moves.ndim == 2 and shared is not None):
        im, mm = _evaluate(ctx, base_moves=shared, row_moves=None, driver_out=driver if moves is None else None)
        if moves is None:
            im, mm = im[0], mm[0]
    elif moves.ndim == 1:
        im, mm = (a[0] for a in _evaluate(ctx, base_moves=None, row_moves=moves, driver_out=None))
    else:  # different moves per account and per batch entry: one batch entry at a time
        pairs = [_evaluate(ctx, base_moves=None, row_moves=m, driver_out=None) for m in moves]
        im = np.stack([p[0][0] for p in pairs])
        mm = np.stack([p[1][0] for p in pairs])
    return Requirement(initial=im, maintenance=mm, position_driver=driver, balance_driver=zeros)


def _evaluate(ctx, *, base_moves, row_moves, driver_out):
    book = ctx.book
    rm = build_risk_matrix(ctx)
    layout = _layout(ctx, rm)
    n, n_scen, n_groups = book.n_accounts, rm.n_scenarios, layout.n_groups
    shared = row_moves is None
    n_base = 1 if base_moves is None else base_moves.shape[0]
    bases = np.zeros(1) if base_moves is None else base_moves
    shared_rhs = shared_delta = None
    if shared:
        shared_rhs, shared_delta = _instrument_scenarios(ctx, rm, bases)

    im = np.zeros((n_base, n))
    mm = np.zeros((n_base, n))
    indptr = book.positions.indptr
    # Cells per position: B·S, except on the compiled shared-moves path, which holds no (pairs, B, S) array
    # (its largest are (B, positions) deltas besides ~16 per-position index arrays), so chunks can be larger.
    cells = max(n_base, 16) if shared and driver_out is None and _fused.AVAILABLE else n_base * n_scen
    rows_per_chunk = max(1, CHUNK_CELLS // max(1, min(n_groups, 2) * cells))  # an account rarely holds more groups
    start = 0
    while start < n:
        stop = min(n, start + rows_per_chunk)
        while stop - start > 1 and (indptr[stop] - indptr[start]) * cells > CHUNK_CELLS:
            stop = start + max(1, (stop - start) // 2)
        rows = np.arange(start, stop)
        nz = nonzeros_of_rows(indptr, rows)
        c_im, c_mm, c_driver = _chunk(ctx, rm, layout, rows, nz, bases=bases, row_moves=row_moves,
                                      shared_rhs=shared_rhs, shared_delta=shared_delta,
                                      want_drivers=driver_out is not None)
        im[:, rows], mm[:, rows] = c_im, c_mm
        if driver_out is not None:
            driver_out[nz] = c_driver
        start = stop
    return im, mm


def _instrument_scenarios(ctx: RiskContext, rm: RiskMatrix, bases: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Risk-matrix P&L of every instrument at each base move, laid out (n_instr, B·S) (column b·S + s),
    and the coin delta (B, n_instr).

    Cached on the context: the distance search evaluates many chunks of accounts at the same moves.
    """
    key = ("portfolio-instrument-scenarios", bases.tobytes())
    if key not in ctx.cache:
        ins, mkt = ctx.book.instruments, ctx.market
        every = np.arange(ctx.book.n_instruments)
        base_forward = mkt.forward[None, :] * (1.0 + bases[:, None] * ctx.moving[ins.underlying][None, :])
        pnl = scenario_unit_pnl(ctx, rm, every, base_forward)
        delta = unit_delta(base_forward, vol=mkt.vol, **instrument_terms(ctx, every))
        # (n_instr, B·S), C-contiguous: the right-hand side of the holdings product, laid out once.
        ctx.cache[key] = (np.ascontiguousarray(np.moveaxis(pnl, 2, 0).reshape(pnl.shape[-1], -1)), delta)
    rhs, delta = ctx.cache[key]
    return rhs, delta


def unique_inverse(keys: IntArray) -> tuple[IntArray, IntArray]:
    """``np.unique(keys, return_inverse=True)`` for non-negative integer keys, without sorting when their
    range is small (a presence table and a cumulative sum: O(n + range)); falls back to sorting otherwise."""
    if keys.size == 0:
        return keys.astype(np.int64), keys.astype(np.int64)
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo > 4 * keys.size + 1024:
        uniq, inverse = np.unique(keys, return_inverse=True)
        return uniq, inverse.astype(np.int64)
    present = np.bincount(keys - lo, minlength=hi - lo + 1) > 0
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present) + lo, rank[keys - lo]


def _aggregate(rows_of: IntArray, n_out: int, values: FloatArray) -> FloatArray:
    """Σ of ``values`` (n_in, ...) into ``n_out`` bins given by ``rows_of`` (n_in,); one sparse product."""
    n_in = rows_of.shape[0]
    if n_in == 0:
        return np.zeros((n_out,) + values.shape[1:])
    summing = sp.csr_matrix((np.ones(n_in), (rows_of, np.arange(n_in))), shape=(n_out, n_in))
    flat = values.reshape(n_in, -1)
    return np.asarray(summing @ flat).reshape((n_out,) + values.shape[1:])


def _chunk(ctx, rm, layout, rows, nz, *, bases, row_moves, shared_rhs, shared_delta, want_drivers):
    """IM, MM (B, n_rows) and drivers (nnz,) of a chunk of accounts.

    Work is done per (account, group) pair that actually holds positions — an account touches one or two
    of the venue's groups, so nothing is spent on the others.
    """
    book, mkt = ctx.book, ctx.market
    n_rows, n_groups, n_scen = rows.shape[0], layout.n_groups, rm.n_scenarios
    n_base = bases.shape[0]
    cols = book.positions.indices[nz]
    q = book.positions.data[nz]
    group = layout.group[cols]
    local_row = np.repeat(np.arange(n_rows), np.diff(book.positions.indptr[rows[0]: rows[-1] + 2]))

    pair_keys, pair_of = unique_inverse(local_row * n_groups + group)
    pair_row, pair_group = pair_keys // n_groups, pair_keys % n_groups
    n_pairs = pair_keys.shape[0]
    g_under, g_settle = layout.group_under[pair_group], layout.group_settle[pair_group]

    # Compiled (no drivers wanted): holdings product, extended table, netting and worst case in one pass.
    fused = not want_drivers and _fused.AVAILABLE
    if shared_rhs is not None:
        rhs, rhs_rows = shared_rhs, cols
        if not fused:  # (pairs × instruments) holdings times the instruments' scenario P&L: one sparse product.
            holdings = sp.csr_matrix((q, (pair_of, cols)), shape=(n_pairs, shared_rhs.shape[0]))
            agg = np.asarray(holdings @ shared_rhs).reshape(n_pairs, n_base, n_scen)
        net_delta_source = shared_delta[:, cols] * q  # (B, nnz)
        move = np.broadcast_to(bases[None, :], (n_pairs, n_base))
    else:
        under = book.instruments.underlying[cols]
        row_move = row_moves[rows]
        base_forward = (mkt.forward[cols] * (1.0 + row_move[local_row] * ctx.moving[under]))[None, :]
        pnl_unit = scenario_unit_pnl(ctx, rm, cols, base_forward)[0]  # (S, nnz)
        if fused:  # one right-hand-side row per position
            rhs, rhs_rows = np.ascontiguousarray(pnl_unit.T), np.arange(cols.shape[0])
        else:
            pnl_nnz = pnl_unit * q
            agg = _aggregate(pair_of, n_pairs, pnl_nnz.T).reshape(n_pairs, 1, n_scen)
        delta = unit_delta(base_forward[0], vol=mkt.vol[cols], **instrument_terms(ctx, cols))
        net_delta_source = (delta * q)[None, :]
        move = row_move[pair_row][:, None]  # (pairs, 1)

    weight = rm.weight[g_under]  # (pairs, S)
    settle_price = mkt.asset_prices[g_settle][:, None] * (1.0 + move * ctx.moving[g_settle][:, None])  # (pairs, B)
    under_price = mkt.asset_prices[g_under][:, None] * (1.0 + move * ctx.moving[g_under][:, None])
    combo_of_group = np.argmax(layout.combine, axis=1)
    combo_keys, combo_of_pair = unique_inverse(pair_row * layout.combine.shape[1] + combo_of_group[pair_group])
    combo_row = combo_keys // layout.combine.shape[1]
    combo_under = layout.combined_under[combo_keys % layout.combine.shape[1]]

    if fused:
        worst = _worst_compiled(rm, pair_of, rhs_rows, q, rhs, n_base, g_under, g_settle, settle_price,
                                combo_of_pair, combo_keys.shape[0])
    else:
        # Extended moves only (the last columns of every table): scaling, then the dampener.
        ext_cols = np.flatnonzero(rm.extended.any(axis=0))
        if ext_cols.size:
            ext = rm.extended[g_under][:, ext_cols]  # (pairs, E)
            part = agg[:, :, ext_cols] * weight[:, None, ext_cols]
            pr = rm.params["price_range"][g_under][:, None]
            mv = rm.moves[g_under][:, ext_cols]
            excess = np.maximum(np.abs(mv) / pr, 1.0) - 1.0  # (pairs, E)
            edge = np.where((g_settle == g_under)[:, None], 1.0 + np.sign(mv) * pr, 1.0)
            damp_usd = rm.params["extended_dampener"][g_under][:, None] * excess
            damp_units = (damp_usd / edge)[:, None, :] / settle_price[:, :, None]  # (pairs, B, E)
            damped = np.sign(part) * np.maximum(0.0, np.abs(part) - damp_units)
            agg[:, :, ext_cols] = np.where(ext[:, None, :], damped, part)

        # USD, gains at pnl_offset, then pairs of one (account, combination) added scenario by scenario.
        agg *= settle_price[:, :, None]
        offset = rm.params["pnl_offset"][g_under][:, None, None]
        np.multiply(agg, offset, out=agg, where=agg > 0)
        if combo_keys.shape[0] == n_pairs:  # no account holds two groups that net: nothing to add
            identity = np.array_equal(combo_of_pair, np.arange(n_pairs))
            total = agg if identity else agg[np.argsort(combo_of_pair)]
        else:
            total = _aggregate(combo_of_pair, combo_keys.shape[0], agg)  # (combos, B, S)
        worst_idx = np.argmin(total, axis=2)  # (combos, B)
        worst = np.maximum(0.0, -np.take_along_axis(total, worst_idx[..., None], axis=2)[..., 0])

    # Roll shock: |net coin delta| per (account, group, expiry) bucket, times the bucket's rate.
    key = (local_row * n_groups + group) * layout.n_expiries + layout.expiry_key[cols]
    uniq, inv = unique_inverse(key)
    net = np.abs(_aggregate(inv, uniq.shape[0], net_delta_source.T))  # (n_keys, B)
    rate = np.zeros(uniq.shape[0])
    rate[inv] = layout.roll_rate[cols]
    bucket_pair = np.searchsorted(pair_keys, uniq // layout.n_expiries)
    roll_usd = _aggregate(bucket_pair, n_pairs, net * rate[:, None]) * under_price  # (pairs, B)

    mm_worst = rm.params["mm_factor"][combo_under][:, None]
    mm_roll = rm.params["mm_factor"][g_under][:, None]
    im = (_aggregate(combo_row, n_rows, worst) + _aggregate(pair_row, n_rows, roll_usd)).T  # (B, rows)
    mm = (_aggregate(combo_row, n_rows, worst * mm_worst) + _aggregate(pair_row, n_rows, roll_usd * mm_roll)).T

    driver = None
    if want_drivers:
        # Each position's loss in its combination's worst scenario (before offset and dampener), USD.
        combo = combo_of_pair[pair_of]
        scen = worst_idx[combo, 0]
        if shared_rhs is not None:  # (n_instr, B·S) layout: base 0 occupies the first S columns
            pos_pnl = shared_rhs[cols, scen] * q
        else:
            pos_pnl = pnl_nnz[scen, np.arange(cols.shape[0])]
        pos_pnl = pos_pnl * weight[pair_of, scen]
        driver = np.maximum(0.0, -pos_pnl) * settle_price[pair_of, 0]
        driver = np.where(worst[combo, 0] > 0, driver, 0.0)
    return im, mm, driver


def _worst_compiled(rm, pair_of, rhs_rows, q, rhs, n_base, g_under, g_settle, settle_price, combo_of_pair, n_combos):
    """Worst loss (combos, B) in one compiled pass (``_portfolio_compiled``); position i holds q[i] units of the
    unit P&L row ``rhs[rhs_rows[i]]`` (instruments at shared moves, or one row per position)."""
    pos_order = np.argsort(pair_of, kind="stable")
    pair_ptr = np.concatenate([[0], np.cumsum(np.bincount(pair_of, minlength=g_under.shape[0]))])
    order = np.argsort(combo_of_pair, kind="stable")  # pairs grouped by combination
    combo_ptr = np.concatenate([[0], np.cumsum(np.bincount(combo_of_pair, minlength=n_combos))])
    return _fused.worst_per_combination(
        combo_ptr, pair_ptr[order], pair_ptr[order + 1], rhs_rows[pos_order], q[pos_order], rhs, n_base,
        g_under[order], g_settle[order], settle_price[order], rm.weight, rm.extended, rm.moves,
        rm.params["price_range"], rm.params["extended_dampener"], rm.params["pnl_offset"])

"""Deribit standard margin, per position, summed per account (reference/exchanges.md §1.3–1.4).

Futures and perpetuals (and short spot): IM% = future_im_base + size × future_size_slope and
MM% = future_mm_base + size × future_size_slope on the position's notional, where size is the position
in coins of the underlying (|q| linear, |q|/F inverse).

Options, per unit of underlying, in settlement units (coin for inverse, USD for linear, where the
coin constants are multiplied by the index S):

    short call  IM = max(option_im_max − OTM/S, option_im_min) + mark     MM = option_mm + mark
    short put   IM = max(that IM, MM)                                      MM = max(option_mm, option_mm·mark) + mark
    long        IM = mark (the premium)                                    MM = 0

with OTM = max(K − S, 0) for calls and max(S − K, 0) for puts. Long spot needs no margin.
"""

from __future__ import annotations

import numpy as np

from ccm._typing import FloatArray
from ccm.book.book import row_sums
from ccm.risk.context import RiskContext, position_values
from ccm.risk.margin import _standard_compiled as _compiled
from ccm.risk.margin.base import Requirement


def _per_instrument(ctx: RiskContext) -> dict[str, FloatArray]:
    """Standard-margin parameters gathered per instrument, each of shape (n_instruments,)."""
    assets, under = ctx.book.assets, ctx.book.instruments.underlying
    names = ("future_im_base", "future_mm_base", "future_size_slope", "option_im_max", "option_im_min",
             "option_mm")
    out = {name: np.zeros(under.shape[0]) for name in names}
    for u in np.unique(under):
        params = ctx.config.standard_for(assets[u])
        sel = under == u
        for name in names:
            out[name][sel] = getattr(params, name)
    return out


def standard_requirement(ctx: RiskContext, moves: FloatArray | None = None) -> Requirement:
    """Standard-margin IM and MM per account (USD), optionally under uniform moves (see RiskContext).

    Each formula runs only on the positions it applies to (delta-one or options), on whole arrays.
    """
    book = ctx.book
    cols = book.positions.indices
    q = book.positions.data
    ins = book.instruments
    params = _per_instrument(ctx)
    under_mult, _ = ctx.position_multipliers(moves)
    mark, settle = position_values(ctx, moves)
    if _compiled.AVAILABLE and mark.size >= 4096:
        kind = np.where(ins.is_future[cols] | (ins.is_spot[cols] & (q < 0)), 1,
                        np.where(ins.is_option[cols], 2, 0)).astype(np.int8)
        im, mm = _compiled.standard_margin_positions(
            kind, q, ins.inverse[cols], ins.is_call[cols], np.nan_to_num(ins.strike[cols]),
            ctx.market.forward[cols], ctx.market.spot[cols], under_mult, mark, settle,
            {k: np.ascontiguousarray(v[cols]) for k, v in params.items()},
        )
    else:
        im, mm = _numpy_positions(ctx, params, under_mult, mark, settle)
    indptr = book.positions.indptr
    return Requirement(
        initial=row_sums(im, indptr),
        maintenance=row_sums(mm, indptr),
        position_driver=mm if moves is None else np.zeros(cols.shape[0]),
        balance_driver=np.zeros(book.balances.nnz),
    )


def _numpy_positions(ctx: RiskContext, params, under_mult, mark, settle) -> tuple[FloatArray, FloatArray]:
    """IM and MM (USD) per position with numpy; shapes like ``mark``."""
    book = ctx.book
    cols = book.positions.indices
    q = book.positions.data
    ins = book.instruments
    lead = mark.shape[:-1]
    im = np.zeros(lead + (cols.shape[0],))
    mm = np.zeros(lead + (cols.shape[0],))

    # Delta-one: futures, perpetuals and short spot; notional in settlement units.
    d1 = np.flatnonzero(ins.is_future[cols] | (ins.is_spot[cols] & (q < 0)))
    if d1.size:
        c, size = cols[d1], np.abs(q[d1])
        forward = ctx.market.forward[c] * np.broadcast_to(under_mult, lead + cols.shape)[..., d1]
        inverse = ins.inverse[c]
        size_coin = np.where(inverse, size / forward, size)
        notional = np.where(inverse, size / forward, size * forward)
        slope = params["future_size_slope"][c] * size_coin
        im[..., d1] = notional * (params["future_im_base"][c] + slope)
        mm[..., d1] = notional * (params["future_mm_base"][c] + slope)

    # Options: per unit in settlement units; "coin" constants scale by S for linear settlement.
    op = np.flatnonzero(ins.is_option[cols])
    if op.size:
        c, qo = cols[op], q[op]
        spot = ctx.market.spot[c] * np.broadcast_to(under_mult, lead + cols.shape)[..., op]
        m = mark[..., op]
        inverse, is_call, strike = ins.inverse[c], ins.is_call[c], ins.strike[c]
        otm = np.where(is_call, np.maximum(strike - spot, 0.0), np.maximum(spot - strike, 0.0))
        scale = np.where(inverse, 1.0, spot)
        otm_units = np.where(inverse, otm / spot, otm)
        short_im = np.maximum(params["option_im_max"][c] * scale - otm_units, params["option_im_min"][c] * scale) + m
        put_mm = np.maximum(params["option_mm"][c] * scale, params["option_mm"][c] * m) + m
        short_mm = np.where(is_call, params["option_mm"][c] * scale + m, put_mm)
        short_im = np.where(is_call, short_im, np.maximum(short_im, put_mm))
        short = qo < 0
        im[..., op] = np.abs(qo) * np.where(short, short_im, m)
        mm[..., op] = np.abs(qo) * np.where(short, short_mm, 0.0)

    return im * settle, mm * settle

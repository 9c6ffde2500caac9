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
    """Standard-margin IM and MM per account (USD), optionally under per-account uniform moves."""
    book = ctx.book
    cols = book.positions.indices
    q = book.positions.data
    ins = book.instruments
    p = {k: v[cols] for k, v in _per_instrument(ctx).items()}
    under_mult, _ = ctx.position_multipliers(moves)
    spot = ctx.market.spot[cols] * under_mult
    forward = ctx.market.forward[cols] * under_mult
    mark, settle = position_values(ctx, moves)
    inverse = ins.inverse[cols]

    # Delta-one: futures, perpetuals and short spot.
    size_coin = np.where(inverse, np.abs(q) / forward, np.abs(q))
    notional = np.where(inverse, np.abs(q) / forward, np.abs(q) * forward)  # settlement units
    is_future = ins.is_future[cols]
    short_spot = ins.is_spot[cols] & (q < 0)
    delta_one = is_future | short_spot
    fut_im = notional * (p["future_im_base"] + size_coin * p["future_size_slope"])
    fut_mm = notional * (p["future_mm_base"] + size_coin * p["future_size_slope"])

    # Options: per unit in settlement units; "coin" constants scale by S for linear settlement.
    is_option = ins.is_option[cols]
    is_call = ins.is_call[cols]
    strike = np.where(is_option, ins.strike[cols], 0.0)
    otm = np.where(is_call, np.maximum(strike - spot, 0.0), np.maximum(spot - strike, 0.0))
    scale = np.where(inverse, 1.0, spot)  # coin-per-coin constants → settlement units
    otm_units = np.where(inverse, otm / spot, otm)
    short_im = np.maximum(p["option_im_max"] * scale - otm_units, p["option_im_min"] * scale) + mark
    call_mm = p["option_mm"] * scale + mark
    put_mm = np.maximum(p["option_mm"] * scale, p["option_mm"] * mark) + mark
    short_mm = np.where(is_call, call_mm, put_mm)
    short_im = np.where(is_call, short_im, np.maximum(short_im, put_mm))
    short = q < 0
    opt_im = np.abs(q) * np.where(short, short_im, mark)
    opt_mm = np.abs(q) * np.where(short, short_mm, 0.0)

    im = np.where(is_option, opt_im, np.where(delta_one, fut_im, 0.0)) * settle
    mm = np.where(is_option, opt_mm, np.where(delta_one, fut_mm, 0.0)) * settle
    indptr = book.positions.indptr
    return Requirement(
        initial=row_sums(im, indptr),
        maintenance=row_sums(mm, indptr),
        position_driver=mm,
        balance_driver=np.zeros(book.balances.nnz),
    )

"""Square-root market impact: how far a net sale moves a price (reference/defi.md §4, ccp.md §7).

    Δp/p = −sign(N) × scale × √|N|,   scale = Y × σ_daily / √ADV

with N the net notional sold in USD (> 0 sells, < 0 buys), Y the impact coefficient, σ the daily volatility
and ADV the average daily volume (USD). Used by the book's liquidation cascade (:mod:`ccm.stress.cascade`)
and by a lending protocol's cascade (:mod:`ccm.lending.cascade`).
"""

from __future__ import annotations

import numpy as np

from ccm._typing import FloatArray

#: Largest fall and rise of a price in one round of impact (keeps prices positive and finite).
MAX_FALL = 0.99
MAX_RISE = 9.0


def impact_move(net_sold_usd: FloatArray, scale: FloatArray) -> FloatArray:
    """Relative price move −sign(N) × scale × √|N| per asset, clipped to [−MAX_FALL, MAX_RISE]; 0 where N = 0
    or scale = 0. Arrays broadcast together (e.g. (…, n_assets))."""
    size = np.abs(net_sold_usd)
    active = (size > 0) & (scale > 0)
    with np.errstate(invalid="ignore"):
        move = np.where(active, -np.sign(net_sold_usd) * scale * np.sqrt(size), 0.0)
    return np.clip(move, -MAX_FALL, MAX_RISE)


__all__ = ["MAX_FALL", "MAX_RISE", "impact_move"]

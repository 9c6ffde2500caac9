"""Worst risk-matrix loss per (account, combination), compiled with numba.

Used by ``portfolio._chunk`` whenever no drivers are wanted (the distance-to-liquidation grid at shared base
moves and its per-account refinement). Same arithmetic as the numpy path there — holdings × unit P&L per
(account, group) pair, extended scaling and dampener, USD at the settlement price, gains at pnl_offset,
pairs of one combination added scenario by scenario, worst = max(0, −min) — in one pass per combination
instead of (pairs, B, S) array temporaries. Tests compare the two.
"""

from __future__ import annotations

import numpy as np

from ccm.pricing._black76_compiled import AVAILABLE  # noqa: F401 (re-exported)

if AVAILABLE:
    from numba import njit, prange

    @njit(parallel=True, cache=True, fastmath=False, nogil=True)
    def _worst_kernel(combo_ptr, pair_start, pair_stop, pos_cols, pos_q, rhs, n_base, pair_under, pair_settle,
                      settle_price, weight, extended, moves, price_range, dampener, pnl_offset,
                      out):  # pragma: no cover - compiled
        n_scen = moves.shape[1]
        width = n_base * n_scen
        for c in prange(combo_ptr.shape[0] - 1):
            total = np.zeros((n_base, n_scen))
            acc = np.empty(width)
            for p in range(combo_ptr[c], combo_ptr[c + 1]):
                u = pair_under[p]
                pr = price_range[u]
                acc[:] = 0.0
                for i in range(pair_start[p], pair_stop[p]):  # each position's P&L row read once, in order
                    col = pos_cols[i]
                    q = pos_q[i]
                    for x in range(width):
                        acc[x] += q * rhs[col, x]
                for b in range(n_base):
                    sp = settle_price[p, b]
                    off = b * n_scen
                    for s in range(n_scen):
                        v = acc[off + s]
                        if extended[u, s]:
                            part = v * weight[u, s]
                            mv = moves[u, s]
                            excess = max(abs(mv) / pr, 1.0) - 1.0
                            sign_mv = 1.0 if mv > 0 else (-1.0 if mv < 0 else 0.0)
                            edge = 1.0 + sign_mv * pr if pair_settle[p] == u else 1.0
                            damp = dampener[u] * excess / edge / sp
                            sign_part = 1.0 if part > 0 else (-1.0 if part < 0 else 0.0)
                            v = sign_part * max(0.0, abs(part) - damp)
                        v = v * sp
                        if v > 0:
                            v = v * pnl_offset[u]
                        total[b, s] += v
            for b in range(n_base):
                lowest = total[b, 0]
                for s in range(1, n_scen):
                    if total[b, s] < lowest:
                        lowest = total[b, s]
                out[c, b] = max(0.0, -lowest)


def worst_per_combination(combo_ptr, pair_start, pair_stop, pos_cols, pos_q, rhs, n_base, pair_under, pair_settle,
                          settle_price, weight, extended, moves, price_range, dampener, pnl_offset) -> np.ndarray:
    """Worst loss (USD, ≥ 0) per combination and base move, shape (n_combos, n_base).

    combo_ptr : (n_combos + 1,) pairs of combination c are ``combo_ptr[c]:combo_ptr[c+1]`` (pairs ordered so);
    pair_start, pair_stop : (n_pairs,) positions of pair p are ``pair_start[p]:pair_stop[p]`` of pos_cols, pos_q;
    rhs : (n_rows, n_base·S) P&L per unit (settlement units), column b·S + s; position i uses row pos_cols[i];
    pair_under, pair_settle : (n_pairs,) assets; settle_price : (n_pairs, n_base) USD;
    weight, extended, moves : (n_assets, S) risk-matrix tables; price_range, dampener, pnl_offset : (n_assets,).
    """
    out = np.empty((combo_ptr.shape[0] - 1, n_base))
    _worst_kernel(
        np.ascontiguousarray(combo_ptr, dtype=np.int64), np.ascontiguousarray(pair_start, dtype=np.int64),
        np.ascontiguousarray(pair_stop, dtype=np.int64),
        np.ascontiguousarray(pos_cols, dtype=np.int64), np.ascontiguousarray(pos_q, dtype=np.float64),
        np.ascontiguousarray(rhs, dtype=np.float64), int(n_base),
        np.ascontiguousarray(pair_under, dtype=np.int64), np.ascontiguousarray(pair_settle, dtype=np.int64),
        np.ascontiguousarray(settle_price, dtype=np.float64), np.ascontiguousarray(weight, dtype=np.float64),
        np.ascontiguousarray(extended, dtype=np.bool_), np.ascontiguousarray(moves, dtype=np.float64),
        np.ascontiguousarray(price_range, dtype=np.float64), np.ascontiguousarray(dampener, dtype=np.float64),
        np.ascontiguousarray(pnl_offset, dtype=np.float64), out,
    )
    return out

"""Distance to liquidation: the smallest uniform relative move of all non-stable prices (down and up
separately; vols fixed; haircuts and the requirement re-evaluated) at which coverage reaches 1.

Search, vectorised over accounts:

1. f(m) = adjusted equity − maintenance margin (coverage ≥ 1 ⇔ f ≥ 0) is evaluated for every account
   that can breach at all, at every move of a shared grid in both directions in one batched pass
   (instruments valued once per grid move; accounts in chunks to bound memory);
2. the first grid move with f < 0 brackets the root (f ≥ 0 at the previous grid move or at 0);
3. per-account Illinois regula falsi inside the bracket, each account at its own move, until two
   successive estimates (or the bracket ends) are closer than ``tolerance``.

Returns NaN where coverage stays ≥ 1 up to ``max_move`` and 0 where coverage is already below 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ccm._typing import FloatArray, IntArray
from ccm.risk.context import RiskContext, account_equity
from ccm.risk.margin import margin_requirement
from ccm.risk.roots import illinois_roots

#: Bound on grid moves × stored positions evaluated at once in the grid pass.
GRID_CHUNK_CELLS = 6_000_000


def excess_at(ctx: RiskContext, moves: FloatArray) -> FloatArray:
    """Adjusted equity − maintenance margin under ``moves`` (n_accounts,) or (B, n_accounts)."""
    return account_equity(ctx, moves).adjusted_equity - margin_requirement(ctx, moves).maintenance


def can_breach(ctx: RiskContext) -> np.ndarray:
    """Accounts that can reach coverage 1 at all: those with positions or borrowings, (n_accounts,)."""
    has_positions = np.diff(ctx.book.positions.indptr) > 0
    bal = ctx.book.balances
    negative = np.zeros(ctx.n_accounts, dtype=bool)
    rows = np.repeat(np.arange(ctx.n_accounts), np.diff(bal.indptr))
    negative[rows[bal.data < 0]] = True
    return has_positions | negative


def _grid(ctx: RiskContext) -> FloatArray:
    settings = ctx.config.distance
    grid = np.array(sorted(g for g in settings.grid if 0 < g <= settings.max_move))
    if grid.size == 0 or grid[-1] < settings.max_move:
        grid = np.append(grid, settings.max_move)
    return grid


def excess_on_grid(ctx: RiskContext, rows: IntArray, moves: FloatArray) -> FloatArray:
    """Adjusted equity − maintenance margin (USD) of accounts ``rows`` under each uniform move, shape (B, len(rows)).

    rows : (R,) account indices into ``ctx``; moves : (B,) relative moves of all non-stable prices (−0.2 = −20 %),
    one shared by every account per row of the result. Instruments are valued once per move in one batched pass;
    accounts go in chunks of about ``GRID_CHUNK_CELLS`` (moves × stored positions) to bound memory.
    """
    out = np.empty((moves.shape[0], rows.shape[0]))
    indptr = ctx.book.positions.indptr
    sizes = indptr[rows + 1] - indptr[rows] + 1
    bounds = np.searchsorted(np.cumsum(sizes), np.arange(0, sizes.sum(), max(1, GRID_CHUNK_CELLS // moves.shape[0])))
    edges = np.unique(np.concatenate([[0], bounds, [rows.shape[0]]]))
    for start, stop in zip(edges[:-1], edges[1:], strict=True):  # chunks of accounts bound memory
        chunk = rows[start:stop]
        sub = ctx.take(chunk)
        out[:, start:stop] = excess_at(sub, np.broadcast_to(moves[:, None], (moves.shape[0], chunk.shape[0])))
    return out


def _refine(ctx: RiskContext, rows: IntArray, direction: int, a, b, fa, fb, on_step) -> FloatArray:
    """Per-account roots for accounts ``rows`` with f(a) ≥ 0 > f(b) (``risk.roots.illinois_roots``)."""
    settings = ctx.config.distance
    return illinois_roots(lambda index, x: excess_at(ctx.take(rows[index]), direction * x), a, b, fa, fb,
                          tolerance=settings.tolerance, iterations=settings.refine_iterations, on_step=on_step)


def distances_to_liquidation(
    ctx: RiskContext, excess_now: FloatArray, *, on_step: Callable[[], None] | None = None
) -> tuple[FloatArray, FloatArray]:
    """(down, up) move magnitudes per account, each of shape (n_accounts,); NaN = none within max_move."""
    n = ctx.n_accounts
    grid = _grid(ctx)
    k = grid.shape[0]
    results = []
    candidates = np.flatnonzero((excess_now >= 0) & can_breach(ctx))
    f_grid = excess_on_grid(ctx, candidates, np.concatenate([-grid, grid])) if candidates.size else None
    if on_step:
        on_step()
    for d, direction in enumerate((-1, +1)):
        out = np.full(n, np.nan)
        out[excess_now < 0] = 0.0
        if f_grid is not None:
            f = f_grid[d * k:(d + 1) * k]  # (k, n_candidates)
            breached = f < 0
            hit = breached.any(axis=0)
            first = np.argmax(breached, axis=0)[hit]
            cols = np.flatnonzero(hit)
            rows = candidates[cols]
            b = grid[first].copy()
            fb = f[first, cols].copy()
            prev = first - 1
            a = np.where(prev >= 0, grid[np.maximum(prev, 0)], 0.0)
            fa = np.where(prev >= 0, f[np.maximum(prev, 0), cols], excess_now[rows])
            if rows.size:
                out[rows] = _refine(ctx, rows, direction, a, b, fa.astype(float), fb, on_step)
        results.append(out)
    return results[0], results[1]

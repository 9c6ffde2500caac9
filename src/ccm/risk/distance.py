"""Distance to liquidation: the smallest uniform relative move of all non-stable prices (down and up
separately; vols fixed; haircuts and the requirement re-evaluated) at which coverage reaches 1.

Search, vectorised over accounts: (1) evaluate f(m) = adjusted equity − maintenance margin for all
still-open accounts at each move of a shared grid (each instrument valued once per grid point);
(2) the first grid point with f < 0 brackets the root; (3) per-account Illinois regula falsi inside the
bracket, each account at its own move. Returns NaN where coverage stays ≥ 1 up to ``max_move``, and 0
where coverage is already below 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ccm._typing import FloatArray
from ccm.risk.context import RiskContext, account_equity
from ccm.risk.margin import margin_requirement


def excess_at(ctx: RiskContext, moves: FloatArray) -> FloatArray:
    """Adjusted equity − maintenance margin per account under per-account moves, shape (n_accounts,)."""
    return account_equity(ctx, moves).adjusted_equity - margin_requirement(ctx, moves).maintenance


def _can_breach(ctx: RiskContext) -> np.ndarray:
    """Accounts that can reach coverage 1 at all: those with positions or borrowings."""
    has_positions = np.diff(ctx.book.positions.indptr) > 0
    bal = ctx.book.balances
    negative = np.zeros(ctx.n_accounts, dtype=bool)
    rows = np.repeat(np.arange(ctx.n_accounts), np.diff(bal.indptr))
    negative[rows[bal.data < 0]] = True
    return has_positions | negative


def distance_to_liquidation(
    ctx: RiskContext,
    direction: int,
    excess_now: FloatArray,
    *,
    on_step: Callable[[], None] | None = None,
) -> FloatArray:
    """Magnitude of the breaching move per account (direction −1 = prices down, +1 = up), (n_accounts,)."""
    settings = ctx.config.distance
    grid = np.array([g for g in settings.grid if g <= settings.max_move] or [settings.max_move])
    if grid[-1] < settings.max_move:
        grid = np.append(grid, settings.max_move)
    n = ctx.n_accounts
    out = np.full(n, np.nan)
    out[excess_now < 0] = 0.0
    active = np.flatnonzero((excess_now >= 0) & _can_breach(ctx))
    lo = np.zeros(n)
    f_lo = excess_now.astype(float).copy()
    hi = np.full(n, np.nan)
    f_hi = np.full(n, np.nan)
    for g in grid:
        if active.size == 0:
            break
        sub = ctx.take(active)
        f = excess_at(sub, np.full(active.size, direction * g))
        breached = f < 0
        hit = active[breached]
        hi[hit], f_hi[hit] = g, f[breached]
        keep = active[~breached]
        lo[keep], f_lo[keep] = g, f[~breached]
        active = keep
        if on_step:
            on_step()

    bracketed = np.flatnonzero(np.isfinite(hi))
    a, b = lo[bracketed], hi[bracketed]
    fa, fb = f_lo[bracketed], f_hi[bracketed]
    if bracketed.size:
        sub = ctx.take(bracketed)
        side = np.zeros(bracketed.size, dtype=np.int8)  # Illinois: which end was kept last time
        for _ in range(settings.refine_iterations):
            open_ = (b - a) > settings.tolerance
            if not open_.any():
                break
            c = np.where(fa != fb, b - fb * (b - a) / (fb - fa), 0.5 * (a + b))
            c = np.clip(c, a, b)
            fc = excess_at(sub, direction * c)
            left = (fc >= 0) & open_  # root in [c, b]
            right = (fc < 0) & open_  # root in [a, c]
            a, fa = np.where(left, c, a), np.where(left, fc, fa)
            b, fb = np.where(right, c, b), np.where(right, fc, fb)
            # Illinois modification: halve the stale end's value when the same end is kept twice.
            fb = np.where(left & (side == 1), fb * 0.5, fb)
            fa = np.where(right & (side == -1), fa * 0.5, fa)
            side = np.where(left, 1, np.where(right, -1, side)).astype(np.int8)
            if on_step:
                on_step()
        # Final estimate: the linear crossing inside the last bracket (fa ≥ 0 > fb).
        with np.errstate(divide="ignore", invalid="ignore"):
            root = np.where(fa != fb, a + fa * (b - a) / (fa - fb), 0.5 * (a + b))
        out[bracketed] = np.clip(root, a, b)
    return out

"""Vectorised bracketed root finding: one root per entry, every entry at its own point."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ccm._typing import FloatArray, IntArray


def illinois_roots(
    evaluate: Callable[[IntArray, FloatArray], FloatArray],
    a: FloatArray,
    b: FloatArray,
    fa: FloatArray,
    fb: FloatArray,
    *,
    tolerance: float,
    iterations: int,
    on_step: Callable[[], None] | None = None,
) -> FloatArray:
    """Roots of n functions by Illinois regula falsi, with f(a) ≥ 0 > f(b) for every entry.

    Parameters
    ----------
    evaluate : ``evaluate(index, x)`` returns f at the points ``x`` for the entries ``index`` (both (k,)).
    a, b, fa, fb : ndarrays of shape (n,), the brackets and their values (modified in place).
    tolerance : an entry is done when its bracket is narrower than this or two successive estimates differ
        by less (the method converges superlinearly, so the error is then of that order).
    iterations : at most this many evaluations per entry; entries still open get the linear crossing
        inside their last bracket.

    Returns
    -------
    ndarray of shape (n,), the roots.
    """
    n = a.shape[0]
    root = np.full(n, np.nan)
    previous = np.full(n, np.nan)
    side = np.zeros(n, dtype=np.int8)  # which end was replaced last (Illinois halves the stale one)
    open_ = np.flatnonzero((b - a) > tolerance)
    for _ in range(iterations):
        if open_.size == 0:
            break
        a_o, b_o, fa_o, fb_o = a[open_], b[open_], fa[open_], fb[open_]
        c = np.where(fa_o != fb_o, b_o - fb_o * (b_o - a_o) / (fb_o - fa_o), 0.5 * (a_o + b_o))
        c = np.clip(c, a_o, b_o)
        fc = evaluate(open_, c)
        left = fc >= 0  # root in [c, b]
        a[open_] = np.where(left, c, a_o)
        fa[open_] = np.where(left, fc, fa_o)
        b[open_] = np.where(left, b_o, c)
        fb[open_] = np.where(left, fb_o, fc)
        last = side[open_]
        fb[open_] = np.where(left & (last == 1), fb[open_] * 0.5, fb[open_])
        fa[open_] = np.where(~left & (last == -1), fa[open_] * 0.5, fa[open_])
        side[open_] = np.where(left, 1, -1)
        done = (np.abs(c - previous[open_]) < tolerance) | (fc == 0) | ((b[open_] - a[open_]) <= tolerance)
        root[open_[done]] = c[done]
        previous[open_] = c
        open_ = open_[~done]
        if on_step:
            on_step()
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(fa != fb, a + fa * (b - a) / (fa - fb), 0.5 * (a + b))
    return np.where(np.isnan(root), np.clip(crossing, a, b), root)

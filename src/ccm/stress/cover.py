"""Reductions of stressed outcomes: uncovered loss, Cover-n, the largest losses per scenario, VaR and ES.

Pure array functions (no state, inputs never mutated). Losses are positive numbers (DESIGN.md §2).
"""

from __future__ import annotations

import math

import numpy as np

from ccm._typing import FloatArray, IntArray


def uncovered_loss(adjusted_equity: FloatArray) -> FloatArray:
    """Uncovered loss max(0, −adjusted equity), same shape as ``adjusted_equity`` (e.g. (S, n_accounts))."""
    return np.maximum(0.0, -np.asarray(adjusted_equity, dtype=float))


def cover_n(uncovered: FloatArray, n: int) -> FloatArray:
    """Cover-n per scenario: the sum of the ``n`` largest uncovered losses.

    Parameters
    ----------
    uncovered : ndarray of shape (S, n_accounts), uncovered losses (≥ 0).
    n : number of defaulters covered (1 = Cover-1, 2 = Cover-2); fewer accounts than n sum them all.

    Returns
    -------
    ndarray of shape (S,).
    """
    uncovered = np.asarray(uncovered, dtype=float)
    if n < 1:
        raise ValueError("n must be ≥ 1")
    width = uncovered.shape[1]
    if width <= n:
        return uncovered.sum(axis=1)
    largest = np.partition(uncovered, width - n, axis=1)[:, width - n:]
    return largest.sum(axis=1)


#: Up to this many accounts per scenario, :func:`largest_losses` uses k passes of argmax; beyond, a sort.
ARGMAX_PASSES_MAX_K = 16


def largest_losses(uncovered: FloatArray, k: int, *, overwrite_input: bool = False) -> tuple[IntArray, FloatArray]:
    """The ``k`` accounts with the largest positive uncovered loss in each scenario.

    Parameters
    ----------
    uncovered : ndarray of shape (S, n_accounts), uncovered losses (≥ 0).
    k : how many per scenario.
    overwrite_input : allow the function to overwrite ``uncovered`` (saves one copy of it).

    Returns
    -------
    (rows, amounts) : ndarrays of shape (S, k): account column index (int64, −1 where fewer than k accounts
        have a positive loss) and loss (0 there), largest first; equal losses in account order.

    Small k: k passes of a row-wise argmax (the first maximum, so ties go in account order), each found
    entry then knocked out; O(k × S × n) without sorting. Large k: only the positive entries are sorted.
    """
    uncovered = np.asarray(uncovered, dtype=float)
    s, n = uncovered.shape
    rows = np.full((s, k), -1, dtype=np.int64)
    amounts = np.zeros((s, k))
    if k == 0 or n == 0:
        return rows, amounts
    if k <= ARGMAX_PASSES_MAX_K:
        work = uncovered if overwrite_input else uncovered.copy()
        scen = np.arange(s)
        for j in range(min(k, n)):
            col = work.argmax(axis=1)
            value = work[scen, col]
            found = value > 0
            rows[found, j] = col[found]
            amounts[found, j] = value[found]
            if not found.any():
                break
            work[scen, col] = -1.0  # knocked out (losses are ≥ 0)
        return rows, amounts
    scen, acc = np.nonzero(uncovered > 0)
    if scen.size == 0:
        return rows, amounts
    value = uncovered[scen, acc]
    order = np.lexsort((acc, -value, scen))
    scen, acc, value = scen[order], acc[order], value[order]
    first = np.searchsorted(scen, np.arange(s))
    rank = np.arange(scen.shape[0]) - first[scen]
    top = rank < k
    rows[scen[top], rank[top]] = acc[top]
    amounts[scen[top], rank[top]] = value[top]
    return rows, amounts


def tail_rank(n_scenarios: int, confidence: float) -> int:
    """1-based rank k = ⌈confidence × S⌉ of the VaR scenario among losses sorted ascending (at least 1).

    A relative slack of 1e-12 absorbs binary rounding (0.99 × 100 is 99, not 100).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    product = confidence * n_scenarios
    return max(1, min(n_scenarios, math.ceil(product - 1e-12 * max(1.0, product))))


def var_es(losses: FloatArray, confidence: float) -> tuple[float, float]:
    """Historical (empirical) VaR and expected shortfall of losses across scenarios.

    Parameters
    ----------
    losses : ndarray of shape (S,), one loss per scenario (positive = loss), equally likely.
    confidence : e.g. 0.99.

    Returns
    -------
    (var, es) : floats; NaN when S = 0.

    Convention: sort the losses ascending, L(1) ≤ … ≤ L(S). VaR = L(k) with k = ⌈confidence × S⌉, the
    smallest loss whose empirical CDF reaches the confidence (the lower quantile, numpy's
    ``method="inverted_cdf"``). ES = mean of the S − k losses ranked beyond it, L(k+1) … L(S); ES = VaR when
    that tail is empty (k = S). Losses 1 … 100 at 0.99: VaR = 99, ES = 100; at 0.95: VaR = 95, ES = 98.
    """
    losses = np.asarray(losses, dtype=float).ravel()
    s = losses.shape[0]
    if s == 0:
        return float("nan"), float("nan")
    k = tail_rank(s, confidence)
    ordered = np.sort(losses)
    var = float(ordered[k - 1])
    es = float(ordered[k:].mean()) if k < s else var
    return var, es


def fund_to_cover_2(fund_usd: float, cover_2: float) -> float | None:
    """Fund ÷ Cover-2 (≥ 1: the fund survives the two largest defaults); None when Cover-2 is 0."""
    if not cover_2 > 0:
        return None
    return float(fund_usd) / float(cover_2)


__all__ = ["cover_n", "fund_to_cover_2", "largest_losses", "tail_rank", "uncovered_loss", "var_es"]

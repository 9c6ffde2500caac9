"""Margin add-ons: the stablecoin collateral that brings each account's probability of breaching within a
horizon down to a target.

For an account, let f(x) = adjusted equity − maintenance margin under a uniform move x of all non-stable
prices (``ccm.risk.distance.excess_at``; coverage ≥ 1 ⇔ f ≥ 0) and need(x) = −f(x). Adding collateral that
raises the excess by G (the same at every move, because a stablecoin does not move) breaches first at

    d(G) = the smallest |x| (each direction) with need(x) > G,

so the add-on that keeps coverage ≥ 1 out to a move m is G(m) = max(0, max_{0 ≤ |x| ≤ m} need(x)) — the
maximum, not only need(m), so that options books whose requirement is not monotone in the move are handled.
Steps, vectorised over the accounts that need an add-on:

1. need(x) on a grid of moves in both directions (``ADDON_GRID``, instruments valued once per move);
2. bisection on G for the smallest G with P(d_down(G), d_up(G)) ≤ p·(1 − ``AIM_MARGIN``), P the first-passage
   breach probability over the horizon (``ccm.analysis.breach.analytic_breach_probability``), d(G) interpolated
   linearly in need between grid moves (the margin, 0.2% of p, absorbs the distance solver's tolerance);
3. G → USD of stablecoin: the excess gained per USD added is measured on the account itself (1 − haircut for
   margin accounts, the liquidation threshold for lending accounts) with one secant correction for
   non-linear haircuts (liquidity add-on, tiers);
4. verification: distance to liquidation recomputed by ``ccm.risk.distance`` on the book with the add-on,
   and its breach probability; accounts still above target (grid interpolation error) get more rounds, and
   what is left after them an exact bisection on the USD amount (each step a distance recomputation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ccm._typing import FloatArray, IntArray
from ccm.book.book import Book
from ccm.errors import InputError
from ccm.risk.context import RiskContext
from ccm.risk.distance import distances_to_liquidation, excess_at, excess_on_grid

#: ``probability(distance_down, distance_up, vol_daily, horizon_days) -> (n,)``; NaN distance = no barrier.
ProbabilityFunction = Callable[[FloatArray, FloatArray, FloatArray, float], FloatArray]

#: Move magnitudes at which need(x) is evaluated: 0.25% apart up to 20%, 1% apart up to 95%.
ADDON_GRID = np.concatenate([np.arange(1, 81) * 0.0025, np.arange(21, 96) * 0.01])
#: The add-on aims at target × (1 − AIM_MARGIN): distances are found to ``distance.tolerance`` (1e-5 by default),
#: which moves a probability near 1% by up to ~0.1% of itself; aiming just inside keeps the recomputed one ≤ target.
AIM_MARGIN = 2e-3
#: Excess gains below this (USD) are taken as none (they are left by the bisection, not needed).
MIN_GAIN_USD = 1e-6
#: Bisection steps on the excess gain G (the bracket shrinks 2⁻⁶⁰: far below a cent on any account).
BISECTION_STEPS = 60


def default_probability() -> ProbabilityFunction:
    """``ccm.analysis.breach.analytic_breach_probability`` (exact two-barrier first passage, driftless)."""
    from ccm.analysis.breach import analytic_breach_probability

    return analytic_breach_probability


@dataclass(frozen=True, slots=True, kw_only=True)
class AddonResult:
    """Margin add-ons per account, arrays of shape (n_accounts,) aligned with the book.

    breach_probability : probability of reaching coverage 1 within the horizon, now.
    addon_usd : USD of ``asset`` to add (0 where already at or under target; NaN where adding it cannot
        help, e.g. a lending account whose ``asset`` has no liquidation threshold).
    probability_after : breach probability recomputed with the add-on (equals ``breach_probability`` where
        the add-on is 0).
    distance_down, distance_up : distance to liquidation now (relative moves; NaN = none within max_move).
    distance_down_after, distance_up_after : recomputed with the add-on.
    """

    account_ids: np.ndarray
    asset: str
    target_probability: float
    horizon_days: float
    vol_daily: FloatArray
    breach_probability: FloatArray
    addon_usd: FloatArray
    probability_after: FloatArray
    distance_down: FloatArray
    distance_up: FloatArray
    distance_down_after: FloatArray
    distance_up_after: FloatArray


def with_added_collateral(book: Book, rows: IntArray, asset: int | IntArray, amount: FloatArray) -> Book:
    """The book with ``amount`` (k,) units of asset column(s) ``asset`` (one, or (k,)) added to accounts ``rows``
    (k,) (negative: removed; repeated entries add up); ``book`` is not mutated."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.broadcast_to(np.asarray(asset, dtype=np.int64), rows.shape)
    extra = sp.csr_matrix((np.asarray(amount, dtype=float), (rows, cols)), shape=book.balances.shape)
    balances = (book.balances + extra).tocsr()
    balances.eliminate_zeros()
    balances.sort_indices()
    return Book(assets=book.assets, account_ids=book.account_ids, instruments=book.instruments,
                positions=book.positions, entry_amount=book.entry_amount,
                unpriced_quantity=book.unpriced_quantity, balances=balances, margin_model=book.margin_model)


def _with_addon(ctx: RiskContext, asset: int, addon_usd: FloatArray) -> RiskContext:
    """The context with ``addon_usd`` (n_accounts,) USD of stablecoin ``asset`` added to every account."""
    rows = np.flatnonzero(addon_usd > 0)
    qty = addon_usd[rows] / ctx.market.asset_prices[asset]
    return RiskContext.build(with_added_collateral(ctx.book, rows, asset, qty), ctx.market, ctx.config)


def need_grid(ctx: RiskContext, excess_now: FloatArray) -> tuple[FloatArray, FloatArray]:
    """need(x) = −excess(x) at each grid move, down and up, each of shape (n_accounts, K + 1), USD.

    Column 0 is the move 0 (−excess now); column k is ``ADDON_GRID[k − 1]`` (those ≤ ``distance.max_move``).
    Instruments are valued once per move (``ccm.risk.distance``'s batched grid pass, in chunks of accounts).
    """
    grid = ADDON_GRID[ADDON_GRID <= ctx.config.distance.max_move]
    k = grid.shape[0]
    f = excess_on_grid(ctx, np.arange(ctx.n_accounts), np.concatenate([-grid, grid]))  # (2K, n)
    now = -excess_now[None, :]
    return np.concatenate([now, -f[:k]]).T, np.concatenate([now, -f[k:]]).T


def distance_for_gain(need: FloatArray, moves: FloatArray, gain: FloatArray) -> FloatArray:
    """First move where need exceeds ``gain`` (linear interpolation), shape (n,); NaN = none on the grid.

    need : (n, K + 1) need at ``moves`` (K + 1,), moves[0] = 0; gain : (n,).
    """
    above = need > gain[:, None]
    hit = above.any(axis=1)
    k = np.argmax(above, axis=1)
    prev = np.maximum(k - 1, 0)
    r = np.arange(need.shape[0])
    n0, n1 = need[r, prev], need[r, k]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.clip((gain - n0) / (n1 - n0), 0.0, 1.0)
    d = moves[prev] + frac * (moves[k] - moves[prev])
    d = np.where(k == 0, 0.0, d)
    return np.where(hit, d, np.nan)


def required_gain(need_down: FloatArray, need_up: FloatArray, moves: FloatArray, vol_daily: FloatArray,
                  target: float, horizon_days: float, probability: ProbabilityFunction) -> FloatArray:
    """Smallest excess gain G ≥ 0 (USD, (n,)) with P(d_down(G), d_up(G)) ≤ target, by bisection."""
    n = need_down.shape[0]
    lo = np.zeros(n)
    hi = np.maximum(0.0, np.maximum(need_down.max(axis=1), need_up.max(axis=1)))
    hi = hi + 1e-9 * np.maximum(1.0, hi)  # strictly above every need: no breach on the grid, P = 0
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        p = probability(distance_for_gain(need_down, moves, mid), distance_for_gain(need_up, moves, mid),
                        vol_daily, horizon_days)
        ok = p <= target
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    return hi


def _gain_to_usd(ctx: RiskContext, asset: int, gain: FloatArray, excess_now: FloatArray) -> FloatArray:
    """USD of ``asset`` that raises each account's excess by ``gain`` (n,), NaN where adding it cannot help."""
    usd = np.where(gain > MIN_GAIN_USD, gain, 0.0)  # a gain below a micro-dollar is bisection noise: no add-on
    for _ in range(2):  # secant from 0: exact for a linear haircut, corrects a concave (liquidity) one
        trial = np.where(np.isfinite(usd) & (usd > 0), usd, 0.0)
        got = excess_at(_with_addon(ctx, asset, trial), None) - excess_now
        with np.errstate(divide="ignore", invalid="ignore"):
            usd = np.where(trial > 0, np.where(got > 0, trial * gain / got, np.nan), 0.0)
    return usd


def _probability_now(ctx, excess_now, vol_daily, horizon_days, probability):
    down, up = distances_to_liquidation(ctx, excess_now)
    return down, up, probability(down, up, vol_daily, horizon_days)


def _polish(ctx: RiskContext, asset: int, addon_usd: FloatArray, vol_daily: FloatArray, target: float,
            horizon_days: float, probability: ProbabilityFunction, *, steps: int = 24) -> FloatArray:
    """Exact bisection on the USD add-on of accounts still above ``target`` (few), each evaluation a distance
    recomputation on the book with that add-on; returns their add-ons, each with probability ≤ target."""
    def above(amount: FloatArray) -> np.ndarray:
        sub = _with_addon(ctx, asset, amount)
        ex = excess_at(sub, None)
        return _probability_now(sub, ex, vol_daily, horizon_days, probability)[2] > target

    lo = addon_usd.copy()
    step = 1e-3 * lo + 1.0
    hi = lo + step
    for _ in range(40):  # grow until every account is at or under target
        bad = above(hi)
        if not bad.any():
            break
        lo = np.where(bad, hi, lo)
        step = np.where(bad, 2.0 * step, step)
        hi = np.where(bad, hi + step, hi)
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        bad = above(mid)
        lo, hi = np.where(bad, mid, lo), np.where(bad, hi, mid)
    return hi


def margin_addons(ctx: RiskContext, vol_daily: FloatArray, *, target_probability: float, horizon_days: float,
                  asset: str = "USDC", probability: ProbabilityFunction | None = None,
                  rounds: int = 3) -> AddonResult:
    """Stablecoin add-on per account so that P(coverage < 1 within ``horizon_days``) ≤ ``target_probability``.

    Parameters
    ----------
    ctx : the book, market and config (n accounts).
    vol_daily : (n,) daily vol of each account's uniform move (``ccm.analysis.breach_features.account_vol_daily``).
    asset : the stable asset added (must be one of the book's assets and stable).
    probability : breach probability model (default :func:`default_probability`).
    rounds : at most this many add-on rounds; after the first, only accounts whose recomputed probability is
        still above target get a further add-on computed from their new state.
    """
    if not 0.0 < target_probability < 1.0:
        raise InputError(f"target probability must be in (0, 1), got {target_probability}",
                         record="--target-probability")
    if not horizon_days > 0:
        raise InputError(f"horizon must be > 0, got {horizon_days} days", record="--horizon-hours")
    if asset not in ctx.book.assets:
        raise InputError(f"add-on asset {asset!r} is not among the book's assets {list(ctx.book.assets)}",
                         record="--addon-asset")
    a = ctx.book.assets.index(asset)
    if ctx.moving[a]:
        raise InputError(f"add-on asset {asset!r} is not a stablecoin in the config", record="--addon-asset",
                         hint=f"set assets.{asset}.stable: true or pick a stablecoin")
    probability = probability or default_probability()
    vol_daily = np.asarray(vol_daily, dtype=float)
    grid = ADDON_GRID[ADDON_GRID <= ctx.config.distance.max_move]
    moves = np.concatenate([[0.0], grid])
    excess0 = excess_at(ctx, None)
    down0, up0, p0 = _probability_now(ctx, excess0, vol_daily, horizon_days, probability)
    addon = np.zeros(ctx.n_accounts)
    down, up, p = down0.copy(), up0.copy(), p0.copy()
    current = ctx
    excess = excess0
    for _ in range(rounds):
        rows = np.flatnonzero((p > target_probability) & np.isfinite(addon))
        if rows.size == 0:
            break
        sub = current.take(rows)
        need_d, need_u = need_grid(sub, excess[rows])
        gain = required_gain(need_d, need_u, moves, vol_daily[rows], target_probability * (1.0 - AIM_MARGIN),
                             horizon_days, probability)
        usd = _gain_to_usd(sub, a, gain, excess[rows])
        addon[rows] += usd
        current = _with_addon(ctx, a, np.nan_to_num(addon, nan=0.0))
        sub = current.take(rows)
        excess_sub = excess_at(sub, None)
        d_sub, u_sub, p_sub = _probability_now(sub, excess_sub, vol_daily[rows], horizon_days, probability)
        excess = excess.copy()
        excess[rows] = excess_sub
        down[rows], up[rows], p[rows] = d_sub, u_sub, p_sub
    rows = np.flatnonzero((p > target_probability) & np.isfinite(addon))
    if rows.size:  # what the grid interpolation left above target: exact bisection on the few accounts
        sub = ctx.take(rows)
        addon[rows] = _polish(sub, a, addon[rows], vol_daily[rows], target_probability, horizon_days, probability)
        sub = _with_addon(sub, a, addon[rows])
        down[rows], up[rows], p[rows] = _probability_now(sub, excess_at(sub, None), vol_daily[rows], horizon_days,
                                                         probability)
    return AddonResult(account_ids=ctx.book.account_ids, asset=asset, target_probability=target_probability,
                       horizon_days=horizon_days, vol_daily=vol_daily, breach_probability=p0, addon_usd=addon,
                       probability_after=p, distance_down=down0, distance_up=up0, distance_down_after=down,
                       distance_up_after=up)

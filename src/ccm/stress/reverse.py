"""Reverse stress: how far along a direction before an account's coverage reaches 1, or the fund reaches 0.

A direction is a path of markets indexed by a scale t ≥ 0 (t = 0 is today):

- ``"down"`` / ``"up"``: every non-stable price × (1 ∓ t), vols fixed — the uniform move of distance to
  liquidation. The per-account scale **is** ``distance_down`` / ``distance_up`` (DESIGN.md §2; computed by
  :func:`ccm.risk.distance.distances_to_liquidation`), with the maintenance requirement re-evaluated
  under the move;
- a ``ScenarioSet`` holding one scenario (returns r, vol shifts v, haircut multipliers h, liquidity
  multipliers l per asset), scaled: at scale t each asset's price multiplier is 1 + t·r, implied vols
  × (1 + t·v), haircuts × (1 + t·(h − 1)) and average daily volume × (1 + t·(l − 1)) (floored at 1e-6);
  t = 1 is the scenario itself. The core has no margin model under per-asset scenarios, so here the
  maintenance requirement is **held at today's level** (as in :func:`ccm.stress.run.run_stress`).

Per account: the smallest t at which coverage reaches 1 (adjusted equity − maintenance margin crosses 0);
0 where coverage is already below 1, NaN where it stays ≥ 1 up to the largest scale searched.
For the system: the smallest t at which the total uncovered loss Σ max(0, −adjusted equity) exceeds the
fund (the fund reaches 0); 0 if it already does, NaN if it never does within the largest scale.

The largest scale searched is ``max_scale`` capped so that no price and no vol falls by more than 95%
(1 + t·r ≥ 0.05: the range of distance to liquidation). Roots are found vectorised over accounts: one
batched pass over a shared grid of scales brackets every account's root, then Illinois regula falsi
with each account at its own scale (the idea of ``risk.distance``); the system root is bracketed on
the same grid and narrowed by multisection (16 scales per batched pass).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from ccm._typing import FloatArray, IntArray
from ccm.book.book import row_of_nonzeros, row_sums
from ccm.errors import InputError
from ccm.pricing.contracts import unit_value
from ccm.risk.context import (
    RiskContext,
    account_equity,
    haircut_applies,
    instrument_terms,
    scenario_adjusted_equity,
)
from ccm.risk.distance import distances_to_liquidation
from ccm.risk.haircut import haircut_values
from ccm.risk.margin import margin_requirement
from ccm.risk.roots import illinois_roots
from ccm.scenario.base import ScenarioSet

#: Default largest scale of a scaled scenario (t = 5: five times the scenario).
MAX_SCENARIO_SCALE = 5.0
#: Smallest price / vol multiplier reached in a search (a 95% fall, as in distance to liquidation).
FLOOR_MULTIPLIER = 0.05
#: Smallest average-daily-volume multiplier (a liquidity multiplier of 0 would make haircuts undefined).
LIQUIDITY_FLOOR = 1e-6
#: Interior scales evaluated per multisection pass of the system root.
SYSTEM_POINTS = 16
#: Bound on scales × accounts evaluated at once in the grid pass.
GRID_CELLS = 20_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Direction:
    """A direction over the book's assets, each array of shape (n_assets,) (see the module docstring)."""

    name: str
    returns: FloatArray
    vol_shifts: FloatArray
    haircut_multipliers: FloatArray
    liquidity_multipliers: FloatArray

    def multipliers(self, scales: FloatArray) -> dict[str, FloatArray]:
        """Keyword arguments of ``scenario_adjusted_equity`` at ``scales`` (B,): arrays (B, n_assets)."""
        t = np.asarray(scales, dtype=float)[:, None]
        return dict(
            price_multiplier=1.0 + t * self.returns[None, :],
            vol_multiplier=1.0 + t * self.vol_shifts[None, :],
            haircut_multiplier=np.maximum(0.0, 1.0 + t * (self.haircut_multipliers[None, :] - 1.0)),
            liquidity_multiplier=np.maximum(LIQUIDITY_FLOOR, 1.0 + t * (self.liquidity_multipliers[None, :] - 1.0)),
        )

    def largest_scale(self, max_scale: float) -> float:
        """``max_scale`` capped so that 1 + t·r and 1 + t·v stay ≥ FLOOR_MULTIPLIER."""
        falls = np.concatenate([self.returns, self.vol_shifts])
        falls = -falls[falls < 0]
        cap = (1.0 - FLOOR_MULTIPLIER) / falls.max() if falls.size else np.inf
        return float(min(max_scale, cap))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReverseResult:
    """Outcome of :func:`reverse_stress`.

    Attributes
    ----------
    direction : "down", "up" or the scenario's name.
    account_ids : ndarray of str (n_accounts,).
    account_scale : (n_accounts,) smallest scale at which coverage reaches 1; 0 = already below 1; NaN = none
        up to ``max_scale``.
    requirement_held : False for "down"/"up" (requirement re-evaluated: distance to liquidation), True for
        a scaled scenario (today's maintenance margin).
    fund_usd : the fund, or None (no system search).
    system_scale : smallest scale at which the total uncovered loss exceeds the fund; NaN when ``fund_usd``
        is None or the fund survives up to ``max_scale``.
    system_uncovered_loss : total uncovered loss at ``system_scale`` (≈ the fund), NaN with it.
    max_scale : the largest scale searched (after the 95% cap).
    assets : the book's assets; price_returns, vol_shifts : (n_assets,) the direction at scale 1.
    """

    direction: str
    account_ids: np.ndarray
    account_scale: FloatArray
    requirement_held: bool
    fund_usd: float | None
    system_scale: float
    system_uncovered_loss: float
    max_scale: float
    assets: tuple[str, ...]
    price_returns: FloatArray
    vol_shifts: FloatArray


def direction_path(ctx: RiskContext, direction: Literal["down", "up"] | ScenarioSet) -> Direction:
    """The direction as a :class:`Direction` over the book's assets (a ScenarioSet must hold one scenario)."""
    n_assets = len(ctx.book.assets)
    if isinstance(direction, ScenarioSet):
        if len(direction) != 1:
            raise InputError(f"reverse stress scales one scenario, got {len(direction)}", record="scenarios",
                             field="direction")
        s = direction.for_assets(ctx.book.assets, stable=ctx.haircuts.stable)
        return Direction(name=s.names[0], returns=s.price_returns[0], vol_shifts=s.vol_shifts[0],
                    haircut_multipliers=s.haircut_multipliers[0], liquidity_multipliers=s.liquidity_multipliers[0])
    if direction not in ("down", "up"):
        raise InputError(f"direction must be 'down', 'up' or a ScenarioSet, got {direction!r}", field="direction")
    sign = -1.0 if direction == "down" else 1.0
    return Direction(name=direction, returns=sign * ctx.moving.astype(float), vol_shifts=np.zeros(n_assets),
                haircut_multipliers=np.ones(n_assets), liquidity_multipliers=np.ones(n_assets))


def scaled_adjusted_equity(ctx: RiskContext, path: Direction, scale: FloatArray) -> FloatArray:
    """Adjusted equity of every account of ``ctx``, each at its own ``scale`` (n_accounts,) along ``path``.

    Position-level valuation (each stored position at its account's scale), so it costs one pass over the
    positions and balances of the accounts of ``ctx`` — the refinement step, where every account sits at
    a different scale. Agrees with :func:`scenario_adjusted_equity` when all scales are equal.
    """
    book, mkt, ins = ctx.book, ctx.market, ctx.book.instruments
    scale = np.asarray(scale, dtype=float)
    positions = book.positions
    cols = positions.indices
    t = scale[ctx.position_row]
    under, settle_asset = ins.underlying[cols], ins.settlement_asset[cols]
    forward = mkt.forward[cols] * (1.0 + t * path.returns[under])
    vol = mkt.vol[cols] * (1.0 + t * path.vol_shifts[under])
    values = unit_value(forward, vol=vol, **instrument_terms(ctx, cols))
    settle = mkt.settle_price[cols] * (1.0 + t * path.returns[settle_asset])
    position_value = row_sums((positions.data * values + ctx.entry_total) * settle, positions.indptr)

    balances = book.balances
    assets = balances.indices
    rows = row_of_nonzeros(balances)
    tb = scale[rows]
    price = mkt.asset_prices[assets] * (1.0 + tb * path.returns[assets])
    cut = haircut_values(
        balances.data, price, assets, ctx.haircuts,
        haircut_multiplier=np.maximum(0.0, 1.0 + tb * (path.haircut_multipliers[assets] - 1.0)),
        liquidity_multiplier=np.maximum(LIQUIDITY_FLOOR, 1.0 + tb * (path.liquidity_multipliers[assets] - 1.0)),
    )
    cut = np.where(haircut_applies(ctx.model_code[rows]), cut, balances.data * price)
    return row_sums(cut, balances.indptr) + position_value


def _grid(ctx: RiskContext, largest: float) -> FloatArray:
    """Shared grid of scales in (0, largest]: the distance grid stretched to ``largest``."""
    settings = ctx.config.distance
    unit = np.array(sorted(g for g in settings.grid if 0 < g <= settings.max_move)) / settings.max_move
    grid = np.unique(np.append(unit * largest, largest))
    return grid[grid > 0]


def _equity_on_scales(ctx: RiskContext, path: Direction, scales: FloatArray) -> FloatArray:
    """Adjusted equity (B, n_accounts) at the shared ``scales`` (B,), in batches of scales."""
    out = np.empty((scales.shape[0], ctx.n_accounts))
    step = max(1, GRID_CELLS // max(1, ctx.n_accounts))
    for start in range(0, scales.shape[0], step):
        part = slice(start, start + step)
        out[part] = scenario_adjusted_equity(ctx, **path.multipliers(scales[part]))
    return out


def _illinois(ctx: RiskContext, path: Direction, rows: IntArray, maintenance: FloatArray, a, b, fa, fb,
              tolerance: float, iterations: int) -> FloatArray:
    """Per-account roots of f = AE(t) − MM for accounts ``rows`` with f(a) ≥ 0 > f(b)."""
    def evaluate(index: IntArray, scale: FloatArray) -> FloatArray:
        sub = rows[index]
        return scaled_adjusted_equity(ctx.take(sub), path, scale) - maintenance[sub]

    return illinois_roots(evaluate, a, b, fa, fb, tolerance=tolerance, iterations=iterations)


def _account_scales(ctx: RiskContext, path: Direction, largest: float) -> FloatArray:
    """Per-account root of AE(t) − MM_today along a scaled scenario (requirement held)."""
    settings = ctx.config.distance
    maintenance = np.asarray(margin_requirement(ctx).maintenance, dtype=float)
    excess_now = account_equity(ctx).adjusted_equity - maintenance
    out = np.full(ctx.n_accounts, np.nan)
    out[excess_now < 0] = 0.0
    candidates = np.flatnonzero(excess_now >= 0)
    if candidates.size == 0 or largest <= 0:
        return out
    grid = _grid(ctx, largest)
    f = _equity_on_scales(ctx, path, grid)[:, candidates] - maintenance[candidates][None, :]
    breached = f < 0
    hit = breached.any(axis=0)
    cols = np.flatnonzero(hit)
    if cols.size == 0:
        return out
    first = np.argmax(breached, axis=0)[hit]
    rows = candidates[cols]
    b = grid[first].copy()
    fb = f[first, cols].copy()
    prev = first - 1
    a = np.where(prev >= 0, grid[np.maximum(prev, 0)], 0.0)
    fa = np.where(prev >= 0, f[np.maximum(prev, 0), cols], excess_now[rows]).astype(float)
    iterations = max(settings.refine_iterations, 30)
    out[rows] = _illinois(ctx, path, rows, maintenance, a, b, fa, fb, settings.tolerance, iterations)
    return out


def system_uncovered_at(ctx: RiskContext, path: Direction, scales: FloatArray) -> FloatArray:
    """Total uncovered loss Σ_accounts max(0, −AE) at each of ``scales`` (B,), shape (B,)."""
    ae = _equity_on_scales(ctx, path, np.asarray(scales, dtype=float))
    return -np.minimum(ae, 0.0).sum(axis=1)


def _system_scale(ctx: RiskContext, path: Direction, fund: float, largest: float) -> tuple[float, float]:
    """(scale, total uncovered loss there): smallest t with Σ uncovered(t) > fund, by grid then multisection."""
    tolerance = ctx.config.distance.tolerance
    grid = np.concatenate([[0.0], _grid(ctx, largest)]) if largest > 0 else np.zeros(1)
    g = system_uncovered_at(ctx, path, grid) - fund
    over = np.flatnonzero(g > 0)
    if over.size == 0:
        return float("nan"), float("nan")
    k = int(over[0])
    if k == 0:
        return 0.0, float(g[0] + fund)
    a, b, ga, gb = grid[k - 1], grid[k], g[k - 1], g[k]
    while b - a > tolerance:
        points = np.linspace(a, b, SYSTEM_POINTS + 2)[1:-1]
        gp = system_uncovered_at(ctx, path, points) - fund
        over = np.flatnonzero(gp > 0)
        j = int(over[0]) if over.size else SYSTEM_POINTS
        if j < SYSTEM_POINTS:
            b, gb = points[j], gp[j]
        if j > 0:
            a, ga = points[j - 1], gp[j - 1]
    root = a + (0.0 - ga) * (b - a) / (gb - ga) if gb != ga else 0.5 * (a + b)
    root = float(np.clip(root, a, b))
    return root, float(system_uncovered_at(ctx, path, np.array([root]))[0])


def reverse_stress(
    ctx: RiskContext,
    *,
    direction: Literal["down", "up"] | ScenarioSet = "down",
    fund_usd: float | None = None,
    max_scale: float | None = None,
) -> ReverseResult:
    """Smallest scale along ``direction`` at which each account's coverage reaches 1, and at which the total
    uncovered loss exceeds ``fund_usd`` (see the module docstring for the paths and conventions).

    Parameters
    ----------
    ctx : the book, its market and config.
    direction : "down", "up" (uniform moves of all non-stable prices) or a ScenarioSet with one scenario.
    fund_usd : insurance / default fund (≥ 0); None skips the system search.
    max_scale : largest scale searched; default ``config.distance.max_move`` (0.95) for "down"/"up" and
        :data:`MAX_SCENARIO_SCALE` for a scenario; capped so no price or vol falls by more than 95%.
    """
    if fund_usd is not None and not fund_usd >= 0:
        raise ValueError("fund_usd must be ≥ 0")
    if max_scale is not None and not max_scale > 0:
        raise ValueError("max_scale must be > 0")
    path = direction_path(ctx, direction)
    uniform = not isinstance(direction, ScenarioSet)
    if uniform:
        settings = ctx.config.distance
        if max_scale is not None and max_scale != settings.max_move:
            config = replace(ctx.config, distance=replace(settings, max_move=min(max_scale, 1 - FLOOR_MULTIPLIER)))
            ctx = replace(ctx, config=config, cache={})
        largest = path.largest_scale(ctx.config.distance.max_move)
        excess_now = account_equity(ctx).adjusted_equity - margin_requirement(ctx).maintenance
        down, up = distances_to_liquidation(ctx, excess_now)
        scales = down if direction == "down" else up
    else:
        largest = path.largest_scale(MAX_SCENARIO_SCALE if max_scale is None else max_scale)
        scales = _account_scales(ctx, path, largest)
    if fund_usd is None:
        system, at_root = float("nan"), float("nan")
    else:
        system, at_root = _system_scale(ctx, path, float(fund_usd), largest)
    return ReverseResult(
        direction=path.name,
        account_ids=ctx.book.account_ids,
        account_scale=scales,
        requirement_held=not uniform,
        fund_usd=None if fund_usd is None else float(fund_usd),
        system_scale=system,
        system_uncovered_loss=at_root,
        max_scale=largest,
        assets=ctx.book.assets,
        price_returns=path.returns,
        vol_shifts=path.vol_shifts,
    )


__all__ = ["Direction", "ReverseResult", "direction_path", "reverse_stress", "scaled_adjusted_equity",
           "system_uncovered_at"]

"""Collateral mix: the swaps between collateral assets that maximise an account's worst stressed adjusted
equity, as one linear program per account (``scipy.optimize.linprog``, HiGHS).

For an account holding value v_a = q_a·P_a (USD, v_a > 0) of asset a, a swap sells y_ab USD (at today's
price) of a and buys (1 − c_ab)·y_ab USD of b, c_ab the swap cost (bp / 10⁴). In scenario s the haircut value
of one unit of a is W_sa (price P_a·(1 + r_sa), haircut re-evaluated with the scenario's haircut and
liquidity multipliers, ``ccm.risk.haircut.haircut_values``), so the stressed adjusted equity is linear in y:

    AE_s(y) = AE_s(0) + Σ_ab y_ab · (−W_sa / P_a + (1 − c_ab) · W_sb / P_b)

    maximise t − ε Σ y   subject to   t ≤ AE_s(y) for every s,   Σ_b y_ab ≤ v_a,   y ≥ 0

(ε = 1e-7 prefers no swap among equally good ones). W is taken at the account's current holding (the
average haircut, exact without a liquidity add-on or tiers); the swaps are then re-evaluated exactly with
``ccm.risk.context.scenario_adjusted_equity`` on the swapped book, and an account whose exact worst stressed
equity would not improve gets no swap. Lending accounts are left out (their requirement depends on the
collateral mix, so maximising stressed equity alone is not their objective).

The matrices are built with numpy for all accounts at once; the solver is called once per account in a
Python loop over the (few) accounts asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from ccm._typing import FloatArray, IntArray
from ccm.analysis.optimise_addon import with_added_collateral
from ccm.errors import InputError, ModelError
from ccm.risk.context import LENDING_CODE, RiskContext, scenario_adjusted_equity
from ccm.risk.coverage import REQUIREMENT_FLOOR_USD
from ccm.risk.haircut import haircut_values
from ccm.risk.margin import margin_requirement
from ccm.scenario.base import ScenarioSet

#: Swaps smaller than this (USD sold) are not reported (solver noise).
MIN_SWAP_USD = 1.0
#: Weight of the total swapped value in the objective (ties go to fewer swaps).
SWAP_PENALTY = 1e-7


@dataclass(frozen=True, slots=True, kw_only=True)
class SwapResult:
    """Recommended swaps (m rows) and the per-account effect (k accounts optimised).

    Swap rows: ``account_row`` (m,) into the book, ``sell``/``buy`` (m,) asset indices, ``sell_qty``/``buy_qty``
    (m,) asset units, ``sell_usd`` (m,) value sold at today's price, ``cost_usd`` (m,) = value sold × cost
    (so value sold = value bought + cost at today's prices).
    Per optimised account: ``rows`` (k,), worst stressed adjusted equity ``worst_before``/``worst_after`` (USD,
    exact) and ``coverage_before``/``coverage_after`` = worst ÷ today's maintenance margin (NaN without one),
    ``worst_scenario_before``/``worst_scenario_after`` (k,) scenario indices.
    """

    assets: tuple[str, ...]
    account_row: IntArray
    sell: IntArray
    buy: IntArray
    sell_qty: FloatArray
    buy_qty: FloatArray
    sell_usd: FloatArray
    cost_usd: FloatArray
    rows: IntArray
    worst_before: FloatArray
    worst_after: FloatArray
    coverage_before: FloatArray
    coverage_after: FloatArray
    worst_scenario_before: IntArray
    worst_scenario_after: IntArray


def cost_matrix(n_assets: int, cost_bp: float | FloatArray) -> FloatArray:
    """Swap cost as a fraction, (n_assets, n_assets) from one bp figure or a matrix in bp (diagonal unused)."""
    c = np.broadcast_to(np.asarray(cost_bp, dtype=float), (n_assets, n_assets)) / 1e4
    if not np.all(np.isfinite(c)) or np.any(c < 0) or np.any(c >= 1):
        raise InputError("swap costs must be finite, ≥ 0 bp and < 10,000 bp", record="--swap-cost-bp")
    return np.array(c)


def stressed_equity(ctx: RiskContext, scenarios: ScenarioSet) -> FloatArray:
    """Adjusted equity in each scenario, (S, n_accounts); ``scenarios`` over the book's assets."""
    return scenario_adjusted_equity(ctx, 1.0 + scenarios.price_returns,
                                    vol_multiplier=1.0 + scenarios.vol_shifts,
                                    haircut_multiplier=scenarios.haircut_multipliers,
                                    liquidity_multiplier=scenarios.liquidity_multipliers)


def unit_scenario_values(ctx: RiskContext, scenarios: ScenarioSet, quantity: FloatArray) -> FloatArray:
    """Haircut USD value of one unit of each asset in each scenario at the given holdings, (k, S, n_assets).

    quantity : (k, n_assets) holdings (units); where ≤ 0 the haircut of a small balance is used.
    """
    prices = ctx.market.asset_prices[None, :] * (1.0 + scenarios.price_returns)  # (S, n_assets)
    q = np.where(quantity > 0, quantity, 1e-9)[:, None, :]  # (k, 1, n_assets)
    assets = np.arange(len(ctx.book.assets))[None, None, :]
    cut = haircut_values(q, prices[None], assets, ctx.haircuts, haircut_multiplier=scenarios.haircut_multipliers[None],
                         liquidity_multiplier=scenarios.liquidity_multipliers[None])
    return cut / q


def lp_matrices(unit_values: FloatArray, prices: FloatArray, holdings_usd: FloatArray, worst_now: FloatArray,
                cost: FloatArray) -> tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray]:
    """The LP of one account: (sell, buy) of each swap variable (p,), A_ub (S + n_assets, p + 1), b_ub, c.

    unit_values : (S, n_assets) W; prices : (n_assets,) P; holdings_usd : (n_assets,) v (≤ 0: nothing to
    sell); worst_now : (S,) AE_s(0); cost : (n_assets, n_assets) fraction. Variables: y (p,) then t.
    """
    n = prices.shape[0]
    sell, buy = np.nonzero((holdings_usd[:, None] > 0) & ~np.eye(n, dtype=bool))
    per_usd = unit_values / prices[None, :]  # (S, n) haircut value per USD of today's value
    gain = -per_usd[:, sell] + (1.0 - cost[sell, buy])[None, :] * per_usd[:, buy]  # (S, p)
    s = unit_values.shape[0]
    p = sell.shape[0]
    scen = np.hstack([-gain, np.ones((s, 1))])
    limit = np.zeros((n, p + 1))
    limit[sell, np.arange(p)] = 1.0
    a_ub = np.vstack([scen, limit])
    b_ub = np.concatenate([worst_now, np.maximum(holdings_usd, 0.0)])
    c = np.concatenate([np.full(p, SWAP_PENALTY), [-1.0]])
    return sell, buy, a_ub, b_ub, c


def solve_swaps(unit_values: FloatArray, prices: FloatArray, holdings_usd: FloatArray, worst_now: FloatArray,
                cost: FloatArray) -> tuple[IntArray, IntArray, FloatArray, float]:
    """(sell, buy, USD sold (p,), optimal t) for one account (see :func:`lp_matrices`)."""
    sell, buy, a_ub, b_ub, c = lp_matrices(unit_values, prices, holdings_usd, worst_now, cost)
    if sell.size == 0:
        return sell, buy, np.zeros(0), float(np.min(worst_now))
    bounds = [(0.0, None)] * sell.size + [(None, None)]
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0:
        raise ModelError(f"collateral LP failed: {res.message}")
    return sell, buy, np.maximum(res.x[:-1], 0.0), float(res.x[-1])


def optimise_collateral(ctx: RiskContext, scenarios: ScenarioSet, rows: IntArray, *,
                        cost_bp: float | FloatArray = 10.0) -> SwapResult:
    """Swaps maximising the worst stressed adjusted equity of accounts ``rows`` (lending accounts skipped).

    ``scenarios`` may be over any assets (realigned to the book's with ``ScenarioSet.for_assets``);
    ``cost_bp`` is one swap cost for every pair or an (n_assets, n_assets) matrix, in basis points.
    """
    aligned = scenarios.for_assets(ctx.book.assets, stable=ctx.haircuts.stable)
    if len(aligned) == 0:
        raise InputError("the collateral optimisation needs at least one scenario", record="--scenarios")
    n_assets = len(ctx.book.assets)
    cost = cost_matrix(n_assets, cost_bp)
    rows = np.asarray(rows, dtype=np.int64)
    rows = rows[ctx.model_code[rows] != LENDING_CODE]
    sub = ctx.take(rows)
    prices = ctx.market.asset_prices
    quantity = sub.book.balances.toarray()  # (k, n_assets): only the accounts optimised
    holdings_usd = quantity * prices[None, :]
    before = stressed_equity(sub, aligned)  # (S, k)
    unit_values = unit_scenario_values(sub, aligned, quantity)
    swap_rows, sells, buys, sold = [], [], [], []
    for j in range(rows.shape[0]):  # one LP per account (documented: the few accounts asked for)
        sell, buy, y, _ = solve_swaps(unit_values[j], prices, holdings_usd[j], before[:, j], cost)
        keep = y >= MIN_SWAP_USD
        swap_rows.append(np.full(int(keep.sum()), j))
        sells.append(sell[keep])
        buys.append(buy[keep])
        sold.append(y[keep])
    j_of = np.concatenate(swap_rows).astype(np.int64) if swap_rows else np.zeros(0, dtype=np.int64)
    sell = np.concatenate(sells).astype(np.int64) if sells else np.zeros(0, dtype=np.int64)
    buy = np.concatenate(buys).astype(np.int64) if buys else np.zeros(0, dtype=np.int64)
    usd = np.concatenate(sold) if sold else np.zeros(0)
    sell_qty = np.minimum(usd / prices[sell], quantity[j_of, sell])
    usd = sell_qty * prices[sell]
    buy_qty = usd * (1.0 - cost[sell, buy]) / prices[buy]
    swapped = with_added_collateral(sub.book, np.concatenate([j_of, j_of]), np.concatenate([sell, buy]),
                                    np.concatenate([-sell_qty, buy_qty]))
    after = stressed_equity(RiskContext.build(swapped, ctx.market, ctx.config), aligned)
    worst_before, worst_after = before.min(axis=0), after.min(axis=0)
    improved = worst_after > worst_before
    if not improved.all():  # the linearised haircut misjudged: recommend nothing for those accounts
        keep = improved[j_of]
        j_of, sell, buy, sell_qty, buy_qty, usd = (x[keep] for x in (j_of, sell, buy, sell_qty, buy_qty, usd))
        after = np.where(improved[None, :], after, before)
        worst_after = after.min(axis=0)
    mm = np.asarray(margin_requirement(sub).maintenance, dtype=float)
    bounded = mm > REQUIREMENT_FLOOR_USD
    safe = np.where(bounded, mm, 1.0)
    return SwapResult(assets=ctx.book.assets, account_row=rows[j_of], sell=sell, buy=buy, sell_qty=sell_qty,
                      buy_qty=buy_qty, sell_usd=usd, cost_usd=usd * cost[sell, buy], rows=rows,
                      worst_before=worst_before, worst_after=worst_after,
                      coverage_before=np.where(bounded, worst_before / safe, np.nan),
                      coverage_after=np.where(bounded, worst_after / safe, np.nan),
                      worst_scenario_before=np.argmin(before, axis=0), worst_scenario_after=np.argmin(after, axis=0))

"""Collateral swaps by linear programming: a brute-force grid search on a 2-asset toy account, value
conservation, holdings limits, and stressed losses that never grow (checked with an independent stress run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ccm.analysis.optimise_addon import with_added_collateral
from ccm.analysis.optimise_collateral import optimise_collateral
from ccm.book import Account, Position
from ccm.errors import InputError
from ccm.io.book import load_book
from ccm.io.config import load_config
from ccm.io.market import load_market
from ccm.pricing.market_state import resolve_market
from ccm.risk.config import AssetRisk
from ccm.risk.context import LENDING_CODE, RiskContext
from ccm.scenario import ScenarioSet, standard_hypotheticals
from ccm.stress.run import run_stress
from tests.reference.builders import AS_OF, config, perp
from tests.reference.harness import engine_context

ROOT = Path(__file__).resolve().parents[2]
P = 3_000.0  # ETH
H_ETH = 0.10  # static ETH haircut (no volatility or liquidity terms: collateral value is linear)
COST = 0.001  # 10 bp
E0, U0, SHORT = 5.0, 20_000.0, -10.0  # ETH held, USDC held, ETH perp position
RETURNS = np.array([-0.3, 0.0, 0.3, 0.15])
HAIRCUT_X = np.array([1.0, 1.0, 1.0, 3.0])  # the last scenario also triples haircuts


def toy_context() -> RiskContext:
    cfg = config(assets={"USDC": AssetRisk(stable=True), "ETH": AssetRisk(haircut=H_ETH)})
    acc = Account(id="toy", collateral={"ETH": E0, "USDC": U0},
                  positions=(Position(instrument="ETH-USDC-PERP", quantity=SHORT),))
    return engine_context([perp("ETH")], [acc], {"ETH": P, "USDC": 1.0}, {}, AS_OF, cfg)


def toy_scenarios(assets) -> ScenarioSet:
    eth = assets.index("ETH")
    returns = np.zeros((len(RETURNS), len(assets)))
    returns[:, eth] = RETURNS
    haircuts = np.ones_like(returns)
    haircuts[:, eth] = HAIRCUT_X
    return ScenarioSet(assets=tuple(assets), names=tuple(f"s{k}" for k in range(len(RETURNS))),
                       price_returns=returns, haircut_multipliers=haircuts)


def worst_equity_by_hand(eth_units, usdc):
    """min over scenarios of ETH·P(1 + r)(1 − h·k) + USDC + short perp P&L (q·P·r), broadcasting."""
    eth_units, usdc = np.asarray(eth_units)[..., None], np.asarray(usdc)[..., None]
    ae = eth_units * P * (1 + RETURNS) * (1 - H_ETH * HAIRCUT_X) + usdc + SHORT * P * RETURNS
    return ae.min(axis=-1)


def test_lp_matches_a_brute_force_grid_on_two_assets():
    ctx = toy_context()
    scen = toy_scenarios(ctx.book.assets)
    res = optimise_collateral(ctx, scen, np.array([0]), cost_bp=COST * 1e4)
    assert res.worst_before[0] == pytest.approx(worst_equity_by_hand(E0, U0), rel=1e-12)
    # Grid over both swap directions: sell y1 USD of ETH for USDC, sell y2 USD of USDC for ETH.
    y1 = np.linspace(0.0, E0 * P, 601)[:, None]
    y2 = np.linspace(0.0, U0, 601)[None, :]
    eth = E0 - y1 / P + y2 * (1 - COST) / P
    usdc = U0 - y2 + y1 * (1 - COST)
    grid = worst_equity_by_hand(eth, usdc)
    best = grid.max()
    step = max(E0 * P, U0) / 600
    assert best > res.worst_before[0] + 100  # the toy has something to gain
    assert res.worst_after[0] >= best - 1e-6 * abs(best)
    assert res.worst_after[0] <= best + 2 * step
    # The reported swaps reproduce the optimum by hand.
    assets = ctx.book.assets
    units = {"ETH": E0, "USDC": U0}
    for k in range(res.sell.shape[0]):
        units[assets[res.sell[k]]] -= res.sell_qty[k]
        units[assets[res.buy[k]]] += res.buy_qty[k]
    assert worst_equity_by_hand(units["ETH"], units["USDC"]) == pytest.approx(res.worst_after[0], rel=1e-9)


@pytest.fixture(scope="module")
def example():
    book = load_book(ROOT / "examples" / "book.json")
    snap = load_market(ROOT / "examples" / "market.json")
    ctx = RiskContext.build(book, resolve_market(snap, book.assets, book.instruments), load_config(None))
    stable = {a for a, s in zip(book.assets, ctx.haircuts.stable, strict=True) if s}
    scen = standard_hypotheticals(book.assets, stable)
    rows = np.arange(ctx.n_accounts)
    return ctx, scen, optimise_collateral(ctx, scen, rows, cost_bp=10.0)


def test_value_is_conserved_and_holdings_are_respected(example):
    ctx, _, res = example
    prices = ctx.market.asset_prices
    assert res.sell.shape[0] > 0
    assert np.all(res.sell != res.buy)
    np.testing.assert_allclose(res.sell_qty * prices[res.sell], res.sell_usd, rtol=1e-12)
    np.testing.assert_allclose(res.buy_qty * prices[res.buy] + res.cost_usd, res.sell_usd, rtol=1e-12)
    np.testing.assert_allclose(res.cost_usd, res.sell_usd * 10.0 / 1e4, rtol=1e-12)
    held = ctx.book.balances.toarray()
    sold = np.zeros_like(held)
    np.add.at(sold, (res.account_row, res.sell), res.sell_qty)
    assert np.all(sold <= np.maximum(held, 0.0) * (1 + 1e-12))


def test_swaps_never_increase_stressed_loss(example):
    ctx, scen, res = example
    assert np.all(res.worst_after >= res.worst_before)
    assert np.any(res.worst_after > res.worst_before + 1.0)
    # Independent check: the stress engine on the swapped book.
    book = with_added_collateral(ctx.book, np.concatenate([res.account_row, res.account_row]),
                                 np.concatenate([res.sell, res.buy]), np.concatenate([-res.sell_qty, res.buy_qty]))
    before = run_stress(ctx, scen)
    after = run_stress(RiskContext.build(book, ctx.market, ctx.config), scen)
    loss_before = np.maximum(0.0, -before.worst_adjusted_equity)
    loss_after = np.maximum(0.0, -after.worst_adjusted_equity)
    assert np.all(loss_after <= loss_before + 1e-6)
    np.testing.assert_allclose(after.worst_adjusted_equity[res.rows], res.worst_after, rtol=1e-9)


def test_lending_accounts_are_left_out(example):
    ctx, _, res = example
    assert not np.any(ctx.model_code[res.rows] == LENDING_CODE)


def test_bad_swap_cost_is_an_input_error():
    ctx = toy_context()
    with pytest.raises(InputError, match="swap costs"):
        optimise_collateral(ctx, toy_scenarios(ctx.book.assets), np.array([0]), cost_bp=-1.0)

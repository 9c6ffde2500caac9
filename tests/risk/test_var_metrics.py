"""The var model as a margin model of ``ccm metrics`` (``evaluate``): the wiring against ``var_requirement`` called
as the backtest calls it, the requirement under uniform moves against a market moved by hand
(``analysis.timeline.move_market``, one account at a time), distance to liquidation (coverage 1 at the reported
move), hedging, and the input errors without a history."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ccm.analysis.timeline import ContextStepEvaluator, move_market
from ccm.book import Account, Position, build_book
from ccm.engine.engine import CoverageEngine
from ccm.enums import MarginModelName
from ccm.errors import InputError
from ccm.market import MarketSnapshot
from ccm.pricing.market_state import resolve_market
from ccm.risk.config import VarParams
from ccm.risk.context import RiskContext, account_equity
from ccm.risk.margin import margin_requirement
from ccm.risk.margin.var import MarketHistory, var_requirement
from ccm.risk.metrics import evaluate, with_model
from tests.reference.builders import AS_OF, config, future, option, perp

VAR = MarginModelName.VAR
PRICES = {"BTC": 60_000.0, "ETH": 3_000.0, "USDC": 1.0}
INSTRUMENTS = [perp("BTC"), perp("ETH"), option("BTC", 30, 55_000, False), future("BTC", 90),
               perp("ETH", inverse=True)]
PERP, ETH_PERP, PUT, FUT, ETH_INV = (i.id for i in INSTRUMENTS)


def _history(n: int = 300, seed: int = 5) -> MarketHistory:
    """BTC/ETH daily prices from correlated fat-ish tailed log returns (starting at 1: only ratios matter)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(5, size=(n, 2)) * np.array([0.03, 0.04])
    z[:, 1] = 0.6 * z[:, 0] * 4 / 3 + 0.8 * z[:, 1]
    return MarketHistory(assets=("BTC", "ETH"), prices=np.exp(np.vstack([np.zeros((1, 2)), np.cumsum(z, axis=0)])))


HISTORY = _history()

ACCOUNTS = [
    Account(id="long-btc", collateral={"USDC": 30_000.0},
            positions=(Position(instrument=PERP, quantity=3.0, entry_price=59_000.0),)),
    Account(id="spread", collateral={"USDC": 25_000.0},
            positions=(Position(instrument=PERP, quantity=2.0), Position(instrument=ETH_PERP, quantity=-30.0))),
    Account(id="short-put", collateral={"USDC": 20_000.0},
            positions=(Position(instrument=PUT, quantity=-4.0),)),
    Account(id="inverse-eth", collateral={"ETH": 4.0, "USDC": 5_000.0},
            positions=(Position(instrument=ETH_INV, quantity=-60_000.0),)),
    Account(id="cash", collateral={"USDC": 1_000.0}),
]
SNAPSHOT = MarketSnapshot(as_of=AS_OF, index=dict(PRICES), vols={PUT: 0.6}, rates={}, marks={FUT: 61_000.0})


def _book(accounts=ACCOUNTS):
    return with_model(build_book(INSTRUMENTS, accounts), VAR)


@pytest.mark.parametrize("params", [VarParams(), VarParams(method="parametric", measure="es"),
                                    VarParams(method="filtered", buffer=0.25, stressed_weight=0.3,
                                              stressed_window_days=60, floor_lookback_days=250)])
def test_evaluate_equals_var_requirement_called_as_in_the_backtest(params):
    cfg = config(var=params)
    run = evaluate(_book(), SNAPSHOT, cfg, with_distance=False, history=HISTORY)
    # The backtest: the book re-marked to the date's prices, the history up to that date, var_requirement.
    book = _book()
    evaluator = ContextStepEvaluator(book, SNAPSHOT, cfg)
    ctx = evaluator.context_at(evaluator.asset_prices)
    want = var_requirement(ctx, HISTORY, params)
    np.testing.assert_allclose(run.result.initial_margin, want.initial, rtol=1e-12)
    np.testing.assert_allclose(run.result.maintenance_margin, want.maintenance, rtol=1e-12)
    assert run.result.initial_margin[:4].min() > 0 and run.result.initial_margin[4] == 0.0
    assert run.system.by_model["var"] == len(ACCOUNTS)
    # Contributors come from the VaR scenario's position losses: the long's only position leads.
    labels = run.result.contributors.labels
    assert labels[run.result.contributors.label[0, 0]] == PERP


def _moved_by_hand(ctx: RiskContext, account: int, move: float, params: VarParams) -> float:
    """IM of one account with every non-stable price × (1 + move): its market moved first, then the model."""
    sub = ctx.take(np.array([account]))
    multiplier = 1.0 + move * ctx.moving
    market = move_market(ctx.market, sub.book.instruments, multiplier)
    moved = RiskContext.build(sub.book, market, ctx.config)
    return float(var_requirement(moved, HISTORY, params).initial[0])


@pytest.mark.parametrize("params", [VarParams(), VarParams(method="parametric"),
                                    VarParams(measure="es", stressed_weight=0.5, stressed_window_days=40)])
def test_requirement_under_moves_equals_the_model_at_the_moved_market(params):
    book = _book()
    ctx = RiskContext.build(book, resolve_market(SNAPSHOT, book.assets, book.instruments), config(var=params),
                            history=HISTORY)
    rng = np.random.default_rng(3)
    moves = rng.uniform(-0.4, 0.4, size=(3, ctx.n_accounts))  # (B, n): a different move per account
    shared = np.full((2, ctx.n_accounts), 0.25) * np.array([[1.0], [-1.0]])  # the distance grid's layout
    for grid in (moves, shared, moves[0]):
        got = margin_requirement(ctx, grid).initial
        assert got.shape == grid.shape
        flat, flat_got = grid.reshape(-1, ctx.n_accounts), got.reshape(-1, ctx.n_accounts)
        for b in range(flat.shape[0]):
            for i in range(ctx.n_accounts):
                want = _moved_by_hand(ctx, i, flat[b, i], params)
                assert flat_got[b, i] == pytest.approx(want, rel=1e-9, abs=1e-6)
    # The linear long's VaR scales with the price level: moved by m, it is (1 + m) × today's.
    today = margin_requirement(ctx).initial[0]
    assert margin_requirement(ctx, moves).initial[:, 0] == pytest.approx(today * (1.0 + moves[:, 0]), rel=1e-9)


def test_distance_to_liquidation_reaches_coverage_one():
    run = evaluate(_book(), SNAPSHOT, config(), history=HISTORY)
    r, ctx = run.result, run.context
    checked = 0
    for k in range(ctx.n_accounts):
        for direction, d in ((-1.0, r.distance_down[k]), (1.0, r.distance_up[k])):
            if not (np.isfinite(d) and d > 0):
                continue
            move = np.array([direction * d])
            sub = ctx.take(np.array([k]))
            coverage = account_equity(sub, move).adjusted_equity[0] / margin_requirement(sub, move).maintenance[0]
            # Independently: the same account at a market moved by hand.
            hand = _moved_by_hand(ctx, k, direction * d, VarParams())
            assert margin_requirement(sub, move).maintenance[0] == pytest.approx(hand, rel=1e-9)
            assert coverage == pytest.approx(1.0, abs=2e-3)
            checked += 1
    assert checked >= 4
    assert 0 < r.distance_down[0] < 0.95  # the leveraged long breaches on the way down


def test_a_hedged_book_needs_less_var_margin_than_its_legs():
    legs = [Position(instrument=PERP, quantity=5.0), Position(instrument=FUT, quantity=-5.0)]
    accounts = [Account(id="long-perp", collateral={"USDC": 1e6}, positions=(legs[0],)),
                Account(id="short-future", collateral={"USDC": 1e6}, positions=(legs[1],)),
                Account(id="hedged", collateral={"USDC": 1e6}, positions=tuple(legs))]
    for params in (VarParams(), VarParams(method="parametric")):
        im = evaluate(_book(accounts), SNAPSHOT, config(var=params), with_distance=False,
                      history=HISTORY).result.initial_margin
        assert im[0] > 10_000 and im[1] > 10_000
        assert im[2] < 0.05 * min(im[0], im[1])
        # The future's mark moves with its underlying (basis kept): what is left is a short of the basis,
        # 5 × (61,000 − 60,000) USD of BTC, whose VaR is the short future's scaled to that exposure.
        assert im[2] == pytest.approx(im[1] * 5 * 1_000 / (5 * 61_000), rel=1e-9)


def test_a_var_account_without_history_is_an_input_error_naming_it():
    book = build_book(INSTRUMENTS, ACCOUNTS)
    mixed = replace(book, margin_model=np.array([-1, 3, -1, -1, -1], dtype=np.int8))  # "spread" on var
    assert MarginModelName("var") is VAR
    with pytest.raises(InputError) as caught:
        evaluate(mixed, SNAPSHOT, config(), with_distance=False)
    assert caught.value.field == "margin_model" and "spread" in str(caught.value) and "--prices" in str(caught.value)
    # With the history, the other accounts keep their model (standard) and the var account gets VaR.
    run = evaluate(mixed, SNAPSHOT, config(), with_distance=True, history=HISTORY)
    alone = evaluate(_book(), SNAPSHOT, config(), with_distance=False, history=HISTORY)
    assert run.result.initial_margin[1] == pytest.approx(alone.result.initial_margin[1], rel=1e-12)
    assert run.system.by_model == {"standard": 4, "portfolio": 0, "lending": 0, "var": 1, "derive-pmrm": 0}


def test_the_real_time_engine_refuses_var_accounts():
    with pytest.raises(InputError) as caught:
        CoverageEngine(_book(), SNAPSHOT, config())
    assert caught.value.field == "margin_model"

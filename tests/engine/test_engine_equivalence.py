"""The engine's metrics after any sequence of ticks, trades and transfers equal a from-scratch evaluation.

The reference rebuilds the book from records (trades as extra positions with their entry price, merged by
``build_book``) and runs ``ccm.risk.metrics.evaluate``: an independent path through book construction.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from ccm.engine import CoverageEngine
from ccm.risk.metrics import evaluate
from tests.engine._venue import Reference, accounts, assert_same, instruments, random_events, risk_config, snapshot
from tests.reference.builders import AS_OF


def _engine(with_distance=False, **kwargs):
    ins = instruments()
    accs = accounts(ins)
    cfg = risk_config()
    ref = Reference(ins, accs, cfg)
    engine = CoverageEngine(ref.book(), snapshot(ins), cfg, with_distance=with_distance,
                            clock=lambda: AS_OF, **kwargs)
    return ins, accs, cfg, ref, engine


def _apply(engine, ref, kind, args, at):
    if kind == "prices":
        engine.on_prices(*args, at=at)
    elif kind == "vols":
        engine.on_vols(*args, at=at)
    elif kind == "trade":
        engine.on_trade(*args, at=at)
        ref.trade(*args)
    else:
        engine.on_transfer(*args, at=at)
        ref.transfer(*args)


def test_initial_state_equals_evaluate():
    ins, _, cfg, ref, engine = _engine()
    assert_same(engine.result, ref.evaluate(snapshot(ins)).result)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("compact_rows", [0, 1000])
def test_random_sequences_equal_from_scratch(seed, compact_rows):
    ins, accs, cfg, ref, engine = _engine(compact_rows=compact_rows)
    rng = np.random.default_rng(seed)
    at = AS_OF
    for step, (kind, args) in enumerate(random_events(rng, ins, accs, 30)):
        at = at + timedelta(minutes=1)
        _apply(engine, ref, kind, args, at)
        if step % 5 == 4:
            assert_same(engine.result, ref.evaluate(engine.snapshot).result)
    assert_same(engine.result, ref.evaluate(engine.snapshot).result)
    # The engine's own book evaluates to the same metrics, and the system figures agree.
    scratch = evaluate(engine.book, engine.snapshot, cfg, with_distance=False)
    assert_same(engine.result, scratch.result)
    assert engine.system.total_shortfall == pytest.approx(scratch.system.total_shortfall, rel=1e-9, abs=1e-7)
    assert engine.system.by_status == scratch.system.by_status
    # Contributors (ranked on demand after ticks) agree with the from-scratch ranking.
    reference = ref.evaluate(engine.snapshot).result
    order = [list(reference.account_ids).index(a) for a in engine.result.account_ids]
    got, want = engine.result.contributors, reference.contributors
    np.testing.assert_array_equal(got.labels[np.maximum(got.label, 0)], want.labels[np.maximum(want.label[order], 0)])
    np.testing.assert_array_equal(got.label < 0, want.label[order] < 0)
    np.testing.assert_allclose(got.amount, want.amount[order], rtol=1e-9, atol=1e-7)
    snap = engine.system_snapshot
    assert snap.total_adjusted_equity == pytest.approx(scratch.system.total_adjusted_equity, rel=1e-9)
    assert snap.total_maintenance_margin == pytest.approx(scratch.system.total_maintenance_margin, rel=1e-9)


def test_random_sequence_with_distance():
    ins, accs, cfg, ref, engine = _engine(with_distance=True, compact_rows=3)
    rng = np.random.default_rng(42)
    at = AS_OF
    for kind, args in random_events(rng, ins, accs, 12):
        at = at + timedelta(minutes=1)
        _apply(engine, ref, kind, args, at)
    assert_same(engine.result, ref.evaluate(engine.snapshot, with_distance=True).result, rel=1e-7, abs_=1e-7)


def test_trade_closing_a_position_keeps_realised_entry():
    """Buying back a linear perp at a higher price leaves qty 0 and the realised loss in the entry side."""
    ins, accs, cfg, ref, engine = _engine()
    before = float(engine.result.equity[list(engine.result.account_ids).index("a-long")])
    engine.on_trade("a-long", ins[0].id, -2.0, 50_000.0)  # sells the 2 BTC bought at 49,000: +2,000 realised
    ref.trade("a-long", ins[0].id, -2.0, 50_000.0)
    row = list(engine.result.account_ids).index("a-long")
    # Marked at 50,000 the open P&L was already +2,000: closing at the mark leaves equity unchanged.
    assert engine.result.equity[row] == pytest.approx(before, rel=1e-12)
    assert engine.result.maintenance_margin[row] == 0.0
    assert_same(engine.result, ref.evaluate(engine.snapshot).result)
    # Then the price moves: a flat position's equity no longer moves.
    engine.on_prices({"BTC": 40_000.0})
    assert engine.result.equity[row] == pytest.approx(before, rel=1e-12)


def test_trades_go_to_the_overlay_and_a_tick_compacts_it_past_the_limit():
    ins, accs, cfg, ref, engine = _engine(compact_rows=1)
    base = engine._base  # the base CSR is not rebuilt by trades
    engine.on_trade("a-long", ins[0].id, 1.0, 50_000.0)
    engine.on_transfer("g-empty", "BTC", 0.1)
    assert engine._base is base and engine.overlay_rows == 2
    engine.on_prices({"BTC": 51_000.0})  # 2 > compact_rows: merged into a new base at this tick
    assert engine._base is not base and engine.overlay_rows == 0
    ref.trade("a-long", ins[0].id, 1.0, 50_000.0)
    ref.transfer("g-empty", "BTC", 0.1)
    assert_same(engine.result, ref.evaluate(engine.snapshot).result)

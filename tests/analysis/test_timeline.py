"""The coverage timeline against independent routes: ``evaluate`` at the snapshot and on a moved snapshot, and
a one-account book worked out by hand."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from ccm.analysis import ContextStepEvaluator, StepValues, relative_path, resample_last, run_steps, run_timeline
from ccm.book import Account, Position, build_book
from ccm.enums import STATUSES, MarginModelName
from ccm.errors import InputError
from ccm.market import MarketSnapshot
from ccm.risk.config import AssetRisk, StandardParams, Thresholds
from ccm.risk.metrics import evaluate
from ccm.synthetic import generate_venue
from tests.reference.builders import AS_OF, config, future, option, perp

H = np.timedelta64(3600, "s")
T0 = np.datetime64("2021-05-01T00:00:00", "s")


def _status(name: str) -> int:
    return [s.value for s in STATUSES].index(name)


# -- a flat path is the snapshot --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def venue():
    v = generate_venue(300, rng=np.random.default_rng(3))
    return v.columns.build(), v.market


def test_flat_path_equals_evaluate_at_the_snapshot(venue):
    book, snapshot = venue
    cfg = config()
    assets = ("BTC", "ETH", "SOL")
    prices = np.tile([snapshot.index[a] for a in assets], (4, 1))
    stamps = T0 + np.arange(4) * 2 * H
    timeline = run_timeline(book, snapshot, cfg, stamps, prices, assets)
    run = evaluate(book, snapshot, cfg, with_distance=False)
    res, system = run.result, run.system
    assert np.allclose(timeline.system_coverage_ratio, system.system_coverage_ratio, rtol=1e-12)
    assert np.allclose(timeline.total_shortfall, system.total_shortfall, rtol=1e-12)
    expected_counts = [system.by_status[s.value] for s in STATUSES]
    assert (timeline.status_counts == expected_counts).all()
    np.testing.assert_allclose(timeline.min_coverage, res.coverage_ratio, rtol=1e-12, equal_nan=True)
    assert (timeline.min_coverage_step[~res.unbounded] == 0).all()
    breached = res.status >= _status("liquidation")
    assert ((timeline.first_breach_step == 0) == breached).all()
    assert ((timeline.first_breach_step == -1) == ~breached).all()
    assert timeline.event_step.size == 0
    # 4 steps of 2 h, the last one counted for the median step: 8 h below each level the status is past.
    below_warning = res.status >= _status("warning")
    assert np.array_equal(timeline.time_below_hours[:, 0], np.where(below_warning, 8.0, 0.0))
    assert np.array_equal(timeline.final_status, res.status)


# -- one move equals evaluate on the moved snapshot --------------------------------------------------------------

@pytest.fixture(scope="module")
def mixed():
    """Linear and inverse perps and futures (all with entry prices), inverse and linear options with given vols,
    haircut BTC/ETH collateral, standard and portfolio accounts; no marks, so a moved snapshot is the same
    market moved."""
    ins = [perp("BTC"), perp("BTC", inverse=True), future("BTC", 30), perp("ETH"),
           option("BTC", 20, 62_000, True, inverse=True), option("BTC", 40, 55_000, False),
           option("ETH", 30, 3_200, True)]
    accounts = [
        Account(id="a", collateral={"USDC": 6_000.0},
                positions=(Position(instrument=ins[0].id, quantity=1.5, entry_price=60_500.0),)),
        Account(id="b", collateral={"BTC": 0.4},
                positions=(Position(instrument=ins[1].id, quantity=-80_000.0, entry_price=59_000.0),
                           Position(instrument=ins[4].id, quantity=-3.0))),
        Account(id="c", collateral={"ETH": 20.0, "USDC": 5_000.0}, margin_model=MarginModelName.PORTFOLIO,
                positions=(Position(instrument=ins[2].id, quantity=2.0, entry_price=61_000.0),
                           Position(instrument=ins[5].id, quantity=-4.0),
                           Position(instrument=ins[6].id, quantity=-10.0),
                           Position(instrument=ins[3].id, quantity=-15.0, entry_price=2_950.0))),
        Account(id="d", collateral={"USDC": 2_500.0},
                positions=(Position(instrument=ins[3].id, quantity=8.0, entry_price=3_000.0),)),
        Account(id="e", collateral={"USDC": 100.0}),
    ]
    vols = {ins[4].id: 0.6, ins[5].id: 0.65, ins[6].id: 0.7}
    assets = {"USDC": AssetRisk(stable=True), "BTC": AssetRisk(haircut=0.05), "ETH": AssetRisk(haircut=0.1)}
    cfg = config(assets=assets)
    snapshot = MarketSnapshot(as_of=AS_OF, index={"BTC": 60_000.0, "ETH": 3_000.0, "USDC": 1.0}, vols=vols)
    return build_book(ins, accounts), snapshot, cfg


@pytest.mark.parametrize("move", [{"BTC": 0.93, "ETH": 0.88}, {"BTC": 1.07}, {"ETH": 1.2, "BTC": 0.9}])
def test_a_moved_step_equals_evaluate_on_the_moved_snapshot(mixed, move):
    book, snapshot, cfg = mixed
    assets = tuple(move)
    start = np.array([snapshot.index[a] for a in assets])
    moved = start * np.array([move[a] for a in assets])
    stamps = T0 + np.arange(2) * H
    timeline = run_timeline(book, snapshot, cfg, stamps, np.vstack([start, moved]), assets)
    before = evaluate(book, snapshot, cfg, with_distance=False)
    after = evaluate(book, snapshot.with_index(dict(zip(assets, moved, strict=True))), cfg, with_distance=False)
    assert timeline.system_coverage_ratio[0] == pytest.approx(before.system.system_coverage_ratio, rel=1e-12)
    assert timeline.system_coverage_ratio[1] == pytest.approx(after.system.system_coverage_ratio, rel=1e-10)
    assert timeline.total_shortfall[1] == pytest.approx(after.system.total_shortfall, rel=1e-10, abs=1e-6)
    assert list(timeline.status_counts[1]) == [after.system.by_status[s.value] for s in STATUSES]
    step = ContextStepEvaluator(book, snapshot, cfg)(np.array([snapshot.index[a] * move.get(a, 1.0)
                                                               for a in book.assets]))
    np.testing.assert_allclose(step.adjusted_equity, after.result.adjusted_equity, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(step.maintenance_margin, after.result.maintenance_margin, rtol=1e-10, atol=1e-8)
    expected_min = np.fmin(before.result.coverage_ratio, after.result.coverage_ratio)
    np.testing.assert_allclose(timeline.min_coverage, expected_min, rtol=1e-10, equal_nan=True)
    changed = np.flatnonzero(before.result.status != after.result.status)
    assert list(timeline.event_account) == list(changed)
    assert list(timeline.event_from) == list(before.result.status[changed])
    assert list(timeline.event_to) == list(after.result.status[changed])


def test_model_override_matches_evaluate(mixed):
    book, snapshot, cfg = mixed
    prices = np.array([[60_000.0], [54_000.0]])
    timeline = run_timeline(book, snapshot, cfg, T0 + np.arange(2) * H, prices, ("BTC",),
                            model=MarginModelName.STANDARD)
    after = evaluate(book, snapshot.with_index({"BTC": 54_000.0}), cfg, model=MarginModelName.STANDARD,
                     with_distance=False)
    assert timeline.system_coverage_ratio[1] == pytest.approx(after.system.system_coverage_ratio, rel=1e-10)


# -- one account by hand --------------------------------------------------------------------------------------------

def test_first_breach_time_below_and_events_by_hand():
    """Long 1 BTC linear perp at 60,000 on 1,000 USDC; MM = 1% of S (no size slope).

    AE = 1,000 + S − 60,000, coverage = AE ÷ (0.01 S); thresholds 1.5 / 1.2 / 1.0:
    60,000 → 1.667 healthy; 59,800 → 800/598 = 1.338 warning; 59,500 → 500/595 = 0.840 liquidation;
    58,900 → AE −100 bankrupt (coverage −0.170); 59,700 → 700/597 = 1.173 margin_call; 60,000, 60,100 healthy.
    """
    p = perp("BTC")
    book = build_book([p], [Account(id="solo", collateral={"USDC": 1_000.0},
                                    positions=(Position(instrument=p.id, quantity=1.0, entry_price=60_000.0),))])
    cfg = config(standard={"default": StandardParams(future_size_slope=0.0)})
    snapshot = MarketSnapshot(as_of=AS_OF, index={"BTC": 60_000.0, "USDC": 1.0})
    hours = np.array([0, 1, 3, 4, 6, 8, 10])
    path = np.array([60_000, 59_800, 59_500, 58_900, 59_700, 60_000, 60_100], dtype=float)[:, None]
    r = run_timeline(book, snapshot, cfg, T0 + hours * H, path, ("BTC",))
    # Each step holds until the next (gaps 1, 2, 1, 2, 2, 2 h; the last step for the median gap, 2 h).
    # Below warning at steps 1–4: 2 + 1 + 2 + 2 = 7 h; below margin call at 2–4: 1 + 2 + 2 = 5 h;
    # below liquidation (coverage < 1 or bankrupt) at 2–3: 1 + 2 = 3 h.
    assert r.time_below_hours.tolist() == [[7.0, 5.0, 3.0]]
    assert r.first_breach_step.tolist() == [2]
    assert r.min_coverage_step.tolist() == [3]
    assert r.min_coverage[0] == pytest.approx(-100.0 / 589.0)
    assert r.event_step.tolist() == [1, 2, 3, 4, 5]
    names = [s.value for s in STATUSES]
    assert [(names[f], names[t]) for f, t in zip(r.event_from, r.event_to, strict=True)] == [
        ("healthy", "warning"), ("warning", "liquidation"), ("liquidation", "bankrupt"), ("bankrupt", "margin_call"),
        ("margin_call", "healthy")]
    assert r.system_coverage_ratio[2] == pytest.approx(500.0 / 595.0)
    assert r.total_shortfall.tolist() == pytest.approx([0, 0, 95.0, 689.0, 0, 0, 0])
    # Custom thresholds: with liquidation at 0.5, step 2 (0.840) is a margin call and only step 3 breaches.
    strict = run_timeline(book, snapshot, cfg, T0 + hours * H, path, ("BTC",),
                          thresholds=Thresholds(warning=1.5, margin_call=1.2, liquidation=0.5))
    assert strict.first_breach_step.tolist() == [3]


def test_accumulator_takes_any_step_evaluator():
    """The reduction only sees StepValues: an engine can feed it."""
    steps = [StepValues(adjusted_equity=np.array([10.0, 5.0, 1.0]), maintenance_margin=np.array([5.0, 0.0, 2.0])),
             StepValues(adjusted_equity=np.array([4.0, 5.0, -1.0]), maintenance_margin=np.array([5.0, 0.0, 2.0]))]
    r = run_steps(np.array(["x", "y", "z"]), T0 + np.arange(2) * 24 * H, steps, Thresholds())
    assert r.first_breach_step.tolist() == [1, -1, 0]
    assert np.isnan(r.min_coverage[1]) and r.min_coverage_step[1] == -1
    assert r.time_below_hours[:, 2].tolist() == [24.0, 0.0, 48.0]
    assert r.system_coverage_ratio.tolist() == pytest.approx([16 / 7, 8 / 7])


# -- path helpers and input checks ---------------------------------------------------------------------------------

def test_relative_path_rebases_on_the_first_step():
    history = np.array([[30_000.0, 2_000.0], [27_000.0, 2_200.0]])
    np.testing.assert_allclose(relative_path(history, [90_000.0, 3_000.0]), [[90_000, 3_000], [81_000, 3_300]])


def test_resample_keeps_the_last_price_of_each_bucket():
    stamps = T0 + np.array([0, 1, 2, 3, 5]) * H
    prices = np.arange(5.0)[:, None]
    out_t, out_p = resample_last(stamps, prices, 7200)
    assert out_t.tolist() == (T0 + np.array([0, 2, 4]) * H).tolist()
    assert out_p[:, 0].tolist() == [1.0, 3.0, 4.0]


def test_bad_inputs_raise_input_errors(mixed):
    book, snapshot, cfg = mixed
    stamps = T0 + np.arange(2) * H
    with pytest.raises(InputError, match="shape"):
        run_timeline(book, snapshot, cfg, stamps, np.ones((3, 1)), ("BTC",))
    with pytest.raises(InputError, match="increasing"):
        run_timeline(book, snapshot, cfg, stamps[::-1], np.ones((2, 1)), ("BTC",))
    with pytest.raises(InputError, match="> 0"):
        run_timeline(book, snapshot, cfg, stamps, np.array([[1.0], [0.0]]), ("BTC",))


def test_time_is_not_advanced(mixed):
    """Only prices move: a flat path far from the snapshot's time still values options at the snapshot."""
    book, snapshot, cfg = mixed
    later = np.datetime64((AS_OF + timedelta(days=15)).replace(tzinfo=None), "s")
    r = run_timeline(book, snapshot, cfg, np.array([later]), np.array([[60_000.0]]), ("BTC",))
    assert r.system_coverage_ratio[0] == pytest.approx(
        evaluate(book, snapshot, cfg, with_distance=False).system.system_coverage_ratio, rel=1e-12)

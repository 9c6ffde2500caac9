"""Events: status transitions against from-scratch statuses, alert rules (hysteresis, decline, projected
breach, system), subscribers, and bad input leaving the state unchanged."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest

from ccm.engine import (
    Alert,
    AlertConfig,
    AlertMonitor,
    CoverageEngine,
    DeclineRule,
    MetricsChanged,
    ProjectedBreachRule,
    StatusChanged,
    SystemRules,
    SystemSnapshot,
    ThresholdRule,
)
from ccm.enums import STATUSES
from ccm.errors import InputError
from ccm.risk.config import RiskConfig
from tests.engine._venue import Reference, accounts, instruments, random_events, risk_config, snapshot
from tests.reference.builders import AS_OF


def _engine(**kwargs):
    ins = instruments()
    accs = accounts(ins)
    cfg = risk_config()
    ref = Reference(ins, accs, cfg)
    return ins, accs, cfg, ref, CoverageEngine(ref.book(), snapshot(ins), cfg, clock=lambda: AS_OF, **kwargs)


def _statuses(run) -> dict[str, str]:
    return {str(a): STATUSES[int(s)].value for a, s in zip(run.result.account_ids, run.result.status, strict=True)}


def test_status_changed_exactly_when_from_scratch_status_changes():
    ins, accs, cfg, ref, engine = _engine()
    rng = np.random.default_rng(7)
    before = _statuses(ref.evaluate(engine.snapshot))
    seen_changes = 0
    events = random_events(rng, ins, accs, 40)
    events.insert(5, ("prices", ({"BTC": 30_000.0, "ETH": 1_500.0},)))  # a crash, then recovery below
    events.insert(10, ("prices", ({"BTC": 50_000.0, "ETH": 3_000.0},)))
    for kind, args in events:
        method = {"prices": engine.on_prices, "vols": engine.on_vols, "trade": engine.on_trade,
                  "transfer": engine.on_transfer}[kind]
        emitted = method(*args)
        if kind == "trade":
            ref.trade(*args)
        elif kind == "transfer":
            ref.transfer(*args)
        after = _statuses(ref.evaluate(engine.snapshot))
        expected = {(a, before[a], after[a]) for a in after if before[a] != after[a]}
        got = {(e.account, e.from_status, e.to_status) for e in emitted if isinstance(e, StatusChanged)}
        assert got == expected
        seen_changes += len(got)
        assert isinstance(emitted[0], MetricsChanged)
        before = after
    assert seen_changes > 0


def test_subscribers_get_every_returned_event_and_a_failing_one_does_not_break_the_engine():
    ins, accs, cfg, ref, engine = _engine()
    got = []
    unsubscribe = engine.subscribe(got.append)
    engine.subscribe(lambda event: 1 / 0)
    emitted = engine.on_prices({"BTC": 30_000.0}) + engine.on_trade("a-long", ins[0].id, 1.0, 30_000.0)
    assert got == emitted
    unsubscribe()
    engine.on_prices({"BTC": 31_000.0})
    assert len(got) == len(emitted)


def _monitor(**kwargs) -> AlertMonitor:
    return AlertMonitor(AlertConfig(**kwargs), RiskConfig(), 1)


def _feed(monitor, values, start=AS_OF, step_s=60.0):
    fired = []
    for k, v in enumerate(values):
        at = start + timedelta(seconds=k * step_s)
        fired.append([a.rule for a in monitor.update_accounts(at, np.array([0]), np.array(["x"]), np.array([v]),
                                                              np.array([False]))])
    return fired


def test_hysteresis_one_alert_while_oscillating_inside_the_band():
    # Warning level 1.5, hysteresis 2%: re-arms only above 1.53.
    fired = _feed(_monitor(thresholds=ThresholdRule(levels=("warning",))),
                  [1.6, 1.49, 1.51, 1.48, 1.525, 1.45, 1.52, 1.49])
    assert sum(len(f) for f in fired) == 1 and fired[1] == ["coverage_below_warning"]
    # Recovery above the band re-arms: the next crossing fires again.
    fired = _feed(_monitor(thresholds=ThresholdRule(levels=("warning",))), [1.6, 1.49, 1.54, 1.49])
    assert [len(f) for f in fired] == [0, 1, 0, 1]


def test_a_fall_through_every_level_fires_one_alert_per_level_and_unbounded_never_fires():
    fired = _feed(_monitor(), [2.0, 0.9, 0.8, math.nan])
    assert sorted(fired[1]) == ["coverage_below_liquidation", "coverage_below_margin_call",
                                "coverage_below_warning"]
    assert fired[2] == [] and fired[3] == []


def test_hysteresis_through_the_engine_with_prices_oscillating_around_the_warning_level():
    ins, accs, cfg, ref, engine = _engine()
    row = list(engine.result.account_ids).index("a-long")

    def coverage_at(price):  # from-scratch coverage of a-long at a BTC price
        run = ref.evaluate(snapshot(ins, {"BTC": price, "ETH": 3_000.0, "USDC": 1.0}))
        return float(run.result.coverage_ratio[list(run.result.account_ids).index("a-long")])

    lo, hi = 1_000.0, 50_000.0  # coverage rises with the price of a long: bisect for coverage 1.5
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if coverage_at(mid) < 1.5 else (lo, mid)
    level_price = hi
    alerts = []
    for k in range(10):  # ±0.01% around the level: coverage stays inside [1.5/1.02, 1.5·1.02]
        price = level_price * (0.9999 if k % 2 == 0 else 1.0001)
        alerts += [e for e in engine.on_prices({"BTC": price}) if isinstance(e, Alert) and e.account == "a-long"]
        assert 1.5 / 1.02 < engine.result.coverage_ratio[row] < 1.5 * 1.02
    assert [a.rule for a in alerts] == ["coverage_below_warning"]
    assert alerts[0].values["coverage"] < 1.5


def test_decline_rate_rule():
    rule = DeclineRule(drop=0.15, window_s=600.0, buffer=8)
    # 2.0 → 1.7 within 3 minutes: a 15% decline fires once; further falls stay silent until re-armed.
    fired = _feed(_monitor(thresholds=None, decline=rule), [2.0, 1.9, 1.7, 1.65, 1.6])
    assert [len(f) for f in fired] == [0, 0, 1, 0, 0] and fired[2] == ["coverage_decline"]
    # The same fall spread over 20 minutes: no two values inside one 10-minute window are 15% apart.
    fired = _feed(_monitor(thresholds=None, decline=rule), [2.0, 1.9, 1.8, 1.7, 1.6], step_s=400.0)
    assert sum(len(f) for f in fired) == 0
    # Recovery re-arms (decline under 7.5%), then a new fall fires again.
    fired = _feed(_monitor(thresholds=None, decline=rule), [2.0, 1.6, 1.95, 1.96, 1.5], step_s=300.0)
    assert [len(f) for f in fired] == [0, 1, 0, 0, 1]


def test_decline_rule_ring_buffer_forgets_values_older_than_the_buffer():
    rule = DeclineRule(drop=0.15, window_s=1e9, buffer=3)
    fired = _feed(_monitor(thresholds=None, decline=rule), [2.0, 1.9, 1.85, 1.8, 1.7])
    # With a 3-value buffer the peak when 1.7 arrives is 1.85 (−8%): no alert, although 2.0 → 1.7 is −15%.
    assert sum(len(f) for f in fired) == 0


def _system(coverage=1.0, shortfall=0.0, fund=None):
    cov_fund = math.nan if fund is None else (fund / shortfall if shortfall > 0 else math.inf)
    return SystemSnapshot(accounts=1, by_status={}, total_adjusted_equity=coverage, total_maintenance_margin=1.0,
                          system_coverage_ratio=coverage, total_shortfall=shortfall, fund_usd=fund,
                          fund_to_shortfall=cov_fund)


def test_system_rules_fire_on_crossing_with_hysteresis():
    rules = SystemRules(min_system_coverage=1.3, max_total_shortfall_usd=1_000.0, fund_usd=5_000.0,
                        min_fund_coverage=2.0)
    monitor = AlertMonitor(AlertConfig(thresholds=None, system=rules), RiskConfig(), 1)
    seq = [(1.5, 0.0), (1.2, 500.0), (1.25, 1_500.0), (1.31, 2_000.0), (1.4, 3_000.0), (1.2, 900.0),
           (1.2, 1_200.0)]
    fired = [[a.rule for a in monitor.update_system(AS_OF, _system(c, s, 5_000.0))] for c, s in seq]
    assert fired == [[], ["system_coverage_below"], ["total_shortfall_above"], [], ["fund_coverage_below"],
                     ["system_coverage_below"], ["total_shortfall_above"]]
    alert = monitor.update_system(AS_OF, _system(1.0, 5_000.0, 5_000.0))
    assert [a.account for a in alert] == [None]  # fund coverage 1 < 2 (re-armed at 5.56); others disarmed
    assert alert[0].values["fund_coverage"] == pytest.approx(1.0)


def test_system_rules_through_the_engine_on_a_crash():
    rules = SystemRules(max_total_shortfall_usd=1.0, fund_usd=1e9, min_fund_coverage=1e12)
    ins, accs, cfg, ref, engine = _engine(alerts=AlertConfig(system=rules))
    assert engine.system_snapshot.total_shortfall == 0.0
    crash = engine.on_prices({"BTC": 20_000.0, "ETH": 1_000.0})
    system_alerts = sorted(e.rule for e in crash if isinstance(e, Alert) and e.account is None)
    assert system_alerts == ["fund_coverage_below", "total_shortfall_above"]
    scratch = ref.evaluate(engine.snapshot).system
    shortfall = [e for e in crash if isinstance(e, Alert) and e.rule == "total_shortfall_above"][0]
    assert shortfall.values["total_shortfall"] == pytest.approx(scratch.total_shortfall, rel=1e-9)
    again = engine.on_prices({"BTC": 19_000.0})
    assert not [e for e in again if isinstance(e, Alert) and e.account is None]


def test_projected_breach_uses_distance_and_configured_volatility():
    rule = ProjectedBreachRule(k=2.0, horizon_hours=24.0 * 365.0)  # σ·√1y: BTC 0.6 → limit 1.2 ≥ any distance
    ins, accs, cfg, ref, engine = _engine(with_distance=True, alerts=AlertConfig(thresholds=None,
                                                                                 projected_breach=rule))
    # Primed silently at start: a transfer that leaves a-long inside the limit stays silent.
    assert not [e for e in engine.on_transfer("a-long", "USDC", 1.0) if isinstance(e, Alert)]
    # A large deposit pushes a-long's distance beyond 1.2 (or to none): re-armed; withdrawing it fires again.
    engine.on_transfer("a-long", "USDC", 1e7)
    events = engine.on_transfer("a-long", "USDC", -1e7)
    alerts = [e for e in events if isinstance(e, Alert)]
    assert [a.rule for a in alerts] == ["projected_breach"]
    row = list(engine.result.account_ids).index("a-long")
    assert alerts[0].values["sigma"] == pytest.approx(0.6)
    assert alerts[0].values["limit"] == pytest.approx(1.2)
    assert alerts[0].values["distance"] == pytest.approx(float(engine.result.distance_down[row]))


BAD_CALLS = [
    ("on_prices", ({"BTC": math.nan},), "BTC"),
    ("on_prices", ({"BTC": -5.0},), "BTC"),
    ("on_prices", ({"DOGE": 1.0},), "DOGE"),
    ("on_vols", ({"BTC-LIN-30D-50000-C": math.inf},), "BTC-LIN-30D-50000-C"),
    ("on_vols", ({"BTC-USDC-PERP": 0.5},), "BTC-USDC-PERP"),
    ("on_trade", ("nobody", "BTC-USDC-PERP", 1.0, 50_000.0), "account"),
    ("on_trade", ("a-long", "NOPE", 1.0, 50_000.0), "instrument"),
    ("on_trade", ("a-long", "BTC-USDC-PERP", math.nan, 50_000.0), "quantity"),
    ("on_trade", ("a-long", "BTC-USDC-PERP", 1.0, 0.0), "price"),
    ("on_trade", ("a-long", "BTC-USDC-PERP", 0.0, 50_000.0), "quantity"),
    ("on_trade", ("a-long", "BTC-USDC-PERP", 1.0, math.inf), "price"),
    ("on_transfer", ("a-long", "XRP", 1.0), "asset"),
    ("on_transfer", ("nobody", "USDC", 1.0), "account"),
    ("on_transfer", ("a-long", "USDC", math.inf), "quantity"),
]


@pytest.mark.parametrize("method,args,field", BAD_CALLS)
def test_bad_input_raises_naming_the_field_and_leaves_state_unchanged(method, args, field):
    ins, accs, cfg, ref, engine = _engine()
    engine.on_trade("b-inv", ins[1].id, 1_000.0, 50_000.0)  # something in the overlay
    got = []
    engine.subscribe(got.append)
    before = {name: getattr(engine.result, name).copy() for name in ("coverage_ratio", "equity", "status")}
    snap, book = engine.snapshot, engine.book
    with pytest.raises(InputError) as err:
        getattr(engine, method)(*args)
    assert err.value.field == field
    assert got == []
    assert engine.snapshot is snap
    for name, values in before.items():
        np.testing.assert_array_equal(getattr(engine.result, name), values)
    after = engine.book
    assert (after.positions != book.positions).nnz == 0 and (after.balances != book.balances).nnz == 0
    np.testing.assert_array_equal(after.entry_amount, book.entry_amount)

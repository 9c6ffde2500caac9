"""Coverage ratio, derived fields, status thresholds, system totals and distance to liquidation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ccm.book import Account, Position
from ccm.enums import STATUSES, MarginModelName
from ccm.lending.rules import LendingParams
from ccm.market import MarketSnapshot
from ccm.pricing.market_state import resolve_market
from ccm.risk.config import AssetRisk, DistanceSettings, HaircutTier, PortfolioParams, Thresholds
from ccm.risk.context import RiskContext
from ccm.risk.coverage import classify, compute_coverage, system_metrics
from tests.reference.builders import AS_OF, config, future, option, perp
from tests.reference.harness import IMPLEMENTATIONS, engine_context, engine_result

S = 50_000.0
PRICES = {"BTC": S, "ETH": 3_000.0, "USDC": 1.0}
MM_1BTC = S * (0.01 + 0.00005)  # standard MM of 1 BTC linear perp
IM_1BTC = S * (0.02 + 0.00005)


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def impl(request):
    return IMPLEMENTATIONS[request.param]


def code(name: str) -> int:
    return [s.value for s in STATUSES].index(name)


# -- coverage and derived fields ---------------------------------------------------------------------
@pytest.mark.parametrize(("cov", "status"), [(2.0, "healthy"), (1.3, "warning"), (1.1, "margin_call"),
                                             (0.9, "liquidation")])
def test_status_from_coverage(impl, cov, status):
    ins = perp("BTC")
    acc = Account(id="a", collateral={"USDC": cov * MM_1BTC}, positions=(Position(instrument=ins.id, quantity=1.0),))
    row = impl([ins], [acc], PRICES, {}, AS_OF, config())[0]
    assert row["coverage_ratio"] == pytest.approx(cov, rel=1e-12)
    assert row["status"] == status


def test_bankrupt_when_adjusted_equity_is_negative(impl):
    ins = perp("BTC")
    acc = Account(id="a", collateral={"USDC": 1_000.0},
                  positions=(Position(instrument=ins.id, quantity=1.0, entry_price=60_000.0),))
    row = impl([ins], [acc], PRICES, {}, AS_OF, config())[0]
    assert row["adjusted_equity"] == pytest.approx(1_000.0 - 10_000.0)
    assert row["status"] == "bankrupt"


def test_borrowing_without_positions_in_a_standard_account_is_unbounded_but_bankrupt(impl):
    acc = Account(id="a", collateral={"USDC": -100.0})
    row = impl([], [acc], PRICES, {}, AS_OF, config())[0]
    assert row["maintenance_margin"] == 0.0 and math.isnan(row["coverage_ratio"])
    assert row["status"] == "bankrupt"


def test_derived_fields_by_hand():
    ins = perp("BTC")
    acc = Account(id="a", collateral={"USDC": 800.0, "BTC": 0.01},
                  positions=(Position(instrument=ins.id, quantity=1.0, entry_price=50_100.0),))
    cfg = config(assets={"USDC": AssetRisk(stable=True), "BTC": AssetRisk(haircut=0.1)})
    r = engine_result([ins], [acc], PRICES, {}, AS_OF, cfg)
    ae = 800.0 + 0.01 * S * 0.9 - 100.0
    assert r.equity[0] == pytest.approx(800.0 + 0.01 * S - 100.0)
    assert r.collateral_value[0] == pytest.approx(800.0 + 450.0)
    assert r.adjusted_equity[0] == pytest.approx(ae)
    assert r.coverage_ratio[0] == pytest.approx(ae / MM_1BTC)
    assert r.initial_coverage_ratio[0] == pytest.approx(ae / IM_1BTC)
    assert r.margin_utilisation[0] == pytest.approx(MM_1BTC / ae)
    assert r.excess[0] == pytest.approx(ae - MM_1BTC)
    assert r.shortfall[0] == pytest.approx(max(0.0, MM_1BTC - ae))
    assert r.available[0] == pytest.approx(ae - IM_1BTC)
    assert not r.unbounded[0]


def test_classify_boundaries_and_custom_thresholds():
    cov = np.array([1.5, 1.4999, 1.2, 1.1999, 1.0, 0.9999, np.nan, 2.0])
    ae = np.array([1.0] * 6 + [5.0, -1.0])
    unbounded = np.isnan(cov)
    out = classify(ae, cov, unbounded, Thresholds())
    assert [STATUSES[k].value for k in out] == ["healthy", "warning", "warning", "margin_call", "margin_call",
                                                 "liquidation", "healthy", "bankrupt"]
    custom = classify(np.ones(3), np.array([1.06, 1.04, 1.0]), np.zeros(3, bool),
                      Thresholds(warning=1.2, margin_call=1.05, liquidation=1.0))
    assert [STATUSES[k].value for k in custom] == ["warning", "margin_call", "margin_call"]


def test_system_metrics_totals():
    ins = perp("BTC")
    accs = [Account(id=f"a{k}", collateral={"USDC": c}, positions=(Position(instrument=ins.id, quantity=1.0),))
            for k, c in enumerate([2 * MM_1BTC, 0.5 * MM_1BTC, 1.3 * MM_1BTC])]
    accs.append(Account(id="idle", collateral={"USDC": 10.0}))
    r = engine_result([ins], accs, PRICES, {}, AS_OF, config())
    sysm = system_metrics(r)
    assert sysm.system_coverage_ratio == pytest.approx((3.8 * MM_1BTC + 10.0) / (3 * MM_1BTC))
    assert sysm.total_shortfall == pytest.approx(0.5 * MM_1BTC)
    assert sysm.by_status == {"healthy": 2, "warning": 1, "margin_call": 0, "liquidation": 1, "bankrupt": 0}
    assert sysm.largest_shortfalls == [("a1", pytest.approx(0.5 * MM_1BTC))]


# -- distance to liquidation ---------------------------------------------------------------------------
def test_distance_of_a_linear_perp_by_hand(impl):
    # Long q BTC entered at E with C USDC: C + q(S(1+m) − E) = k·S(1+m), k = q(0.01 + q·0.00005).
    ins = perp("BTC")
    q, e, c = 2.0, 50_000.0, 15_000.0
    accs = [Account(id=name, collateral={"USDC": c}, positions=(Position(instrument=ins.id, quantity=side * q,
                                                                            entry_price=e),))
            for name, side in (("long", 1), ("short", -1))]
    rows = impl([ins], accs, PRICES, {}, AS_OF, config(), with_distance=True)
    k = q * (0.01 + q * 0.00005)
    down = 1 - (q * e - c) / (S * (q - k))  # long: 1+m = (qE − C)/(S(q − k))
    up = (q * e + c) / (S * (q + k)) - 1  # short: C − q(S(1+m) − E) = k·S(1+m)
    assert rows[0]["distance_down"] == pytest.approx(down, abs=1e-5)
    assert math.isnan(rows[0]["distance_up"])
    assert rows[1]["distance_up"] == pytest.approx(up, abs=1e-5)
    assert math.isnan(rows[1]["distance_down"])


def test_no_distance_without_exposure(impl):
    accs = [Account(id="stable", collateral={"USDC": 1_000.0}), Account(id="coin", collateral={"BTC": 1.0})]
    rows = impl([], accs, PRICES, {}, AS_OF, config(), with_distance=True)
    for row in rows:
        assert math.isnan(row["distance_down"]) and math.isnan(row["distance_up"])


def test_distance_zero_when_already_below_one(impl):
    ins = perp("BTC")
    acc = Account(id="a", collateral={"USDC": 0.5 * MM_1BTC}, positions=(Position(instrument=ins.id, quantity=1.0),))
    row = impl([ins], [acc], PRICES, {}, AS_OF, config(), with_distance=True)[0]
    assert row["distance_down"] == 0.0 and row["distance_up"] == 0.0


def test_distance_is_null_beyond_max_move(impl):
    ins = perp("BTC")
    acc = Account(id="a", collateral={"USDC": 20_000.0},
                  positions=(Position(instrument=ins.id, quantity=1.0, entry_price=50_000.0),))
    cfg = config(distance=DistanceSettings(max_move=0.001, grid=(0.001,)))
    row = impl([ins], [acc], PRICES, {}, AS_OF, cfg, with_distance=True)[0]
    assert math.isnan(row["distance_down"]) and math.isnan(row["distance_up"])


# Accounts whose positions all carry entry prices (so a moved snapshot re-values them exactly as the
# engine's internal move does) and options with explicit vols (held fixed).
def _mixed_book():
    btc_p, btc_i = perp("BTC"), perp("BTC", inverse=True)
    fut = future("BTC", 60, inverse=True)
    call = option("BTC", 30, 60_000.0, True, inverse=True)
    put = option("BTC", 45, 45_000.0, False)
    eth_p = perp("ETH")
    ins = [btc_p, btc_i, fut, call, put, eth_p]
    vols = {call.id: 0.65, put.id: 0.55}
    pm, lend = MarginModelName.PORTFOLIO, MarginModelName.LENDING
    accs = [
        Account(id="long-lin", collateral={"USDC": 20_000.0},
                positions=(Position(instrument=btc_p.id, quantity=3.0, entry_price=49_000.0),)),
        Account(id="short-inv-btc-coll", collateral={"BTC": 1.2},
                positions=(Position(instrument=btc_i.id, quantity=-200_000.0, entry_price=51_000.0),)),
        Account(id="short-call-pm", collateral={"BTC": 0.6, "USDC": 5_000.0}, margin_model=pm,
                positions=(Position(instrument=call.id, quantity=-8.0),
                           Position(instrument=fut.id, quantity=50_000.0, entry_price=50_500.0))),
        Account(id="short-put-std", collateral={"USDC": 12_000.0, "ETH": 2.0},
                positions=(Position(instrument=put.id, quantity=-2.0),
                           Position(instrument=eth_p.id, quantity=-5.0, entry_price=3_100.0))),
        Account(id="lend", collateral={"ETH": 10.0, "BTC": 0.2, "USDC": -25_000.0}, margin_model=lend),
        Account(id="strangle-pm", collateral={"USDC": 60_000.0}, margin_model=pm,
                positions=(Position(instrument=put.id, quantity=-5.0), Position(instrument=btc_p.id, quantity=1.0,
                                                                                 entry_price=50_000.0))),
    ]
    cfg = config(assets={"USDC": AssetRisk(stable=True), "BTC": AssetRisk(haircut=0.05, volatility=0.6),
                         "ETH": AssetRisk(haircut=0.1, tiers=(HaircutTier(up_to_usd=5_000.0, rate=1.0),
                                                              HaircutTier(up_to_usd=1e9, rate=0.9)))},
                 portfolio={"default": PortfolioParams()},
                 lending={"default": LendingParams(ltv=0.75, liquidation_threshold=0.8)})
    return ins, accs, vols, cfg


def _coverage_in_moved_market(ins, accs, vols, cfg, move):
    snap = MarketSnapshot(as_of=AS_OF, index={a: p * (1 + move) if a != "USDC" else p for a, p in PRICES.items()},
                          vols=vols)
    ctx = engine_context(ins, accs, PRICES, vols, AS_OF, cfg)
    moved = RiskContext.build(ctx.book, resolve_market(snap, ctx.book.assets, ctx.book.instruments), cfg)
    return compute_coverage(moved, with_distance=False).coverage_ratio


def test_engine_at_reported_distance_has_coverage_one():
    ins, accs, vols, cfg = _mixed_book()
    r = engine_result(ins, accs, PRICES, vols, AS_OF, cfg, with_distance=True)
    checked = 0
    for k in range(len(accs)):
        for direction, dist in ((-1, r.distance_down[k]), (1, r.distance_up[k])):
            if not np.isfinite(dist) or dist == 0.0:
                continue
            checked += 1
            at = _coverage_in_moved_market(ins, [accs[k]], vols, cfg, direction * dist)[0]
            before = _coverage_in_moved_market(ins, [accs[k]], vols, cfg, direction * 0.99 * dist)[0]
            assert at == pytest.approx(1.0, abs=1e-3), (accs[k].id, direction, dist)
            assert before >= 1.0, (accs[k].id, direction, dist)
    assert checked >= 6


def test_distance_engine_matches_reference_scan_on_the_mixed_book():
    ins, accs, vols, cfg = _mixed_book()
    eng = IMPLEMENTATIONS["engine"](ins, accs, PRICES, vols, AS_OF, cfg, with_distance=True)
    ref = IMPLEMENTATIONS["reference"](ins, accs, PRICES, vols, AS_OF, cfg, with_distance=True)
    for e, f in zip(eng, ref, strict=True):
        for key in ("distance_down", "distance_up"):
            assert (math.isnan(e[key]) and math.isnan(f[key])) or e[key] == pytest.approx(f[key], abs=1e-3), (
                e["account"], key, e[key], f[key])


# A non-monotone book: long 1 BTC perp (entered at 50,000) and long 2 puts K = 37,500 expiring in 12 hours,
# 11,000 USDC. Falling prices first lose on the perp, then the puts pay: coverage dips below 1 between
# −21% and −29% only, i.e. strictly between the engine's grid moves 0.2 and 0.3, and recovers afterwards.
def _dip_book():
    p, put = perp("BTC"), option("BTC", 0.5, 37_500.0, False)
    acc = Account(id="dip", collateral={"USDC": 11_000.0},
                  positions=(Position(instrument=p.id, quantity=1.0, entry_price=50_000.0),
                             Position(instrument=put.id, quantity=2.0)))
    return [p, put], [acc], {put.id: 0.6}


def test_dip_book_is_below_coverage_one_between_grid_moves():
    ins, accs, vols = _dip_book()
    cfg = config()
    for move, below in ((-0.2, False), (-0.22, True), (-0.25, True), (-0.28, True), (-0.3, False)):
        assert (_coverage_in_moved_market(ins, accs, vols, cfg, move)[0] < 1.0) == below, move
    ref = IMPLEMENTATIONS["reference"](ins, accs, PRICES, vols, AS_OF, cfg, with_distance=True)[0]
    assert 0.2 < ref["distance_down"] < 0.22


def test_distance_finds_a_breach_between_grid_moves():
    """Coverage dips below 1 between −21% and −29% only; the default grid (2.5% apart there) sees it."""
    ins, accs, vols = _dip_book()
    row = IMPLEMENTATIONS["engine"](ins, accs, PRICES, vols, AS_OF, config(), with_distance=True)[0]
    ref = IMPLEMENTATIONS["reference"](ins, accs, PRICES, vols, AS_OF, config(), with_distance=True)[0]
    assert row["distance_down"] == pytest.approx(ref["distance_down"], abs=1e-3)

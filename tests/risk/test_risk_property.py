"""Property-based cross-check: the vectorised engine agrees with the plain per-account reference.

Random small books (BTC/ETH; linear and inverse; futures, perpetuals, options, spot; random quantities,
entry prices, marks, rates, collateral including borrowings, haircut settings and margin models per
account) → ``RiskContext.build`` + ``compute_coverage`` versus ``tests.reference.models``.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccm.book import Account, Instrument, Position
from ccm.enums import InstrumentType, MarginModelName, OptionRight, Settlement
from ccm.lending.rules import LendingParams
from ccm.risk.config import (
    AssetRisk,
    HaircutTier,
    PortfolioParams,
    RiskConfig,
    StandardParams,
)
from tests.reference.builders import AS_OF, expiry_in
from tests.reference.harness import engine_metrics, reference_rows

UNDERLYINGS = ("BTC", "ETH")
KINDS = ("perp", "future", "option", "spot")
MODELS = (None, MarginModelName.STANDARD, MarginModelName.PORTFOLIO, MarginModelName.LENDING)
FIELDS = ("equity", "collateral_value", "adjusted_equity", "initial_margin", "maintenance_margin")


@st.composite
def instruments(draw):
    n = draw(st.integers(2, 7))
    out = []
    for k in range(n):
        under = draw(st.sampled_from(UNDERLYINGS))
        kind = draw(st.sampled_from(KINDS))
        inverse = kind != "spot" and draw(st.booleans())
        settle = under if inverse else "USDC"
        common = dict(id=f"I{k}", underlying=under, settlement=Settlement.INVERSE if inverse else Settlement.LINEAR,
                      settlement_asset=settle)
        if kind == "perp":
            out.append(Instrument(type=InstrumentType.PERPETUAL, **common))
        elif kind == "spot":
            out.append(Instrument(type=InstrumentType.SPOT, **common))
        elif kind == "future":
            days = draw(st.sampled_from([3, 11, 29, 45, 90, 200]))
            out.append(Instrument(type=InstrumentType.FUTURE, expiry=expiry_in(days), **common))
        else:
            days = draw(st.sampled_from([-1, 0.2, 2, 7, 29, 30, 60, 180, 400]))
            strike_rel = draw(st.floats(0.5, 1.8))
            out.append(Instrument(type=InstrumentType.OPTION, expiry=expiry_in(days),
                                  strike=round(strike_rel * (60_000 if under == "BTC" else 3_000), -1),
                                  right=draw(st.sampled_from([OptionRight.CALL, OptionRight.PUT])), **common))
    return out


def asset_risk(draw, stable=False):
    if stable:
        return AssetRisk(stable=True, haircut=draw(st.sampled_from([0.0, 0.01])))
    tiers = ()
    if draw(st.booleans()):
        first = draw(st.floats(1e4, 3e5))
        tiers = (HaircutTier(up_to_usd=first, rate=1.0),
                 HaircutTier(up_to_usd=first * draw(st.floats(1.5, 4.0)), rate=draw(st.floats(0.5, 0.99))))
        if draw(st.booleans()):
            tiers += (HaircutTier(up_to_usd=math.inf, rate=0.3),)
    vol = draw(st.one_of(st.none(), st.floats(0.3, 1.2)))
    return AssetRisk(haircut=draw(st.floats(0.0, 0.3)), tiers=tiers, volatility=vol,
                     liquidation_days=draw(st.sampled_from([1.0, 2.0, 5.0])),
                     adv_usd=draw(st.one_of(st.none(), st.floats(1e5, 1e8))),
                     impact_coefficient=draw(st.floats(0.1, 1.0)))


@st.composite
def configs(draw):
    portfolio = {}
    for u in UNDERLYINGS:
        portfolio[u] = PortfolioParams(
            price_range=draw(st.sampled_from([0.12, 0.16, 0.18])),
            buckets=draw(st.sampled_from([3, 4])),
            vol_up=draw(st.sampled_from([0.4, 0.5])),
            extended_dampener=draw(st.sampled_from([0.0, 1_000.0, 100_000.0])),
            pnl_offset=draw(st.sampled_from([0.0, 0.6])),
            min_annualised_move=draw(st.sampled_from([0.005, 0.01])),
            mm_factor=draw(st.sampled_from([0.8, 0.5])),
        )
    standard = {"BTC": StandardParams(),
                "ETH": StandardParams(future_size_slope=draw(st.sampled_from([0.000004, 0.00005])))}
    lt = draw(st.floats(0.5, 0.9))
    lending = {"default": LendingParams(ltv=lt - 0.05, liquidation_threshold=lt),
               "USDC": LendingParams(ltv=0.9, liquidation_threshold=0.95)}
    return RiskConfig(
        assets={"USDC": asset_risk(draw, stable=True), "BTC": asset_risk(draw), "ETH": asset_risk(draw)},
        standard=standard, portfolio=portfolio, lending=lending,
    )


@st.composite
def books(draw, max_accounts=4):
    ins = draw(instruments())
    prices = {"BTC": draw(st.floats(30_000, 90_000)), "ETH": draw(st.floats(1_500, 5_000)), "USDC": 1.0}
    vols = {i.id: draw(st.floats(0.15, 1.5)) for i in ins if i.type is InstrumentType.OPTION}
    rates = {u: draw(st.sampled_from([0.0, 0.0, 0.03, 0.08])) for u in UNDERLYINGS}
    marks = {}
    for i in ins:
        if i.type in (InstrumentType.FUTURE, InstrumentType.PERPETUAL) and draw(st.booleans()):
            marks[i.id] = prices[i.underlying] * draw(st.floats(0.97, 1.05))
    accounts = []
    for a in range(draw(st.integers(1, max_accounts))):
        collateral = {}
        for asset, scale in (("USDC", 200_000.0), ("BTC", 4.0), ("ETH", 60.0)):
            if draw(st.booleans()):
                collateral[asset] = draw(st.floats(-0.4, 2.0).filter(lambda x: abs(x) > 1e-3)) * scale
        model = draw(st.sampled_from(MODELS))
        positions = []
        for _ in range(draw(st.integers(0, 4))):
            i = draw(st.sampled_from(ins))
            linear_size = 3.0 if i.underlying == "BTC" else 40.0
            inverse_delta_one = i.settlement == Settlement.INVERSE and i.type is not InstrumentType.OPTION
            size = 150_000.0 if inverse_delta_one else linear_size
            q = draw(st.floats(-1.0, 1.0).filter(lambda x: abs(x) > 1e-3)) * size
            entry = None
            if i.type in (InstrumentType.FUTURE, InstrumentType.PERPETUAL) and draw(st.booleans()):
                entry = prices[i.underlying] * draw(st.floats(0.7, 1.3))
            positions.append(Position(instrument=i.id, quantity=q, entry_price=entry))
        accounts.append(Account(id=f"A{a}", collateral=collateral, positions=tuple(positions), margin_model=model))
    return ins, accounts, prices, vols, rates, marks


def _scale(account, prices, ins):
    """Gross USD size of an account (collateral + position notionals): the yardstick for absolute error."""
    by_id = {i.id: i for i in ins}
    gross = sum(abs(q) * prices[a] for a, q in account.collateral.items())
    for p in account.positions:
        i = by_id[p.instrument]
        inv = i.settlement == Settlement.INVERSE and i.type is not InstrumentType.OPTION
        gross += abs(p.quantity) * (1.0 if inv else prices[i.underlying])
    return gross + 1.0


def _close(a, b, scale, rel=1e-9):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):  # a positive but denormal requirement overflows the ratio
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b), scale)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=books(), cfg=configs())
def test_engine_agrees_with_reference(case, cfg):
    ins, accounts, prices, vols, rates, marks = case
    eng = engine_metrics(ins, accounts, prices, vols, AS_OF, cfg, rates=rates, marks=marks)
    ref = reference_rows(ins, accounts, prices, vols, AS_OF, cfg, rates=rates, marks=marks)
    for acc, e, r in zip(accounts, eng, ref, strict=True):
        scale = _scale(acc, prices, ins)
        for key in FIELDS:
            assert _close(e[key], r[key], scale), (acc.id, key, e[key], r[key])
        mm = r["maintenance_margin"]
        if mm > 0:
            assert _close(e["coverage_ratio"], r["coverage_ratio"], scale / mm), (acc.id, e["coverage_ratio"],
                                                                                 r["coverage_ratio"])
        else:
            assert math.isnan(e["coverage_ratio"]) and math.isnan(r["coverage_ratio"])
        assert _close(e["health_factor"], r["health_factor"], 1.0)
        if abs(r["coverage_ratio"] - 1.0) > 1e-6 and abs(r["adjusted_equity"]) > 1e-6 * scale:
            assert e["status"] == r["status"], (acc.id, e["coverage_ratio"], r["coverage_ratio"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=books(max_accounts=2), cfg=configs())
def test_distance_agrees_with_reference_scan(case, cfg):
    ins, accounts, prices, vols, rates, marks = case
    eng = engine_metrics(ins, accounts, prices, vols, AS_OF, cfg, rates=rates, marks=marks, with_distance=True)
    ref = reference_rows(ins, accounts, prices, vols, AS_OF, cfg, rates=rates, marks=marks, with_distance=True)
    for acc, e, r in zip(accounts, eng, ref, strict=True):
        for key in ("distance_down", "distance_up"):
            both_null = math.isnan(e[key]) and math.isnan(r[key])
            assert both_null or e[key] == pytest.approx(r[key], abs=1e-3), (acc.id, key, e[key], r[key])

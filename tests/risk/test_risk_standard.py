"""Standard margin and equity: hand-worked numbers from reference/exchanges.md §1.3–1.4.

Every example runs against both the engine and the plain reference (``impl`` fixture); the expected
numbers are computed by hand here, independently of both.
"""

from __future__ import annotations

import math

import pytest

from ccm.book import Account, Position
from ccm.enums import MarginModelName
from ccm.risk.config import StandardParams
from tests.reference.builders import AS_OF, config, future, option, perp, spot
from tests.reference.harness import IMPLEMENTATIONS
from tests.reference.models import black76

S_BTC = 50_000.0
PRICES = {"BTC": S_BTC, "ETH": 3_000.0, "SOL": 150.0, "USDC": 1.0}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def impl(request):
    return IMPLEMENTATIONS[request.param]


def one(impl, instruments, positions, *, collateral=None, cfg=None, vols=None, marks=None, rates=None, model=None):
    acc = Account(id="a", collateral=collateral or {"USDC": 1_000_000.0}, positions=tuple(positions),
                  margin_model=model)
    return impl(instruments, [acc], PRICES, vols or {}, AS_OF, cfg or config(), marks=marks, rates=rates)[0]


# -- futures and perpetuals (§1.3) ---------------------------------------------------------------
@pytest.mark.parametrize("side", [1, -1])
def test_linear_perp_25_btc_im_2_125_percent(impl, side):
    ins = perp("BTC")
    row = one(impl, [ins], [Position(instrument=ins.id, quantity=side * 25.0)])
    notional = 25 * S_BTC
    assert row["initial_margin"] == pytest.approx(notional * 0.02125, rel=1e-12)
    assert row["maintenance_margin"] == pytest.approx(notional * 0.01125, rel=1e-12)


def test_linear_perp_350_btc_im_3_75_percent_is_13_125_btc(impl):
    ins = perp("BTC")
    row = one(impl, [ins], [Position(instrument=ins.id, quantity=350.0)])
    assert row["initial_margin"] / S_BTC == pytest.approx(13.125, rel=1e-12)
    assert row["maintenance_margin"] / S_BTC == pytest.approx(350 * 0.0275, rel=1e-12)


def test_sol_linear_perp_6000_sol_im_7_percent(impl):
    # SOL_USDC: 4% + size × 0.0005% (= 0.000005 per SOL), MM 2% + size × 0.0005%.
    sol = StandardParams(future_im_base=0.04, future_mm_base=0.02, future_size_slope=0.000005)
    ins = perp("SOL")
    cfg = config(standard={"default": StandardParams(), "SOL": sol})
    row = one(impl, [ins], [Position(instrument=ins.id, quantity=6000.0)], cfg=cfg)
    assert row["initial_margin"] == pytest.approx(6000 * 150.0 * 0.07, rel=1e-12)
    assert row["maintenance_margin"] == pytest.approx(6000 * 150.0 * 0.05, rel=1e-12)


def test_inverse_perp_notional_in_usd_converts_to_coins(impl):
    # 1,000,000 USD of an inverse perp at F = S = 50,000 is 20 BTC: IM 2.1% → 0.42 BTC, MM 1.1% → 0.22 BTC.
    ins = perp("BTC", inverse=True)
    row = one(impl, [ins], [Position(instrument=ins.id, quantity=-1_000_000.0)])
    assert row["initial_margin"] == pytest.approx(0.42 * S_BTC, rel=1e-12)
    assert row["maintenance_margin"] == pytest.approx(0.22 * S_BTC, rel=1e-12)


def test_inverse_future_uses_its_own_mark_for_the_size(impl):
    ins = future("BTC", 90, inverse=True)
    mark = 52_000.0
    row = one(impl, [ins], [Position(instrument=ins.id, quantity=1_000_000.0)], marks={ins.id: mark})
    coins = 1_000_000.0 / mark
    assert row["initial_margin"] == pytest.approx(coins * (0.02 + coins * 0.00005) * S_BTC, rel=1e-12)
    assert row["maintenance_margin"] == pytest.approx(coins * (0.01 + coins * 0.00005) * S_BTC, rel=1e-12)


def test_short_spot_is_margined_like_a_future_and_long_spot_is_free(impl):
    ins = spot("BTC")
    short = one(impl, [ins], [Position(instrument=ins.id, quantity=-2.0)])
    assert short["initial_margin"] == pytest.approx(2 * S_BTC * (0.02 + 2 * 0.00005), rel=1e-12)
    long = one(impl, [ins], [Position(instrument=ins.id, quantity=2.0)])
    assert long["initial_margin"] == long["maintenance_margin"] == 0.0
    assert long["equity"] == pytest.approx(1_000_000.0 + 2 * S_BTC, rel=1e-12)


def test_no_positions_no_margin(impl):
    row = one(impl, [perp("BTC")], [])
    assert row["initial_margin"] == row["maintenance_margin"] == 0.0
    assert math.isnan(row["coverage_ratio"])
    assert row["status"] == "healthy"


def test_offsetting_trades_net_to_zero_margin_and_keep_realised_pnl(impl):
    ins = perp("BTC")
    row = one(impl, [ins], [Position(instrument=ins.id, quantity=3.0, entry_price=40_000.0),
                            Position(instrument=ins.id, quantity=-3.0, entry_price=45_000.0)])
    assert row["initial_margin"] == row["maintenance_margin"] == 0.0
    assert row["equity"] == pytest.approx(1_000_000.0 + 3 * 5_000.0, rel=1e-12)


# -- equity ------------------------------------------------------------------------------------------
def test_equity_of_futures_with_and_without_entry(impl):
    lin, inv = future("BTC", 90), perp("BTC", inverse=True)
    row = one(impl, [lin, inv], [
        Position(instrument=lin.id, quantity=2.0, entry_price=45_000.0),  # +10,000 USDC
        Position(instrument=inv.id, quantity=100_000.0, entry_price=40_000.0),  # +0.5 BTC
        Position(instrument=lin.id, quantity=1.0),  # settled to mark: 0
    ], collateral={"USDC": 1_000.0, "BTC": 0.1})
    expected = 1_000.0 + 0.1 * S_BTC + 2 * 5_000.0 + 100_000.0 * (1 / 40_000 - 1 / S_BTC) * S_BTC
    assert row["equity"] == pytest.approx(expected, rel=1e-12)
    assert row["adjusted_equity"] == pytest.approx(expected, rel=1e-12)  # no haircuts configured


def test_future_forward_from_rate_enters_pnl(impl):
    ins = future("BTC", 365)
    row = one(impl, [ins], [Position(instrument=ins.id, quantity=1.0, entry_price=50_000.0)], rates={"BTC": 0.05},
              collateral={"USDC": 0.0})
    assert row["equity"] == pytest.approx(S_BTC * (math.exp(0.05) - 1.0), rel=1e-12)


# -- options (§1.4) --------------------------------------------------------------------------------
TAU_30 = 30 / 365


def test_short_inverse_call_otm(impl):
    # K = 60,000, S = 50,000: OTM/S = 0.2 → IM = max(0.15 − 0.2, 0.10) + mark; MM = 0.075 + mark (coin).
    ins = option("BTC", 30, 60_000.0, True, inverse=True)
    mark = black76(S_BTC, 60_000.0, TAU_30, 0.6, True) / S_BTC
    row = one(impl, [ins], [Position(instrument=ins.id, quantity=-3.0)], vols={ins.id: 0.6})
    assert row["initial_margin"] == pytest.approx(3 * (0.10 + mark) * S_BTC, rel=1e-12)
    assert row["maintenance_margin"] == pytest.approx(3 * (0.075 + mark) * S_BTC, rel=1e-12)
    assert row["equity"] == pytest.approx(1_000_000.0 - 3 * mark * S_BTC, rel=1e-12)


def test_short_inverse_put_slightly_otm(impl):
    # K = 48,000: OTM/S = 0.04 → IM = 0.11 + mark; MM = max(0.075, 0.075·mark) + mark = 0.075 + mark.
    ins = option("BTC", 30, 48_000.0, False, inverse=True)
    mark = black76(S_BTC, 48_000.0, TAU_30, 0.6, False) / S_BTC
    row = one(impl, [ins], [Position(instrument=ins.id, quantity=-1.0)], vols={ins.id: 0.6})
    assert row["initial_margin"] == pytest.approx((0.11 + mark) * S_BTC, rel=1e-12)
    assert row["maintenance_margin"] == pytest.approx((0.075 + mark) * S_BTC, rel=1e-12)


def test_short_inverse_put_deep_itm_im_is_floored_at_mm(impl):
    # K = 200,000: mark ≈ 3 coin, so MM = 0.075·mark + mark exceeds 0.15 + mark and IM = MM.
    ins = option("BTC", 1, 200_000.0, False, inverse=True)
    mark = black76(S_BTC, 200_000.0, 1 / 365, 0.5, False) / S_BTC
    assert mark == pytest.approx(3.0, rel=1e-9)
    row = one(impl, [ins], [Position(instrument=ins.id, quantity=-1.0)], vols={ins.id: 0.5})
    assert row["maintenance_margin"] == pytest.approx(1.075 * mark * S_BTC, rel=1e-12)
    assert row["initial_margin"] == pytest.approx(1.075 * mark * S_BTC, rel=1e-12)


@pytest.mark.parametrize(("strike", "im_add"), [(55_000.0, 0.10 * S_BTC), (52_000.0, 0.15 * S_BTC - 2_000.0)])
def test_short_linear_call(impl, strike, im_add):
    # Linear analogue: IM = max(0.15·S − OTM, 0.10·S) + mark; MM = 0.075·S + mark (USD per unit).
    ins = option("BTC", 30, strike, True)
    mark = black76(S_BTC, strike, TAU_30, 0.6, True)
    row = one(impl, [ins], [Position(instrument=ins.id, quantity=-2.0)], vols={ins.id: 0.6})
    assert row["initial_margin"] == pytest.approx(2 * (im_add + mark), rel=1e-12)
    assert row["maintenance_margin"] == pytest.approx(2 * (0.075 * S_BTC + mark), rel=1e-12)


def test_short_linear_put(impl):
    ins = option("BTC", 30, 45_000.0, False)
    mark = black76(S_BTC, 45_000.0, TAU_30, 0.6, False)
    row = one(impl, [ins], [Position(instrument=ins.id, quantity=-1.0)], vols={ins.id: 0.6})
    # OTM = 5,000 → max(7,500 − 5,000, 5,000) = 5,000; MM = max(0.075·S, 0.075·mark) + mark.
    assert row["initial_margin"] == pytest.approx(5_000.0 + mark, rel=1e-12)
    assert row["maintenance_margin"] == pytest.approx(0.075 * S_BTC + mark, rel=1e-12)


@pytest.mark.parametrize("inverse", [False, True])
def test_long_option_pays_premium_and_needs_no_maintenance(impl, inverse):
    ins = option("BTC", 30, 55_000.0, True, inverse=inverse)
    mark_usd = black76(S_BTC, 55_000.0, TAU_30, 0.6, True)
    row = one(impl, [ins], [Position(instrument=ins.id, quantity=4.0)], vols={ins.id: 0.6})
    assert row["initial_margin"] == pytest.approx(4 * mark_usd, rel=1e-12)
    assert row["maintenance_margin"] == 0.0
    assert row["equity"] == pytest.approx(1_000_000.0 + 4 * mark_usd, rel=1e-12)


def test_expired_option_is_worth_intrinsic(impl):
    ins = option("BTC", -1, 40_000.0, True, inverse=True)
    row = one(impl, [ins], [Position(instrument=ins.id, quantity=1.0)], collateral={"USDC": 0.0})
    assert row["equity"] == pytest.approx(10_000.0 / S_BTC * S_BTC, rel=1e-12)


def test_standard_margin_adds_over_positions(impl):
    a, b = perp("BTC"), option("BTC", 30, 60_000.0, True, inverse=True)
    vols = {b.id: 0.6}
    both = one(impl, [a, b], [Position(instrument=a.id, quantity=5.0), Position(instrument=b.id, quantity=-1.0)],
               vols=vols)
    ra = one(impl, [a, b], [Position(instrument=a.id, quantity=5.0)], vols=vols)
    rb = one(impl, [a, b], [Position(instrument=b.id, quantity=-1.0)], vols=vols)
    assert both["initial_margin"] == pytest.approx(ra["initial_margin"] + rb["initial_margin"], rel=1e-12)
    assert both["maintenance_margin"] == pytest.approx(ra["maintenance_margin"] + rb["maintenance_margin"],
                                                       rel=1e-12)


def test_default_model_is_standard_and_explicit_standard_is_the_same(impl):
    ins = perp("BTC")
    pos = [Position(instrument=ins.id, quantity=1.0)]
    assert one(impl, [ins], pos)["initial_margin"] == one(impl, [ins], pos, model=MarginModelName.STANDARD)[
        "initial_margin"]

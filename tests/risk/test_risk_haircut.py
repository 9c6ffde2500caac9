"""Collateral haircuts: static, volatility, liquidity add-on and value tiers (Binance worked example)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ccm.book import Account, build_book
from ccm.enums import MarginModelName
from ccm.lending.rules import LendingParams
from ccm.risk.config import AssetRisk, HaircutTier, RiskConfig
from ccm.risk.haircut import collateral_values_scenarios, compile_haircuts
from tests.reference.builders import AS_OF, config
from tests.reference.harness import IMPLEMENTATIONS
from tests.reference.models import haircut_value, tiered_value

# Binance cross-margin BTC ladder (exchanges.md §2): 0–100M 100%, 100–120M 97.5%, 120–150M 95%,
# 150–180M 90%, 180–200M 85%; above the last bound nothing counts.
BINANCE_BTC = tuple(HaircutTier(up_to_usd=u, rate=r) for u, r in
                    [(100e6, 1.0), (120e6, 0.975), (150e6, 0.95), (180e6, 0.9), (200e6, 0.85)])


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def impl(request):
    return IMPLEMENTATIONS[request.param]


def collateral(impl, balances, assets, prices, model=None):
    acc = Account(id="a", collateral=balances, margin_model=model)
    return impl([], [acc], prices, {}, AS_OF, config(assets={"USDC": AssetRisk(stable=True), **assets},
                                                             lending={"default": LendingParams()}))[0]


@pytest.mark.parametrize(("btc", "expected"), [
    (6_000.0, 100e6 + 20e6 * 0.975),  # the published example: 119.5M
    (4_000.0, 80e6),
    (12_000.0, 100e6 + 20e6 * 0.975 + 30e6 * 0.95 + 30e6 * 0.9 + 20e6 * 0.85),  # 240M: the tail counts 0
])
def test_binance_tiered_collateral(impl, btc, expected):
    row = collateral(impl, {"BTC": btc}, {"BTC": AssetRisk(tiers=BINANCE_BTC)}, {"BTC": 20_000.0, "USDC": 1.0})
    assert row["collateral_value"] == pytest.approx(expected, rel=1e-12)
    assert row["equity"] == pytest.approx(btc * 20_000.0, rel=1e-12)


def test_binance_example_value_is_119_5_million():
    assert tiered_value(6_000 * 20_000.0, BINANCE_BTC) == pytest.approx(119.5e6, rel=1e-15)


def test_open_ended_last_tier_has_no_tail(impl):
    tiers = (HaircutTier(up_to_usd=1e6, rate=1.0), HaircutTier(up_to_usd=math.inf, rate=0.5))
    row = collateral(impl, {"ETH": 1_000.0}, {"ETH": AssetRisk(tiers=tiers)}, {"ETH": 3_000.0, "USDC": 1.0})
    assert row["collateral_value"] == pytest.approx(1e6 + 2e6 * 0.5, rel=1e-12)


def test_static_haircut_and_borrowings_at_full_value(impl):
    row = collateral(impl, {"BTC": 2.0, "USDC": -30_000.0}, {"BTC": AssetRisk(haircut=0.05)},
                     {"BTC": 50_000.0, "USDC": 1.0})
    assert row["collateral_value"] == pytest.approx(2 * 50_000 * 0.95 - 30_000, rel=1e-12)
    assert row["equity"] == pytest.approx(70_000.0, rel=1e-12)


def test_volatility_haircut_wins_over_a_smaller_static_one(impl):
    # h = max(5%, z·σ·√(days/365)) with z = 2.326, σ = 80%, 2 days → 13.77%.
    risk = AssetRisk(haircut=0.05, volatility=0.8, liquidation_days=2.0)
    row = collateral(impl, {"BTC": 1.0}, {"BTC": risk}, {"BTC": 50_000.0, "USDC": 1.0})
    h = 2.326 * 0.8 * math.sqrt(2 / 365)
    assert h == pytest.approx(0.13775, abs=1e-5)
    assert row["collateral_value"] == pytest.approx(50_000 * (1 - h), rel=1e-12)


def test_liquidity_add_on_square_root_of_size(impl):
    # h = max(0.02, vol part) + Y·σ/√365·√(v/ADV): σ = 60%, 1 day, Y = 0.5, ADV 10M, v = 5M.
    risk = AssetRisk(haircut=0.02, volatility=0.6, adv_usd=10e6, impact_coefficient=0.5)
    row = collateral(impl, {"ETH": 5e6 / 2_500.0}, {"ETH": risk}, {"ETH": 2_500.0, "USDC": 1.0})
    h_base = max(0.02, 2.326 * 0.6 * math.sqrt(1 / 365))
    h = h_base + 0.5 * 0.6 / math.sqrt(365) * math.sqrt(0.5)
    assert row["collateral_value"] == pytest.approx(5e6 * (1 - h), rel=1e-12)


def test_haircut_is_capped_at_one(impl):
    risk = AssetRisk(haircut=0.5, volatility=2.0, adv_usd=1.0)  # huge liquidity add-on
    row = collateral(impl, {"ALT": 1_000.0}, {"ALT": risk}, {"ALT": 10.0, "USDC": 1.0})
    assert row["collateral_value"] == pytest.approx(0.0, abs=1e-9)


def test_haircut_and_tiers_combine_multiplicatively(impl):
    risk = AssetRisk(haircut=0.1, tiers=BINANCE_BTC)
    row = collateral(impl, {"BTC": 6_000.0}, {"BTC": risk}, {"BTC": 20_000.0, "USDC": 1.0})
    assert row["collateral_value"] == pytest.approx(0.9 * 119.5e6, rel=1e-12)


def test_default_asset_entry_applies_to_unlisted_assets(impl):
    row = collateral(impl, {"XYZ": 10.0}, {"default": AssetRisk(haircut=0.3)}, {"XYZ": 100.0, "USDC": 1.0})
    assert row["collateral_value"] == pytest.approx(700.0, rel=1e-12)


def test_lending_accounts_value_collateral_without_haircut(impl):
    row = collateral(impl, {"BTC": 1.0}, {"BTC": AssetRisk(haircut=0.2)}, {"BTC": 50_000.0, "USDC": 1.0},
                     model=MarginModelName.LENDING)
    assert row["collateral_value"] == pytest.approx(50_000.0, rel=1e-12)


def test_scenario_haircuts_are_re_evaluated_per_scenario():
    """Tiers bite harder when the price rises: per-scenario values equal the scalar haircut per price."""
    acc = Account(id="a", collateral={"BTC": 6_000.0, "USDC": -1e6})
    book = build_book([], [acc])
    cfg = RiskConfig(assets={"BTC": AssetRisk(haircut=0.02, tiers=BINANCE_BTC), "USDC": AssetRisk(stable=True)})
    table = compile_haircuts(book.assets, cfg)
    btc_prices = np.array([10_000.0, 20_000.0, 30_000.0, 40_000.0])
    scen = np.column_stack([btc_prices, np.ones(4)])  # assets sorted: BTC, USDC
    out = collateral_values_scenarios(book.balances, scen, table)[:, 0]
    expected = [haircut_value(6_000.0, p, cfg.assets["BTC"], 2.326) - 1e6 for p in btc_prices]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert expected[1] == pytest.approx(0.98 * 119.5e6 - 1e6)

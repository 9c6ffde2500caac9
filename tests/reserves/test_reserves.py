"""Backing ratios by hand on a 3-asset issuer, under scenarios, and Synthetix staker c-ratios."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ccm.reserves.backing import backing_ratios, backing_under_scenarios, staker_c_ratio
from ccm.risk.config import AssetRisk, HaircutTier, RiskConfig
from ccm.risk.haircut import compile_haircuts
from ccm.scenario import ScenarioSet
from ccm.synthetic.exchange_liabilities import BACKING, generate_exchange

ASSETS = ("BTC", "ETH", "USDT")
PRICES = np.array([50_000.0, 2_000.0, 1.0])
LIABILITIES = np.array([10.0, 100.0, 50_000.0])
RESERVES = np.array([12.0, 90.0, 50_000.0])
CONFIG = RiskConfig(assets={"BTC": AssetRisk(haircut=0.10), "ETH": AssetRisk(haircut=0.20),
                            "USDT": AssetRisk(haircut=0.0, stable=True)})


@pytest.fixture(scope="module")
def table():
    return compile_haircuts(ASSETS, CONFIG)


def test_three_assets_by_hand(table):
    b = backing_ratios(ASSETS, LIABILITIES, RESERVES, PRICES, table)
    # liabilities USD 500,000 / 200,000 / 50,000; reserves 600,000 / 180,000 / 50,000;
    # haircut reserves 600,000·0.9 = 540,000, 180,000·0.8 = 144,000, 50,000.
    np.testing.assert_allclose(b.liabilities_usd, [500_000, 200_000, 50_000])
    np.testing.assert_allclose(b.haircut_reserves_usd, [540_000, 144_000, 50_000])
    np.testing.assert_allclose(b.reserve_ratio, [1.2, 0.9, 1.0])
    np.testing.assert_allclose(b.haircut_reserve_ratio, [1.08, 0.72, 1.0])
    assert b.total_reserve_ratio == pytest.approx(830_000 / 750_000)
    assert b.total_haircut_reserve_ratio == pytest.approx(734_000 / 750_000)


def test_tier_ladder_of_the_config_applies_to_reserves():
    """BTC with a 10% haircut and a ladder: the first 100,000 USD at 100%, the rest at 50% —
    600,000 · 0.9 · (100,000 + 500,000 · 0.5) / 600,000 = 315,000."""
    config = RiskConfig(assets={"BTC": AssetRisk(haircut=0.10, tiers=(HaircutTier(up_to_usd=100_000, rate=1.0),
                                                                      HaircutTier(up_to_usd=math.inf, rate=0.5)))})
    b = backing_ratios(("BTC",), [10.0], [12.0], np.array([50_000.0]), compile_haircuts(("BTC",), config))
    assert b.haircut_reserves_usd[0] == pytest.approx(315_000)
    assert b.haircut_reserve_ratio[0] == pytest.approx(0.63)


def test_zero_liabilities_are_unbounded(table):
    b = backing_ratios(ASSETS, [0.0, 100.0, 0.0], RESERVES, PRICES, table)
    assert math.isinf(b.reserve_ratio[0]) and math.isinf(b.haircut_reserve_ratio[2])
    assert b.total_reserve_ratio == pytest.approx((600_000 + 180_000 + 50_000) / 200_000)
    assert math.isinf(backing_ratios(ASSETS, np.zeros(3), RESERVES, PRICES, table).total_reserve_ratio)


def _scenarios(returns, haircuts=None, names=None) -> ScenarioSet:
    returns = np.asarray(returns, dtype=float)
    return ScenarioSet(assets=ASSETS, names=names or tuple(f"s{k}" for k in range(len(returns))),
                       price_returns=returns, haircut_multipliers=haircuts)


def test_zero_shock_scenario_equals_current(table):
    now = backing_ratios(ASSETS, LIABILITIES, RESERVES, PRICES, table)
    under = backing_under_scenarios(ASSETS, LIABILITIES, RESERVES, PRICES, table, _scenarios(np.zeros((2, 3))))
    for name in ("liabilities_usd", "haircut_reserves_usd", "reserve_ratio", "haircut_reserve_ratio"):
        np.testing.assert_allclose(getattr(under.backing, name), np.broadcast_to(getattr(now, name), (2, 3)))
    np.testing.assert_allclose(under.backing.total_haircut_reserve_ratio, now.total_haircut_reserve_ratio)


def test_scenario_by_hand_and_the_worst_one(table):
    """BTC −50% with BTC haircuts ×2: BTC 25,000, haircut 20% → 12·25,000·0.8 = 240,000 against 250,000 owed;
    total haircut reserves 240,000 + 144,000 + 50,000 = 434,000 against 500,000."""
    returns = [[0.0, 0.0, 0.0], [-0.5, 0.0, 0.0], [0.0, -0.3, 0.0]]
    haircuts = [[1, 1, 1], [2, 1, 1], [1, 1, 1]]
    under = backing_under_scenarios(ASSETS, LIABILITIES, RESERVES, PRICES, table,
                                    _scenarios(returns, haircuts, ("calm", "btc crash", "eth -30%")))
    b = under.backing
    assert b.haircut_reserve_ratio[1, 0] == pytest.approx(0.96)
    assert b.total_haircut_reserve_ratio[1] == pytest.approx(434_000 / 500_000)
    assert b.reserve_ratio[1, 0] == pytest.approx(1.2)  # the quantity ratio does not move with the price
    # ETH −30%: liabilities 140,000, haircut reserves 126,000·0.8 = 100,800 → total (540,000+100,800+50,000)/690,000
    assert b.total_haircut_reserve_ratio[2] == pytest.approx(690_800 / 690_000)
    assert under.names[under.worst_total] == "btc crash"
    assert under.names[under.worst_asset[0]] == "btc crash"


def test_assets_missing_from_the_scenarios_follow_the_proxy_or_stay_put(table):
    """A set over BTC only: ETH follows BTC, the stablecoin USDT does not move (ScenarioSet.for_assets)."""
    only_btc = ScenarioSet(assets=("BTC",), names=("crash",), price_returns=np.array([[-0.4]]))
    b = backing_under_scenarios(ASSETS, LIABILITIES, RESERVES, PRICES, table, only_btc).backing
    np.testing.assert_allclose(b.prices[0], [30_000, 1_200, 1.0])


def test_synthetic_exchange_reserves_follow_the_backing_factors():
    ex = generate_exchange(2_000, rng=np.random.default_rng(5))
    assert ex.balances.shape == (2_000, len(ex.assets)) and (ex.balances >= 0).all()
    ratio = ex.reserves / ex.balances.sum(axis=0)
    np.testing.assert_allclose(ratio, [BACKING[a] for a in ex.assets], rtol=1e-9)
    np.testing.assert_allclose(ex.balances, np.round(ex.balances, 8))


# --- Synthetix staking -----------------------------------------------------------------------------------
def test_staker_c_ratio_by_hand():
    """Collateral 1,000 USD each; debt shares 70% and 10% of a 1,000 USD debt pool; target 300%, liquidation
    at debt/collateral ≥ 2/3 (150%), penalty 30%."""
    s = staker_c_ratio(np.array([1_000.0, 1_000.0]), np.array([0.7, 0.1]), 1_000.0)
    np.testing.assert_allclose(s.debt_usd, [700, 100])
    np.testing.assert_allclose(s.c_ratio, [1_000 / 700, 10.0])
    assert s.flagged.tolist() == [True, False]
    np.testing.assert_allclose(s.max_issuable_usd, [1_000 / 3, 1_000 / 3])
    np.testing.assert_allclose(s.issuable_usd, [0, 1_000 / 3 - 100])
    np.testing.assert_allclose(s.burn_to_target_usd, [700 - 1_000 / 3, 0])
    # Liquidating S of debt seizes S·1.3 of collateral and must leave debt/collateral = 1/3 (the target).
    liquidated = s.liquidation_usd[0]
    assert (700 - liquidated) / (1_000 - 1.3 * liquidated) == pytest.approx(1 / 3)
    assert s.liquidation_usd[1] == 0


def test_staker_c_ratio_under_scenarios_broadcasts():
    """SNX −50% and −70% on a staker at 400%: c-ratio 200% (not flagged) and 120% (flagged)."""
    collateral = 4_000.0 * np.array([[0.5], [0.3]])  # (S, 1)
    s = staker_c_ratio(collateral, np.array([0.5]), 2_000.0, target_c_ratio=4.0)
    np.testing.assert_allclose(s.c_ratio[:, 0], [2.0, 1.2])
    assert s.flagged[:, 0].tolist() == [False, True]


def test_staker_parameters_are_checked():
    with pytest.raises(ValueError):
        staker_c_ratio(np.ones(1), np.ones(1), 1.0, target_c_ratio=1.2)  # below the 150% liquidation ratio
    with pytest.raises(ValueError):
        staker_c_ratio(np.ones(1), np.ones(1), 1.0, target_c_ratio=2.0, liquidation_penalty=1.2)

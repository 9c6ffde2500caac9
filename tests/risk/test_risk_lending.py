"""Lending (health-factor) model: hand-worked requirement and the coverage-1 ⇔ health-factor-1 boundary."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ccm.book import Account, Position
from ccm.enums import MarginModelName
from ccm.lending.rules import LendingParams
from ccm.risk.config import AssetRisk, StandardParams
from tests.reference.builders import AS_OF, config, perp
from tests.reference.harness import IMPLEMENTATIONS

LEND = MarginModelName.LENDING
LENDING = {"ETH": LendingParams(ltv=0.8, liquidation_threshold=0.825),
           "BTC": LendingParams(ltv=0.7, liquidation_threshold=0.75)}
CFG = config(assets={"USDC": AssetRisk(stable=True), "ETH": AssetRisk(haircut=0.1), "BTC": AssetRisk(haircut=0.05)},
             lending=LENDING)


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def impl(request):
    return IMPLEMENTATIONS[request.param]


def run(impl, accounts, prices, instruments=(), cfg=CFG):
    return impl(list(instruments), accounts, prices, {}, AS_OF, cfg)


def test_aave_style_requirement_by_hand(impl):
    # 10 ETH at 2,600 (LT 82.5%, LTV 80%) against 20,000 USDC of debt.
    acc = Account(id="a", collateral={"ETH": 10.0, "USDC": -20_000.0}, margin_model=LEND)
    row = run(impl, [acc], {"ETH": 2_600.0, "USDC": 1.0})[0]
    assert row["health_factor"] == pytest.approx(26_000 * 0.825 / 20_000, rel=1e-12)  # 1.0725
    assert row["maintenance_margin"] == pytest.approx(26_000 * 0.175, rel=1e-12)  # 4,550
    assert row["initial_margin"] == pytest.approx(26_000 * 0.2, rel=1e-12)  # 5,200
    assert row["collateral_value"] == pytest.approx(6_000.0, rel=1e-12)  # no haircut: LT plays that role
    assert row["coverage_ratio"] == pytest.approx(6_000 / 4_550, rel=1e-12)


def test_no_debt_no_requirement(impl):
    acc = Account(id="a", collateral={"ETH": 10.0}, margin_model=LEND)
    row = run(impl, [acc], {"ETH": 2_600.0, "USDC": 1.0})[0]
    assert row["maintenance_margin"] == row["initial_margin"] == 0.0
    assert math.isnan(row["health_factor"]) and math.isnan(row["coverage_ratio"])
    assert row["status"] == "healthy"


@pytest.mark.parametrize("debt", [40_000.0, 55_000.0])
def test_coverage_crosses_one_exactly_where_health_factor_does(impl, debt):
    """Scan the ETH price: coverage ≥ 1 ⇔ health factor ≥ 1, and both are 1 at the same price."""
    acc = Account(id="a", collateral={"ETH": 10.0, "BTC": 0.5, "USDC": -debt}, margin_model=LEND)
    for eth in np.linspace(1_000.0, 5_000.0, 81):
        row = run(impl, [acc], {"ETH": float(eth), "BTC": 60_000.0, "USDC": 1.0})[0]
        assert (row["coverage_ratio"] >= 1.0) == (row["health_factor"] >= 1.0)
        assert (row["coverage_ratio"] - 1.0) * (row["health_factor"] - 1.0) >= -1e-15
    # The boundary: Σ c·LT = debt at ETH = (debt − 0.5·60,000·0.75) / (10·0.825).
    eth_star = (debt - 0.5 * 60_000 * 0.75) / (10 * 0.825)
    row = run(impl, [acc], {"ETH": eth_star, "BTC": 60_000.0, "USDC": 1.0})[0]
    assert row["health_factor"] == pytest.approx(1.0, rel=1e-12)
    assert row["coverage_ratio"] == pytest.approx(1.0, rel=1e-9)


def test_derivatives_in_a_lending_account_add_standard_margin(impl):
    ins = perp("ETH")
    acc = Account(id="a", collateral={"ETH": 10.0, "USDC": -20_000.0},
                  positions=(Position(instrument=ins.id, quantity=5.0),), margin_model=LEND)
    cfg = config(assets=CFG.assets, lending=LENDING, standard={"default": StandardParams()})
    row = run(impl, [acc], {"ETH": 2_600.0, "USDC": 1.0}, [ins], cfg)[0]
    fut_mm = 5 * 2_600 * (0.01 + 5 * 0.00005)
    fut_im = 5 * 2_600 * (0.02 + 5 * 0.00005)
    assert row["maintenance_margin"] == pytest.approx(4_550 + fut_mm, rel=1e-12)
    assert row["initial_margin"] == pytest.approx(5_200 + fut_im, rel=1e-12)


def test_lending_distance_is_the_health_factor_root():
    acc = Account(id="a", collateral={"ETH": 10.0, "USDC": -20_000.0}, margin_model=LEND)
    for name, impl in IMPLEMENTATIONS.items():
        row = impl([], [acc], {"ETH": 2_600.0, "USDC": 1.0}, {}, AS_OF, CFG, with_distance=True)[0]
        # HF(m) = 26,000·(1+m)·0.825 / 20,000 = 1.
        assert row["distance_down"] == pytest.approx(1 - 20_000 / (26_000 * 0.825), abs=1e-6), name
        assert math.isnan(row["distance_up"]), name

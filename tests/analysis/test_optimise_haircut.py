"""Haircut proposals: the formula computed by hand, raise / lower / keep, the static floor."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ccm.analysis.optimise_haircut import propose_haircuts
from ccm.risk.config import AssetRisk, RiskConfig

Z = 2.326


def cfg(**assets) -> RiskConfig:
    return RiskConfig(haircut_confidence_z=Z, assets={"USDC": AssetRisk(stable=True), **assets})


def by_hand(sigma, *, floor, days, adv, y, value):
    """max(floor, z·σ·√(days/365)) + Y·σ/√365·√(value/ADV), capped at 1."""
    return min(1.0, max(floor, Z * sigma * math.sqrt(days / 365)) + y * sigma / math.sqrt(365) * math.sqrt(value / adv))


def test_proposal_is_the_formula_by_hand():
    eth = AssetRisk(haircut=0.02, volatility=0.55, liquidation_days=2.0, adv_usd=1e9, impact_coefficient=0.5)
    res = propose_haircuts(("ETH", "USDC"), cfg(ETH=eth), np.array([0.8, np.nan]), np.array([5e7, 1e6]))
    assert res.assets == ("ETH",)  # USDC has no forecast: no proposal
    kw = dict(floor=0.02, days=2.0, adv=1e9, y=0.5, value=5e7)
    assert res.proposed[0] == pytest.approx(by_hand(0.8, **kw), rel=1e-12)
    assert res.current[0] == pytest.approx(by_hand(0.55, **kw), rel=1e-12)
    assert res.action == ("raise",)
    assert "80%" in res.reason[0] and "55%" in res.reason[0]


def test_lower_keep_and_floor():
    assets = ("BTC", "ETH", "SOL")
    config = cfg(BTC=AssetRisk(haircut=0.02, volatility=0.55), ETH=AssetRisk(haircut=0.05, volatility=0.70),
                 SOL=AssetRisk(haircut=0.30, volatility=0.90))
    res = propose_haircuts(assets, config, np.array([0.30, 0.701, 0.50]), np.zeros(3))
    assert res.action == ("lower", "keep", "keep")
    assert res.proposed[0] == pytest.approx(Z * 0.30 / math.sqrt(365), rel=1e-12)
    assert res.proposed[2] == res.current[2] == 0.30  # the static floor binds either way
    assert "floor" in res.reason[2]


def test_no_configured_vol_gets_one_from_the_forecast():
    res = propose_haircuts(("XRP",), cfg(XRP=AssetRisk(haircut=0.0)), np.array([1.2]), np.array([0.0]))
    assert res.current[0] == 0.0
    assert res.proposed[0] == pytest.approx(Z * 1.2 / math.sqrt(365), rel=1e-12)
    assert math.isnan(res.configured_vol[0])

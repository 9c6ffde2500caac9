"""Adjusted equity under a per-asset scenario (the stress path: instruments × scenarios, one sparse product)
against the per-account uniform-move path used by distance to liquidation — two independent routes."""

from __future__ import annotations

import numpy as np
import pytest

from ccm.book import Account, Position
from ccm.risk.config import AssetRisk
from ccm.risk.context import account_equity, scenario_adjusted_equity
from tests.reference.builders import AS_OF, config, future, option, perp
from tests.reference.harness import engine_context

PRICES = {"BTC": 60_000.0, "ETH": 3_000.0, "USDC": 1.0}


@pytest.fixture(scope="module")
def ctx():
    ins = [perp("BTC", inverse=True), future("ETH", 30), option("BTC", 20, 55_000, False, inverse=True),
           option("ETH", 40, 3_500, True)]
    accounts = [
        Account(id="a", collateral={"BTC": 1.0, "USDC": -5_000.0},
                positions=(Position(instrument=ins[0].id, quantity=30_000.0, entry_price=58_000.0),
                           Position(instrument=ins[2].id, quantity=-3.0))),
        Account(id="b", collateral={"ETH": 20.0}, positions=(Position(instrument=ins[1].id, quantity=-15.0),
                                                             Position(instrument=ins[3].id, quantity=4.0)),
                margin_model="lending"),
        Account(id="c", collateral={"USDC": 1_000.0}),
    ]
    vols = {ins[2].id: 0.6, ins[3].id: 0.7}
    assets = {"USDC": AssetRisk(stable=True), "BTC": AssetRisk(haircut=0.05), "ETH": AssetRisk(haircut=0.1)}
    return engine_context(ins, accounts, PRICES, vols, AS_OF, config(assets=assets))


@pytest.mark.parametrize("move", [0.0, -0.3, 0.25])
def test_uniform_scenario_equals_uniform_move(ctx, move):
    multiplier = 1.0 + move * ctx.moving[None, :]
    stressed = scenario_adjusted_equity(ctx, multiplier)[0]
    moved = account_equity(ctx, np.full(ctx.n_accounts, move)).adjusted_equity
    np.testing.assert_allclose(stressed, moved, rtol=1e-12, atol=1e-9)


def test_zero_shock_gives_todays_adjusted_equity(ctx):
    stressed = scenario_adjusted_equity(ctx, np.ones((3, len(ctx.book.assets))))
    np.testing.assert_allclose(stressed, np.tile(account_equity(ctx).adjusted_equity, (3, 1)), rtol=1e-12)


def test_vol_up_hurts_short_options_and_helps_long_options(ctx):
    ones = np.ones((1, len(ctx.book.assets)))
    base = scenario_adjusted_equity(ctx, ones)[0]
    up = scenario_adjusted_equity(ctx, ones, vol_multiplier=1.5 * ones)[0]
    assert up[0] < base[0]  # short BTC put
    assert up[1] > base[1]  # long ETH call
    assert up[2] == base[2]


def test_haircut_multiplier_lowers_haircut_collateral_only(ctx):
    ones = np.ones((1, len(ctx.book.assets)))
    base = scenario_adjusted_equity(ctx, ones)[0]
    harsher = scenario_adjusted_equity(ctx, ones, haircut_multiplier=3.0 * ones)[0]
    assert harsher[0] < base[0]  # BTC collateral carries a haircut
    assert harsher[1] == base[1]  # lending account: no haircut (its LT plays that role)
    assert harsher[2] == base[2]  # USDC: no haircut to multiply

"""Small books for the stress tests (built with the reference builders and the engine harness)."""

from __future__ import annotations

import pytest

from ccm.book import Account, Position
from ccm.risk.config import AssetRisk
from tests.reference.builders import AS_OF, config, future, option, perp, spot
from tests.reference.harness import engine_context

BTC = 60_000.0
PRICES = {"BTC": BTC, "ETH": 3_000.0, "USDC": 1.0}


@pytest.fixture(scope="module")
def linear_ctx():
    """Linear BTC perps against USDC at entry = index, no haircuts: AE under a BTC return r is
    collateral + quantity × 60,000 × r, by hand."""
    p = perp("BTC")
    accounts = [
        Account(id="a", collateral={"USDC": 5_000.0}, positions=(Position(instrument=p.id, quantity=1.0,
                                                                           entry_price=BTC),)),
        Account(id="b", collateral={"USDC": 8_000.0}, positions=(Position(instrument=p.id, quantity=2.0,
                                                                           entry_price=BTC),)),
        Account(id="c", collateral={"USDC": 10_000.0}, positions=(Position(instrument=p.id, quantity=0.5,
                                                                            entry_price=BTC),)),
        Account(id="d", collateral={"USDC": 3_000.0}, positions=(Position(instrument=p.id, quantity=-1.0,
                                                                           entry_price=BTC),)),
        Account(id="e", collateral={"USDC": 1_000.0}),
    ]
    return engine_context([p], accounts, PRICES, {}, AS_OF, config())


@pytest.fixture(scope="module")
def long_ctx():
    """Long-only book (futures, spot, long calls and puts' absence; BTC/ETH collateral with haircuts)."""
    ins = [perp("BTC", inverse=True), perp("ETH"), future("BTC", 30), spot("ETH"),
           option("BTC", 20, 65_000, True, inverse=True), option("ETH", 40, 3_200, True)]
    accounts = [
        Account(id="l1", collateral={"USDC": 20_000.0},
                positions=(Position(instrument=ins[1].id, quantity=30.0, entry_price=2_900.0),)),
        Account(id="l2", collateral={"BTC": 0.5},
                positions=(Position(instrument=ins[0].id, quantity=100_000.0, entry_price=61_000.0),
                           Position(instrument=ins[4].id, quantity=2.0))),
        Account(id="l3", collateral={"ETH": 10.0, "USDC": 2_000.0},
                positions=(Position(instrument=ins[2].id, quantity=1.0, entry_price=59_000.0),
                           Position(instrument=ins[3].id, quantity=5.0, entry_price=3_100.0),
                           Position(instrument=ins[5].id, quantity=10.0))),
        Account(id="l4", collateral={"USDC": 4_000.0, "ETH": 1.0},
                positions=(Position(instrument=ins[1].id, quantity=12.0, entry_price=3_050.0),)),
        Account(id="l5", collateral={"USDC": 500.0}),
    ]
    vols = {ins[4].id: 0.6, ins[5].id: 0.7}
    assets = {"USDC": AssetRisk(stable=True), "BTC": AssetRisk(haircut=0.05), "ETH": AssetRisk(haircut=0.1)}
    return engine_context(ins, accounts, PRICES, vols, AS_OF, config(assets=assets))


@pytest.fixture(scope="module")
def mixed_ctx():
    """Longs and shorts, inverse and linear, options both ways, a lending account, a portfolio account."""
    ins = [perp("BTC", inverse=True), future("ETH", 30), option("BTC", 20, 55_000, False, inverse=True),
           option("ETH", 40, 3_500, True), perp("ETH")]
    accounts = [
        Account(id="m1", collateral={"BTC": 1.0, "USDC": -5_000.0},
                positions=(Position(instrument=ins[0].id, quantity=30_000.0, entry_price=58_000.0),
                           Position(instrument=ins[2].id, quantity=-3.0))),
        Account(id="m2", collateral={"ETH": 20.0}, positions=(Position(instrument=ins[1].id, quantity=-15.0),
                                                              Position(instrument=ins[3].id, quantity=4.0)),
                margin_model="lending"),
        Account(id="m3", collateral={"USDC": 1_000.0}),
        Account(id="m4", collateral={"USDC": 6_000.0},
                positions=(Position(instrument=ins[4].id, quantity=-20.0, entry_price=3_000.0),
                           Position(instrument=ins[3].id, quantity=-5.0)), margin_model="portfolio"),
        Account(id="m5", collateral={"ETH": 3.0}, positions=(Position(instrument=ins[0].id, quantity=-40_000.0,
                                                                      entry_price=60_500.0),)),
    ]
    vols = {ins[2].id: 0.6, ins[3].id: 0.7}
    assets = {"USDC": AssetRisk(stable=True), "BTC": AssetRisk(haircut=0.05), "ETH": AssetRisk(haircut=0.1)}
    return engine_context(ins, accounts, PRICES, vols, AS_OF, config(assets=assets))

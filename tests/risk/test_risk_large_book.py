"""A book large enough for the engine's compiled kernels (≥ 4,096 positions × scenarios), checked against the
reference with numba on and off, including distance to liquidation for a sample of accounts."""

from __future__ import annotations

import math
import random

import pytest

from ccm.book import Account, Position
from ccm.enums import MarginModelName
from ccm.lending.rules import LendingParams
from ccm.pricing import _black76_compiled
from ccm.risk.config import AssetRisk, HaircutTier, PortfolioParams, RiskConfig, StandardParams
from ccm.risk.margin import _standard_compiled
from tests.reference.builders import AS_OF, future, option, perp, spot
from tests.reference.harness import engine_metrics, reference_rows
from tests.reference.models import ReferenceMarket, ReferenceModel

PRICES = {"BTC": 60_000.0, "ETH": 3_000.0, "USDC": 1.0}


def large_book(n_instruments: int = 300, n_accounts: int = 1_200, seed: int = 7):
    rng = random.Random(seed)
    ins = []
    for k in range(n_instruments):
        under = rng.choice(["BTC", "ETH"])
        kind = rng.random()
        if kind < 0.1:
            ins.append(perp(under, inverse=rng.random() < 0.5, id=f"P{k}"))
        elif kind < 0.25:
            ins.append(future(under, rng.choice([7, 30, 90]), inverse=rng.random() < 0.5, id=f"F{k}"))
        elif kind < 0.3:
            ins.append(spot(under, id=f"S{k}"))
        else:
            s = PRICES[under]
            ins.append(option(under, rng.choice([0.5, 7, 30, 90, 180]), round(s * rng.uniform(0.6, 1.6), -1),
                              rng.random() < 0.5, inverse=rng.random() < 0.5, id=f"O{k}"))
    vols = {i.id: rng.uniform(0.2, 1.2) for i in ins if i.strike}
    tradable = [i for i in ins if i.type != "spot"]
    accounts = []
    for a in range(n_accounts):
        model = rng.choice([None, MarginModelName.PORTFOLIO, MarginModelName.LENDING])
        positions = []
        for _ in range(rng.randint(2, 6)):
            i = rng.choice(tradable)
            inv_d1 = i.settlement == "inverse" and i.type != "option"
            entry = PRICES[i.underlying] * rng.uniform(0.8, 1.2) if i.type != "option" and rng.random() < 0.5 else None
            positions.append(Position(instrument=i.id, quantity=rng.uniform(-1, 1) * (50_000 if inv_d1 else 2),
                                      entry_price=entry))
        collateral = {"USDC": rng.uniform(-5e3, 1.5e5), "BTC": rng.uniform(0, 3), "ETH": rng.uniform(-5, 30)}
        accounts.append(Account(id=f"A{a}", collateral=collateral, positions=tuple(positions), margin_model=model))
    return ins, accounts, vols


CONFIG = RiskConfig(
    assets={"USDC": AssetRisk(stable=True),
            "BTC": AssetRisk(haircut=0.05, volatility=0.6, adv_usd=5e7),
            "ETH": AssetRisk(haircut=0.1, tiers=(HaircutTier(up_to_usd=5e4, rate=1.0),
                                                 HaircutTier(up_to_usd=2e5, rate=0.9)))},
    standard={"default": StandardParams()},
    portfolio={"default": PortfolioParams(), "ETH": PortfolioParams(price_range=0.18, extended_dampener=2_000.0)},
    lending={"default": LendingParams(ltv=0.7, liquidation_threshold=0.8)},
)


@pytest.fixture(scope="module")
def book():
    return large_book()


@pytest.fixture(scope="module")
def reference(book):
    ins, accounts, vols = book
    return reference_rows(ins, accounts, PRICES, vols, AS_OF, CONFIG)


@pytest.fixture(params=["compiled", "numpy"])
def kernels(request, monkeypatch):
    if request.param == "numpy":
        monkeypatch.setattr(_black76_compiled, "AVAILABLE", False)
        monkeypatch.setattr(_standard_compiled, "AVAILABLE", False)
    elif not _black76_compiled.AVAILABLE:
        pytest.skip("numba not installed")
    return request.param


def test_large_book_agrees_with_reference(book, reference, kernels):
    ins, accounts, vols = book
    assert sum(len(a.positions) for a in accounts) >= 4_096
    eng = engine_metrics(ins, accounts, PRICES, vols, AS_OF, CONFIG)
    for r, e in zip(reference, eng, strict=True):
        scale = 1e-9 * (abs(r["equity"]) + r["initial_margin"] + 1e5)
        for key in ("equity", "collateral_value", "adjusted_equity", "initial_margin", "maintenance_margin"):
            assert e[key] == pytest.approx(r[key], abs=scale), (r["account"], key)
        if r["maintenance_margin"] > 0 and abs(r["coverage_ratio"] - 1) > 1e-6:
            assert e["status"] == r["status"], r["account"]


def test_large_book_distance_sample_agrees_with_reference(book, kernels):
    ins, accounts, vols = book
    eng = engine_metrics(ins, accounts, PRICES, vols, AS_OF, CONFIG, with_distance=True)
    model = ReferenceModel(ins, ReferenceMarket(prices=PRICES, vols=vols, as_of=AS_OF), CONFIG)
    checked = 0
    for k in range(0, len(accounts), 30):  # 40 accounts spread over the book
        for direction, key in ((-1, "distance_down"), (1, "distance_up")):
            ref = model.distance(accounts[k], direction, step=0.01, tol=1e-7)
            got = eng[k][key]
            assert (math.isnan(ref) and math.isnan(got)) or got == pytest.approx(ref, abs=1e-3), (k, key, got, ref)
            checked += math.isfinite(ref) and ref > 0
    assert checked >= 10

"""A small mixed venue for the engine tests, and the independent reference: the book rebuilt from scratch.

The reference keeps every event as a record — trades as extra ``Position`` rows with their entry price,
transfers summed into the account's collateral — and rebuilds the book with ``build_book`` (which merges
repeated positions), then runs ``evaluate`` from scratch. It shares no state with the engine.
"""

from __future__ import annotations

import math

import numpy as np

from ccm.book import Account, Position, build_book
from ccm.enums import STATUSES, InstrumentType, MarginModelName
from ccm.lending.rules import LendingParams
from ccm.market import MarketSnapshot
from ccm.pricing.market_state import resolve_market
from ccm.risk.config import AssetRisk, HaircutTier, PortfolioParams
from ccm.risk.metrics import evaluate
from tests.reference.builders import AS_OF, config, future, option, perp, spot

PRICES = {"BTC": 50_000.0, "ETH": 3_000.0, "USDC": 1.0}

FIELDS = ("equity", "collateral_value", "adjusted_equity", "initial_margin", "maintenance_margin",
          "coverage_ratio", "initial_coverage_ratio", "margin_utilisation", "excess", "shortfall", "available",
          "distance_down", "distance_up", "health_factor")


def instruments():
    return [
        perp("BTC"), perp("BTC", inverse=True), perp("ETH"), future("BTC", 60), future("ETH", 30, inverse=True),
        option("BTC", 30, 50_000.0, True), option("BTC", 30, 45_000.0, False),
        option("BTC", 60, 55_000.0, True, inverse=True), option("ETH", 30, 3_000.0, False, inverse=True),
        spot("BTC"),
    ]


def vols(ins) -> dict[str, float]:
    return {i.id: 0.6 for i in ins if i.strike is not None}


def accounts(ins) -> list[Account]:
    ids = {k: i.id for k, i in enumerate(ins)}
    pm, lend, std = MarginModelName.PORTFOLIO, MarginModelName.LENDING, MarginModelName.STANDARD
    return [
        Account(id="a-long", collateral={"USDC": 20_000.0},
                positions=(Position(instrument=ids[0], quantity=2.0, entry_price=49_000.0),)),
        Account(id="b-inv", collateral={"BTC": 1.5},
                positions=(Position(instrument=ids[1], quantity=-60_000.0, entry_price=51_000.0),
                           Position(instrument=ids[4], quantity=10_000.0))),
        Account(id="c-pm", collateral={"BTC": 0.8, "USDC": 30_000.0}, margin_model=pm,
                positions=(Position(instrument=ids[5], quantity=-6.0), Position(instrument=ids[6], quantity=-4.0),
                           Position(instrument=ids[3], quantity=3.0, entry_price=50_500.0),
                           Position(instrument=ids[7], quantity=2.0))),
        Account(id="d-std-opt", collateral={"USDC": 15_000.0, "ETH": 3.0}, margin_model=std,
                positions=(Position(instrument=ids[6], quantity=-2.0), Position(instrument=ids[8], quantity=-5.0),
                           Position(instrument=ids[2], quantity=-4.0, entry_price=3_100.0))),
        Account(id="e-lend", collateral={"ETH": 10.0, "BTC": 0.3, "USDC": -28_000.0}, margin_model=lend),
        Account(id="f-pm-short", collateral={"USDC": 50_000.0}, margin_model=pm,
                positions=(Position(instrument=ids[5], quantity=-10.0), Position(instrument=ids[9], quantity=1.0))),
        Account(id="g-empty", collateral={"USDC": 1_000.0}),
        Account(id="h-unpriced", collateral={"BTC": 0.5},
                positions=(Position(instrument=ids[1], quantity=30_000.0),)),
    ]


def _is_future(ins, instrument: str) -> bool:
    kind = next(i.type for i in ins if i.id == instrument)
    return kind in (InstrumentType.FUTURE, InstrumentType.PERPETUAL)


def risk_config():
    return config(assets={"USDC": AssetRisk(stable=True), "BTC": AssetRisk(haircut=0.05, volatility=0.6),
                          "ETH": AssetRisk(haircut=0.1, volatility=0.8,
                                           tiers=(HaircutTier(up_to_usd=20_000.0, rate=1.0),
                                                  HaircutTier(up_to_usd=1e9, rate=0.9)))},
                  portfolio={"default": PortfolioParams()},
                  lending={"default": LendingParams(ltv=0.75, liquidation_threshold=0.8)})


def snapshot(ins, prices=None) -> MarketSnapshot:
    return MarketSnapshot(as_of=AS_OF, index=dict(prices or PRICES), vols=vols(ins))


class Reference:
    """The venue as records; :meth:`evaluate` rebuilds and evaluates from scratch.

    A live engine settles positions without an entry price at the opening forwards when it loads the book
    (so their P&L accrues afterwards); the reference writes those forwards in as entry prices.
    """

    def __init__(self, ins, accs, cfg, opening: MarketSnapshot | None = None):
        self.ins = ins
        self.cfg = cfg
        opening = opening or snapshot(ins)
        raw = build_book(ins, accs)
        forward = dict(zip(raw.instruments.ids.astype(str),
                           resolve_market(opening, raw.assets, raw.instruments).forward, strict=True))
        self.positions = {a.id: [p if p.entry_price is not None or not _is_future(ins, p.instrument)
                                 else Position(instrument=p.instrument, quantity=p.quantity,
                                               entry_price=float(forward[p.instrument]))
                                 for p in a.positions] for a in accs}
        self.collateral = {a.id: dict(a.collateral) for a in accs}
        self.models = {a.id: a.margin_model for a in accs}

    def trade(self, account, instrument, quantity, price):
        self.positions[account].append(Position(instrument=instrument, quantity=quantity, entry_price=price))

    def transfer(self, account, asset, quantity):
        c = self.collateral[account]
        c[asset] = c.get(asset, 0.0) + quantity

    def book(self):
        accs = [Account(id=a, collateral=self.collateral[a], positions=tuple(self.positions[a]),
                        margin_model=self.models[a]) for a in self.positions]
        return build_book(self.ins, accs)

    def evaluate(self, snap, with_distance=False):
        return evaluate(self.book(), snap, self.cfg, with_distance=with_distance)


def assert_same(engine_result, reference_result, rel=1e-9, abs_=1e-7):
    """Every per-account metric and the status of the engine equal the reference's, by account id."""
    ref_row = {str(a): k for k, a in enumerate(reference_result.account_ids)}
    assert sorted(ref_row) == sorted(str(a) for a in engine_result.account_ids)
    for k, acc in enumerate(engine_result.account_ids):
        j = ref_row[str(acc)]
        for name in FIELDS:
            got, want = float(getattr(engine_result, name)[k]), float(getattr(reference_result, name)[j])
            if math.isnan(want):
                assert math.isnan(got), (acc, name, got, want)
            else:
                assert got == want or abs(got - want) <= max(rel * abs(want), abs_), (acc, name, got, want)
        assert STATUSES[int(engine_result.status[k])] == STATUSES[int(reference_result.status[j])], acc
        assert bool(engine_result.unbounded[k]) == bool(reference_result.unbounded[j])


def random_events(rng: np.random.Generator, ins, accs, n: int):
    """A random sequence of ("prices"|"vols"|"trade"|"transfer", args) events."""
    option_ids = [i.id for i in ins if i.strike is not None]
    out = []
    for _ in range(n):
        kind = rng.choice(["prices", "vols", "trade", "trade", "transfer"])
        if kind == "prices":
            out.append(("prices", ({a: PRICES[a] * float(np.exp(rng.normal(0, 0.05))) for a in ("BTC", "ETH")
                                    if rng.random() < 0.8},)))
        elif kind == "vols":
            out.append(("vols", ({o: float(rng.uniform(0.3, 1.2)) for o in rng.choice(option_ids, 2)},)))
        elif kind == "trade":
            i = ins[int(rng.integers(len(ins)))]
            base = PRICES[i.underlying]
            price = float(rng.uniform(0.01, 0.1) * base) if i.strike is not None else base * rng.uniform(0.9, 1.1)
            qty = float(rng.choice([-1, 1]) * rng.uniform(0.1, 3.0))
            if i.settlement.value == "inverse" and i.strike is None:
                qty *= 10_000.0
            out.append(("trade", (accs[int(rng.integers(len(accs)))].id, i.id, qty, float(price))))
        else:
            asset = str(rng.choice(["BTC", "ETH", "USDC"]))
            size = {"BTC": 0.5, "ETH": 5.0, "USDC": 10_000.0}[asset]
            out.append(("transfer", (accs[int(rng.integers(len(accs)))].id, asset, float(rng.normal(0, size)))))
    return out

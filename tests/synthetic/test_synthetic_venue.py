"""The synthetic venue generator: determinism, a valid book and market, realistic structure and mix."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pytest

from ccm.enums import STATUSES, Status
from ccm.pricing.market_state import resolve_market
from ccm.risk.context import RiskContext
from ccm.risk.coverage import compute_coverage
from ccm.synthetic import ASSETS, DEFAULT_AS_OF, SyntheticVenue, account_ids, generate_venue


def _config():
    try:
        from ccm.io.config import load_config
    except ImportError:  # pragma: no cover - the io layer is optional for this test
        from ccm.lending.rules import LendingParams
        from ccm.risk.config import AssetRisk, PortfolioParams, RiskConfig, StandardParams

        return RiskConfig(
            assets={"USDC": AssetRisk(stable=True), "USDT": AssetRisk(stable=True, haircut=0.01),
                    "BTC": AssetRisk(haircut=0.05), "ETH": AssetRisk(haircut=0.1),
                    "SOL": AssetRisk(haircut=0.15)},
            standard={"default": StandardParams()}, portfolio={"default": PortfolioParams()},
            lending={"ETH": LendingParams(ltv=0.8, liquidation_threshold=0.825),
                     "BTC": LendingParams(ltv=0.73, liquidation_threshold=0.78),
                     "SOL": LendingParams(ltv=0.6, liquidation_threshold=0.7)},
        )
    return load_config(None)


@pytest.fixture(scope="module")
def venue() -> SyntheticVenue:
    return generate_venue(4_000, rng=np.random.default_rng(7), n_instruments_target=2_000)


@pytest.fixture(scope="module")
def book(venue):
    return venue.columns.build()


@pytest.fixture(scope="module")
def coverage(venue, book):
    market = resolve_market(venue.market, book.assets, book.instruments)
    ctx = RiskContext.build(book, market, _config())
    return ctx, compute_coverage(ctx, with_distance=False)


def _columns_equal(a, b) -> bool:
    for part in ("instruments", "positions", "collateral"):
        pa, pb = getattr(a, part), getattr(b, part)
        for name in pa.__dataclass_fields__:
            x, y = getattr(pa, name), getattr(pb, name)
            if x.dtype.kind == "f":
                if not np.array_equal(x, y, equal_nan=True):
                    return False
            elif not np.array_equal(x, y):
                return False
    return np.array_equal(a.account_ids, b.account_ids) and np.array_equal(a.account_models, b.account_models)


def test_same_seed_same_venue_and_other_seed_differs():
    a = generate_venue(800, rng=np.random.default_rng(3), n_instruments_target=600)
    b = generate_venue(800, rng=np.random.default_rng(3), n_instruments_target=600)
    c = generate_venue(800, rng=np.random.default_rng(4), n_instruments_target=600)
    assert _columns_equal(a.columns, b.columns)
    for name in ("as_of", "index", "marks", "vols", "rates"):
        assert getattr(a.market, name) == getattr(b.market, name)
    for u, surface in a.market.surfaces.items():
        assert np.array_equal(surface.vols, b.market.surfaces[u].vols)
    assert a.description == b.description
    assert not _columns_equal(a.columns, c.columns)


def test_columns_build_a_valid_book(venue, book):
    assert book.n_accounts == 4_000
    assert book.assets == tuple(sorted(ASSETS))
    assert book.account_ids[0] == "acc-0000001" and book.account_ids[-1] == "acc-0004000"
    assert book.positions.nnz > 0 and book.balances.nnz > 0
    assert np.all(np.isfinite(book.positions.data)) and np.all(book.positions.data != 0)
    assert venue.description["accounts"] == 4_000
    arche = {k: v for k, v in venue.description.items() if k not in ("accounts", "instruments", "positions",
                                                                       "collateral")}
    assert sum(arche.values()) == 4_000
    assert set(np.unique(venue.archetype)) == {k for k, v in arche.items() if v > 0}


def test_market_resolves_without_expired_instruments(venue, book):
    market = resolve_market(venue.market, book.assets, book.instruments)
    ins = book.instruments
    dated = np.isfinite(ins.expiry_s)
    assert np.all(market.tau[dated] > 0)
    assert np.all(np.isfinite(market.unit_value))
    assert np.all(market.vol[ins.is_option] > 0.1) and np.all(market.vol[ins.is_option] < 3.0)
    # Futures marks sit on the curve S·e^{rτ} (the options' forward), within a few basis points.
    rate = np.array([venue.market.rates[book.assets[u]] for u in ins.underlying])
    fut = ins.is_future
    assert np.all(np.abs(market.basis[fut] / np.exp(rate[fut] * market.tau[fut]) - 1.0) < 0.003)


def test_instruments_are_deribit_style(venue, book):
    ids = [str(i) for i in book.instruments.ids]
    patterns = {
        "perpetual": r"^(BTC|ETH|SOL)(_USDC)?-PERPETUAL$",
        "future": r"^(BTC|ETH|SOL)(_USDC)?-\d{1,2}[A-Z]{3}\d{2}$",
        "option": r"^(BTC|ETH|SOL)(_USDC)?-\d{1,2}[A-Z]{3}\d{2}-\d+-[CP]$",
        "spot": r"^(BTC|ETH|SOL)_(USDC|USDT)$",
    }
    kinds = venue.columns.instruments.type
    for k, i in zip(kinds, ids, strict=True):
        assert re.match(patterns[str(k)], i), i
    for u in ("BTC", "ETH", "SOL"):
        assert f"{u}-PERPETUAL" in ids and f"{u}_USDC-PERPETUAL" in ids and f"{u}_USDC" in ids
    # Inverse options only for BTC and ETH; linear options for all three.
    assert not any(i.startswith("SOL-") and i.endswith(("-C", "-P")) for i in ids)
    assert any(i.startswith("SOL_USDC-") and i.endswith("-P") for i in ids)
    # Expiries at 08:00 UTC, at least eight option expiries from a day to over six months.
    ins = book.instruments
    expiries = np.unique(ins.expiry_s[ins.is_option])
    assert all(datetime.fromtimestamp(e, tz=UTC).hour == 8 for e in expiries)
    days = (expiries - DEFAULT_AS_OF.timestamp()) / 86400.0
    assert len(expiries) >= 8 and days.min() < 2.0 and days.max() > 180.0
    # Strikes around the forward (moneyness 0.5 – 2 after rounding).
    market = resolve_market(venue.market, book.assets, ins)
    moneyness = ins.strike[ins.is_option] / market.forward[ins.is_option]
    assert moneyness.min() > 0.45 and moneyness.max() < 2.1


def test_instrument_target_and_positions_per_account(venue, book):
    assert abs(book.n_instruments - 2_000) < 200
    per_account = book.positions.nnz / book.n_accounts
    assert 8.0 <= per_account <= 12.5
    default = generate_venue(50, rng=np.random.default_rng(0))
    assert 200 <= default.description["instruments"] <= 800
    bigger = generate_venue(50, rng=np.random.default_rng(0), n_instruments_target=5_000)
    assert abs(bigger.description["instruments"] - 5_000) < 500


def test_status_mix_with_default_config(coverage):
    _, result = coverage
    counts = np.bincount(result.status, minlength=len(STATUSES))
    by_name = {s: int(c) for s, c in zip(STATUSES, counts, strict=True)}
    assert sum(c > 0 for c in counts) >= 4
    assert by_name[Status.HEALTHY] > 0.8 * result.n_accounts
    assert by_name[Status.WARNING] + by_name[Status.MARGIN_CALL] > 0.01 * result.n_accounts
    assert 0 < by_name[Status.LIQUIDATION] + by_name[Status.BANKRUPT] < 0.06 * result.n_accounts


def test_margin_models_follow_archetypes(venue):
    models = venue.columns.account_models
    arche = venue.archetype
    assert np.all(models[arche == "market_maker"] == "portfolio")
    assert np.all(models[arche == "borrower"] == "lending")
    perp = models[arche == "perp_trader"]
    assert set(np.unique(perp)) == {"", "standard"}


def test_borrowers_sit_near_the_liquidation_threshold(venue, coverage):
    ctx, result = coverage
    hf = result.health_factor[venue.archetype == "borrower"]
    assert np.all(np.isfinite(hf))
    assert 0.01 < np.mean(hf < 1.0) < 0.15
    assert 1.2 < np.median(hf) < 2.2


def test_market_makers_are_delta_hedged(venue, book, coverage):
    ctx, _ = coverage
    market = ctx.market
    rows = ctx.position_row
    cols = book.positions.indices
    delta = book.positions.data * market.unit_delta[cols] * market.spot[cols]  # USD delta per position
    is_option = book.instruments.is_option[cols]
    net = np.bincount(rows, weights=delta, minlength=book.n_accounts)
    gross_options = np.bincount(rows, weights=np.abs(delta) * is_option, minlength=book.n_accounts)
    mm = np.flatnonzero(venue.archetype == "market_maker")
    ratio = np.abs(net[mm]) / gross_options[mm]
    assert np.median(ratio) < 0.1


def test_entry_prices_near_the_mark_and_sometimes_absent(venue, book):
    pos = venue.columns.positions
    kind = dict(zip(venue.columns.instruments.ids, venue.columns.instruments.type, strict=True))
    is_future = np.array([kind[i] in ("future", "perpetual") for i in pos.instrument])
    entry = pos.entry_price[is_future]
    assert 0.03 < np.mean(np.isnan(entry)) < 0.3
    assert np.all(np.isnan(pos.entry_price[~is_future]))
    marks = venue.market.marks
    mark = np.array([marks[i] for i in pos.instrument[is_future]])
    rel = entry[np.isfinite(entry)] / mark[np.isfinite(entry)]
    assert 0.5 < rel.min() and rel.max() < 2.0 and abs(np.median(rel) - 1.0) < 0.01


def test_inverse_futures_quantities_are_usd_contract_multiples(venue):
    pos = venue.columns.positions
    inverse_d1 = np.array([i.endswith("-PERPETUAL") and "_USDC" not in i for i in pos.instrument])
    q = pos.quantity[inverse_d1]
    assert q.size > 0
    assert np.allclose(q / 10.0, np.round(q / 10.0))


def test_small_and_empty_venues_and_naive_as_of():
    empty = generate_venue(0, rng=np.random.default_rng(0))
    assert empty.columns.build().n_accounts == 0
    tiny = generate_venue(7, rng=np.random.default_rng(0), as_of=datetime(2025, 6, 2, 12, 0))
    assert tiny.market.as_of == datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
    book = tiny.columns.build()
    market = resolve_market(tiny.market, book.assets, book.instruments)
    assert np.all(market.tau[np.isfinite(book.instruments.expiry_s)] > 0)


def test_account_ids_format():
    ids = account_ids(12)
    assert list(ids[:2]) == ["acc-0000001", "acc-0000002"] and ids[-1] == "acc-0000012"

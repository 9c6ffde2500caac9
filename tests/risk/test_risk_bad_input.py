"""Bad or degenerate input at the core boundary: a clear InputError naming record and field, or a defined
result — never a traceback from deep inside numpy and never a silent wrong number."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ccm.book import Account, Position, build_book
from ccm.enums import STATUSES, Status
from ccm.errors import InputError
from ccm.market import MarketSnapshot
from ccm.pricing.market_state import resolve_market
from tests.reference.builders import AS_OF, config, option, perp
from tests.reference.harness import engine_result

PRICES = {"BTC": 50_000.0, "USDC": 1.0}
CALL = option("BTC", 30, 50_000, True)
PERP = perp("BTC")


def resolve(prices=PRICES, vols=None, marks=None, instruments=(CALL, PERP), accounts=None):
    accounts = accounts or [Account(id="a", collateral={"USDC": 1000.0},
                                    positions=(Position(instrument=CALL.id, quantity=-1.0),))]
    book = build_book(list(instruments), accounts)
    snapshot = MarketSnapshot(as_of=AS_OF, index=prices, vols=vols if vols is not None else {CALL.id: 0.6},
                              marks=marks or {})
    return resolve_market(snapshot, book.assets, book.instruments)


@pytest.mark.parametrize("price", [float("nan"), -1.0, 0.0, float("inf")])
def test_bad_index_price_names_the_asset(price):
    with pytest.raises(InputError) as err:
        resolve(prices={**PRICES, "BTC": price})
    assert (err.value.file, err.value.record, err.value.field) == ("market", "index", "BTC")


def test_collateral_asset_without_price_names_it():
    accounts = [Account(id="a", collateral={"DOGE": 10.0})]
    with pytest.raises(InputError) as err:
        resolve(accounts=accounts)
    assert err.value.field == "DOGE" and "index" in err.value.hint


def test_negative_vol_names_the_option():
    with pytest.raises(InputError) as err:
        resolve(vols={CALL.id: -0.2})
    assert (err.value.record, err.value.field) == ("vols", CALL.id)


def test_option_without_any_vol_source_says_how_to_fix():
    with pytest.raises(InputError) as err:
        resolve(vols={})
    assert err.value.field == CALL.id and "surface" in err.value.hint


def test_option_mark_outside_no_arbitrage_bounds_is_rejected():
    with pytest.raises(InputError) as err:
        resolve(vols={}, marks={CALL.id: 60_000.0})  # a call worth more than the forward
    assert (err.value.record, err.value.field) == ("marks", CALL.id)


def test_option_mark_gives_back_its_implied_vol():
    fair = resolve().unit_value[0]
    state = resolve(vols={}, marks={CALL.id: float(fair)})
    assert state.vol[0] == pytest.approx(0.6, rel=1e-8)


def test_unknown_instrument_names_account_and_position():
    accounts = [Account(id="acc-7", positions=(Position(instrument="NOPE", quantity=1.0),))]
    with pytest.raises(InputError) as err:
        build_book([CALL], accounts)
    assert "acc-7" in err.value.record and err.value.field == "instrument"


def test_duplicate_account_ids_are_rejected():
    with pytest.raises(InputError) as err:
        build_book([CALL], [Account(id="x"), Account(id="x")])
    assert "x" in err.value.message


def test_zero_collateral_and_no_positions_is_defined():
    accounts = [Account(id="empty"), Account(id="flat", collateral={"USDC": 0.0})]
    r = engine_result([CALL], accounts, PRICES, {CALL.id: 0.6}, AS_OF, config(), with_distance=True)
    assert np.all(r.unbounded) and np.all(np.isnan(r.coverage_ratio))
    assert [STATUSES[s] for s in r.status] == [Status.HEALTHY, Status.HEALTHY]
    assert np.all(np.isnan(r.distance_down)) and np.all(np.isnan(r.distance_up))
    assert np.all(r.equity == 0) and np.all(r.maintenance_margin == 0)


def test_position_without_collateral_is_bankrupt_or_breached_not_an_error():
    accounts = [Account(id="naked", positions=(Position(instrument=CALL.id, quantity=-1.0),))]
    r = engine_result([CALL], accounts, PRICES, {CALL.id: 0.6}, AS_OF, config(), with_distance=True)
    assert STATUSES[r.status[0]] is Status.BANKRUPT  # owes the option's value with nothing posted
    assert r.distance_down[0] == 0.0 and r.distance_up[0] == 0.0
    assert math.isfinite(r.shortfall[0]) and r.shortfall[0] > 0


def test_tiny_requirement_is_unbounded_not_infinite():
    """A far out-of-the-money long option can leave a denormal requirement; coverage must not be +inf."""
    far = option("BTC", 1, 500_000, True)
    accounts = [Account(id="a", collateral={"USDC": 1000.0}, positions=(Position(instrument=far.id, quantity=1.0),),
                        margin_model="portfolio")]
    r = engine_result([far], accounts, PRICES, {far.id: 0.3}, AS_OF, config())
    assert not np.isinf(r.coverage_ratio).any()

"""An index tick moves futures marks with their underlying and keeps marked options at their implied vol —
otherwise a feed that sends only index prices would leave marked futures frozen."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ccm.engine import CoverageEngine
from ccm.errors import InputError
from ccm.io.book import load_book
from ccm.io.config import load_config
from ccm.io.market import load_market
from ccm.pricing.market_state import resolve_market
from ccm.risk.metrics import evaluate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def parts():
    return (load_book(ROOT / "examples" / "book.json"), load_market(ROOT / "examples" / "market.json"),
            load_config(None))


def test_tick_moves_futures_marks_and_keeps_option_vols(parts):
    book, market, config = parts
    engine = CoverageEngine(book, market, config)
    call = "BTC-28MAR25-100000-C"
    k = list(book.instruments.ids).index(call)
    opening = resolve_market(market, book.assets, book.instruments)
    vol_before = opening.vol[k]
    engine.on_prices({"BTC": 97_000.0 * 1.1})
    marks = engine.snapshot.marks
    assert marks["BTC-PERPETUAL"] == pytest.approx(97_020.0 * 1.1)
    assert marks["BTC-28MAR25"] == pytest.approx(98_100.0 * 1.1)
    assert marks["ETH_USDC-PERPETUAL"] == market.marks["ETH_USDC-PERPETUAL"]  # ETH did not move
    assert engine.market.vol[k] == pytest.approx(vol_before, rel=1e-9)

    # The same market built by hand: index and futures marks × 1.1, every option at its opening vol (sticky
    # strike: the marked call at its implied vol, surface-priced options at the vol read today).
    opening_vols = {str(i): float(v) for i, v, live in zip(book.instruments.ids, opening.vol,
                                                           book.instruments.is_option & (opening.tau > 0),
                                                           strict=True) if live}
    by_hand = replace(market, index={**market.index, "BTC": 97_000.0 * 1.1},
                      marks={i: m * (1.1 if i.startswith("BTC") else 1.0) for i, m in market.marks.items()
                             if i != call},
                      vols={**opening_vols, **market.vols})
    expected = evaluate(book, by_hand, config, with_distance=False).result
    np.testing.assert_allclose(engine.metrics.adjusted_equity, expected.adjusted_equity, rtol=1e-10)
    np.testing.assert_allclose(engine.metrics.maintenance_margin, expected.maintenance_margin, rtol=1e-10)


def test_long_inverse_perp_gains_when_the_index_rises(parts):
    book, market, config = parts
    engine = CoverageEngine(book, market, config)
    row = list(book.account_ids).index("trader-btc-long")
    before = engine.metrics.adjusted_equity[row]
    engine.on_prices({"BTC": 97_000.0 * 1.05})
    gain = engine.metrics.adjusted_equity[row] - before
    # 400,000 USD long inverse perp: coin P&L q(1/F0 − 1/F1) valued at the new index, plus the entry side's
    # revaluation; the 0.5 BTC collateral rises by 5% after its haircut. The total must be a clear gain.
    assert gain > 0.05 * 400_000 * 0.9


def test_market_update_equals_prices_then_vols_and_a_bad_vol_changes_nothing(parts):
    book, market, config = parts
    call = "BTC-28MAR25-100000-C"
    stepwise = CoverageEngine(book, market, config)
    stepwise.on_prices({"BTC": 90_000.0, "ETH": 3_000.0})
    stepwise.on_vols({call: 0.8})
    together = CoverageEngine(book, market, config)
    events = together.on_market(index={"BTC": 90_000.0, "ETH": 3_000.0}, vols={call: 0.8})
    assert events[0].cause == "market"
    for name in ("adjusted_equity", "maintenance_margin", "initial_margin"):
        np.testing.assert_allclose(getattr(together.metrics, name), getattr(stepwise.metrics, name), rtol=1e-12)

    before = together.metrics.adjusted_equity.copy()
    with pytest.raises(InputError, match="BTC-PERPETUAL"):
        together.on_market(index={"BTC": 50_000.0}, vols={"BTC-PERPETUAL": 0.5})  # not an option
    np.testing.assert_array_equal(together.metrics.adjusted_equity, before)
    assert together.snapshot.index["BTC"] == 90_000.0

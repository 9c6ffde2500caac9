"""The historical library against the public price files (recomputed here with the csv/json modules)."""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ccm.scenario import HISTORICAL_ASSETS, HISTORICAL_EVENTS, historical_events
from ccm.scenario.historical import DVOL_BTC_CSV, DVOL_BTC_JSON, DVOL_ETH_CSV, PRICE_SOURCE

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("CCM_DATA_DIR", ROOT / ".." / "shared" / "data"))
needs_data = pytest.mark.skipif(not (DATA / "budydeveloper_crypto-dataset").is_dir(),
                                reason=f"market data directory {DATA} not present (set CCM_DATA_DIR)")


def _yahoo(asset: str) -> dict[str, dict[str, str]]:
    with (DATA / PRICE_SOURCE.format(asset=asset)).open() as f:
        return {row["Date"]: row for row in csv.DictReader(f)}


def _days(first: str, last: str) -> tuple[str, list[str]]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    before = (start - timedelta(days=1)).isoformat()
    return before, [(start + timedelta(days=k)).isoformat() for k in range((end - start).days + 1)]


def _dvol(source: str) -> dict[str, float]:
    path = DATA / source
    if path.suffix == ".json":
        return {datetime.fromtimestamp(ms / 1000, UTC).date().isoformat(): float(v)
                for ms, v in json.loads(path.read_text())}
    with path.open() as f:
        reader = csv.reader(f)
        next(reader)
        return {row[0]: float(row[1]) for row in reader}


@needs_data
@pytest.mark.parametrize("event", HISTORICAL_EVENTS, ids=lambda e: e.key)
def test_returns_match_the_price_files(event):
    before, days = _days(event.first_day, event.last_day)
    for asset in HISTORICAL_ASSETS:
        rows = _yahoo(asset)
        covered = before in rows and event.last_day in rows
        assert (asset in event.returns) == covered, asset
        if not covered:
            continue
        if asset in event.low_assets:
            expected = min(float(rows[d]["Low"]) for d in days) / float(rows[before]["Close"]) - 1
        else:
            expected = float(rows[event.last_day]["Close"]) / float(rows[before]["Close"]) - 1
        assert event.returns[asset] == pytest.approx(expected, abs=1e-9), asset


@needs_data
@pytest.mark.parametrize("event", HISTORICAL_EVENTS, ids=lambda e: e.key)
def test_vol_moves_match_the_dvol_files(event):
    before, _ = _days(event.first_day, event.last_day)
    btc_csv, btc_json = _dvol(DVOL_BTC_CSV), _dvol(DVOL_BTC_JSON)
    if event.btc_vol_source is None:
        # documented assumption: only allowed where no DVOL file covers the window
        assert not any(before in s and event.last_day in s for s in (btc_csv, btc_json))
    else:
        source = btc_csv if before in btc_csv and event.last_day in btc_csv else btc_json
        assert event.btc_vol_source == (DVOL_BTC_CSV if source is btc_csv else DVOL_BTC_JSON)
        assert event.btc_vol_move == pytest.approx(source[event.last_day] / source[before] - 1, abs=1e-9)
    eth = _dvol(DVOL_ETH_CSV)
    if before in eth and event.last_day in eth:
        assert event.eth_vol_move == pytest.approx(eth[event.last_day] / eth[before] - 1, abs=1e-9)
    else:
        assert event.eth_vol_move is None


def test_library_scenario_set():
    library = historical_events()
    assert library.kind == "historical"
    assert library.assets == HISTORICAL_ASSETS
    assert library.dates == ("2020-03-12", "2021-05-19", "2022-05-09", "2022-06-13", "2022-11-08", "2023-03-10",
                             "2024-08-05")
    btc, sol, usdc = (HISTORICAL_ASSETS.index(a) for a in ("BTC", "SOL", "USDC"))
    # SOL did not trade before 2020-04-10: it follows BTC in Black Thursday
    assert library.price_returns[0, sol] == library.price_returns[0, btc]
    # the USDC depeg is its intraday low, 0.8774 against a ~1.00 close
    depeg = library.dates.index("2023-03-10")
    assert library.price_returns[depeg, usdc] == pytest.approx(0.8774 - 1, abs=2e-3)
    assert library.haircut_multipliers[depeg, usdc] == 2.0
    assert library.vol_shifts[:, usdc].tolist() == [0.0] * len(library)
    # DVOL BTC 59.48 → 114.72 over FTX (SOURCES.md)
    assert library.vol_shifts[library.dates.index("2022-11-08"), btc] == pytest.approx(114.72 / 59.48 - 1)


def test_library_realigned_to_a_book():
    book = historical_events(["ETH", "FOO", "USDE"], stable={"USDE"}, events=["ftx"])
    full = historical_events(events=["ftx"])
    assert book.assets == ("ETH", "FOO", "USDE")
    eth, btc = HISTORICAL_ASSETS.index("ETH"), HISTORICAL_ASSETS.index("BTC")
    assert book.price_returns[0].tolist() == [full.price_returns[0, eth], full.price_returns[0, btc], 0.0]
    with pytest.raises(ValueError):
        historical_events(events=["nope"])

"""Market snapshot files: loading, validation errors, and the writer's round trip."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from ccm.errors import InputError
from ccm.io import load_market, market_to_dict, write_market_json
from ccm.market import MarketSnapshot, VolSurface

MARKET = {
    "as_of": "2025-03-01T08:00:00Z",
    "index": {"BTC": 85000, "ETH": 2200.5, "USDC": 1.0},
    "marks": {"BTC-PERPETUAL": 85100.0, "BTC-28MAR25-90000-C": 0.0},
    "vols": {"BTC-28MAR25-90000-C": 0.55},
    "surfaces": {
        "BTC": {"atm": 0.6},
        "ETH": {
            "expiries_years": [0.1, 1.0],
            "moneyness": [0.8, 1.0, 1.2],
            "vols": [[0.8, 0.7, 0.75], [0.6, 0.5, 0.55]],
        },
    },
    "rates": {"BTC": 0.05, "ETH": -0.01},
}


@pytest.fixture
def market_doc() -> dict:
    return copy.deepcopy(MARKET)


def error_of(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_market(path)
    return info.value


def test_load_market(tmp_path: Path, write_json) -> None:
    snap = load_market(write_json(tmp_path / "m.json", MARKET))
    assert snap.as_of == datetime(2025, 3, 1, 8, tzinfo=UTC)
    assert snap.index == {"BTC": 85000.0, "ETH": 2200.5, "USDC": 1.0}
    assert snap.marks["BTC-28MAR25-90000-C"] == 0.0  # a worthless option may be marked 0
    assert snap.rates == {"BTC": 0.05, "ETH": -0.01}
    flat = snap.surfaces["BTC"]
    assert float(flat.vol(np.array(0.3), np.array(1.7))) == pytest.approx(0.6)
    grid = snap.surfaces["ETH"]
    # rows are expiries, columns moneyness: the node (τ=1, K/F=0.8) is 0.6, (τ=0.1, K/F=1.2) is 0.75
    assert float(grid.vol(np.array(1.0), np.array(0.8))) == pytest.approx(0.6)
    assert float(grid.vol(np.array(0.1), np.array(1.2))) == pytest.approx(0.75)


def test_only_as_of_and_index_are_required(tmp_path: Path, write_json) -> None:
    snap = load_market(
        write_json(tmp_path / "m.json", {"as_of": "2025-03-01T08:00:00+00:00", "index": {"BTC": 1}})
    )
    assert (snap.marks, snap.vols, snap.surfaces, snap.rates) == ({}, {}, {}, {})


def test_market_round_trip(tmp_path: Path, write_json) -> None:
    snap = load_market(write_json(tmp_path / "m.json", MARKET))
    assert market_to_dict(snap) == {**MARKET, "index": {k: float(v) for k, v in MARKET["index"].items()}}
    write_market_json(snap, tmp_path / "out" / "m2.json")
    back = load_market(tmp_path / "out" / "m2.json")
    assert (back.as_of, back.index, back.marks, back.vols, back.rates) == (
        snap.as_of,
        snap.index,
        snap.marks,
        snap.vols,
        snap.rates,
    )
    for name in ("BTC", "ETH"):
        for part in ("expiries_years", "moneyness", "vols"):
            np.testing.assert_array_equal(
                getattr(back.surfaces[name], part), getattr(snap.surfaces[name], part)
            )


def test_non_flat_single_point_surface_is_written_as_a_grid(tmp_path: Path) -> None:
    surface = VolSurface(expiries_years=np.array([0.5]), moneyness=np.array([1.1]), vols=np.array([[0.4]]))
    snap = MarketSnapshot(
        as_of=datetime(2025, 1, 1, tzinfo=UTC), index={"BTC": 1.0}, surfaces={"BTC": surface}
    )
    write_market_json(snap, tmp_path / "m.json")
    back = load_market(tmp_path / "m.json").surfaces["BTC"]
    np.testing.assert_array_equal(back.expiries_years, [0.5])
    np.testing.assert_array_equal(back.moneyness, [1.1])


def test_writer_refuses_invalid_snapshot_and_leaves_file(tmp_path: Path, write_json) -> None:
    target = write_json(tmp_path / "m.json", {"keep": True})
    bad = MarketSnapshot(as_of=datetime(2025, 1, 1, tzinfo=UTC), index={"BTC": -5.0})
    with pytest.raises(InputError) as info:
        write_market_json(bad, target)
    assert (info.value.file, info.value.record, info.value.field) == (str(target), "index", "BTC")
    assert target.read_text() == '{"keep": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
    naive = MarketSnapshot(as_of=datetime(2025, 1, 1), index={"BTC": 5.0})
    with pytest.raises(InputError, match="naive"):
        write_market_json(naive, target)


@pytest.mark.parametrize(
    ("change", "record", "field", "fragment"),
    [
        (
            lambda m: m["vols"].update({"BTC-28MAR25-90000-C": -0.1}),
            "vols",
            "BTC-28MAR25-90000-C",
            "greater than or equal",
        ),
        (lambda m: m["index"].update({"ETH": 0}), "index", "ETH", "greater than 0"),
        (lambda m: m["marks"].update({"BTC-PERPETUAL": "85100"}), "marks", "BTC-PERPETUAL", "number"),
        (lambda m: m.pop("index"), None, "index", "missing"),
        (lambda m: m.pop("as_of"), None, "as_of", "missing"),
        (lambda m: m.update({"as_of": "2025-03-01T08:00:00"}), None, "as_of", "naive"),
        (lambda m: m.update({"spot": {}}), None, "spot", "unknown field"),
        (lambda m: m["rates"].update({"BTC": float("inf")}), "rates", "BTC", "finite"),
        (
            lambda m: m["surfaces"]["ETH"]["vols"][1].pop(),
            "surfaces.ETH",
            "vols[1]",
            "expected one per moneyness",
        ),
        (lambda m: m["surfaces"]["ETH"]["vols"].pop(), "surfaces.ETH", "vols", "one per expiry"),
        (
            lambda m: m["surfaces"]["ETH"].update({"moneyness": [0.8, 1.2, 1.0]}),
            "surfaces.ETH",
            "moneyness[2]",
            "increasing",
        ),
        (
            lambda m: m["surfaces"]["ETH"].update({"expiries_years": [0.0, 1.0]}),
            "surfaces.ETH",
            "expiries_years[0]",
            "positive",
        ),
        (
            lambda m: m["surfaces"]["ETH"]["vols"][0].__setitem__(1, -0.2),
            "surfaces.ETH",
            "vols[0][1]",
            "greater",
        ),
        (lambda m: m["surfaces"]["BTC"].update({"moneyness": [1.0]}), "surfaces.BTC", "atm", "not both"),
        (lambda m: m["surfaces"]["ETH"].pop("moneyness"), "surfaces.ETH", "moneyness", "needs atm"),
    ],
)
def test_market_errors(tmp_path: Path, market_doc, write_json, change, record, field, fragment) -> None:
    change(market_doc)
    path = write_json(tmp_path / "m.json", market_doc)
    err = error_of(path)
    assert (err.file, err.record, err.field) == (str(path), record, field)
    assert fragment in err.message


def test_nan_literal_in_json(tmp_path: Path, write_json) -> None:
    path = write_json(tmp_path / "m.json", MARKET)
    path.write_text(path.read_text().replace('"BTC": 85000', '"BTC": NaN'))
    err = error_of(path)
    assert (err.record, err.field) == ("index", "BTC") and "finite" in err.message


def test_missing_and_broken_market_files(tmp_path: Path) -> None:
    assert "not found" in error_of(tmp_path / "none.json").message
    path = tmp_path / "m.json"
    path.write_text('{"as_of": "2025-03-01T08:00:00Z",\n "index": {"BTC": 1,}}')
    assert "line 2" in error_of(path).message

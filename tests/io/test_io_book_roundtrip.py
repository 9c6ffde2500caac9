"""Book formats agree: JSON, YAML, CSV and Parquet of the same book give identical Book arrays."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest
import yaml

from ccm.book import Book, BookColumns, CollateralColumns, InstrumentColumns, PositionColumns
from ccm.errors import InputError
from ccm.io import load_book, load_book_columns, write_book_csv, write_book_json, write_book_parquet


def assert_same_book(a: Book, b: Book) -> None:
    assert a.assets == b.assets
    assert list(a.account_ids) == list(b.account_ids)
    np.testing.assert_array_equal(a.margin_model, b.margin_model)
    np.testing.assert_array_equal(a.positions.toarray(), b.positions.toarray())
    np.testing.assert_array_equal(a.positions.indices, b.positions.indices)
    np.testing.assert_array_equal(a.entry_amount, b.entry_amount)
    np.testing.assert_array_equal(a.unpriced_quantity, b.unpriced_quantity)
    np.testing.assert_array_equal(a.balances.toarray(), b.balances.toarray())
    ia, ib = a.instruments, b.instruments
    assert list(ia.ids) == list(ib.ids)
    for name in ("type_code", "underlying", "settlement_asset", "inverse", "is_call"):
        np.testing.assert_array_equal(getattr(ia, name), getattr(ib, name), err_msg=name)
    for name in ("expiry_s", "strike"):
        np.testing.assert_array_equal(getattr(ia, name), getattr(ib, name), err_msg=name)


def test_json_book_matches_hand_computed_arrays(book_json: Path) -> None:
    book = load_book(book_json)
    assert book.assets == ("BTC", "ETH", "SOL", "USDC", "USDT")
    assert list(book.account_ids) == ["acc-1", "acc-2", "acc-3", "acc-4", "acc-5"]
    # standard, portfolio, lending, default (−1), default
    np.testing.assert_array_equal(book.margin_model, [0, 1, 2, -1, -1])
    q = book.positions.toarray()
    assert q[0, 0] == -40000  # two BTC-PERPETUAL trades merged
    assert q[1, 2] == -1.0  # two option trades merged
    assert q[3, 5] == 0.1
    # acc-1 BTC-PERPETUAL: inverse entry side +q/entry only for the priced trade; the other is unpriced.
    assert book.entry_amount[0] == pytest.approx(-50000 / 84000.5, rel=1e-15)
    assert book.unpriced_quantity[0] == 10000
    assert book.entry_amount[1] == pytest.approx(1000 / 86000, rel=1e-15)
    assert book.entry_amount[2] == pytest.approx(-3.3 * 2100.25, rel=1e-15)  # linear: −q·entry
    ins = book.instruments
    assert ins.expiry_s[1] == datetime(2025, 3, 28, 8, tzinfo=UTC).timestamp()
    assert ins.expiry_s[4] == datetime(2025, 6, 27, 8, 0, 0, 250000, tzinfo=UTC).timestamp()
    assert np.isnan(ins.expiry_s[0]) and np.isnan(ins.strike[0])
    # settlement asset defaults: underlying for inverse, USDC for linear.
    assert [book.assets[k] for k in ins.settlement_asset] == ["BTC", "BTC", "BTC", "USDC", "USDC", "USDT"]
    bal = book.balances.toarray()
    assert bal[2, book.assets.index("USDC")] == -7000.0
    assert book.n_accounts == 5 and bal[4].sum() == 0 and q[4].sum() == 0  # acc-5 has nothing, still listed


def test_yaml_book_equals_json_book(tmp_path: Path, book_doc: dict, book_json: Path) -> None:
    text = yaml.safe_dump(book_doc)
    # Unquoted timestamps are parsed by YAML itself into datetimes: they must be accepted too.
    text = text.replace("'2025-03-28T08:00:00Z'", "2025-03-28T08:00:00Z")
    assert "expiry: 2025-03-28T08:00:00Z" in text
    path = tmp_path / "book.yml"
    path.write_text(text)
    assert_same_book(load_book(path), load_book(book_json))


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_written_book_reads_back_identical(tmp_path: Path, book_json: Path, fmt: str) -> None:
    reference = load_book(book_json)
    columns = load_book_columns(book_json)
    target = tmp_path / ("out.json" if fmt == "json" else fmt)
    {"csv": write_book_csv, "parquet": write_book_parquet, "json": write_book_json}[fmt](columns, target)
    assert_same_book(load_book(target), reference)
    # and the columns read from the written files give the same book again (second generation)
    again = tmp_path / f"again-{fmt}"
    write_book_csv(load_book_columns(target), again)
    assert_same_book(load_book(again), reference)


def test_csv_parquet_json_chain_with_awkward_floats(tmp_path: Path) -> None:
    """Random magnitudes survive CSV text exactly (shortest round-trip float formatting)."""
    rng = np.random.default_rng(7)
    n_pos, n_acc = 400, 37
    instruments = InstrumentColumns(
        ids=np.array(["P-LIN", "P-INV", "F-INV", "O-C"]),
        type=np.array(["perpetual", "perpetual", "future", "option"]),
        underlying=np.array(["ETH", "BTC", "BTC", "BTC"]),
        settlement=np.array(["linear", "inverse", "inverse", "linear"]),
        settlement_asset=np.array(["USDC", "BTC", "BTC", "USDC"]),
        expiry_s=np.array([np.nan, np.nan, 1.7431488e9, 1.7431488e9 + 0.5]),
        strike=np.array([np.nan] * 3 + [1 / 3]),
        right=np.array(["", "", "", "call"]),
    )
    accounts = np.array([f"a,{k}" if k % 5 == 0 else f"acc {k}" for k in range(n_acc)])  # commas need quoting
    positions = PositionColumns(
        account=accounts[rng.integers(0, n_acc, n_pos)],
        instrument=instruments.ids[rng.integers(0, 4, n_pos)],
        quantity=rng.normal(size=n_pos) * 10.0 ** rng.integers(-9, 9, n_pos),
        entry_price=np.where(rng.random(n_pos) < 0.3, np.nan, rng.lognormal(8, 2, n_pos)),
    )
    collateral = CollateralColumns(
        account=accounts[rng.integers(0, n_acc, 90)],
        asset=np.array(["BTC", "ETH", "USDC"])[rng.integers(0, 3, 90)],
        quantity=rng.normal(size=90) * 10.0 ** rng.integers(-12, 12, 90),
    )
    columns = BookColumns(
        instruments=instruments,
        positions=positions,
        collateral=collateral,
        account_ids=accounts,
        account_models=np.array(["", "portfolio", "lending"] * 12 + [""]),
    )
    reference = columns.build()
    write_book_csv(columns, tmp_path / "csv")
    write_book_parquet(load_book_columns(tmp_path / "csv"), tmp_path / "pq")
    write_book_json(load_book_columns(tmp_path / "pq"), tmp_path / "book.json")
    for path in (tmp_path / "csv", tmp_path / "pq", tmp_path / "book.json"):
        assert_same_book(load_book(path), reference)


def test_csv_without_accounts_file_takes_accounts_from_rows(tmp_path: Path) -> None:
    (tmp_path / "instruments.csv").write_text("id,type,underlying,settlement\nX-PERP,perpetual,BTC,inverse\n")
    (tmp_path / "positions.csv").write_text("account,instrument,quantity\nzed,X-PERP,-100\n")
    (tmp_path / "collateral.csv").write_text("account,asset,quantity\nalpha,BTC,0.5\nzed,BTC,1\n")
    book = load_book(tmp_path)
    assert list(book.account_ids) == ["alpha", "zed"]  # sorted union of both tables
    np.testing.assert_array_equal(book.margin_model, [-1, -1])
    assert book.positions.toarray().tolist() == [[0.0], [-100.0]]
    assert book.unpriced_quantity.tolist() == [-100.0]


def test_csv_cells_are_trimmed_and_empty_means_absent(tmp_path: Path) -> None:
    (tmp_path / "instruments.csv").write_text(
        "id,type,underlying,settlement,settlement_asset,expiry,strike,right\n"
        " O-1 , option ,ETH,,, 2025-03-28T08:00:00Z ,2500, put\n"
    )
    (tmp_path / "positions.csv").write_text("account,instrument,quantity,entry_price\na,O-1, 2 ,\n")
    (tmp_path / "collateral.csv").write_text("account,asset,quantity\n")
    book = load_book(tmp_path)
    assert list(book.instruments.ids) == ["O-1"]
    assert book.assets == ("ETH", "USDC")  # linear by default, settled in USDC
    assert book.instruments.strike[0] == 2500 and not book.instruments.is_call[0]
    assert book.positions.toarray().tolist() == [[2.0]]


def test_writers_leave_nothing_half_written(tmp_path: Path, book_json: Path, monkeypatch) -> None:
    columns = load_book_columns(book_json)
    out = tmp_path / "csv"
    write_book_csv(columns, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    calls = {"n": 0}
    real = pacsv.write_csv

    def failing(table, where):  # fail on the last table, after the changed collateral.csv was staged
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError("disk full")
        real(table, where)

    monkeypatch.setattr(pacsv, "write_csv", failing)
    bigger = BookColumns(
        instruments=columns.instruments,
        positions=columns.positions,
        collateral=CollateralColumns(
            account=np.array(["acc-1"]), asset=np.array(["BTC"]), quantity=np.array([99.0])
        ),
        account_ids=columns.account_ids,
        account_models=columns.account_models,
    )
    with pytest.raises(OSError, match="disk full"):
        write_book_csv(bigger, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old files intact, no temporaries


def test_writer_refuses_an_invalid_book(tmp_path: Path, book_json: Path, write_json) -> None:
    columns = load_book_columns(book_json)
    broken = BookColumns(
        instruments=columns.instruments,
        positions=PositionColumns(
            account=np.array(["acc-1"]),
            instrument=np.array(["NOPE"]),
            quantity=np.array([1.0]),
            entry_price=np.array([np.nan]),
        ),
        collateral=columns.collateral,
        account_ids=columns.account_ids,
        account_models=columns.account_models,
    )
    target = write_json(tmp_path / "keep.json", {"sentinel": 1})
    with pytest.raises(InputError, match="unknown instrument"):
        write_book_json(broken, target)
    assert target.read_text() == '{"sentinel": 1}'
    with pytest.raises(InputError):
        write_book_parquet(broken, tmp_path / "pq")
    assert not (tmp_path / "pq").exists() or not any((tmp_path / "pq").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "pq") == ["book.json", "keep.json"]

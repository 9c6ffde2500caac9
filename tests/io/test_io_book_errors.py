"""Bad book files raise InputError naming the file, the record and the field a user must fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ccm.errors import InputError
from ccm.io import load_book, load_book_columns


def error_of(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_book(path)
    return info.value


# ---------------------------------------------------------------- JSON / YAML documents


def test_missing_file(tmp_path: Path) -> None:
    err = error_of(tmp_path / "nope.json")
    assert err.file == str(tmp_path / "nope.json")
    assert "not found" in err.message


def test_unreadable_json_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "book.json"
    path.write_text('{\n  "instruments": [],\n  "accounts": [}\n')
    err = error_of(path)
    assert err.file == str(path)
    assert "line 3, column 16" in err.message


def test_unreadable_yaml_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "book.yaml"
    path.write_text("accounts:\n  - id: a\n    collateral: {BTC: 1\n")
    err = error_of(path)
    assert err.file == str(path)
    assert "line 4" in err.message and "column" in err.message


def test_top_level_must_be_a_mapping(tmp_path: Path, write_json) -> None:
    err = error_of(write_json(tmp_path / "b.json", [1, 2]))
    assert "top level" in err.message and err.file == str(tmp_path / "b.json")


def test_missing_field_names_instrument(tmp_path: Path, book_doc, write_json) -> None:
    del book_doc["instruments"][3]["underlying"]
    err = error_of(write_json(tmp_path / "b.json", book_doc))
    assert (err.record, err.field) == ("instruments[3] (id=ETH_USDC-PERPETUAL)", "underlying")
    assert "missing" in err.message


def test_extra_field_is_refused_with_suggestion(tmp_path: Path, book_doc, write_json) -> None:
    book_doc["accounts"][1]["positions"][0]["qty"] = book_doc["accounts"][1]["positions"][0].pop("quantity")
    err = error_of(write_json(tmp_path / "b.json", book_doc))
    assert err.record == "accounts[1] (id=acc-2)"
    assert err.field in ("positions[0].qty", "positions[0].quantity")  # both problems are reported
    assert "more problem" in err.hint


def test_unknown_field_hint_lists_allowed_fields(tmp_path: Path, book_doc, write_json) -> None:
    book_doc["accounts"][0]["colateral"] = {}
    err = error_of(write_json(tmp_path / "b.json", book_doc))
    assert (err.record, err.field) == ("accounts[0] (id=acc-1)", "colateral")
    assert "unknown field" in err.message
    assert "did you mean 'collateral'" in err.hint and "positions" in err.hint


def test_wrong_type_is_not_coerced(tmp_path: Path, book_doc, write_json) -> None:
    book_doc["accounts"][0]["positions"][2]["quantity"] = "1000"
    err = error_of(write_json(tmp_path / "b.json", book_doc))
    assert (err.record, err.field) == ("accounts[0] (id=acc-1)", "positions[2].quantity")
    assert "'1000'" in err.message


def test_json_nan_literal_is_refused(tmp_path: Path, book_doc, write_json) -> None:
    path = write_json(tmp_path / "b.json", book_doc)
    path.write_text(path.read_text().replace('"quantity": 20', '"quantity": NaN'))
    err = error_of(path)
    assert (err.record, err.field) == ("accounts[1] (id=acc-2)", "positions[1].quantity")
    assert "finite" in err.message


def test_infinite_collateral_is_refused(tmp_path: Path, book_doc, write_json) -> None:
    path = write_json(tmp_path / "b.json", book_doc)
    path.write_text(path.read_text().replace('"ETH": 5', '"ETH": -Infinity'))
    err = error_of(path)
    assert (err.record, err.field) == ("accounts[2] (id=acc-3)", "collateral.ETH")


def test_yaml_nan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("accounts:\n  - id: a\n    collateral: {BTC: .nan}\n")
    err = error_of(path)
    assert (err.file, err.record, err.field) == (str(path), "accounts[0] (id=a)", "collateral.BTC")


@pytest.mark.parametrize("strike", [0, -90000])
def test_non_positive_strike(tmp_path: Path, book_doc, write_json, strike: float) -> None:
    book_doc["instruments"][2]["strike"] = strike
    err = error_of(write_json(tmp_path / "b.json", book_doc))
    assert (err.record, err.field) == ("instruments[2] (id=BTC-28MAR25-90000-C)", "strike")


def test_missing_expiry_of_a_future(tmp_path: Path, book_doc, write_json) -> None:
    del book_doc["instruments"][1]["expiry"]
    path = write_json(tmp_path / "b.json", book_doc)
    err = error_of(path)  # found by the core's build_book; the file must have been added
    assert (err.file, err.record, err.field) == (str(path), "instruments[1] (id=BTC-28MAR25)", "expiry")
    assert "2025-03-28T08:00:00Z" in err.hint


def test_option_without_strike_or_right(tmp_path: Path, book_doc, write_json) -> None:
    del book_doc["instruments"][4]["right"]
    err = error_of(write_json(tmp_path / "b.json", book_doc))
    assert (err.record, err.field) == ("instruments[4] (id=SOL_USDC-27JUN25-150-P)", "right")


def test_terms_that_do_not_belong_to_the_type(tmp_path: Path, book_doc, write_json) -> None:
    book_doc["instruments"][0]["expiry"] = "2025-03-28T08:00:00Z"  # a perpetual with an expiry
    err = error_of(write_json(tmp_path / "b.json", book_doc))
    assert (err.record, err.field) == ("instruments[0] (id=BTC-PERPETUAL)", "expiry")
    book_doc["instruments"][0].pop("expiry")
    book_doc["instruments"][1]["strike"] = 5.0  # a future with a strike
    err = error_of(write_json(tmp_path / "b.json", book_doc))
    assert (err.record, err.field) == ("instruments[1] (id=BTC-28MAR25)", "strike")


def test_unknown_instrument_in_a_position(tmp_path: Path, book_doc, write_json) -> None:
    book_doc["accounts"][3]["positions"].append({"instrument": "DOGE-PERP", "quantity": 1})
    path = write_json(tmp_path / "b.json", book_doc)
    err = error_of(path)
    assert (err.file, err.record, err.field) == (
        str(path),
        "accounts[3] (id=acc-4)",
        "positions[1].instrument",
    )
    assert "DOGE-PERP" in err.message


def test_duplicate_instrument_id(tmp_path: Path, book_doc, write_json) -> None:
    book_doc["instruments"].append(dict(book_doc["instruments"][1]))
    err = error_of(write_json(tmp_path / "b.json", book_doc))
    assert (err.record, err.field) == ("instruments[6] (id=BTC-28MAR25)", "id")
    assert "instruments[1]" in err.message


def test_duplicate_account_id(tmp_path: Path, book_doc, write_json) -> None:
    book_doc["accounts"][4]["id"] = "acc-2"
    err = error_of(write_json(tmp_path / "b.json", book_doc))
    assert (err.record, err.field) == ("accounts[4] (id=acc-2)", "id")


@pytest.mark.parametrize("doc", [{"instruments": [], "accounts": []}, {"accounts": []}])
def test_empty_book(tmp_path: Path, write_json, doc) -> None:
    path = write_json(tmp_path / "b.json", doc)
    err = error_of(path)
    assert err.message == "the book has no accounts"
    assert (err.file, err.field) == (str(path), "accounts")
    with pytest.raises(InputError, match="no accounts"):
        load_book_columns(path)


def test_missing_accounts_key(tmp_path: Path, write_json) -> None:
    err = error_of(write_json(tmp_path / "b.json", {"instruments": []}))
    assert (err.record, err.field) == (None, "accounts")


@pytest.mark.parametrize(
    ("expiry", "fragment"),
    [
        ("2025-03-28T08:00:00", "no time zone"),
        ("2025-03-28", "no time zone"),
        ("2025-03-28T10:00:00+02:00", "not in UTC"),
        ("28/03/2025", "not an ISO-8601"),
    ],
)
def test_times_must_be_utc(tmp_path: Path, book_doc, write_json, expiry: str, fragment: str) -> None:
    book_doc["instruments"][1]["expiry"] = expiry
    err = error_of(write_json(tmp_path / "b.json", book_doc))
    assert (err.record, err.field) == ("instruments[1] (id=BTC-28MAR25)", "expiry")
    assert fragment in err.message
    assert "Z" in err.hint


@pytest.mark.parametrize(
    ("where", "field", "value"),
    [
        (("instruments", 0), "type", "swap"),
        (("instruments", 0), "settlement", "quanto"),
        (("instruments", 2), "right", "straddle"),
        (("accounts", 0), "margin_model", "cross"),
    ],
)
def test_unknown_enum_values(tmp_path: Path, book_doc, write_json, where, field: str, value: str) -> None:
    section, k = where
    book_doc[section][k][field] = value
    err = error_of(write_json(tmp_path / "b.json", book_doc))
    assert err.field == field and err.record.startswith(f"{section}[{k}] (id=")
    assert repr(value) in err.message


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "book.txt"
    path.write_text("{}")
    err = error_of(path)
    assert err.file == str(path) and ".json" in err.hint


# ---------------------------------------------------------------- CSV / Parquet bundles

GOOD = {
    "instruments.csv": "id,type,underlying,settlement,settlement_asset,expiry,strike,right\n"
    "BTC-PERP,perpetual,BTC,inverse,,,,\n"
    "BTC-FUT,future,BTC,inverse,,2025-03-28T08:00:00Z,,\n"
    "ETH-C,option,ETH,linear,USDC,2025-03-28T08:00:00Z,2500,call\n",
    "positions.csv": "account,instrument,quantity,entry_price\n"
    "a1,BTC-PERP,-1000,84000\n"
    "a1,ETH-C,2,\n"
    "a2,BTC-FUT,500,\n",
    "collateral.csv": "account,asset,quantity\na1,BTC,1\na2,USDC,5000\n",
    "accounts.csv": "id,margin_model\na1,standard\na2,\n",
}


def bundle(tmp_path: Path, **changes: str) -> Path:
    for name, text in GOOD.items():
        key = name.replace(".", "_")
        if changes.get(key, text) is not None:
            (tmp_path / name).write_text(changes.get(key, text))
    return tmp_path


def replace_line(name: str, line: int, text: str) -> str:
    """GOOD[name] with 1-based ``line`` replaced."""
    lines = GOOD[name].splitlines()
    lines[line - 1] = text
    return "\n".join(lines) + "\n"


def test_good_bundle_loads(tmp_path: Path) -> None:
    book = load_book(bundle(tmp_path))
    assert list(book.account_ids) == ["a1", "a2"]
    assert book.positions.nnz == 3


def test_missing_table_file(tmp_path: Path) -> None:
    bundle(tmp_path)
    (tmp_path / "positions.csv").unlink()
    err = error_of(tmp_path)
    assert err.file == str(tmp_path) and "positions.csv" in err.message


def test_directory_without_tables(tmp_path: Path) -> None:
    err = error_of(tmp_path)
    assert err.file == str(tmp_path) and "instruments.csv" in err.hint


@pytest.mark.parametrize(
    ("table", "line", "text", "column", "fragment"),
    [
        ("positions.csv", 3, "a1,ETH-C,two,", "quantity", "not a number"),
        ("positions.csv", 4, "a2,BTC-FUT,nan,", "quantity", "finite"),
        ("positions.csv", 4, "a2,BTC-FUT,,", "quantity", "missing"),
        ("positions.csv", 2, "a1,BTC-PERP,-1000,-84000", "entry_price", "positive"),
        ("positions.csv", 3, "a1,ETH-CALL,2,", "instrument", "unknown instrument"),
        ("positions.csv", 3, "zz,ETH-C,2,", "account", "unknown account"),
        ("collateral.csv", 3, "a2,USDC,inf", "quantity", "finite"),
        (
            "instruments.csv",
            4,
            "ETH-C,option,ETH,linear,USDC,2025-03-28T08:00:00Z,-1,call",
            "strike",
            "positive",
        ),
        ("instruments.csv", 3, "BTC-FUT,future,BTC,inverse,,,,", "expiry", "need an expiry"),
        ("instruments.csv", 3, "BTC-FUT,future,BTC,inverse,,2025-03-28 08:00:00,,", "expiry", "no time zone"),
        ("instruments.csv", 3, "BTC-FUT,future,BTC,inverse,,2025-02-30T08:00:00Z,,", "expiry", "ISO-8601"),
        (
            "instruments.csv",
            3,
            "BTC-FUT,forward,BTC,inverse,,2025-03-28T08:00:00Z,,",
            "type",
            "unknown instrument type",
        ),
        ("instruments.csv", 2, "BTC-PERP,perpetual,BTC,coin,,,,", "settlement", "unknown settlement"),
        (
            "instruments.csv",
            4,
            "ETH-C,option,ETH,linear,USDC,2025-03-28T08:00:00Z,2500,C",
            "right",
            "call or put",
        ),
        ("instruments.csv", 3, "BTC-PERP,future,BTC,inverse,,2025-03-28T08:00:00Z,,", "id", "duplicate"),
        ("accounts.csv", 3, "a1,", "id", "duplicate"),
        ("accounts.csv", 3, "a2,cross", "margin_model", "unknown margin model"),
    ],
)
def test_csv_errors_name_file_row_and_column(tmp_path, table, line, text, column, fragment) -> None:
    bundle(tmp_path, **{table.replace(".", "_"): replace_line(table, line, text)})
    err = error_of(tmp_path)
    assert err.file == str(tmp_path / table)
    assert err.record == f"row {line - 1}"  # data row = line number − 1 (header is line 1)
    assert err.field == column
    assert fragment in err.message
    assert "positions:" not in err.message and "instruments:" not in err.message


def test_duplicate_message_names_the_other_row(tmp_path: Path) -> None:
    bundle(tmp_path, accounts_csv="id,margin_model\na1,\na2,\na1,\n")
    err = error_of(tmp_path)
    assert (err.record, err.message) == ("row 3", "duplicate account id 'a1' (also at row 1)")


def test_ragged_csv_row(tmp_path: Path) -> None:
    bundle(tmp_path, collateral_csv="account,asset,quantity\na1,BTC,1\na2,USDC,5000,7\n")
    err = error_of(tmp_path)
    assert err.file == str(tmp_path / "collateral.csv")
    assert err.record == "row 2" and "columns" in err.message


def test_unknown_and_missing_columns(tmp_path: Path) -> None:
    bundle(tmp_path, positions_csv="account,instrument,qty\na1,BTC-PERP,1\n")
    err = error_of(tmp_path)
    assert (err.file, err.record, err.field) == (str(tmp_path / "positions.csv"), "header", "qty")
    assert "did you mean 'quantity'" in err.hint
    bundle(tmp_path, positions_csv="account,instrument\na1,BTC-PERP\n")
    err = error_of(tmp_path)
    assert (err.record, err.field) == ("header", "quantity") and "missing" in err.message


def test_empty_csv_book(tmp_path: Path) -> None:
    bundle(
        tmp_path,
        positions_csv="account,instrument,quantity\n",
        collateral_csv="account,asset,quantity\n",
        accounts_csv=None,
    )
    assert not (tmp_path / "accounts.csv").exists()
    err = error_of(tmp_path)
    assert err.message == "the book has no accounts"


def test_empty_csv_file(tmp_path: Path) -> None:
    bundle(tmp_path, collateral_csv="")
    err = error_of(tmp_path)
    assert err.file == str(tmp_path / "collateral.csv") and "Empty" in err.message


def test_csv_and_parquet_together_is_ambiguous(tmp_path: Path) -> None:
    bundle(tmp_path)
    pq.write_table(
        pa.table({"id": ["x"], "type": ["spot"], "underlying": ["BTC"]}), tmp_path / "instruments.parquet"
    )
    err = error_of(tmp_path)
    assert err.file == str(tmp_path) and "both" in err.message


def parquet_bundle(tmp_path: Path, instruments: pa.Table, positions: pa.Table | None = None) -> Path:
    pq.write_table(instruments, tmp_path / "instruments.parquet")
    pq.write_table(
        positions
        if positions is not None
        else pa.table({"account": ["a"], "instrument": ["F"], "quantity": [1.0]}),
        tmp_path / "positions.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "account": pa.array([], pa.string()),
                "asset": pa.array([], pa.string()),
                "quantity": pa.array([], pa.float64()),
            }
        ),
        tmp_path / "collateral.parquet",
    )
    return tmp_path


def test_parquet_naive_timestamp_column(tmp_path: Path) -> None:
    instruments = pa.table(
        {
            "id": ["P", "F"],
            "type": ["perpetual", "future"],
            "underlying": ["BTC", "BTC"],
            "expiry": pa.array([None, 1_743_148_800_000_000], pa.timestamp("us")),
        }
    )
    err = error_of(parquet_bundle(tmp_path, instruments))
    assert (err.file, err.record, err.field) == (str(tmp_path / "instruments.parquet"), "row 2", "expiry")
    assert "naive" in err.message


def test_parquet_typed_columns_and_nan(tmp_path: Path) -> None:
    instruments = pa.table(
        {
            "id": ["F"],
            "type": ["future"],
            "underlying": ["BTC"],
            "expiry": pa.array([1_743_148_800], pa.timestamp("s", tz="UTC")),
        }
    )
    positions = pa.table({"account": ["a", "a"], "instrument": ["F", "F"], "quantity": [1.0, np.nan]})
    err = error_of(parquet_bundle(tmp_path, instruments, positions))
    assert (err.file, err.record, err.field) == (str(tmp_path / "positions.parquet"), "row 2", "quantity")
    positions = pa.table({"account": ["a"], "instrument": ["F"], "quantity": pa.array([3], pa.int32())})
    book = load_book(parquet_bundle(tmp_path, instruments, positions))
    assert book.instruments.expiry_s[0] == 1_743_148_800.0
    assert book.positions.toarray().tolist() == [[3.0]]


def test_parquet_wrong_column_type(tmp_path: Path) -> None:
    instruments = pa.table({"id": ["F"], "type": ["future"], "underlying": [1.5]})
    err = error_of(parquet_bundle(tmp_path, instruments))
    assert (err.file, err.field) == (str(tmp_path / "instruments.parquet"), "underlying")
    assert "expected text" in err.message


def test_duplicate_csv_column(tmp_path: Path) -> None:
    bundle(tmp_path, collateral_csv="account,asset,quantity,asset\na1,BTC,1,ETH\n")
    err = error_of(tmp_path)
    assert (err.file, err.record, err.field) == (str(tmp_path / "collateral.csv"), "header", "asset")

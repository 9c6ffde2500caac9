"""Book files → :class:`~ccm.book.Book`, and back.

Formats, chosen from the path:

- ``.json`` / ``.yaml`` / ``.yml``: one document ``{"instruments": [...], "accounts": [...]}`` (validated by
  the pydantic schema below; errors name ``accounts[3] (id=acc-7)`` and ``positions[2].quantity``);
- a directory with ``instruments``, ``positions``, ``collateral`` (and optional ``accounts``) tables as
  ``.csv`` or ``.parquet`` (see :mod:`ccm.io.book_tables`; errors name the table file, ``row N`` and the
  column).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from ccm.book import (
    Account,
    Book,
    BookColumns,
    CollateralColumns,
    Instrument,
    InstrumentColumns,
    Position,
    PositionColumns,
    book_from_arrays,
    build_book,
)
from ccm.enums import InstrumentType, MarginModelName, OptionRight, Settlement
from ccm.errors import InputError
from ccm.io.book_tables import (
    FORMATS,
    check_terms,
    describers,
    format_utc,
    read_book_tables,
    table_writers,
    tidy_message,
)
from ccm.io.files import DOCUMENT_SUFFIXES, read_document, require_mapping, write_atomic, write_text_atomic
from ccm.io.validation import STRICT, Loc, UtcTime, path_text, validate

Text = Field(min_length=1)


class InstrumentIn(BaseModel):
    model_config = STRICT
    id: str = Text
    type: Literal["spot", "future", "perpetual", "option"]
    underlying: str = Text
    settlement: Literal["linear", "inverse"] = "linear"
    settlement_asset: str | None = Field(default=None, min_length=1)
    expiry: UtcTime | None = None
    strike: float | None = Field(default=None, gt=0)
    right: Literal["call", "put"] | None = None

    def resolved_settlement_asset(self) -> str:
        if self.settlement_asset is not None:
            return self.settlement_asset
        return self.underlying if self.settlement == "inverse" else "USDC"


class PositionIn(BaseModel):
    model_config = STRICT
    instrument: str = Text
    quantity: float
    entry_price: float | None = Field(default=None, gt=0)


class AccountIn(BaseModel):
    model_config = STRICT
    id: str = Text
    margin_model: Literal["standard", "portfolio", "lending", "var", "derive-pmrm"] | None = None
    collateral: dict[str, float] = Field(default_factory=dict)
    positions: list[PositionIn] = Field(default_factory=list)


class BookIn(BaseModel):
    """The JSON/YAML book document."""

    model_config = STRICT
    instruments: list[InstrumentIn] = Field(default_factory=list)
    accounts: list[AccountIn]


def _label(data: Any, section: str, k: int) -> str:
    """``accounts[3] (id=acc-7)``, the id taken from the raw document when it has one."""
    try:
        ident = data[section][k]["id"]
    except (KeyError, IndexError, TypeError):
        ident = None
    return f"{section}[{k}] (id={ident})" if isinstance(ident, str) else f"{section}[{k}]"


def _locator(data: Any):
    def locate(loc: Loc) -> tuple[str | None, str | None]:
        if len(loc) >= 2 and loc[0] in ("accounts", "instruments") and isinstance(loc[1], int):
            return _label(data, str(loc[0]), loc[1]), path_text(loc[2:]) or None
        return None, path_text(loc) or None

    return locate


def _parse_document(path: Path) -> BookIn:
    return _validate_document(read_document(path, what="book"), file=str(path))


def _validate_document(data: Any, *, file: str) -> BookIn:
    require_mapping(data, file=file, what="book")
    book: BookIn = validate(BookIn, data, file=file, locate=_locator(data))
    if not book.accounts:
        raise InputError("the book has no accounts", file=file, field="accounts",
                         hint='list at least one account under "accounts"')
    return book


def _instrument_columns(items: list[InstrumentIn]) -> InstrumentColumns:
    def text(values: list[str]) -> np.ndarray:
        return np.array(values, dtype=object).astype(str)

    return InstrumentColumns(
        ids=text([i.id for i in items]),
        type=text([i.type for i in items]),
        underlying=text([i.underlying for i in items]),
        settlement=text([i.settlement for i in items]),
        settlement_asset=text([i.resolved_settlement_asset() for i in items]),
        expiry_s=np.array([i.expiry.timestamp() if i.expiry else np.nan for i in items], dtype=float),
        strike=np.array([np.nan if i.strike is None else i.strike for i in items], dtype=float),
        right=text([i.right or "" for i in items]),
    )


_NESTED = re.compile(r"^(accounts\[\d+\](?: \(id=.*\))?) (positions\[\d+\]|collateral\..+)$")


def _as_document_error(err: InputError, path: Path) -> InputError:
    """A ``build_book`` error with the file added and its record split as in schema errors:
    ``accounts[0] (id=a) positions[1]`` / ``instrument`` →
    ``accounts[0] (id=a)`` / ``positions[1].instrument``."""
    record, field = err.record, err.field
    match = _NESTED.match(record or "")
    if match is not None:
        record = match.group(1)
        nested = match.group(2)
        field = f"{nested}.{field}" if field and nested.startswith("positions") else nested
    return InputError(tidy_message(err.message), file=err.file or str(path), record=record, field=field,
                      hint=err.hint)


def _document_book(path: Path) -> Book:
    doc = _parse_document(path)
    check_terms(_instrument_columns(doc.instruments),
                lambda k: f"instruments[{k}] (id={doc.instruments[k].id})", file=str(path))
    instruments = [
        Instrument(
            id=i.id, type=InstrumentType(i.type), underlying=i.underlying,
            settlement=Settlement(i.settlement),
            settlement_asset=i.resolved_settlement_asset(), expiry=i.expiry, strike=i.strike,
            right=OptionRight(i.right) if i.right else None,
        )
        for i in doc.instruments
    ]
    accounts = [
        Account(
            id=a.id, collateral=dict(a.collateral),
            positions=tuple(Position(instrument=p.instrument, quantity=p.quantity, entry_price=p.entry_price)
                            for p in a.positions),
            margin_model=MarginModelName(a.margin_model) if a.margin_model else None,
        )
        for a in doc.accounts
    ]
    try:
        return build_book(instruments, accounts)
    except InputError as err:
        raise _as_document_error(err, path) from None


def _document_columns(path: Path) -> BookColumns:
    return _columns_of(_parse_document(path), file=str(path))


def columns_from_document(data: Any, *, file: str = "book") -> BookColumns:
    """BookColumns of an already parsed book document (the dict :func:`book_to_dict` writes); errors name
    ``file``. Build it with ``.build()`` (which validates the relations between records)."""
    return _columns_of(_validate_document(data, file=file), file=file)


def _columns_of(doc: BookIn, *, file: str) -> BookColumns:
    instruments = _instrument_columns(doc.instruments)
    check_terms(instruments, lambda k: f"instruments[{k}] (id={doc.instruments[k].id})", file=file)
    positions = [(a.id, p) for a in doc.accounts for p in a.positions]
    collateral = [(a.id, asset, q) for a in doc.accounts for asset, q in a.collateral.items()]
    text = lambda values: np.array(list(values), dtype=object).astype(str)  # noqa: E731
    return BookColumns(
        instruments=instruments,
        positions=PositionColumns(
            account=text(a for a, _ in positions), instrument=text(p.instrument for _, p in positions),
            quantity=np.array([p.quantity for _, p in positions], dtype=float),
            entry_price=np.array([np.nan if p.entry_price is None else p.entry_price for _, p in positions],
                                 dtype=float),
        ),
        collateral=CollateralColumns(
            account=text(c[0] for c in collateral), asset=text(c[1] for c in collateral),
            quantity=np.array([c[2] for c in collateral], dtype=float),
        ),
        account_ids=text(a.id for a in doc.accounts),
        account_models=text(a.margin_model or "" for a in doc.accounts),
    )


def _table_format(directory: Path) -> str:
    found = [fmt for fmt in FORMATS if (directory / f"instruments.{fmt}").is_file()]
    if not found:
        raise InputError("no book tables found in the directory", file=str(directory),
                         hint="expected instruments.csv, positions.csv, collateral.csv "
                              "(or the same as .parquet)")
    if len(found) > 1:
        raise InputError("the directory holds both a CSV and a Parquet book", file=str(directory),
                         hint="keep one format per directory")
    return found[0]


def _kind(path: Path) -> str:
    if path.is_dir():
        return "tables"
    if path.suffix.lower() in DOCUMENT_SUFFIXES:
        return "document"
    if not path.exists():
        raise InputError("book file or directory not found", file=str(path), hint="check the path")
    raise InputError(f"cannot read a book from a {path.suffix or 'suffix-less'} file", file=str(path),
                     hint="use .json, .yaml, .yml, or a directory of .csv/.parquet tables")


def load_book_columns(path: str | Path) -> BookColumns:
    """Read a book file or directory into flat :class:`BookColumns` (validated when built)."""
    path = Path(path)
    if _kind(path) == "document":
        return _document_columns(path)
    return read_book_tables(path, _table_format(path))[0]


def load_book(path: str | Path) -> Book:
    """Read and validate a book (JSON, YAML, or a CSV/Parquet directory); raises :class:`InputError`.

    Errors name the file, the record and the field: ``accounts[3] (id=acc-7)`` / ``positions[2].quantity``
    in documents; ``row N`` / the column in tables, N being the 1-based data row (header excluded: the CSV
    line number minus one).
    """
    path = Path(path)
    if _kind(path) == "document":
        return _document_book(path)
    columns, locate = read_book_tables(path, _table_format(path))
    try:
        return book_from_arrays(columns.instruments, columns.positions, columns.collateral,
                                account_ids=columns.account_ids, account_models=columns.account_models,
                                **describers())
    except InputError as err:
        raise locate(err) from None


def book_to_dict(columns: BookColumns) -> dict[str, Any]:
    """The JSON/YAML book document of ``columns`` (balances repeated per account and asset are summed)."""
    i = columns.instruments
    expiry = format_utc(np.asarray(i.expiry_s, dtype=float))
    instruments: list[dict[str, Any]] = []
    for k in range(i.ids.shape[0]):
        item: dict[str, Any] = {
            "id": str(i.ids[k]), "type": str(i.type[k]), "underlying": str(i.underlying[k]),
            "settlement": str(i.settlement[k]), "settlement_asset": str(i.settlement_asset[k]),
        }
        if expiry[k]:
            item["expiry"] = str(expiry[k])
        if np.isfinite(i.strike[k]):
            item["strike"] = float(i.strike[k])
        if i.right[k]:
            item["right"] = str(i.right[k])
        instruments.append(item)
    accounts: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    for ident, model in zip(columns.account_ids.astype(str), columns.account_models.astype(str), strict=True):
        record: dict[str, Any] = {"id": ident, **({"margin_model": model} if model else {}),
                                  "collateral": {}, "positions": []}
        accounts.append(record)
        by_id[ident] = record
    c, p = columns.collateral, columns.positions
    for account, asset, quantity in zip(c.account.astype(str), c.asset.astype(str), c.quantity, strict=True):
        balances = by_id[account]["collateral"]
        balances[asset] = balances.get(asset, 0.0) + float(quantity)
    for account, instrument, quantity, entry in zip(p.account.astype(str), p.instrument.astype(str),
                                                     p.quantity, p.entry_price, strict=True):
        position: dict[str, Any] = {"instrument": instrument, "quantity": float(quantity)}
        if not np.isnan(entry):
            position["entry_price"] = float(entry)
        by_id[account]["positions"].append(position)
    return {"instruments": instruments, "accounts": accounts}


def write_book_json(columns: BookColumns, path: str | Path) -> None:
    """Write ``columns`` as a JSON book that :func:`load_book` reads back to the same Book (atomic)."""
    columns.build()  # refuse to save a book that could not be read back
    text = json.dumps(book_to_dict(columns), indent=1, allow_nan=False)
    write_text_atomic(Path(path), text + "\n")


def _write_tables(columns: BookColumns, directory: str | Path, fmt: Literal["csv", "parquet"]) -> None:
    columns.build()
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InputError("not a directory", file=str(directory), hint="give a directory for a table book")
    write_atomic(table_writers(columns, directory, fmt))


def write_book_csv(columns: BookColumns, directory: str | Path) -> None:
    """Write ``instruments.csv``, ``positions.csv``, ``collateral.csv`` and ``accounts.csv``."""
    _write_tables(columns, directory, "csv")


def write_book_parquet(columns: BookColumns, directory: str | Path) -> None:
    """Write the four book tables as ``.parquet`` files into ``directory``."""
    _write_tables(columns, directory, "parquet")

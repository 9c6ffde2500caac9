"""The CSV / Parquet book bundle: a directory of ``instruments``, ``positions``, ``collateral`` and an
optional ``accounts`` table, read with pyarrow and validated column-wise (no Python loop over rows).

Errors name the table file, the record ``row N`` and the column. ``N`` is the 1-based data row, header
excluded: in a CSV file it is the line number minus one (for files without quoted line breaks); in a
Parquet file it is the 1-based row index.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ccm.book import BookColumns, CollateralColumns, InstrumentColumns, PositionColumns
from ccm.errors import InputError
from ccm.io.validation import UTC_HINT, TimeFormatError, parse_utc

TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # name: (required columns, optional columns)
    "instruments": (("id", "type", "underlying"),
                    ("settlement", "settlement_asset", "expiry", "strike", "right")),
    "positions": (("account", "instrument", "quantity"), ("entry_price",)),
    "collateral": (("account", "asset", "quantity"), ()),
    "accounts": (("id",), ("margin_model",)),
}
FORMATS = ("csv", "parquet")
_UTC_SUFFIX = r"(?:[Zz]|[+-]00:?00)$"


def _row(k: int) -> str:
    return f"row {k + 1}"


def _numpy(values: pa.Array | pa.ChunkedArray, dtype: type) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=dtype)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _first_failing(array: pa.Array, convert: Callable[[pa.Array], object]) -> int:
    """Index of the first element on which ``convert`` raises (bisection: O(n) work, no row loop)."""
    lo, hi = 0, len(array)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            convert(array.slice(lo, mid - lo))
            lo = mid
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            hi = mid
    return lo


class Table:
    """One table file, read into pyarrow, with typed column accessors that raise located errors."""

    def __init__(self, path: Path, name: str, table: pa.Table) -> None:
        self.path, self.file, self.name, self.table = path, str(path), name, table
        required, optional = TABLES[name]
        seen = set()
        for column in table.column_names:
            if column in seen:
                raise InputError("the column appears twice", file=self.file, record="header", field=column)
            seen.add(column)
            if column not in required + optional:
                close = difflib.get_close_matches(column, required + optional, n=1, cutoff=0.5)
                raise InputError(
                    f"unknown column {column!r}", file=self.file, record="header", field=column,
                    hint=(f"did you mean {close[0]!r}? " if close else "")
                    + f"columns of {name}: {', '.join(required + optional)}",
                )
        for column in required:
            if column not in table.column_names:
                raise InputError("required column is missing", file=self.file, record="header", field=column,
                                 hint=f"columns of {name}: {', '.join(required + optional)}")

    def __len__(self) -> int:
        return self.table.num_rows

    def error(self, message: str, k: int, column: str, hint: str | None = None) -> InputError:
        return InputError(message, file=self.file, record=_row(k), field=column, hint=hint)

    def _strings(self, column: str) -> pa.ChunkedArray | None:
        """The column as trimmed strings with null → "", or None when the column is absent."""
        if column not in self.table.column_names:
            return None
        values = self.table.column(column)
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        if pa.types.is_integer(values.type):
            values = values.cast(pa.string())
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            raise InputError(f"column has type {values.type}, expected text", file=self.file, field=column)
        return pc.fill_null(pc.utf8_trim_whitespace(values), "")

    def text(self, column: str, *, required: bool = False) -> np.ndarray:
        """Column as a numpy str array ("" = absent); ``required`` cells must not be empty."""
        values = self._strings(column)
        if values is None:
            return np.full(len(self), "", dtype=str)
        out = _numpy(values, str)
        if required and (out == "").any():
            raise self.error("required value is missing", _first(out == ""), column)
        return out

    def number(self, column: str, *, required: bool = False, positive: bool = False) -> np.ndarray:
        """Column as float64, NaN = absent; present values must be finite (and > 0 if ``positive``)."""
        if column not in self.table.column_names:
            return np.full(len(self), np.nan)
        raw = self.table.column(column)
        if pa.types.is_floating(raw.type) or pa.types.is_integer(raw.type) or pa.types.is_decimal(raw.type):
            absent = _numpy(raw.is_null(), bool)
            values = _numpy(raw.cast(pa.float64()).fill_null(0.0), float)
        elif pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type):
            text = self._strings(column).combine_chunks()
            absent = _numpy(pc.equal(text, ""), bool)
            filled = pc.if_else(pc.equal(text, ""), "0", text)
            try:
                values = _numpy(filled.cast(pa.float64()), float)
            except pa.ArrowInvalid:
                k = _first_failing(filled, lambda a: a.cast(pa.float64()))
                raise self.error(f"{text[k].as_py()!r} is not a number", k, column) from None
        else:
            raise InputError(f"column has type {raw.type}, expected numbers", file=self.file, field=column)
        if required and absent.any():
            raise self.error("required value is missing", _first(absent), column)
        bad = ~absent & ~np.isfinite(values)
        if bad.any():
            raise self.error(f"must be a finite number, got {values[_first(bad)]!r}", _first(bad), column)
        if positive and (bad := ~absent & (values <= 0)).any():
            raise self.error(f"must be a positive number, got {values[_first(bad)]!r}", _first(bad), column)
        return np.where(absent, np.nan, values)

    def time(self, column: str) -> np.ndarray:
        """Column of UTC times as float POSIX seconds, NaN = absent (naive or non-UTC times are errors)."""
        if column not in self.table.column_names:
            return np.full(len(self), np.nan)
        raw = self.table.column(column)
        if pa.types.is_timestamp(raw.type):
            if raw.type.tz not in ("UTC", "+00:00", "Etc/UTC", "Z"):
                present = ~_numpy(raw.is_null(), bool)
                k = _first(present) if present.any() else 0
                tz = raw.type.tz
                state = "has no time zone (naive)" if tz is None else f"is in time zone {tz}"
                raise self.error(f"the timestamp column {state}", k, column, UTC_HINT)
            micros = raw.cast(pa.timestamp("us", tz="UTC"), safe=False).cast(pa.int64())  # drops sub-µs
            absent = _numpy(micros.is_null(), bool)
            values = _numpy(micros.fill_null(0), np.int64) / 1e6
            return np.where(absent, np.nan, values)
        text = self._strings(column).combine_chunks()
        absent = _numpy(pc.equal(text, ""), bool)
        utc = _numpy(pc.match_substring_regex(text, _UTC_SUFFIX), bool)
        stripped = pc.if_else(pc.equal(text, ""), "1970-01-01T00:00:00",
                              pc.replace_substring_regex(text, _UTC_SUFFIX, ""))
        failing = ~absent & ~utc
        k = _first(failing) if failing.any() else -1
        if k < 0:
            try:
                micros = stripped.cast(pa.timestamp("us")).cast(pa.int64())
            except pa.ArrowInvalid:
                k = _first_failing(stripped, lambda a: a.cast(pa.timestamp("us")))
        if k >= 0:
            value = text[k].as_py()
            try:
                parse_utc(value)
                reason, hint = f"{value!r} is not an ISO-8601 time", UTC_HINT
            except TimeFormatError as err:
                reason, hint = err.reason, err.hint
            raise self.error(reason, k, column, hint)
        values = _numpy(micros, np.int64) / 1e6
        return np.where(absent, np.nan, values)


def _read(path: Path, name: str, fmt: str) -> Table:
    try:
        if fmt == "parquet":
            return Table(path, name, pq.read_table(path))
        required, optional = TABLES[name]
        convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in required + optional},
                                       strings_can_be_null=False)
        try:
            table = pacsv.read_csv(path, convert_options=convert)
        except pa.ArrowInvalid:
            # Re-read single-threaded: only then does pyarrow report the line number of a bad row.
            table = pacsv.read_csv(path, convert_options=convert,
                                   read_options=pacsv.ReadOptions(use_threads=False))
        return Table(path, name, table)
    except (pa.ArrowInvalid, OSError) as err:
        text = str(err).removeprefix("CSV parse error: ")
        record = None
        if text.startswith("Row #"):
            line, _, text = text[len("Row #"):].partition(": ")
            record = _row(int(line) - 2) if line.isdigit() else None
        raise InputError(f"cannot read the {fmt} file: {text}", file=str(path), record=record) from None


def table_files(directory: Path, fmt: str) -> dict[str, Path]:
    return {name: directory / f"{name}.{fmt}" for name in TABLES}


def read_book_tables(directory: Path, fmt: str) -> tuple[BookColumns, Callable[[InputError], InputError]]:
    """Read a bundle into BookColumns, plus a function that adds the right file to a build error."""
    paths = table_files(directory, fmt)
    for name in ("instruments", "positions", "collateral"):
        if not paths[name].is_file():
            raise InputError(f"the book directory has no {paths[name].name}", file=str(directory),
                             hint=f"a {fmt} book needs instruments.{fmt}, positions.{fmt}, collateral.{fmt}")
    ins = _read(paths["instruments"], "instruments", fmt)
    pos = _read(paths["positions"], "positions", fmt)
    col = _read(paths["collateral"], "collateral", fmt)
    acc = _read(paths["accounts"], "accounts", fmt) if paths["accounts"].is_file() else None

    underlying = ins.text("underlying", required=True)
    settlement = ins.text("settlement")
    settlement = np.where(settlement == "", "linear", settlement)
    settlement_asset = ins.text("settlement_asset")
    default_asset = np.where(settlement == "inverse", underlying, "USDC")
    instruments = InstrumentColumns(
        ids=ins.text("id", required=True), type=ins.text("type", required=True), underlying=underlying,
        settlement=settlement,
        settlement_asset=np.where(settlement_asset == "", default_asset, settlement_asset),
        expiry_s=ins.time("expiry"), strike=ins.number("strike", positive=True), right=ins.text("right"),
    )
    check_terms(instruments, lambda k: _row(k), file=ins.file)
    positions = PositionColumns(
        account=pos.text("account", required=True), instrument=pos.text("instrument", required=True),
        quantity=pos.number("quantity", required=True), entry_price=pos.number("entry_price", positive=True),
    )
    collateral = CollateralColumns(
        account=col.text("account", required=True), asset=col.text("asset", required=True),
        quantity=col.number("quantity", required=True),
    )
    if acc is not None:
        account_ids, models = acc.text("id", required=True), acc.text("margin_model")
    else:
        account_ids = np.unique(np.concatenate([positions.account, collateral.account])).astype(str)
        models = np.full(account_ids.shape[0], "", dtype=str)
    if account_ids.shape[0] == 0:
        raise InputError("the book has no accounts", file=str(acc.path if acc else directory),
                         hint="add rows to positions/collateral (or list accounts in accounts.csv)")
    files = {"instruments": ins.file, "positions": pos.file, "collateral": col.file,
             "accounts": acc.file if acc else str(directory)}

    def locate(err: InputError) -> InputError:
        kind = next((k for k in files if err.record is not None and err.record.startswith(k + ":")), None)
        message = tidy_message(err.message)
        if kind is None:
            return InputError(message, file=err.file or str(directory), record=err.record, field=err.field,
                              hint=err.hint)
        for tag in files:
            message = message.replace(f"{tag}:row ", "row ")
        return InputError(message, file=files[kind], record=err.record.split(":", 1)[1],
                          field=err.field, hint=err.hint)

    columns = BookColumns(instruments=instruments, positions=positions, collateral=collateral,
                          account_ids=account_ids, account_models=models)
    return columns, locate


def describers() -> dict[str, Callable[[int], str]]:
    """``describe_*`` arguments for ``book_from_arrays`` that tag each record with its table
    (``"positions:row 3"``); the ``locate`` function of :func:`read_book_tables` turns the tag into a file."""

    def tagged(table: str) -> Callable[[int], str]:
        return lambda k: f"{table}:{_row(k)}"

    return {
        "describe_instrument": tagged("instruments"),
        "describe_position": tagged("positions"),
        "describe_collateral": tagged("collateral"),
        "describe_account": tagged("accounts"),
    }


_NUMPY_REPR = re.compile(r"np\.(?:str_|float64|int64)\(([^()]*)\)")


def tidy_message(message: str) -> str:
    """Drop numpy scalar reprs from a core message (``np.str_('a1')`` → ``'a1'``; numpy ≥ 2 prints them)."""
    return _NUMPY_REPR.sub(r"\1", message)


def check_terms(cols: InstrumentColumns, describe: Callable[[int], str], *, file: str) -> None:
    """Refuse terms that do not belong to the instrument type (they would be silently ignored)."""
    has_expiry = np.isfinite(cols.expiry_s)
    undated = (cols.type == "spot") | (cols.type == "perpetual")
    non_option = np.isin(cols.type, ["spot", "future", "perpetual"])
    for bad, field, message in (
        (undated & has_expiry, "expiry", "spot and perpetual instruments have no expiry"),
        (non_option & np.isfinite(cols.strike), "strike", "only options have a strike"),
        (non_option & (cols.right != ""), "right", "only options have a right"),
    ):
        if bad.any():
            k = _first(bad)
            raise InputError(f"{message} (type {cols.type[k]})", file=file, record=describe(k), field=field,
                             hint=f"remove {field} or change the type")


def format_utc(seconds: np.ndarray) -> np.ndarray:
    """POSIX seconds → ISO-8601 strings with ``Z`` ("" for NaN); formats each distinct value once."""
    out = np.full(seconds.shape[0], "", dtype=object)
    finite = np.isfinite(seconds)
    uniq, inverse = np.unique(seconds[finite], return_inverse=True)
    text = [datetime.fromtimestamp(float(s), tz=UTC).isoformat().replace("+00:00", "Z") for s in uniq]
    out[finite] = np.asarray(text, dtype=object)[inverse.reshape(-1)]
    return out.astype(str)


def _text(values: np.ndarray, *, optional: bool = False) -> pa.Array:
    values = np.asarray(values, dtype=str)
    return pa.array(values, type=pa.string(), mask=(values == "") if optional else None)


def _float(values: np.ndarray) -> pa.Array:
    values = np.asarray(values, dtype=np.float64)
    return pa.array(values, type=pa.float64(), mask=np.isnan(values))


def arrow_tables(columns: BookColumns, fmt: str) -> dict[str, pa.Table]:
    """The bundle's tables; expiry as ISO text for CSV and as ``timestamp[us, UTC]`` for Parquet."""
    i, p, c = columns.instruments, columns.positions, columns.collateral
    expiry_s = np.asarray(i.expiry_s, dtype=np.float64)
    if fmt == "csv":
        expiry = _text(format_utc(expiry_s), optional=True)
    else:
        micros = np.round(np.nan_to_num(expiry_s, nan=0.0) * 1e6).astype(np.int64)
        expiry = pa.array(micros, type=pa.int64(), mask=np.isnan(expiry_s)).cast(pa.timestamp("us", tz="UTC"))
    return {
        "instruments": pa.table({
            "id": _text(i.ids), "type": _text(i.type), "underlying": _text(i.underlying),
            "settlement": _text(i.settlement), "settlement_asset": _text(i.settlement_asset),
            "expiry": expiry, "strike": _float(i.strike), "right": _text(i.right, optional=True),
        }),
        "positions": pa.table({
            "account": _text(p.account), "instrument": _text(p.instrument),
            "quantity": _float(p.quantity), "entry_price": _float(p.entry_price),
        }),
        "collateral": pa.table({"account": _text(c.account), "asset": _text(c.asset),
                                "quantity": _float(c.quantity)}),
        "accounts": pa.table({"id": _text(columns.account_ids),
                              "margin_model": _text(columns.account_models, optional=True)}),
    }


def table_writers(columns: BookColumns, directory: Path, fmt: str) -> dict[Path, Callable[[Path], None]]:
    """``{target: writer(temporary path)}`` for :func:`ccm.io.files.write_atomic`."""
    paths = table_files(directory, fmt)

    def writer(table: pa.Table) -> Callable[[Path], None]:
        if fmt == "csv":
            return lambda tmp: pacsv.write_csv(table, tmp)
        return lambda tmp: pq.write_table(table, tmp)

    return {paths[name]: writer(table) for name, table in arrow_tables(columns, fmt).items()}

"""Read price histories (CSV) into timestamps × assets arrays for historical simulation and Monte Carlo.

Two inputs:

* one **wide** CSV: a time column (``timestamp``, ``date``, ``datetime``, ``time``, ``open_time`` or
  ``snapped_at``; else the first column) and one price column per asset: ``timestamp,BTC,ETH,…``;
* **per-asset files** given as ``ASSET=FILE``, each in one of these layouts (recognised by its header,
  case-insensitively; extra columns are ignored):

  - Yahoo ``Date,Close,High,Low,Open,Volume`` → ``Close``;
  - Binance / Bitstamp ``timestamp,open,high,low,close,volume`` (daily or intraday) → ``close``;
  - mathaszip ``timestamp,open,close,volume,unix_timestamp,high,low`` → ``close``;
  - CoinGecko ``snapped_at,price,market_cap,total_volume`` → ``price``.

  Files are joined on their timestamps as written: a CoinGecko snapshot at 00:00 UTC is (nearly) the *previous*
  day's close, whereas a Yahoo or Binance daily row is labelled by the day it closes; mixing them shifts one
  asset by a day.

Timestamps: ISO dates or date-times (``2024-08-05``, ``2024-08-05 00:00:00``, ``…+00:00``, ``…Z``, ``… UTC``;
offsets are converted to UTC, naive times are UTC) or POSIX seconds / milliseconds. Per-asset files are aligned
on their common timestamps (inner join) and sorted. A missing, non-numeric, NaN, infinite or non-positive price,
an unreadable or duplicate timestamp raises :class:`InputError` naming the file, the row (line number, the
header is line 1) and the column, unless ``drop_bad=True``, which drops such rows instead.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ccm._typing import FloatArray
from ccm.errors import InputError
from ccm.io.files import require_file

TIME_COLUMNS = ("timestamp", "date", "datetime", "time", "open_time", "snapped_at")
PRICE_COLUMNS = ("close", "price")


class PriceHistory(NamedTuple):
    """Prices on common timestamps.

    timestamps : ndarray of datetime64[s], shape (n_times,), strictly increasing (UTC).
    assets : tuple of the n_assets names.
    prices : ndarray of shape (n_times, n_assets), all finite and > 0.
    """

    timestamps: np.ndarray
    assets: tuple[str, ...]
    prices: FloatArray

    @property
    def posix_seconds(self) -> np.ndarray:
        """The timestamps as int64 POSIX seconds."""
        return self.timestamps.astype("int64")


def parse_timestamp(text: str) -> int:
    """POSIX seconds of an ISO date/date-time (UTC unless an offset is given) or of POSIX s/ms digits.

    Raises ValueError when ``text`` is none of these.
    """
    s = text.strip()
    if not s:
        raise ValueError("empty")
    try:
        number = float(s)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number):
            raise ValueError("not finite")
        return int(number // 1000) if abs(number) >= 1e11 else int(number)
    if s.endswith(" UTC"):
        s = s[:-4]
    moment = datetime.fromisoformat(s)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    require_file(path, what="price history")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"cannot read the CSV: {err}", file=str(path)) from None
    if not header:
        raise InputError("the file is empty (no header)", file=str(path))
    return [h.strip() for h in header], rows


def _find(header: Sequence[str], names: Sequence[str]) -> int | None:
    lowered = [h.lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def _parse_table(path: Path, header: list[str], rows: list[tuple[int, list[str]]], time_col: int,
                 columns: Sequence[int], *, drop_bad: bool) -> tuple[np.ndarray, FloatArray]:
    """Timestamps (int64 seconds, sorted) and prices (n, len(columns)) from parsed rows."""
    file = str(path)
    times: list[int] = []
    values: list[list[float]] = []
    width = max([time_col, *columns]) + 1
    for line, row in rows:
        if len(row) < width:
            if drop_bad:
                continue
            missing = header[len(row)] if len(row) < len(header) else f"column {len(row) + 1}"
            raise InputError(f"row has {len(row)} fields, expected {len(header)}", file=file, record=f"row {line}",
                             field=missing)
        try:
            stamp = parse_timestamp(row[time_col])
        except (ValueError, OverflowError):
            if drop_bad:
                continue
            raise InputError(f"unreadable timestamp {row[time_col]!r}", file=file, record=f"row {line}",
                             field=header[time_col], hint="use ISO dates (2024-08-05) or POSIX seconds") from None
        prices: list[float] = []
        for c in columns:
            cell = row[c].strip()
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and value > 0):
                if drop_bad:
                    break
                raise InputError(f"price {cell!r} is not a finite number > 0", file=file, record=f"row {line}",
                                 field=header[c], hint="fix or remove the row, or drop bad rows")
            prices.append(value)
        else:
            times.append(stamp)
            values.append(prices)
    if not times:
        raise InputError("no usable price rows", file=file)
    stamps = np.asarray(times, dtype=np.int64)
    table = np.asarray(values, dtype=float).reshape(len(times), len(columns))
    order = np.argsort(stamps, kind="stable")
    stamps, table = stamps[order], table[order]
    duplicate = np.flatnonzero(np.diff(stamps) == 0)
    if duplicate.size:
        moment = np.datetime64(int(stamps[duplicate[0]]), "s")
        raise InputError(f"timestamp {moment} appears more than once", file=file, field=header[time_col],
                         hint="one row per timestamp")
    return stamps, table


def read_wide_prices(path: str | Path, *, drop_bad: bool = False) -> PriceHistory:
    """A wide CSV ``timestamp,BTC,ETH,…`` (one price column per asset)."""
    path = Path(path)
    header, rows = _read_rows(path)
    time_col = _find(header, TIME_COLUMNS)
    time_col = 0 if time_col is None else time_col
    columns = [c for c in range(len(header)) if c != time_col]
    if not columns:
        raise InputError("no asset columns next to the time column", file=str(path), record="header",
                         hint="write timestamp,BTC,ETH,… or pass ASSET=FILE pairs")
    names = [header[c] for c in columns]
    if len(set(names)) != len(names) or not all(names):
        raise InputError(f"asset column names must be distinct and non-empty: {names}", file=str(path),
                         record="header")
    stamps, table = _parse_table(path, header, rows, time_col, columns, drop_bad=drop_bad)
    return PriceHistory(stamps.astype("datetime64[s]"), tuple(names), table)


def read_asset_file(path: str | Path, *, drop_bad: bool = False) -> tuple[np.ndarray, FloatArray]:
    """One asset's file in any supported layout: (POSIX seconds, shape (n,); prices, shape (n,))."""
    path = Path(path)
    header, rows = _read_rows(path)
    time_col, price_col = _find(header, TIME_COLUMNS), _find(header, PRICE_COLUMNS)
    if time_col is None or price_col is None:
        raise InputError(f"unrecognised price file layout {header}", file=str(path), record="header",
                         hint="need a time column (timestamp, Date, snapped_at, …) and a close or price column")
    stamps, table = _parse_table(path, header, rows, time_col, [price_col], drop_bad=drop_bad)
    return stamps, table[:, 0]


def read_asset_files(files: Mapping[str, str | Path], *, drop_bad: bool = False) -> PriceHistory:
    """Per-asset files ``{asset: path}`` joined on their common timestamps (inner join, sorted)."""
    if not files:
        raise InputError("no price files given", record="prices")
    series = {asset: read_asset_file(path, drop_bad=drop_bad) for asset, path in files.items()}
    common = None
    for stamps, _ in series.values():
        common = stamps if common is None else np.intersect1d(common, stamps, assume_unique=True)
    assert common is not None
    if common.size == 0:
        raise InputError(f"the price files {', '.join(str(p) for p in files.values())} share no timestamp",
                         record="prices", hint="use files of the same frequency and overlapping dates")
    columns = [prices[np.searchsorted(stamps, common)] for stamps, prices in series.values()]
    return PriceHistory(common.astype("datetime64[s]"), tuple(series), np.column_stack(columns))


def read_prices(specs: str | Path | Sequence[str | Path], *, drop_bad: bool = False) -> PriceHistory:
    """Read a price history from command-line style specs.

    ``specs`` is one wide CSV path, or ``ASSET=FILE`` pairs (one string or a sequence), e.g.
    ``["BTC=BTC-USD_1d.csv", "ETH=ETH-USD_1d.csv"]``.
    """
    items = [specs] if isinstance(specs, str | Path) else list(specs)
    if not items:
        raise InputError("no price files given", record="prices")
    pairs = [str(item) for item in items if "=" in str(item) and not Path(str(item)).exists()]
    if not pairs:
        if len(items) != 1:
            raise InputError("give one wide CSV or ASSET=FILE pairs", record="prices",
                             hint="e.g. BTC=btc.csv ETH=eth.csv")
        return read_wide_prices(items[0], drop_bad=drop_bad)
    if len(pairs) != len(items):
        raise InputError("mix of ASSET=FILE pairs and plain files", record="prices",
                         hint="give one wide CSV or only ASSET=FILE pairs")
    files: dict[str, str] = {}
    for pair in pairs:
        asset, _, path = pair.partition("=")
        asset = asset.strip()
        if not asset or not path:
            raise InputError(f"malformed pair {pair!r}", record="prices", hint="write ASSET=FILE")
        if asset in files:
            raise InputError(f"asset {asset!r} given twice", record="prices", field=asset)
        files[asset] = path
    return read_asset_files(files, drop_bad=drop_bad)

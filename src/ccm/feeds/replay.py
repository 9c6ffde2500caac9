"""ReplayFeed: a recorded price history played back row by row, as fast as possible or at a speed factor.

Sources: a :class:`~ccm.io.prices.PriceHistory`, or a file through :meth:`ReplayFeed.from_path`: CSV (wide or
``ASSET=FILE`` pairs, read by :func:`ccm.io.prices.read_prices`) or a wide Parquet table (a time column named
``timestamp``/``date``/… or else the first column, one price column per asset), read by :func:`read_parquet_prices`.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ccm.errors import InputError
from ccm.feeds.base import AsyncioClock, Clock, MarketUpdate
from ccm.io.files import require_file
from ccm.io.prices import TIME_COLUMNS, PriceHistory, parse_timestamp, read_prices

PARQUET_SUFFIXES = (".parquet", ".pq")
Moment = datetime | np.datetime64 | str


def _to_seconds(moment: Moment, what: str) -> int:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp())
    if isinstance(moment, np.datetime64):
        return int(moment.astype("datetime64[s]").astype("int64"))
    try:
        return parse_timestamp(str(moment))
    except (ValueError, OverflowError):
        raise InputError(f"unreadable time {moment!r}", record="replay", field=what,
                         hint="use an ISO date such as 2021-05-01") from None


def read_parquet_prices(path: str | Path, *, drop_bad: bool = False) -> PriceHistory:
    """A wide Parquet price table → PriceHistory (same rules as the wide CSV reader).

    The time column may be a timestamp type (time zones converted to UTC), integer POSIX seconds/milliseconds,
    or text (ISO dates). A non-numeric, missing, non-finite or non-positive price or a bad/duplicate timestamp
    raises InputError naming the file, the row (1-based data row) and the column, unless ``drop_bad``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    file = str(path)
    require_file(path, what="price history")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"cannot read the Parquet file: {err}", file=file) from None
    names = list(table.column_names)
    lowered = [n.lower() for n in names]
    time_col = next((lowered.index(t) for t in TIME_COLUMNS if t in lowered), 0) if names else None
    if time_col is None or len(names) < 2:
        raise InputError("need a time column and at least one asset column", file=file, record="schema",
                         hint="write timestamp,BTC,ETH,…")
    assets = [n for i, n in enumerate(names) if i != time_col]
    if len(set(assets)) != len(assets) or not all(assets):
        raise InputError(f"asset column names must be distinct and non-empty: {assets}", file=file, record="schema")

    column = table.column(time_col)
    stamps: list[int | None] = []
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        seconds = column.cast(pa.timestamp("s", tz="UTC") if pa.types.is_timestamp(column.type) else pa.date64())
        for value in seconds.to_pylist():
            if value is None:
                stamps.append(None)
            else:
                if not isinstance(value, datetime):  # date
                    value = datetime(value.year, value.month, value.day, tzinfo=UTC)
                elif value.tzinfo is None:
                    value = value.replace(tzinfo=UTC)
                stamps.append(int(value.timestamp()))
    else:
        for value in column.to_pylist():
            try:
                stamps.append(None if value is None else parse_timestamp(str(value)))
            except (ValueError, OverflowError):
                stamps.append(None)

    columns = []
    for name in assets:
        col = table.column(name)
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_decimal(col.type)):
            raise InputError(f"price column has type {col.type}, expected numbers", file=file, record="schema",
                             field=name)
        columns.append(np.array([math.nan if v is None else float(v) for v in col.to_pylist()], dtype=float))
    prices = np.column_stack(columns) if columns else np.zeros((0, 0))

    keep = []
    for row, stamp in enumerate(stamps):
        if stamp is None:
            if drop_bad:
                continue
            raise InputError(f"unreadable timestamp {column[row].as_py()!r}", file=file, record=f"row {row + 1}",
                             field=names[time_col], hint="use a timestamp type, ISO dates or POSIX seconds")
        bad = np.flatnonzero(~(np.isfinite(prices[row]) & (prices[row] > 0)))
        if bad.size:
            if drop_bad:
                continue
            raise InputError(f"price {prices[row, bad[0]]!r} is not a finite number > 0", file=file,
                             record=f"row {row + 1}", field=assets[bad[0]],
                             hint="fix or remove the row, or drop bad rows")
        keep.append(row)
    if not keep:
        raise InputError("no usable price rows", file=file)
    times = np.array([stamps[r] for r in keep], dtype=np.int64)
    prices = prices[keep]
    order = np.argsort(times, kind="stable")
    times, prices = times[order], prices[order]
    duplicate = np.flatnonzero(np.diff(times) == 0)
    if duplicate.size:
        raise InputError(f"timestamp {np.datetime64(int(times[duplicate[0]]), 's')} appears more than once",
                         file=file, field=names[time_col], hint="one row per timestamp")
    return PriceHistory(times.astype("datetime64[s]"), tuple(assets), prices)


class ReplayFeed:
    """Play a price history back: one :class:`MarketUpdate` per row (all assets), in time order.

    Parameters
    ----------
    history : the prices; rows must be in increasing time (as the readers return them).
    speed : 0 = as fast as possible; s > 0 = s × real time (a 1-hour gap waits 3600/s seconds). The schedule is
        kept against the clock from the first row, so processing time does not accumulate as drift.
    start, end : inclusive time window (datetime, numpy datetime64 or ISO text); ``None`` = unbounded.
    clock : the sleep/monotonic source (inject :class:`~ccm.feeds.base.VirtualClock` in tests).
    """

    def __init__(self, history: PriceHistory, *, speed: float = 0.0, start: Moment | None = None,
                 end: Moment | None = None, clock: Clock | None = None) -> None:
        if not (math.isfinite(speed) and speed >= 0):
            raise InputError("speed must be 0 (as fast as possible) or a factor > 0", record="replay", field="speed")
        seconds = np.asarray(history.timestamps).astype("datetime64[s]").astype("int64")
        if seconds.size > 1 and np.any(np.diff(seconds) <= 0):
            raise InputError("timestamps must be strictly increasing", record="replay", field="timestamps")
        mask = np.ones(seconds.size, dtype=bool)
        if start is not None:
            mask &= seconds >= _to_seconds(start, "start")
        if end is not None:
            mask &= seconds <= _to_seconds(end, "end")
        self.assets = tuple(history.assets)
        self._seconds = seconds[mask]
        self._prices = np.asarray(history.prices, dtype=float)[mask]
        self.speed = float(speed)
        self._clock = clock or AsyncioClock()
        self._closed = False

    def __len__(self) -> int:
        return int(self._seconds.size)

    @classmethod
    def from_path(cls, path: str | Path | Sequence[str | Path], *, drop_bad: bool = False, speed: float = 0.0,
                  start: Moment | None = None, end: Moment | None = None, clock: Clock | None = None) -> ReplayFeed:
        """From a wide CSV, ``ASSET=FILE`` pairs (see :func:`ccm.io.prices.read_prices`) or a wide Parquet file."""
        if isinstance(path, str | Path) and Path(path).suffix.lower() in PARQUET_SUFFIXES:
            history = read_parquet_prices(path, drop_bad=drop_bad)
        else:
            history = read_prices(path, drop_bad=drop_bad)
        return cls(history, speed=speed, start=start, end=end, clock=clock)

    async def updates(self) -> AsyncIterator[MarketUpdate]:
        t0 = self._clock.monotonic()
        for k in range(self._seconds.size):
            if self._closed:
                return
            if self.speed > 0 and k:
                due = t0 + float(self._seconds[k] - self._seconds[0]) / self.speed
                wait = due - self._clock.monotonic()
                if wait > 0:
                    await self._clock.sleep(wait)
                if self._closed:
                    return
            at = datetime.fromtimestamp(int(self._seconds[k]), tz=UTC)
            yield MarketUpdate(at=at, index=dict(zip(self.assets, self._prices[k].tolist(), strict=True)))

    async def close(self) -> None:
        self._closed = True

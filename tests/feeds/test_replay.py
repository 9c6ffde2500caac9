"""ReplayFeed: order, window, speed factor on a virtual clock, CSV and Parquet sources."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ccm.errors import InputError
from ccm.feeds import Feed, MarketUpdate, ReplayFeed, VirtualClock, read_parquet_prices
from ccm.io.prices import PriceHistory

STAMPS = np.array(["2022-11-08T00:00", "2022-11-08T01:00", "2022-11-08T03:00", "2022-11-09T00:00"],
                  dtype="datetime64[s]")
PRICES = np.array([[20_000.0, 1_500.0], [19_000.0, 1_400.0], [18_000.0, 1_300.0], [16_000.0, 1_100.0]])
HISTORY = PriceHistory(STAMPS, ("BTC", "ETH"), PRICES)


def collect(feed: ReplayFeed) -> list[MarketUpdate]:
    async def run() -> list[MarketUpdate]:
        return [u async for u in feed.updates()]

    return asyncio.run(run())


def test_rows_in_order_as_fast_as_possible():
    clock = VirtualClock()
    feed = ReplayFeed(HISTORY, clock=clock)
    assert isinstance(feed, Feed)
    updates = collect(feed)
    assert [u.at for u in updates] == [datetime(2022, 11, 8, h, tzinfo=UTC) for h in (0, 1, 3)] + [
        datetime(2022, 11, 9, tzinfo=UTC)]
    assert [u.index for u in updates] == [{"BTC": b, "ETH": e} for b, e in PRICES.tolist()]
    assert clock.sleeps == []


def test_speed_factor_scales_the_gaps():
    clock = VirtualClock()
    collect(ReplayFeed(HISTORY, speed=3600.0, clock=clock))  # one hour of history per second
    assert clock.sleeps == pytest.approx([1.0, 2.0, 21.0])
    assert clock.now == pytest.approx(24.0)


def test_speed_schedule_does_not_drift():
    class SlowClock(VirtualClock):
        async def sleep(self, seconds: float) -> None:  # each sleep overshoots by 0.5 s
            await super().sleep(seconds)
            self.now += 0.5

    clock = SlowClock()
    collect(ReplayFeed(HISTORY, speed=3600.0, clock=clock))
    assert clock.sleeps == pytest.approx([1.0, 1.5, 20.5])


def test_window_is_inclusive():
    feed = ReplayFeed(HISTORY, start="2022-11-08T01:00:00", end=datetime(2022, 11, 8, 3, tzinfo=UTC))
    assert [u.index["BTC"] for u in collect(feed)] == [19_000.0, 18_000.0]


def test_close_stops_the_replay():
    feed = ReplayFeed(HISTORY)

    async def run() -> int:
        n = 0
        async for _ in feed.updates():
            n += 1
            await feed.close()
        return n

    assert asyncio.run(run()) == 1


def test_from_csv(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("timestamp,BTC,ETH\n2022-11-08,20000,1500\n2022-11-09,16000,1100\n")
    updates = collect(ReplayFeed.from_path(path))
    assert [u.index for u in updates] == [{"BTC": 20000.0, "ETH": 1500.0}, {"BTC": 16000.0, "ETH": 1100.0}]


def test_from_parquet_with_timestamp_column(tmp_path):
    path = tmp_path / "prices.parquet"
    times = pa.array(STAMPS.astype("datetime64[ms]"), type=pa.timestamp("ms", tz="UTC"))
    # unsorted on purpose: the reader sorts
    table = pa.table({"BTC": PRICES[::-1, 0], "timestamp": times[::-1], "ETH": PRICES[::-1, 1]})
    pq.write_table(table, path)
    updates = collect(ReplayFeed.from_path(path))
    assert [u.at for u in updates] == [datetime.fromtimestamp(int(s), UTC) for s in STAMPS.astype("int64")]
    assert [u.index for u in updates] == [{"BTC": b, "ETH": e} for b, e in PRICES.tolist()]


def test_parquet_with_text_dates_and_bad_price(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"date": ["2021-05-18", "2021-05-19", "2021-05-20"],
                             "BTC": [43_000.0, -1.0, 40_000.0]}), path)
    with pytest.raises(InputError) as err:
        read_parquet_prices(path)
    assert err.value.record == "row 2" and err.value.field == "BTC" and err.value.file == str(path)
    history = read_parquet_prices(path, drop_bad=True)
    assert history.assets == ("BTC",) and history.prices[:, 0].tolist() == [43_000.0, 40_000.0]


def test_bad_speed():
    with pytest.raises(InputError):
        ReplayFeed(HISTORY, speed=-1.0)


def test_parquet_with_posix_milliseconds(tmp_path):
    path = tmp_path / "ms.parquet"
    pq.write_table(pa.table({"open_time": [1_700_003_600_000, 1_700_000_000_000], "BTC": [2.0, 1.0]}), path)
    history = read_parquet_prices(path)
    assert history.posix_seconds.tolist() == [1_700_000_000, 1_700_003_600]
    assert history.prices[:, 0].tolist() == [1.0, 2.0]

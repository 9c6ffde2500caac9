"""DeribitFeed against a local WebSocket server that speaks Deribit's JSON-RPC message format (no internet)."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime

import numpy as np
import pytest
from websockets.asyncio.server import serve

from ccm.errors import InputError
from ccm.feeds import DeribitFeed, Feed, MarketUpdate, parse_notification

OPTION = "BTC-27DEC24-60000-C"


def note(channel: str, data: dict) -> str:
    return json.dumps({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}})


class FakeDeribit:
    """First connection: ack subscribe and heartbeat, send index, ticker, a malformed and a non-JSON frame,
    a heartbeat test_request (waits for the public/test answer), then drops the connection. Second connection:
    ack, one index notification, drop. Third: ack, one index notification, idle until the client leaves."""

    def __init__(self) -> None:
        self.requests: list[list[dict]] = []
        self.heartbeat_answered = asyncio.Event()

    async def handler(self, ws) -> None:
        received: list[dict] = []
        self.requests.append(received)
        connection = len(self.requests)

        async def recv() -> dict:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            received.append(message)
            return message

        sub = await recv()
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": sub["id"], "result": sub["params"]["channels"]}))
        hb = await recv()
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": hb["id"], "result": "ok"}))
        if connection == 1:
            await ws.send(note("deribit_price_index.btc_usd",
                               {"timestamp": 1_700_000_000_000, "price": 37_000.5, "index_name": "btc_usd"}))
            await ws.send(note(f"ticker.{OPTION}.100ms", {
                "timestamp": 1_700_000_000_100, "instrument_name": OPTION, "mark_price": 0.0123,
                "index_price": 37_000.5, "mark_iv": 55.0}))
            await ws.send(note("deribit_price_index.eth_usd", {"timestamp": 1_700_000_000_200, "price": "n/a"}))
            await ws.send("this is not json {")
            await ws.send(json.dumps({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}))
            answer = await recv()
            if answer.get("method") == "public/test":
                self.heartbeat_answered.set()
            await ws.close()
        else:
            await ws.send(note("deribit_price_index.eth_usd",
                               {"timestamp": 1_700_000_001_000 + connection, "price": 2_000.0 + connection,
                                "index_name": "eth_usd"}))
            if connection == 2:
                await ws.close()  # a second drop, without any bad message
            else:
                await ws.wait_closed()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_subscribes_maps_survives_bad_messages_and_reconnects():
    async def run() -> tuple[list[MarketUpdate], DeribitFeed, FakeDeribit]:
        fake = FakeDeribit()
        async with serve(fake.handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            feed = DeribitFeed(f"ws://127.0.0.1:{port}", currencies=("btc", "eth"), instruments=(OPTION,),
                               backoff_base_s=0.01, backoff_jitter=0.0, heartbeat_s=10)
            assert isinstance(feed, Feed)
            got: list[MarketUpdate] = []

            async def consume() -> None:
                async for update in feed.updates():
                    got.append(update)
                    if len(got) == 4:
                        await feed.close()

            await asyncio.wait_for(consume(), 10)
        return got, feed, fake

    got, feed, fake = asyncio.run(run())
    assert got[0] == MarketUpdate(at=datetime.fromtimestamp(1_700_000_000, UTC), index={"BTC": 37_000.5})
    assert got[1].marks == {OPTION: 0.0123} and got[1].vols == {OPTION: pytest.approx(0.55)} and not got[1].index
    # after the drop: reconnected, resubscribed, delivering again (one notification per connection)
    assert [u.index for u in got[2:]] == [{"ETH": 2_002.0}, {"ETH": 2_003.0}]
    assert len(fake.requests) == 3
    for received in fake.requests:
        assert received[0]["jsonrpc"] == "2.0" and received[0]["method"] == "public/subscribe"
        assert received[0]["params"]["channels"] == ["deribit_price_index.btc_usd", "deribit_price_index.eth_usd",
                                                     f"ticker.{OPTION}.100ms"]
        assert received[1]["method"] == "public/set_heartbeat" and received[1]["params"] == {"interval": 10}
    assert fake.heartbeat_answered.is_set()
    stats = feed.stats
    assert (stats.malformed, stats.non_json, stats.heartbeats, stats.updates) == (1, 1, 1, 4)
    assert stats.reconnects == 2 and stats.connects == 3


def test_backoff_grows_while_the_server_refuses():
    port = free_port()  # nothing listens there: every attempt is refused
    delays: list[float] = []

    async def run() -> DeribitFeed:
        feed = DeribitFeed(f"ws://127.0.0.1:{port}", backoff_base_s=0.5, backoff_max_s=4.0, backoff_jitter=0.0,
                           heartbeat_s=None, sleep=None)

        async def fake_sleep(seconds: float) -> None:
            delays.append(seconds)
            if len(delays) == 6:
                await feed.close()

        feed._sleep = fake_sleep
        updates = [u async for u in feed.updates()]
        assert updates == []
        return feed

    feed = asyncio.run(asyncio.wait_for(run(), 10))
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert feed.stats.connect_failures == 6 and feed.stats.connects == 0


def test_jitter_shrinks_within_bounds_and_is_seeded():
    def delays(seed: int) -> list[float]:
        feed = DeribitFeed(backoff_base_s=1.0, backoff_max_s=8.0, backoff_jitter=0.5, rng=np.random.default_rng(seed))
        return [feed.backoff(k) for k in range(6)]

    caps = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    first = delays(1)
    assert all(c * 0.5 <= d <= c for d, c in zip(first, caps, strict=True))
    assert first == delays(1) and first != delays(2)


def test_max_attempts_gives_up_with_real_small_delays():
    port = free_port()

    async def run() -> DeribitFeed:
        feed = DeribitFeed(f"ws://127.0.0.1:{port}", backoff_base_s=0.01, backoff_max_s=0.02, backoff_jitter=0.0,
                           max_attempts=3, heartbeat_s=None)
        assert [u async for u in feed.updates()] == []
        return feed

    feed = asyncio.run(asyncio.wait_for(run(), 10))
    assert feed.stats.connect_failures == 3 and feed.stats.reconnects == 2


def test_parse_notification_rejects_bad_data():
    ok = parse_notification("deribit_price_index.eth_usd", {"timestamp": 0, "price": 2000})
    assert ok.index == {"ETH": 2000.0} and ok.at == datetime(1970, 1, 1, tzinfo=UTC)
    perp = parse_notification("ticker.BTC-PERPETUAL.100ms",
                              {"timestamp": 1, "instrument_name": "BTC-PERPETUAL", "mark_price": 37_001.0})
    assert perp.marks == {"BTC-PERPETUAL": 37_001.0} and perp.vols == {}
    for channel, data in [
        ("deribit_price_index.btc_usd", {"timestamp": 1, "price": -5}),
        ("deribit_price_index.btc_usd", {"price": 5}),
        ("deribit_price_index.btc_usd", [1, 2]),
        ("ticker.X.100ms", {"timestamp": 1, "mark_price": 1.0}),
        ("ticker.X.100ms", {"timestamp": 1, "instrument_name": "X", "mark_price": float("nan")}),
        ("book.BTC-PERPETUAL.100ms", {"timestamp": 1}),
    ]:
        with pytest.raises(ValueError):
            parse_notification(channel, data)


def test_nothing_to_subscribe_is_an_input_error():
    with pytest.raises(InputError):
        DeribitFeed(currencies=(), instruments=())


def test_close_interrupts_the_backoff_wait():
    port = free_port()

    async def run() -> float:
        feed = DeribitFeed(f"ws://127.0.0.1:{port}", backoff_base_s=60.0, backoff_max_s=60.0, heartbeat_s=None)
        loop = asyncio.get_running_loop()
        t0 = loop.time()

        async def stop() -> None:
            while feed.stats.connect_failures == 0:
                await asyncio.sleep(0.01)
            await feed.close()

        stopper = asyncio.create_task(stop())
        assert [u async for u in feed.updates()] == []
        await stopper
        return loop.time() - t0

    assert asyncio.run(asyncio.wait_for(run(), 10)) < 5.0

"""DeribitFeed: Deribit's public JSON-RPC 2.0 WebSocket API → MarketUpdates.

Subscribes to ``deribit_price_index.<cur>_usd`` (→ ``index[CUR]``) and ``ticker.<instrument>.100ms``
(``mark_price`` → ``marks[instrument]``, ``mark_iv`` / 100 → ``vols[instrument]``), answers heartbeat
``test_request`` messages with ``public/test``, counts and logs malformed messages and carries on, and after
the connection drops (or cannot be opened) reconnects with exponential backoff and subscribes again.

Backoff after k consecutive failed attempts (a connection that delivered data resets k; a drop after data waits
like k = 1): ``min(max_s, base_s · 2^(k−1))``, shrunk by
a random fraction up to ``jitter`` drawn from ``rng`` (so retries of many clients spread out and never exceed
``max_s``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ccm.errors import InputError
from ccm.feeds.base import MarketUpdate

try:  # websockets ≥ 13
    from websockets.asyncio.client import connect as _connect
except ImportError:  # pragma: no cover - websockets 12
    from websockets import connect as _connect  # type: ignore[no-redef]

log = logging.getLogger(__name__)

DERIBIT_URL = "wss://www.deribit.com/ws/api/v2"
INDEX_PREFIX = "deribit_price_index."
TICKER_PREFIX = "ticker."


@dataclass(slots=True)
class FeedStats:
    """Counters of a live feed (mutable, read them at any time)."""

    connects: int = 0
    connect_failures: int = 0
    reconnects: int = 0
    messages: int = 0
    updates: int = 0
    malformed: int = 0
    non_json: int = 0
    errors: int = 0
    heartbeats: int = 0


class _Malformed(ValueError):
    pass


def _number(data: dict[str, Any], key: str, *, positive: bool = True) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Malformed(f"{key} is {value!r}, expected a number")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0) or value < 0:
        raise _Malformed(f"{key} is {value!r}, expected a finite number {'> 0' if positive else '≥ 0'}")
    return value


def _timestamp(data: dict[str, Any]) -> datetime:
    ms = data.get("timestamp")
    if isinstance(ms, bool) or not isinstance(ms, int | float) or not math.isfinite(ms) or ms < 0:
        raise _Malformed(f"timestamp is {ms!r}, expected milliseconds")
    try:
        return datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    except (OverflowError, OSError, ValueError) as err:
        raise _Malformed(f"timestamp {ms!r}: {err}") from None


def parse_notification(channel: str, data: Any) -> MarketUpdate:
    """One ``subscription`` notification's channel and data → MarketUpdate (raises ValueError if malformed)."""
    if not isinstance(data, dict):
        raise _Malformed(f"data is {type(data).__name__}, expected an object")
    at = _timestamp(data)
    if channel.startswith(INDEX_PREFIX):
        name = channel[len(INDEX_PREFIX):]
        currency, _, quote = name.partition("_")
        if not currency or quote != "usd":
            raise _Malformed(f"index channel {channel!r} is not <currency>_usd")
        return MarketUpdate(at=at, index={currency.upper(): _number(data, "price")})
    if channel.startswith(TICKER_PREFIX):
        instrument = data.get("instrument_name")
        if not isinstance(instrument, str) or not instrument:
            raise _Malformed(f"instrument_name is {instrument!r}")
        marks = {instrument: _number(data, "mark_price")}
        vols = {}
        if data.get("mark_iv") is not None:
            vols[instrument] = _number(data, "mark_iv") / 100.0
        return MarketUpdate(at=at, marks=marks, vols=vols)
    raise _Malformed(f"unexpected channel {channel!r}")


class DeribitFeed:
    """Live index prices, marks and implied vols from Deribit (or any server speaking its message format).

    Parameters
    ----------
    url : WebSocket endpoint (``wss://test.deribit.com/ws/api/v2`` for the test venue).
    currencies : index currencies, e.g. ``("btc", "eth")`` → ``deribit_price_index.btc_usd`` …
    instruments : ticker instruments, e.g. ``("BTC-PERPETUAL", "BTC-27DEC24-60000-C")``.
    interval : ticker channel interval (``100ms``, ``agg2`` or ``raw`` for authorised clients).
    backoff_base_s, backoff_max_s, backoff_jitter : reconnect delays (see the module docstring); jitter in [0, 1].
    rng : numpy Generator for the jitter (default: seeded from OS entropy).
    heartbeat_s : ask the server for heartbeats every so many seconds (Deribit minimum 10); ``None`` = off.
    open_timeout_s : timeout for opening a connection.
    max_attempts : give up (``updates`` ends) after this many consecutive failed connections; ``None`` = never.
    sleep : async sleep used between attempts (inject a fake in tests); the default is interrupted by ``close``.
    """

    def __init__(
        self,
        url: str = DERIBIT_URL,
        *,
        currencies: Sequence[str] = ("btc", "eth"),
        instruments: Sequence[str] = (),
        interval: str = "100ms",
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        backoff_jitter: float = 0.2,
        rng: np.random.Generator | None = None,
        heartbeat_s: float | None = 30.0,
        open_timeout_s: float = 10.0,
        max_attempts: int | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        if not currencies and not instruments:
            raise InputError("nothing to subscribe to", record="deribit feed", field="currencies")
        if not (backoff_base_s > 0 and backoff_max_s >= backoff_base_s and 0 <= backoff_jitter <= 1):
            raise InputError("need 0 < backoff_base_s ≤ backoff_max_s and 0 ≤ backoff_jitter ≤ 1",
                             record="deribit feed", field="backoff")
        if heartbeat_s is not None and not heartbeat_s > 0:
            raise InputError("heartbeat_s must be > 0 or None", record="deribit feed", field="heartbeat_s")
        self.url = url
        self.channels = [f"{INDEX_PREFIX}{c.lower()}_usd" for c in currencies] + [
            f"{TICKER_PREFIX}{i}.{interval}" for i in instruments]
        self.backoff_base_s = float(backoff_base_s)
        self.backoff_max_s = float(backoff_max_s)
        self.backoff_jitter = float(backoff_jitter)
        self._rng = rng if rng is not None else np.random.default_rng()
        self.heartbeat_s = heartbeat_s
        self.open_timeout_s = open_timeout_s
        self.max_attempts = max_attempts
        self._sleep = sleep
        self.stats = FeedStats()
        self._closed = asyncio.Event()
        self._ws: Any = None
        self._next_id = 0

    def backoff(self, attempt: int) -> float:
        """Delay in seconds before reconnect attempt ``attempt`` (0-based), jitter included."""
        delay = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** min(attempt, 60))
        if self.backoff_jitter:
            delay *= 1.0 - self.backoff_jitter * float(self._rng.random())
        return delay

    def _request(self, method: str, params: dict[str, Any]) -> str:
        self._next_id += 1
        return json.dumps({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})

    async def _wait(self, seconds: float) -> None:
        if self._sleep is not None:
            await self._sleep(seconds)
            return
        try:
            await asyncio.wait_for(self._closed.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def _handle(self, ws: Any, raw: str | bytes) -> MarketUpdate | None:
        """One frame → an update, or None (replies, heartbeats, bad frames)."""
        self.stats.messages += 1
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            self.stats.non_json += 1
            log.warning("deribit feed: non-JSON frame ignored: %.80r", raw)
            return None
        try:
            if not isinstance(message, dict):
                raise _Malformed(f"message is {type(message).__name__}, expected an object")
            method = message.get("method")
            params = message.get("params")
            if method == "subscription":
                if not isinstance(params, dict) or not isinstance(params.get("channel"), str):
                    raise _Malformed("subscription without params.channel")
                update = parse_notification(params["channel"], params.get("data"))
                self.stats.updates += 1
                return update
            if method == "heartbeat":
                if isinstance(params, dict) and params.get("type") == "test_request":
                    await ws.send(self._request("public/test", {}))
                    self.stats.heartbeats += 1
                return None
            if "error" in message:
                self.stats.errors += 1
                log.warning("deribit feed: error reply %s", message["error"])
                return None
            if "result" in message:
                return None
            raise _Malformed(f"unexpected message {str(message)[:80]}")
        except _Malformed as err:
            self.stats.malformed += 1
            log.warning("deribit feed: malformed message ignored (%s)", err)
            return None

    async def updates(self) -> AsyncIterator[MarketUpdate]:
        failures = 0
        first = True
        while not self._closed.is_set():
            if not first:
                delay = self.backoff(max(0, failures - 1))
                log.info("deribit feed: reconnecting in %.2f s (after %d failed attempts)", delay, failures)
                await self._wait(delay)
                if self._closed.is_set():
                    return
                self.stats.reconnects += 1
            first = False
            delivered = False
            try:
                async with _connect(self.url, open_timeout=self.open_timeout_s) as ws:
                    self._ws = ws
                    self.stats.connects += 1
                    if self._closed.is_set():
                        return
                    await ws.send(self._request("public/subscribe", {"channels": self.channels}))
                    if self.heartbeat_s is not None:
                        await ws.send(self._request("public/set_heartbeat", {"interval": self.heartbeat_s}))
                    async for raw in ws:
                        update = await self._handle(ws, raw)
                        if update is not None:
                            delivered = True
                            failures = 0
                            yield update
                    log.warning("deribit feed: connection closed by the server")
            except ConnectionClosed as err:
                log.warning("deribit feed: connection lost (%s)", err)
            except InvalidURI:
                raise
            except (OSError, TimeoutError, InvalidHandshake) as err:
                self.stats.connect_failures += 1
                log.warning("deribit feed: cannot connect to %s (%s)", self.url, err)
            finally:
                self._ws = None
            if not delivered:
                failures += 1
                if self.max_attempts is not None and failures >= self.max_attempts:
                    log.error("deribit feed: giving up after %d failed attempts", failures)
                    return

    async def close(self) -> None:
        self._closed.set()
        ws = self._ws
        if ws is not None:
            await ws.close()

"""The one async interface every market-data source implements: :class:`MarketUpdate` and :class:`Feed`.

A feed is consumed as ``async for update in feed.updates(): ...`` and stopped with ``await feed.close()``
(from any task; a pending ``updates()`` iteration then ends without an error). Time is injected through a
:class:`Clock` so tests can run a feed on virtual time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from ccm.market.snapshot import MarketSnapshot


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketUpdate:
    """What changed in the market at one instant.

    Attributes
    ----------
    at : time of the update, timezone-aware UTC.
    index : USD index price per asset (``{"BTC": 37000.5}``); only the assets that moved.
    marks : mark price per instrument id (Deribit conventions: futures/perpetuals in USD, inverse options in coin).
    vols : implied vol per option id, as a decimal (0.55).
    """

    at: datetime
    index: Mapping[str, float] = field(default_factory=dict)
    marks: Mapping[str, float] = field(default_factory=dict)
    vols: Mapping[str, float] = field(default_factory=dict)

    def apply_to(self, snapshot: MarketSnapshot) -> MarketSnapshot:
        """A new snapshot with this update's prices, marks and vols laid over ``snapshot`` (which is not mutated)."""
        return MarketSnapshot(
            as_of=self.at,
            index={**snapshot.index, **self.index},
            marks={**snapshot.marks, **self.marks},
            vols={**snapshot.vols, **self.vols},
            surfaces=snapshot.surfaces,
            rates=snapshot.rates,
        )


@runtime_checkable
class Feed(Protocol):
    """A source of market updates.

    ``updates`` is an async generator (implemented as ``async def updates(self): ... yield update``).
    ``close`` stops it; it is idempotent.
    """

    def updates(self) -> AsyncIterator[MarketUpdate]: ...

    async def close(self) -> None: ...


class Clock(Protocol):
    """Monotonic time in seconds and an async sleep (inject a fake one in tests)."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class AsyncioClock:
    """Real time: the running loop's monotonic clock and :func:`asyncio.sleep`."""

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class VirtualClock:
    """Virtual time: ``sleep`` returns at once (after yielding to the loop) and advances ``monotonic``.

    ``sleeps`` records every requested duration.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = float(start)
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)

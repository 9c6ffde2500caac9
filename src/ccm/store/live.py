"""A CoverageEngine backed by a Store: trades and transfers are acknowledged only once committed, and a
restarted engine rebuilds its state from the latest book plus every audit record after it.

    live = LiveBook.open(store, snapshot, config)     # rebuild (or start from the stored book)
    live.trade("acc-1", "BTC-PERPETUAL", 1000.0, 97_000.0)   # committed to the audit log, then applied

Order: validate → append to the audit log (commit) → apply to the engine. A crash after the commit and
before the apply loses nothing: the record is replayed at the next start. A trade the engine would refuse
is refused before it is written (``CoverageEngine`` validates without changing state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ccm.engine import CoverageEngine
from ccm.market.snapshot import MarketSnapshot
from ccm.risk.config import RiskConfig
from ccm.store.records import AuditRecord
from ccm.store.store import Store, rebuild


def replay_records(engine: CoverageEngine, records: list[AuditRecord]) -> None:
    """Apply audit records to ``engine`` in seq order (events are emitted as for live input)."""
    for record in records:
        if record.kind == "trade":
            engine.on_trade(record.account, record.instrument, record.quantity, record.price, at=record.at)
        else:
            engine.on_transfer(record.account, record.asset, record.quantity, at=record.at)


@dataclass
class LiveBook:
    """An engine whose trades and transfers go through the store first."""

    store: Store
    engine: CoverageEngine
    last_seq: int

    @classmethod
    def open(cls, store: Store, snapshot: MarketSnapshot, config: RiskConfig, **engine_options) -> LiveBook:
        """Rebuild from the store: the latest book, then every audit record after it."""
        columns, records = rebuild(store)
        engine = CoverageEngine(columns.build(), snapshot, config, **engine_options)
        replay_records(engine, records)
        return cls(store=store, engine=engine, last_seq=records[-1].seq if records else store.last_seq())

    def trade(self, account: str, instrument: str, quantity: float, price: float, at: datetime | None = None) -> int:
        """Record the fill (commit), then apply it; returns the acknowledged seq."""
        self.engine.validate_trade(account, instrument, quantity, price)
        seq = self.store.append_trade(account, instrument, quantity, price, at=at)
        self.engine.on_trade(account, instrument, quantity, price, at=at)
        self.last_seq = seq
        return seq

    def transfer(self, account: str, asset: str, quantity: float, at: datetime | None = None) -> int:
        """Record the transfer (commit), then apply it; returns the acknowledged seq."""
        self.engine.validate_transfer(account, asset, quantity)
        seq = self.store.append_transfer(account, asset, quantity, at=at)
        self.engine.on_transfer(account, asset, quantity, at=at)
        self.last_seq = seq
        return seq

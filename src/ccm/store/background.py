"""Persistence off the tick path: a thread that writes the latest metrics snapshot and alerts to a Store.

The producer (the engine's event loop) only swaps a reference to the newest snapshot and appends alerts to a
queue — O(1), never blocks on the database. The writer thread wakes every ``interval_s``, writes whatever
is newest (intermediate snapshots are dropped: the store keeps a time series at the writer's pace) and all
queued alerts. ``close()`` flushes and joins.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from ccm.store.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Per-account arrays (n_accounts,) and system totals at one time, as ``Store.write_snapshots`` takes them."""

    at: datetime
    account: np.ndarray
    adjusted_equity: np.ndarray
    maintenance_margin: np.ndarray
    initial_margin: np.ndarray
    coverage_ratio: np.ndarray
    status: np.ndarray
    system: Mapping[str, Any]


class BackgroundWriter:
    """Writes the newest :class:`MetricsSnapshot` and every alert to ``store`` from its own thread."""

    def __init__(self, store: Store, *, interval_s: float = 1.0) -> None:
        self.store = store
        self.interval_s = interval_s
        self._latest: MetricsSnapshot | None = None
        self._written_at: datetime | None = None
        self._alerts: queue.SimpleQueue[tuple[str, dict, str | None, datetime]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.snapshots_written = 0
        self.alerts_written = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name="ccm-store-writer", daemon=True)
        self._thread.start()

    def offer(self, snapshot: MetricsSnapshot) -> None:
        """Make ``snapshot`` the next one to write (replacing an unwritten older one)."""
        with self._lock:
            self._latest = snapshot

    def alert(self, rule: str, values: dict, account: str | None, at: datetime) -> None:
        self._alerts.put((rule, values, account, at))

    def _flush(self) -> None:
        with self._lock:
            snapshot, self._latest = self._latest, None
        try:
            if snapshot is not None and snapshot.at != self._written_at:
                self.store.write_snapshots(
                    snapshot.at, account=snapshot.account, adjusted_equity=snapshot.adjusted_equity,
                    maintenance_margin=snapshot.maintenance_margin, initial_margin=snapshot.initial_margin,
                    coverage_ratio=snapshot.coverage_ratio, status=snapshot.status, system=snapshot.system)
                self._written_at = snapshot.at
                self.snapshots_written += 1
            while True:
                try:
                    rule, values, account, at = self._alerts.get_nowait()
                except queue.Empty:
                    break
                self.store.append_alert(rule, values, account=account, at=at)
                self.alerts_written += 1
        except Exception:  # a failing database must not stop the engine; counted and logged
            self.errors += 1
            log.exception("store write failed")

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._flush()
        self._flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

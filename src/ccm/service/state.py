"""What the running service holds: the live book (engine + store), one engine thread, the WebSocket hub,
the background writer and the stress jobs. Created in the app's lifespan, kept in ``app.state.service``."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ccm.engine import Alert, AlertConfig, CoverageEngine, MetricsChanged, event_to_dict
from ccm.enums import STATUSES
from ccm.errors import InputError
from ccm.io.numbers import json_number
from ccm.io.results import account_records
from ccm.market.snapshot import MarketSnapshot
from ccm.risk.config import RiskConfig
from ccm.risk.coverage import Contributors, CoverageResult
from ccm.service.settings import ServiceSettings
from ccm.store import Store
from ccm.store.background import BackgroundWriter, MetricsSnapshot
from ccm.store.live import LiveBook

log = logging.getLogger(__name__)

MAX_JOBS = 100


def take_result(result: Any, rows: np.ndarray) -> Any:
    """A view of ``result`` (a CoverageResult) restricted to ``rows`` that ``account_records`` can read."""
    n = result.n_accounts
    values = {}
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if isinstance(value, np.ndarray) and value.shape[:1] == (n,):
            value = value[rows]
        values[f.name] = value
    c = result.contributors
    values["contributors"] = SimpleNamespace(label=c.label[rows], share=c.share[rows], amount=c.amount[rows],
                                             labels=c.labels, kinds=c.kinds)
    values["n_accounts"] = int(len(rows))
    return SimpleNamespace(**values)


def frozen_copy(result: CoverageResult) -> CoverageResult:
    """A copy of ``result`` whose arrays later engine events cannot change (the engine updates in place)."""
    c = result.contributors
    contributors = Contributors(label=c.label.copy(), share=c.share.copy(), amount=c.amount.copy(), labels=c.labels,
                                kinds=c.kinds)
    arrays = {f.name: getattr(result, f.name).copy() for f in dataclasses.fields(result)
              if isinstance(getattr(result, f.name), np.ndarray)}
    return replace(result, contributors=contributors, **arrays)


@dataclass(frozen=True, slots=True)
class PublishedView:
    """The metrics after one engine event, immutable: reads are served from it on the event loop, without
    waiting for the engine thread. ``book`` is None until an account page first needs the positions after a
    trade or transfer (materialising the book is O(positions))."""

    at: datetime
    result: CoverageResult
    account_index: dict[str, int]
    book: Any = None


def records_of(result: Any, rows: np.ndarray) -> list[dict[str, Any]]:
    return account_records(take_result(result, np.asarray(rows, dtype=np.int64)))


def system_message(system: Any, at: Any) -> dict[str, Any]:
    """The WebSocket ``system`` message of an engine SystemSnapshot."""
    return {"type": "system", "at": at.isoformat(), "system_coverage_ratio": json_number(system.system_coverage_ratio),
            "total_shortfall": json_number(system.total_shortfall), "accounts_by_status": dict(system.by_status),
            "fund_coverage": json_number(system.fund_to_shortfall) if system.fund_usd is not None else None}


@dataclass(eq=False)
class Client:
    """One WebSocket connection: its role, the accounts it may see and subscribed to, and its outbox."""

    role: str
    allowed: frozenset[str] | None  # None = every account
    queue: asyncio.Queue
    subscribed: set[str] = field(default_factory=set)

    def may_see(self, account: str | None) -> bool:
        if self.allowed is None:
            return True
        return account is not None and account in self.allowed


@dataclass
class StressJob:
    id: str
    status: str = "running"
    result: dict[str, Any] | None = None
    error: str | None = None


class ServiceState:
    """The service's live state; every engine read and write runs on the single engine thread."""

    def __init__(self, settings: ServiceSettings, store: Store, live: LiveBook, market: MarketSnapshot,
                 config: RiskConfig, alerts: AlertConfig, *, key_store: Any = None) -> None:
        self.settings = settings
        self.store = store
        self.live = live
        self.market = market
        self.config = config
        self.alert_config = alerts
        self.key_store = key_store if key_store is not None else store
        self.engine_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccm-engine")
        self.stress_pool = ThreadPoolExecutor(max_workers=settings.stress_workers, thread_name_prefix="ccm-stress")
        self.writer = BackgroundWriter(store, interval_s=settings.writer_interval)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clients: set[Client] = set()
        self.jobs: dict[str, StressJob] = {}
        self.feed_task: asyncio.Task | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._last_at: datetime | None = None
        self._book: Any = None
        self.view: PublishedView
        self._attach(live.engine)

    @property
    def engine(self) -> CoverageEngine:
        return self.live.engine

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` on the engine thread (the engine is single-threaded)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.engine_thread, lambda: fn(*args, **kwargs))

    # -- engine events → store and WebSocket clients (called on the engine thread) ---------------------
    def _attach(self, engine: CoverageEngine) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = engine.subscribe(self._on_event)
        self._book = engine.book
        self.account_index = self._book.account_index()  # the engine's account set is fixed
        self._publish(engine.snapshot.as_of)
        if self._last_at is not None:  # a replaced book: its first snapshot is stamped now
            self._offer_snapshot(max(datetime.now(UTC), self._last_at + timedelta(microseconds=1)))
            return
        at = engine.snapshot.as_of
        if self.store.system_history(start=at, end=at):
            return  # a restart on the same market: its opening snapshot is already stored
        self._offer_snapshot(at)

    def _offer_snapshot(self, at: datetime) -> None:
        # the store keeps one snapshot per time and a monotone series: a state stamped at or before the last one
        # (same time, or an update with an older explicit time) is stamped 1 µs after it
        if self._last_at is not None and at <= self._last_at:
            at = self._last_at + timedelta(microseconds=1)
        self._last_at = at
        r, s = self.view.result, self.engine.system_snapshot  # the view's arrays are never changed again
        self.writer.offer(MetricsSnapshot(
            at=at, account=r.account_ids, adjusted_equity=r.adjusted_equity,
            maintenance_margin=r.maintenance_margin, initial_margin=r.initial_margin,
            coverage_ratio=r.coverage_ratio, status=r.status,
            system={"total_adjusted_equity": s.total_adjusted_equity,
                    "total_maintenance_margin": s.total_maintenance_margin,
                    "system_coverage_ratio": s.system_coverage_ratio, "total_shortfall": s.total_shortfall,
                    "accounts_by_status": s.by_status}))

    def current_book(self) -> Any:
        """The engine's book, materialised once per trade or transfer instead of on every read (engine thread)."""
        if self._book is None:
            self._book = self.engine.book
        return self._book

    def _publish(self, at: datetime) -> None:
        """Replace :attr:`view` by the engine's current metrics (engine thread; contributors ranked here)."""
        self.view = PublishedView(at=at, result=frozen_copy(self.engine.result), account_index=self.account_index,
                                  book=self._book)

    def view_with_book(self) -> PublishedView:
        """The current view with the book materialised (engine thread, so both describe the same state)."""
        if self.view.book is None:
            self.view = replace(self.view, book=self.current_book())
        return self.view

    def _on_event(self, event: Any) -> None:
        if isinstance(event, MetricsChanged):
            if event.cause in ("trade", "transfer"):
                self._book = None
            self._publish(event.at)
            self._offer_snapshot(event.at)
            self._push_metrics(event)
        elif isinstance(event, Alert):
            self.writer.alert(event.rule, dict(event.values), event.account, event.at)
            message = event_to_dict(event)
            self._broadcast(lambda c: message if c.may_see(event.account) else None)

    def _push_metrics(self, event: MetricsChanged) -> None:
        system = json.dumps(system_message(event.system, event.at))  # encoded once for every client
        changed = {str(a) for a in event.accounts}
        clients = list(self.clients)
        wanted = set().union(*(c.subscribed for c in clients)) & changed if clients else set()
        records: dict[str, str] = {}
        if wanted:
            index = self.account_index
            rows = np.array(sorted(index[a] for a in wanted if a in index), dtype=np.int64)
            for rec in records_of(self.view.result, rows):
                records[rec["account"]] = json.dumps({"type": "account", "at": event.at.isoformat(), **rec})
        # role account: its accounts only, no venue-wide figures (GET /system answers it 403)
        self._deliver([(c, ([system] if c.allowed is None else []) + [records[a] for a in
                                                                       sorted(c.subscribed & records.keys())])
                       for c in clients])

    def _broadcast(self, message_for: Callable[[Client], dict | None]) -> None:
        texts: dict[int, str] = {}
        batch = []
        for client in list(self.clients):
            message = message_for(client)
            if message is not None:
                batch.append((client, [texts.setdefault(id(message), json.dumps(message))]))
        self._deliver(batch)

    def _deliver(self, batch: list[tuple[Client, list[str]]]) -> None:
        """Queue JSON texts for their clients with one hop onto the event loop (called on the engine thread)."""
        loop = self.loop
        if not batch or loop is None or loop.is_closed():
            return

        def put() -> None:
            for client, texts in batch:
                for text in texts:
                    if client.queue.full():  # a slow client loses its oldest messages, never blocks the engine
                        try:
                            client.queue.get_nowait()
                        except asyncio.QueueEmpty:
                            pass
                    client.queue.put_nowait(text)

        try:
            loop.call_soon_threadsafe(put)
        except RuntimeError:  # loop closed during shutdown
            pass

    # -- book replacement (engine thread) -----------------------------------------------------------
    def replace_book(self, columns: Any, name: str) -> int:
        """Save ``columns`` as the latest book and restart the engine on it; returns the number of accounts."""
        book = columns.build()
        CoverageEngine(book, self.market, self.config, alerts=self.alert_config)  # refuse before saving
        self.store.save_book(columns, name)
        live = LiveBook.open(self.store, self.market, self.config, alerts=self.alert_config,
                             with_distance=self.settings.distance)
        self.live = live
        self._attach(live.engine)
        return live.engine.metrics.n_accounts

    # -- stress jobs -----------------------------------------------------------------------------------
    def new_job(self) -> StressJob:
        job = StressJob(id=uuid.uuid4().hex)
        finished = [k for k, j in self.jobs.items() if j.status != "running"]
        for k in finished[:max(0, len(self.jobs) - MAX_JOBS + 1)]:  # keep the newest MAX_JOBS (oldest done go)
            del self.jobs[k]
        self.jobs[job.id] = job
        return job

    async def close(self) -> None:
        if self.feed_task is not None:
            self.feed_task.cancel()
            try:
                await self.feed_task
            except (asyncio.CancelledError, Exception):
                pass
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.engine_thread.shutdown(wait=True)
        self.stress_pool.shutdown(wait=False, cancel_futures=True)
        self.writer.close()


def load_upload(files: dict[str, tuple[str, bytes]]) -> Any:
    """BookColumns of uploaded files: one ``.json``/``.yaml`` document, or ``instruments``, ``positions``,
    ``collateral`` tables (all .csv or all .parquet). ``files``: form field → (filename, content)."""
    from ccm.io.book import load_book_columns

    tmp = Path(tempfile.mkdtemp(prefix="ccm-upload-"))
    try:
        documents = [(f, n, c) for f, (n, c) in files.items()
                     if Path(n or "").suffix.lower() in (".json", ".yaml", ".yml")]
        if documents:
            if len(files) != 1:
                raise InputError("upload one book document, or the three tables, not both", field="files")
            _, name, content = documents[0]
            path = tmp / f"book{Path(name).suffix.lower()}"
            path.write_bytes(content)
            return load_book_columns(path)
        tables = {"instruments", "positions", "collateral"}
        formats = set()
        for form_field, (name, content) in files.items():
            stem, suffix = Path(name or form_field).stem.lower(), Path(name or "").suffix.lower()
            table = form_field if form_field in tables else stem
            if table not in tables:
                raise InputError(f"unexpected file {name!r}", field=form_field,
                                 hint="send instruments, positions and collateral (.csv or .parquet), or one .json")
            fmt = suffix.lstrip(".") or "csv"
            if fmt not in ("csv", "parquet"):
                raise InputError(f"cannot read a {suffix} table", field=form_field, hint="use .csv or .parquet")
            formats.add(fmt)
            (tmp / f"{table}.{fmt}").write_bytes(content)
        if len(formats) > 1:
            raise InputError("mixed CSV and Parquet tables", field="files", hint="send all three in one format")
        missing = [t for t in sorted(tables) if not any((tmp / f"{t}.{f}").exists() for f in ("csv", "parquet"))]
        if missing:
            raise InputError(f"missing table {missing[0]}", field=missing[0],
                             hint="send instruments, positions and collateral")
        try:
            return load_book_columns(tmp)
        except InputError as err:
            raise InputError(err.message, file=Path(err.file).name if err.file else None, record=err.record,
                             field=err.field, hint=err.hint) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def statuses() -> list[str]:
    return [s.value for s in STATUSES]


__all__ = ["Client", "PublishedView", "ServiceState", "StressJob", "load_upload", "records_of", "replace",
           "system_message"]

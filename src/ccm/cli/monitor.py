"""``ccm monitor``: a live terminal view of a book's coverage driven by a market feed."""

from __future__ import annotations

import asyncio
import collections
import time
from datetime import UTC
from enum import StrEnum
from pathlib import Path

import numpy as np
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from ccm.cli.output import exit_on_error
from ccm.errors import InputError
from ccm.io.numbers import ratio


class FeedName(StrEnum):
    SIMULATED = "simulated"
    REPLAY = "replay"
    DERIBIT = "deribit"


def render(engine, alerts: collections.deque, *, ticks: int, started: float, limit: int = 10) -> Group:
    """System gauges, the worst accounts and the latest alerts."""
    from ccm.cli.render import STATUS_STYLE
    from ccm.enums import STATUSES
    from ccm.io.results import worst_first

    result, system = engine.metrics, engine.system
    gauges = Table(title=f"ccm monitor — {ticks:,} updates in {time.monotonic() - started:,.0f} s", show_header=False)
    gauges.add_column("metric", style="bold")
    gauges.add_column("value", justify="right")
    prices = "  ".join(f"{a} {p:,.2f}" for a, p in engine.snapshot.index.items() if p != 1.0)
    gauges.add_row("index", prices)
    gauges.add_row("system coverage ratio", ratio(system.system_coverage_ratio))
    gauges.add_row("total shortfall", f"{system.total_shortfall:,.0f}")
    gauges.add_row("by status", "  ".join(f"[{STATUS_STYLE[s]}]{s.value}[/] {system.by_status[s.value]:,}"
                                          for s in STATUSES))
    worst = Table(title="Worst accounts", header_style="bold")
    for col in ("account", "status", "adj. equity", "MM", "coverage"):
        worst.add_column(col, justify="left" if col in ("account", "status") else "right")
    for i in worst_first(result)[:limit]:
        status = STATUSES[int(result.status[i])]
        worst.add_row(str(result.account_ids[i]), f"[{STATUS_STYLE[status]}]{status.value}[/]",
                      f"{result.adjusted_equity[i]:,.0f}", f"{result.maintenance_margin[i]:,.0f}",
                      ratio(result.coverage_ratio[i], bool(result.unbounded[i])))
    recent = Table(title="Latest alerts", header_style="bold")
    for col in ("time", "account", "rule", "values"):
        recent.add_column(col)
    for alert in list(alerts)[::-1]:
        values = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in alert.values.items())
        recent.add_row(alert.at.strftime("%H:%M:%S"), alert.account or "system", alert.rule, values)
    return Group(gauges, worst, recent)


def _feed(name: FeedName, engine, *, replay: list[str] | None, speed: float, seed: int, interval: float,
          updates: int | None):
    snapshot = engine.snapshot
    if name is FeedName.SIMULATED:
        from ccm.feeds import SimulatedFeed

        stable = {a for a, s in zip(engine.book.assets, engine.config_stable, strict=True) if s}
        index = {a: p for a, p in snapshot.index.items() if a in engine.book.assets}
        return SimulatedFeed(index, rng=np.random.default_rng(seed), interval_s=interval, stable=stable,
                             jump_intensity_per_day=4.0, max_updates=updates)
    if name is FeedName.REPLAY:
        from ccm.feeds import ReplayFeed

        if not replay:
            raise InputError("the replay feed needs a price history", record="--replay",
                             hint="pass --replay BTC=btc.csv --replay ETH=eth.csv, or one wide CSV/Parquet")
        return ReplayFeed.from_path(replay[0] if len(replay) == 1 and "=" not in replay[0] else replay, speed=speed)
    from ccm.feeds import DeribitFeed

    currencies = tuple(a.lower() for a in engine.book.assets if a in ("BTC", "ETH"))
    return DeribitFeed(currencies=currencies or ("btc",))


def monitor(
    book: Path = typer.Argument(..., help="Book (as for ccm metrics)."),
    market: Path = typer.Option(..., "--market", "-m", help="Market snapshot JSON: the starting point."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Risk configuration YAML."),
    feed: FeedName = typer.Option(FeedName.SIMULATED, "--feed", help="simulated (correlated moves with jumps and "
                                  "volatility clustering), replay (--replay history) or deribit (live WebSocket)."),
    replay: list[str] | None = typer.Option(None, "--replay", help="History for the replay feed: one wide CSV or "
                                            "Parquet, or ASSET=FILE pairs (repeat)."),
    speed: float = typer.Option(0.0, "--speed", min=0.0, help="Replay speed: a multiple of real time, 0 = as fast "
                                "as possible."),
    store: str | None = typer.Option(None, "--store", help="Persist snapshots and alerts: a SQLite path or a "
                                     "PostgreSQL URL (written from a background thread, off the tick path)."),
    updates: int | None = typer.Option(None, "--updates", min=1, help="Stop after this many market updates."),
    interval: float = typer.Option(0.5, "--interval", min=0.01, help="Simulated feed step (seconds)."),
    seed: int = typer.Option(7, "--seed", help="Simulated feed seed."),
    refresh: float = typer.Option(0.5, "--refresh", min=0.05, help="Screen refresh (seconds)."),
) -> None:
    """Watch coverage move live: system gauges, worst accounts and alerts as the feed ticks (Ctrl-C stops).

    Example: [bold]ccm monitor examples/book.json -m examples/market.json --feed simulated[/bold]
    """
    from ccm.engine import Alert, CoverageEngine
    from ccm.io.alerts_config import load_alert_config
    from ccm.io.book import load_book, load_book_columns
    from ccm.io.config import load_config
    from ccm.io.market import load_market

    console = Console()
    with exit_on_error():
        loaded_config = load_config(config)
        snapshot = load_market(market)
        loaded_book = load_book(book)
        try:
            engine = CoverageEngine(loaded_book, snapshot, loaded_config, alerts=load_alert_config(config))
        except InputError as error:
            raise error.relocated({"market": str(market), "config": str(config or "built-in default config")}) \
                from None
        engine.config_stable = np.array([loaded_config.asset(a).stable for a in loaded_book.assets])
        alerts: collections.deque = collections.deque(maxlen=8)
        writer = None
        if store is not None:
            from ccm.store import open_store
            from ccm.store.background import BackgroundWriter

            opened = open_store(store)
            if not opened.books():
                opened.save_book(load_book_columns(book), name=str(book))
            writer = BackgroundWriter(opened)

        def on_event(event) -> None:
            if isinstance(event, Alert):
                alerts.append(event)
                if writer is not None:
                    writer.alert(event.rule, dict(event.values), event.account, event.at)

        engine.subscribe(on_event)
        source = _feed(feed, engine, replay=replay, speed=speed, seed=seed, interval=interval, updates=updates)
        translate = Translate(engine.snapshot, relative=feed is not FeedName.DERIBIT)
        asyncio.run(_run(engine, source, alerts, translate=translate, writer=writer, updates=updates, refresh=refresh,
                         console=console))


class Translate:
    """Maps feed updates onto the book's market.

    Live (Deribit): prices and times as they come. Simulated and replayed feeds: time runs from the snapshot's
    ``as_of`` by the feed's elapsed time (a 2021 history or the wall clock would otherwise expire or un-expire
    the book's options), and a replayed history moves each index by its relative change since the first
    update (history levels differ from the snapshot's).
    """

    def __init__(self, snapshot, *, relative: bool) -> None:
        self.snapshot = snapshot
        self.relative = relative
        self.first_at = None
        self.first_index: dict[str, float] = {}

    def __call__(self, update, assets: dict[str, int]) -> tuple[dict[str, float], object]:
        index = {a: float(p) for a, p in update.index.items() if a in assets}
        if not self.relative:
            return index, update.at.astimezone(UTC)
        if self.first_at is None:
            self.first_at = update.at
        for a, p in index.items():
            self.first_index.setdefault(a, p)
        moved = {a: self.snapshot.index[a] * p / self.first_index[a] for a, p in index.items()}
        return moved, self.snapshot.as_of + (update.at - self.first_at)


async def _run(engine, source, alerts, *, translate, writer, updates, refresh, console) -> None:
    from ccm.store.background import MetricsSnapshot

    started = time.monotonic()
    ticks = 0
    last_draw = 0.0
    with Live(render(engine, alerts, ticks=0, started=started), console=console, auto_refresh=False,
              transient=False) as live:
        try:
            assets = engine.book.asset_index()
            async for update in source.updates():
                index, at = translate(update, assets)
                if index:
                    engine.on_prices(index, at=at)
                ticks += 1
                if writer is not None:
                    r = engine.metrics
                    s = engine.system
                    writer.offer(MetricsSnapshot(
                        at=at, account=r.account_ids, adjusted_equity=r.adjusted_equity,
                        maintenance_margin=r.maintenance_margin, initial_margin=r.initial_margin,
                        coverage_ratio=r.coverage_ratio, status=r.status,
                        system={"total_adjusted_equity": s.total_adjusted_equity,
                                "total_maintenance_margin": s.total_maintenance_margin,
                                "system_coverage_ratio": s.system_coverage_ratio,
                                "total_shortfall": s.total_shortfall, "accounts_by_status": s.by_status}))
                now = time.monotonic()
                if now - last_draw >= refresh:
                    live.update(render(engine, alerts, ticks=ticks, started=started), refresh=True)
                    last_draw = now
                if updates is not None and ticks >= updates:
                    break
        except KeyboardInterrupt:  # pragma: no cover - interactive
            pass
        finally:
            await source.close()
            live.update(render(engine, alerts, ticks=ticks, started=started), refresh=True)
            if writer is not None:
                writer.close()
                console.print(f"[dim]store: {writer.snapshots_written} snapshots, {writer.alerts_written} alerts "
                              f"written, {writer.errors} errors[/]")

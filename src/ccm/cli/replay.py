"""``ccm replay``: run a historical price path through the book and follow coverage over time."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path

import numpy as np
import typer

from ccm.app.histories import price_path
from ccm.cli.output import err_console, exit_on_error, progress
from ccm.enums import MarginModelName
from ccm.errors import InputError


class ReplayFormat(StrEnum):
    JSON = "json"
    HTML = "html"


class Step(StrEnum):
    H1 = "1h"
    H2 = "2h"
    D1 = "1d"


STEP_SECONDS = {Step.H1: 3600, Step.H2: 7200, Step.D1: 86400}


def replay(
    book: Path = typer.Argument(..., help="Book (as for ccm metrics)."),
    market: Path = typer.Option(..., "--market", "-m", help="Market snapshot JSON: the starting point."),
    prices: list[str] = typer.Option(..., "--prices", help="Price history: one wide CSV timestamp,BTC,ETH,… or "
                                     "ASSET=FILE pairs (repeat the option); the daily and 2-hour layouts of the "
                                     "shared data load as they are."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Risk configuration YAML."),
    model: MarginModelName | None = typer.Option(None, "--model", help="Margin every account with this model."),
    trades: Path | None = typer.Option(None, "--trades", help="CSV timestamp,account,instrument,quantity,price: "
                                       "fills applied (through the real-time engine) at the first step at or "
                                       "after their time."),
    start: str | None = typer.Option(None, "--from", help="First time kept (ISO date or date-time, UTC)."),
    end: str | None = typer.Option(None, "--to", help="End of the window, exclusive (--from 2021-05-01 --to "
                                   "2021-06-01 is May 2021)."),
    step: Step | None = typer.Option(None, "--step", help="Resample to this step (last price in each bucket, "
                                     "labelled by the bucket's start). Default: the history's own rows."),
    relative: bool = typer.Option(True, "--relative/--absolute", help="relative (default): apply the history as "
                                  "moves from its first step in the window, price_t = snapshot price × history_t "
                                  "÷ history_start (the snapshot's level need not match the history's era); "
                                  "absolute: use the history's prices as index prices."),
    fmt: ReplayFormat = typer.Option(ReplayFormat.JSON, "--format", "-f", help="json, or html (one self-contained "
                                     "file with plots)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout (atomically)."),
) -> None:
    """Replay a price history through BOOK: system and per-account coverage at every step, first breaches,
    hours below each threshold, status changes.

    Only index prices move (assets of the history; the others keep the snapshot's price). Time is not advanced:
    option expiries, implied vols (sticky strike) and futures' basis stay as in the snapshot, so options do not
    decay along the path. JSON: series per step, per account (min coverage and when, first breach = first step
    with coverage < 1, hours below warning / margin call / liquidation: each step counts until the next one, the
    last one for the median step), and status changes between consecutive steps.

    Example: [bold]ccm replay book.json -m market.json --prices BTC=BTC_USD_2h.csv --prices ETH=ETH_USDT_2h.csv
    --from 2021-05-01 --to 2021-06-01 --step 2h -f html -o may2021.html[/bold]
    """
    from ccm.analysis.timeline import run_timeline
    from ccm.cli.output import write_text
    from ccm.io.book import load_book
    from ccm.io.config import load_config
    from ccm.io.market import load_market
    from ccm.io.timeline_report import timeline_document, timeline_html

    with exit_on_error():
        loaded_config = load_config(config)
        snapshot = load_market(market)
        loaded_book = load_book(book)
        stamps, path, assets = price_path(prices, book_assets=loaded_book.assets, index=dict(snapshot.index),
                                          start=start, end=end,
                                          step_seconds=None if step is None else STEP_SECONDS[step], relative=relative)
        began = time.perf_counter()
        try:
            with progress(out is not None) as bar:
                task = bar.add_task("replay", total=stamps.shape[0])
                evaluator = None
                if trades is not None:
                    from ccm.engine.replay import EngineStepEvaluator
                    from ccm.io.trades import read_trades
                    from ccm.risk.metrics import with_model

                    replayed = with_model(loaded_book, model) if model is not None else loaded_book
                    evaluator = EngineStepEvaluator(replayed, snapshot, loaded_config, read_trades(trades))
                result = run_timeline(loaded_book, snapshot, loaded_config, stamps, path, assets, model=model,
                                      evaluator=evaluator,
                                      on_step=lambda done, total: bar.update(task, completed=done))
        except InputError as error:
            raise error.relocated({"market": str(market), "config": str(config or "built-in default config")}) \
                from None
        seconds = time.perf_counter() - began
        if fmt is ReplayFormat.HTML:
            t = loaded_config.thresholds
            mode = "relative moves from the window's first step" if relative else "absolute prices"
            subtitle = (f"{book.name}: {result.account_ids.shape[0]:,} accounts; {', '.join(assets)} from "
                        f"{', '.join(prices)} as {mode}; step {step.value if step else 'as in the history'}.")
            text = timeline_html(result, subtitle=subtitle, thresholds={
                "warning": t.warning, "margin call": t.margin_call, "liquidation": t.liquidation})
        else:
            text = json.dumps(timeline_document(result), indent=1, allow_nan=False)
        write_text(text, out)
        if out is not None:
            scr = result.system_coverage_ratio
            low = f"{np.nanmin(scr):.3f}" if np.isfinite(scr).any() else "—"
            err_console.print(f"{out}: {result.n_steps:,} steps × {result.account_ids.shape[0]:,} accounts in "
                              f"{seconds:.1f} s; lowest system coverage {low}; accounts breached "
                              f"{result.accounts_breached:,}; status changes {result.event_step.shape[0]:,}",
                              highlight=False, soft_wrap=True)

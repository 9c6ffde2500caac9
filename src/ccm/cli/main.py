"""The ``ccm`` command: coverage metrics for a whole book, and a synthetic demo venue.

Thin shell: parse arguments, read files through ``ccm.io``, call ``ccm.risk.metrics.evaluate``, render.
Bad input prints one clear error naming file, record and field, and exits with code 2.
"""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import numpy as np
import typer
from rich.console import Console

from ccm.app.histories import daily_history
from ccm.cli.output import emit, evaluate_with_progress, exit_on_error, progress, write_text
from ccm.enums import MarginModelName
from ccm.errors import InputError
from ccm.io.results import metrics_csv, metrics_document

app = typer.Typer(
    help="ccm — Collateral Coverage Metrics: how well posted collateral covers each account's exposure.\n\n"
    "Start with [bold]ccm demo[/bold] to see a synthetic venue, then [bold]ccm metrics BOOK --market M[/bold] "
    "on your own book. Formats are described in the README.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class SaveFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    PARQUET = "parquet"


def _emit(run, *, fmt: OutputFormat, out: Path | None, as_of: datetime, traced, assets, limit: int | None) -> None:
    """Render a metrics run; ``traced`` (a TracedConfig) gives the effective haircuts of the book's ``assets``."""
    from ccm.cli.defi import lending_of, print_lending
    from ccm.cli.render import print_report
    from ccm.io.haircut_report import effective_haircuts, haircut_notes

    if fmt is OutputFormat.CSV:
        write_text(metrics_csv(run.result), out)
        return
    lending = lending_of(run)
    currency = traced.config.currency
    doc = (metrics_document(run.result, run.system, as_of=as_of, currency=currency, lending=lending,
                            effective_haircuts=effective_haircuts(traced, assets))
           if fmt is OutputFormat.JSON else None)

    def table(console: Console) -> None:
        print_report(console, run.result, run.system, as_of=as_of.isoformat(), currency=currency, limit=limit,
                     notes=haircut_notes(traced, assets))
        if lending is not None:
            print_lending(console, run.result, lending, limit=limit)

    emit(fmt.value, out, doc=doc, table=table)


@app.command()
def metrics(
    book: Path = typer.Argument(..., help="Book: a .json/.yaml file, or a directory with instruments.csv, "
                                "positions.csv, collateral.csv (or the same as .parquet)."),
    market: Path = typer.Option(..., "--market", "-m", help="Market snapshot JSON (as_of, index, marks, vols, "
                                "surfaces, rates)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Risk configuration YAML, merged over the "
                                       "built-in default (Deribit-style parameters)."),
    model: MarginModelName | None = typer.Option(None, "--model", help="Margin every account with this model "
                                                 "(default: each account's own model, else the config's): standard "
                                                 "| portfolio (Deribit) | lending (health factor) | var (VaR/ES "
                                                 "over a daily history: needs --prices; config margin.var) | "
                                                 "derive-pmrm (Derive portfolio margin; config margin.derive_pmrm)."),
    prices: list[str] | None = typer.Option(None, "--prices", help="var model: daily price history up to the "
                                            "snapshot, ASSET=FILE pairs (repeat the option) or one wide CSV "
                                            "timestamp,BTC,ETH,…; required when an account uses var."),
    fmt: OutputFormat = typer.Option(OutputFormat.TABLE, "--format", "-f", help="table for people, json or csv "
                                     "for machines."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout (atomically)."),
    limit: int = typer.Option(25, "--limit", help="Accounts shown in the table view (0 = all)."),
    distance: bool = typer.Option(True, "--distance/--no-distance", help="Compute distance to liquidation."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Run on this Dask scheduler (tcp://HOST:PORT); "
                                         "see docs/distributed.md."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Run on a local Dask cluster of N worker "
                                       "processes."),
    preset: str | None = typer.Option(None, "--preset", help="Preset merged under --config: a DeFi protocol for "
                                      "lending accounts (aave-v3 | compound-v3 | maker | liquity-v1, docs/defi.md) "
                                      "or a venue margin model as the default (derive-pmrm: mainnet parameters | "
                                      "derive-pmrm-test: Derive's test set-up; docs/margin-models.md)."),
) -> None:
    """Coverage metrics for every account of BOOK and for the whole venue.

    Example: [bold]ccm metrics examples/book.json --market examples/market.json --format json[/bold]
    """
    from ccm.io.book import load_book
    from ccm.io.config import load_config_traced
    from ccm.io.market import load_market

    with exit_on_error():
        traced = load_config_traced(config, preset=preset)
        loaded_config = traced.config
        snapshot = load_market(market)
        loaded_book = load_book(book)
        history = daily_history(prices, loaded_book, snapshot) if prices else None
        try:
            if history is not None and (scheduler is not None or workers is not None):
                raise InputError("the var model (--prices) does not run on a Dask cluster", record="--prices",
                                 hint="drop --scheduler/--workers")
            if scheduler is not None or workers is not None:
                from ccm.dist.metrics import evaluate_on_cluster

                run = evaluate_on_cluster(loaded_book, snapshot, loaded_config, scheduler=scheduler, workers=workers,
                                          model=model, with_distance=distance)
            else:
                run = evaluate_with_progress(loaded_book, snapshot, loaded_config, model=model,
                                             with_distance=distance, history=history,
                                             show_progress=fmt is OutputFormat.TABLE or out is not None)
        except InputError as error:  # market or config problems found while applying them to the book
            raise error.relocated({"market": str(market), "config": str(config or "built-in default config")}) from None
        _emit(run, fmt=fmt, out=out, as_of=snapshot.as_of, traced=traced, assets=loaded_book.assets,
              limit=None if limit == 0 else limit)


@app.command()
def demo(
    accounts: int = typer.Option(10_000, "--accounts", "-n", min=1, help="Number of synthetic accounts."),
    seed: int = typer.Option(7, "--seed", help="Random seed (same seed, same venue)."),
    save: Path | None = typer.Option(None, "--save", help="Write the book, market.json and config.yaml used into "
                                     "this directory, so any command can be rerun on them."),
    save_format: SaveFormat = typer.Option(SaveFormat.JSON, "--save-format", help="json: DIR/book.json; csv or "
                                           "parquet: the bundle in DIR/book/."),
    model: MarginModelName | None = typer.Option(None, "--model", help="Margin every account with this model."),
    limit: int = typer.Option(15, "--limit", help="Accounts shown in the table."),
) -> None:
    """Build a realistic synthetic venue (market makers, directional and basis traders, option buyers and
    sellers, borrowers; BTC/ETH/SOL, linear and inverse) and compute every metric."""
    from ccm.io.book import write_book_csv, write_book_json, write_book_parquet
    from ccm.io.config import load_config_traced, write_config_yaml
    from ccm.io.market import write_market_json
    from ccm.synthetic import generate_venue

    console = Console(width=None if sys.stdout.isatty() else 170)
    with exit_on_error():
        with progress(True) as bar:
            bar.add_task("generating", total=None)
            venue = generate_venue(accounts, rng=np.random.default_rng(seed))
            book = venue.columns.build()
        traced = load_config_traced(None)
        config = traced.config
        run = evaluate_with_progress(book, venue.market, config, model=model, with_distance=True, show_progress=True)
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            if save_format is SaveFormat.JSON:
                write_book_json(venue.columns, save / "book.json")
                book_path = save / "book.json"
            elif save_format is SaveFormat.CSV:
                write_book_csv(venue.columns, save / "book")
                book_path = save / "book"
            else:
                write_book_parquet(venue.columns, save / "book")
                book_path = save / "book"
            write_market_json(venue.market, save / "market.json")
            write_config_yaml(config, save / "config.yaml")
        _emit(run, fmt=OutputFormat.TABLE, out=None, as_of=venue.market.as_of, traced=traced, assets=book.assets,
              limit=limit)
        mix = ", ".join(f"{k} {v:,}" for k, v in venue.description.items())
        console.print(f"[dim]synthetic venue (seed {seed}): {mix}[/]")
        if save is not None:
            console.print(f"saved: rerun with [bold]ccm metrics {book_path} --market {save / 'market.json'} "
                          f"--config {save / 'config.yaml'}[/]")


@app.command()
def version() -> None:
    """Print the ccm version."""
    from ccm import __version__

    typer.echo(__version__)






def _register() -> None:
    """Commands in the order ``ccm --help`` lists them: now, under stress, over time, ahead of time, DeFi and
    reserves, the service."""
    from ccm.cli.backtest import backtest
    from ccm.cli.breach import breach
    from ccm.cli.config import config_app
    from ccm.cli.forecast import forecast
    from ccm.cli.keys import keys_app
    from ccm.cli.liquidations import liquidations
    from ccm.cli.monitor import monitor
    from ccm.cli.recommend import recommend
    from ccm.cli.replay import replay
    from ccm.cli.reserves import por_app, reserves
    from ccm.cli.serve import serve
    from ccm.cli.stress import stress

    for command in (stress, replay, monitor, forecast, breach, backtest, recommend, liquidations, reserves):
        app.command()(command)
    app.add_typer(por_app, name="por")
    app.command()(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(config_app, name="config")


_register()

"""``ccm metrics``: coverage metrics for every account of a book and for the whole venue."""

from __future__ import annotations

from pathlib import Path

import typer

from ccm.app.histories import daily_history
from ccm.cli.output import evaluate_with_progress, exit_on_error
from ccm.cli.render import OutputFormat, emit_metrics
from ccm.enums import MarginModelName
from ccm.errors import InputError


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
        emit_metrics(run, fmt=fmt, out=out, as_of=snapshot.as_of, traced=traced, assets=loaded_book.assets,
              limit=None if limit == 0 else limit)

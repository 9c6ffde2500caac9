"""``ccm demo``: a realistic synthetic venue, every metric computed, and the files to rerun any command on it."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import numpy as np
import typer
from rich.console import Console

from ccm.cli.output import evaluate_with_progress, exit_on_error, progress
from ccm.cli.render import OutputFormat, emit_metrics
from ccm.enums import MarginModelName


class SaveFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    PARQUET = "parquet"


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
        emit_metrics(run, fmt=OutputFormat.TABLE, out=None, as_of=venue.market.as_of, traced=traced, assets=book.assets,
              limit=limit)
        mix = ", ".join(f"{k} {v:,}" for k, v in venue.description.items())
        console.print(f"[dim]synthetic venue (seed {seed}): {mix}[/]")
        if save is not None:
            console.print(f"saved: rerun with [bold]ccm metrics {book_path} --market {save / 'market.json'} "
                          f"--config {save / 'config.yaml'}[/]")

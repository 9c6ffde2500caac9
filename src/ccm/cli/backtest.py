"""``ccm backtest``: backtest a margin model (standard, portfolio, var) on a daily price history."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ccm.cli.output import err_console, exit_on_error, progress
from ccm.errors import InputError


class BacktestFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    HTML = "html"


class BacktestModel(StrEnum):
    STANDARD = "standard"
    PORTFOLIO = "portfolio"
    VAR = "var"


class VarMethod(StrEnum):
    HISTORICAL = "historical"
    FILTERED = "filtered"
    PARAMETRIC = "parametric"


class Measure(StrEnum):
    VAR = "var"
    ES = "es"


def _table(doc: dict, console: Console, limit: int) -> None:
    def fmt(x, spec=".4f"):
        return "—" if x is None else format(x, spec)

    summary = Table(title=f"backtest: {doc['model']} at {doc['confidence']:g}, MPOR {doc['mpor_days']} days",
                    show_header=False)
    ch = doc["christoffersen"]
    tl = doc["traffic_light"]
    for label, value in (
        ("observations (account-days)", f"{doc['observations']:,}"),
        ("exceptions", f"{doc['exceptions']:,}"),
        ("coverage", fmt(doc["coverage"], ".4%")),
        ("Kupiec POF LR / p", f"{fmt(doc['kupiec']['statistic'], '.3f')} / {fmt(doc['kupiec']['p_value'])}"),
        ("Christoffersen independence LR / p",
         f"{fmt(ch['independence']['statistic'], '.3f')} / {fmt(ch['independence']['p_value'])}"),
        ("Christoffersen conditional LR / p",
         f"{fmt(ch['conditional']['statistic'], '.3f')} / {fmt(ch['conditional']['p_value'])}"),
        (f"traffic light (last {tl['window']} obs.)", f"green {tl['green']:,}, yellow {tl['yellow']:,}, "
                                                      f"red {tl['red']:,}"),
        ("peak-to-trough of Σ margin", fmt(doc["procyclicality"]["peak_to_trough"], ".3f")),
        ("largest n-day increase of Σ margin", fmt(doc["procyclicality"]["max_increase"], ".1%")),
    ):
        summary.add_row(label, value)
    console.print(summary)
    accounts = Table(title="accounts with most exceptions")
    for name in ("account", "obs.", "exceptions", "coverage", "zone", "largest exception", "Kupiec p"):
        accounts.add_column(name, justify="left" if name == "account" else "right")
    for a in doc["accounts"][:limit]:
        accounts.add_row(a["account"], f"{a['observations']:,}", f"{a['exceptions']:,}", fmt(a["coverage"], ".2%"),
                         a["traffic_light"], f"{a['largest_exception']:,.0f}", fmt(a["kupiec"]["p_value"]))
    console.print(accounts)


def backtest(
    book: Path = typer.Argument(..., help="Book (as for ccm metrics)."),
    prices: list[str] = typer.Option(..., "--prices", help="Daily price history: one wide CSV timestamp,BTC,ETH,… "
                                     "or ASSET=FILE pairs (repeat the option), as for ccm replay."),
    market: Path = typer.Option(..., "--market", "-m", help="Market snapshot JSON: the book's marks, vols and the "
                                "price level the history is rebased to."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Risk configuration YAML."),
    model: BacktestModel = typer.Option(BacktestModel.STANDARD, "--model", help="Margin model backtested (every "
                                        "account under it)."),
    mpor_days: int = typer.Option(2, "--mpor-days", help="Margin period of risk, days: loss from t to t + D."),
    confidence: float = typer.Option(0.99, "--confidence", help="Coverage the margin targets (expected exception "
                                     "rate 1 − C); also the var model's confidence."),
    start: str | None = typer.Option(None, "--from", help="First margin date (ISO, UTC). Earlier rows still feed "
                                     "the var model's lookback."),
    end: str | None = typer.Option(None, "--to", help="End of the margin dates, exclusive (losses may use the D "
                                   "days after it)."),
    var_method: VarMethod = typer.Option(VarMethod.HISTORICAL, "--var-method", help="var model: historical, "
                                         "filtered (EWMA-scaled) or parametric (delta-normal)."),
    measure: Measure = typer.Option(Measure.VAR, "--measure", help="var model: VaR or expected shortfall."),
    lookback: int = typer.Option(365, "--lookback-days", help="var model: daily returns in the lookback."),
    apc_buffer: float = typer.Option(0.0, "--apc-buffer", help="var model, EMIR Art 28(a): margin × (1 + buffer), "
                                     "e.g. 0.25."),
    apc_stressed: float = typer.Option(0.0, "--apc-stressed-weight", help="var model, Art 28(b): weight of the most "
                                       "volatile 250-day window of the history, e.g. 0.25."),
    apc_floor: int | None = typer.Option(None, "--apc-floor-days", help="var model, Art 28(c): floor at the "
                                         "historical measure over this lookback, e.g. 3650 (slow: a 10-year "
                                         "revaluation per date)."),
    increase_days: int = typer.Option(30, "--increase-days", help="n of the largest n-day margin increase."),
    fmt: BacktestFormat = typer.Option(BacktestFormat.TABLE, "--format", "-f", help="table for people (the "
                                       "default, as in every ccm command), json for machines, or an html report."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout (atomically)."),
    limit: int = typer.Option(20, "--limit", help="Accounts shown in the table view."),
) -> None:
    """Backtest a margin model: margin at each date t (book re-marked to the history's prices at t) against the
    realised loss of the positions from t to t + MPOR; exceptions, Kupiec, Christoffersen, Basel traffic light,
    procyclicality.

    The history is applied as relative moves from the first margin date (price = snapshot price × history_t ÷
    history at --from). The loss is each position's P&L from t's marks in its settlement asset (coin for inverse
    contracts), valued at t + MPOR; collateral is not part of it (haircuts cover it). Options keep their
    implied vol and expiry (time does not advance). See docs/backtest.md.

    Example: [bold]ccm backtest demo/book.json -m demo/market.json --prices BTC=BTC-USD_1d.csv --prices
    ETH=ETH-USD_1d.csv --model portfolio --from 2020-01-01 --to 2025-01-01 -f html -o backtest.html[/bold]
    """
    from ccm.analysis.backtest import run_backtest
    from ccm.app.histories import parse_moment, price_path
    from ccm.cli.output import emit
    from ccm.io.backtest_report import backtest_document, backtest_html
    from ccm.io.book import load_book
    from ccm.io.config import load_config
    from ccm.io.market import load_market
    from ccm.risk.margin.var import VarParams

    with exit_on_error():
        if mpor_days < 1:
            raise InputError(f"must be ≥ 1, got {mpor_days}", record="--mpor-days")
        if not 0.0 < confidence < 1.0:
            raise InputError(f"must be in (0, 1), got {confidence}", record="--confidence")
        if lookback < mpor_days:
            raise InputError(f"must be ≥ --mpor-days, got {lookback}", record="--lookback-days")
        if increase_days < 1:
            raise InputError(f"must be ≥ 1, got {increase_days}", record="--increase-days")
        loaded_config = load_config(config)
        snapshot = load_market(market)
        loaded_book = load_book(book)
        stamps, path, assets = price_path(prices, book_assets=loaded_book.assets, index=dict(snapshot.index),
                                          start=None, end=None, step_seconds=None, relative=False)
        lo, hi = parse_moment(start, "--from"), parse_moment(end, "--to")
        first = 0 if lo is None else int(np.searchsorted(stamps, lo, side="left"))
        stop = stamps.shape[0] if hi is None else int(np.searchsorted(stamps, hi, side="left"))
        if first >= min(stop, stamps.shape[0] - mpor_days):
            raise InputError(f"no margin date between {start or 'the start'} and {end or 'the end'} with a price "
                             f"{mpor_days} days later (the history covers {stamps[0]} to {stamps[-1]})",
                             record="--from/--to")
        missing = [a for a in assets if a not in snapshot.index]
        if missing:
            raise InputError(f"the market snapshot has no index price for {missing}", file=str(market),
                             field="index")
        rebased = path * np.array([float(snapshot.index[a]) for a in assets])[None, :] / path[first][None, :]
        params = VarParams(method=var_method.value, measure=measure.value, confidence=confidence,
                           mpor_days=mpor_days, lookback_days=lookback, buffer=apc_buffer,
                           stressed_weight=apc_stressed, floor_lookback_days=apc_floor)
        began = time.perf_counter()
        try:
            with progress(fmt is BacktestFormat.TABLE or out is not None) as bar:
                task = bar.add_task("backtest", total=max(0, min(stop, stamps.shape[0] - mpor_days) - first))
                result = run_backtest(loaded_book, snapshot, loaded_config, stamps, rebased, assets,
                                      model=model.value, var_params=params, mpor_days=mpor_days,
                                      confidence=confidence, start=first, stop=stop, increase_days=increase_days,
                                      on_step=lambda done, total: bar.update(task, completed=done))
        except InputError as error:
            raise error.relocated({"market": str(market), "config": str(config or "built-in default config")}) \
                from None
        seconds = time.perf_counter() - began
        doc = backtest_document(result)
        what = f"{model.value}" + (f" ({var_method.value} {measure.value}, lookback {lookback} days)"
                                   if model is BacktestModel.VAR else "")
        subtitle = (f"{book.name}: {loaded_book.n_accounts:,} accounts, model {what}; "
                    f"{', '.join(assets)} from {', '.join(prices)} as moves from the first margin date.")
        emit(fmt, out, doc=doc, table=lambda console: _table(doc, console, limit),
             html=lambda: backtest_html(result, subtitle=subtitle))
        if out is not None:
            err_console.print(f"{out}: {result.n_days:,} margin dates × {int(result.active.sum()):,} accounts in "
                              f"{seconds:.1f} s; {result.n_exceptions:,} exceptions, coverage "
                              f"{doc['coverage'] if doc['coverage'] is None else format(doc['coverage'], '.4%')}",
                              highlight=False, soft_wrap=True)

"""``ccm stress``: the whole book through historical, hypothetical, Monte Carlo or user scenarios."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ccm.cli.output import exit_on_error, progress
from ccm.errors import InputError
from ccm.io.files import require_file

SOURCES = ("historical", "hypothetical", "montecarlo", "histsim", "all")
SCENARIO_FILE_SUFFIXES = (".json", ".yaml", ".yml", ".csv")


class StressFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    HTML = "html"


class Distribution(StrEnum):
    NORMAL = "normal"
    T = "t"


def price_specs(given: list[str] | None, assets: tuple[str, ...], stable: np.ndarray) -> list[str]:
    """The ``--prices`` specs ``given``, else ASSET=FILE pairs for the non-stable ``assets`` (stable: bool mask
    (n_assets,)) whose Yahoo daily file is in ``CCM_DATA_DIR``; empty when there are neither."""
    if given:
        return list(given)
    root = Path(os.environ.get("CCM_DATA_DIR", "../shared/data")) / "budydeveloper_crypto-dataset"
    specs = []
    for asset, is_stable in zip(assets, stable, strict=True):
        path = root / f"{asset}-USD_1d.csv"
        if not is_stable and path.is_file():
            specs.append(f"{asset}={path}")
    return specs


def library_scenarios(source: str, assets: tuple[str, ...], stable: np.ndarray, *, offered: tuple[str, ...] = SOURCES):
    """The ScenarioSet of ``source`` for ``assets`` (stable: bool mask (n_assets,), stables do not move): historical
    (built-in crypto crashes), hypothetical (standard shocks), all (both), or a scenario file. ``offered`` lists
    the sources the command takes, for the error on an unknown one."""
    from ccm.io.scenarios import load_scenarios
    from ccm.scenario import ScenarioSet, historical_events, standard_hypotheticals

    stable_names = {a for a, s in zip(assets, stable, strict=True) if s}
    if source == "historical":
        return historical_events(assets, stable=stable_names)
    if source == "hypothetical":
        return standard_hypotheticals(assets, stable_names)
    if source == "all":
        return ScenarioSet.concat([historical_events(assets, stable=stable_names),
                                   standard_hypotheticals(assets, stable_names)])
    path = Path(source)
    if not path.exists() and (path.suffix.lower() in SCENARIO_FILE_SUFFIXES or os.sep in source or "/" in source):
        require_file(path, what="scenario")  # a mistyped file name, not an unknown library name
    if not path.exists():
        raise InputError(f"unknown scenario source {source!r}", record="--scenarios",
                         hint=f"use one of {', '.join(offered)} or a scenario file (.json, .yaml, .csv)")
    return load_scenarios(source)


def scenario_label(source: str, offered: tuple[str, ...] = SOURCES) -> str:
    """How a result document names ``source``: the library name, or the scenario file's name without its folder."""
    return source if source in offered else Path(source).name


def build_scenarios(source: str, ctx, *, prices: list[str] | None, paths: int, seed: int, horizon_days: float,
                    distribution: str):
    """The ScenarioSet named by ``source`` (a library name, montecarlo, histsim or a scenario file) for the book of
    ``ctx``."""
    assets = ctx.book.assets
    if source in ("montecarlo", "histsim"):
        from ccm.io.prices import read_prices
        from ccm.scenario import historical_simulation, monte_carlo_from_prices

        specs = price_specs(prices, assets, ctx.haircuts.stable)
        if not specs:
            raise InputError(f"{source} needs a price history and none was found", record="--prices",
                             hint="pass --prices BTC=btc.csv --prices ETH=eth.csv (or one wide CSV), "
                                  "or set CCM_DATA_DIR to the shared market data")
        history = read_prices(specs)  # a bad row is an input error: a dropped day would make a 2-day return look daily
        if source == "histsim":
            return historical_simulation(history.timestamps, history.prices, history.assets,
                                         horizon_days=max(1, round(horizon_days)))
        return monte_carlo_from_prices(history.prices, history.assets, paths=paths,
                                       rng=np.random.default_rng(seed), horizon_days=horizon_days,
                                       distribution=distribution)
    return library_scenarios(source, assets, ctx.haircuts.stable)


def _usd(x) -> str:
    return "—" if x is None else f"{x:,.0f}"


def print_stress(console: Console, doc: dict) -> None:
    kpi = Table(title=f"Stress at {doc['as_of']}: {len(doc['scenarios']):,} {doc['scenario_source']} scenarios, "
                      f"{doc['accounts']:,} accounts ({doc['currency']})", show_header=False)
    kpi.add_column("metric", style="bold")
    kpi.add_column("value", justify="right")
    fund_cov = doc["fund_coverage"]
    colour = "green" if fund_cov is None or fund_cov >= 1 else "red"
    rows = [("Cover-1 (largest uncovered loss)", f"{_usd(doc['cover_1'])}  in {doc['cover_1_scenario']}"),
            ("Cover-2 (two largest)", f"{_usd(doc['cover_2'])}  in {doc['cover_2_scenario']}"),
            ("fund", _usd(doc["fund"])),
            ("fund ÷ Cover-2", f"[{colour}]{'—' if fund_cov is None else f'{fund_cov:.2f}'}[/]")]
    if len(doc["scenarios"]) > 1:
        rows += [(f"VaR {doc['confidence']:.0%} of system uncovered loss", _usd(doc["var"])),
                 (f"ES {doc['confidence']:.0%}", _usd(doc["es"]))]
    for direction, rev in doc["reverse"].items():
        move = "none within ±95%" if rev["system_move"] is None else f"{100 * rev['system_move']:.1f}%"
        rows.append((f"reverse {direction}: move that exhausts the fund", move))
    for k, v in rows:
        kpi.add_row(k, v)
    console.print(kpi)
    worst = Table(title="Worst scenarios", header_style="bold")
    for col in ("scenario", "date", "system uncovered loss", "accounts breached", "Cover-2", "largest losers"):
        worst.add_column(col, justify="left" if col in ("scenario", "date", "largest losers") else "right")
    by_name = {s["name"]: s for s in doc["scenarios"]}
    for name in doc["worst_scenarios"]:
        s = by_name[name]
        worst.add_row(name, s["date"] or "", _usd(s["system_uncovered_loss"]), f"{s['accounts_breached']:,}",
                      _usd(s["cover_2"]),
                      ", ".join(f"{a['account']} {_usd(a['uncovered_loss'])}" for a in s["worst_accounts"][:3]))
    console.print(worst)
    cascade = doc["cascade"]
    if cascade:
        table = Table(title=f"Liquidation cascade after {cascade['scenario']}", header_style="bold")
        for col in ("rounds", "accounts liquidated", "liquidated notional", "impact cost", "bad debt",
                    "bad debt without cascade"):
            table.add_column(col, justify="right")
        table.add_row(str(cascade["rounds"]), f"{cascade['accounts_liquidated']:,}",
                      _usd(cascade["liquidated_notional"]), _usd(cascade["impact_cost"]), _usd(cascade["bad_debt"]),
                      _usd(cascade["bad_debt_no_cascade"]))
        console.print(table)


def stress(
    book: Path = typer.Argument(..., help="Book (as for ccm metrics)."),
    market: Path = typer.Option(..., "--market", "-m", help="Market snapshot JSON."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Risk configuration YAML."),
    scenarios: str = typer.Option("historical", "--scenarios", "-s", help="historical (built-in crypto crashes), "
                                  "hypothetical (standard shocks), montecarlo, histsim (every overlapping "
                                  "--horizon-days window of --prices), all (historical + hypothetical), or a "
                                  "scenario file (.json/.yaml/.csv)."),
    prices: list[str] | None = typer.Option(None, "--prices", help="Price history for Monte Carlo: one wide CSV or "
                                            "ASSET=FILE pairs (repeat). Default: CCM_DATA_DIR's daily files."),
    paths: int = typer.Option(10_000, "--paths", min=1, help="Monte Carlo scenarios."),
    seed: int = typer.Option(7, "--seed", help="Monte Carlo seed."),
    horizon_days: float = typer.Option(1.0, "--horizon-days", min=0.01, help="Monte Carlo horizon or historical "
                                       "simulation window (days)."),
    distribution: Distribution = typer.Option(Distribution.T, "--distribution", help="Monte Carlo returns."),
    fund: float = typer.Option(0.0, "--fund", min=0.0, help="Insurance / default fund in USD (for fund ÷ Cover-2 "
                               "and reverse stress)."),
    confidence: float = typer.Option(0.99, "--confidence", min=0.5, max=0.9999, help="VaR / ES confidence."),
    cascade: bool = typer.Option(False, "--cascade", help="Run a liquidation cascade after the worst scenario."),
    reverse: bool = typer.Option(True, "--reverse/--no-reverse", help="Reverse stress down and up."),
    model: str | None = typer.Option(None, "--model", help="Margin every account with this model."),
    fmt: StressFormat = typer.Option(StressFormat.TABLE, "--format", "-f", help="table, json, or html (one "
                                     "self-contained file)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout (atomically)."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Run the scenarios on this Dask scheduler "
                                         "(tcp://HOST:PORT); see docs/distributed.md."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Run the scenarios on a local Dask cluster "
                                       "of N worker processes."),
) -> None:
    """Stress the whole book: who is left uncovered, Cover-1/Cover-2 against the fund, VaR/ES, reverse stress
    and, with --cascade, liquidations that move prices.

    Example: [bold]ccm stress book.json -m market.json --scenarios montecarlo --paths 10000 --fund 5e7 -f html -o
    stress.html[/bold]

    With --scheduler or --workers the scenario run is spread over a Dask cluster (shards of accounts); reverse
    stress and the cascade still run in this process. The answers are the same.
    """
    from ccm.cli.output import emit
    from ccm.enums import MarginModelName
    from ccm.io.book import load_book
    from ccm.io.config import load_config
    from ccm.io.market import load_market
    from ccm.io.stress_report import stress_html
    from ccm.io.stress_results import stress_document
    from ccm.market import resolve_market
    from ccm.risk.context import RiskContext
    from ccm.risk.metrics import with_model
    from ccm.stress import reverse_stress, run_stress
    from ccm.stress.cascade import run_cascade

    with exit_on_error():
        loaded_config = load_config(config)
        snapshot = load_market(market)
        loaded_book = load_book(book)
        if model is not None:
            try:
                loaded_book = with_model(loaded_book, MarginModelName(model))
            except ValueError:
                raise InputError(f"unknown model {model!r}", record="--model",
                                 hint="use standard, portfolio or lending") from None
        try:
            ctx = RiskContext.build(loaded_book, resolve_market(snapshot, loaded_book.assets, loaded_book.instruments),
                                    loaded_config)
            scenario_set = build_scenarios(scenarios, ctx, prices=prices, paths=paths, seed=seed,
                                           horizon_days=horizon_days, distribution=str(distribution))
            with progress(fmt is StressFormat.TABLE or out is not None) as bar:
                task = bar.add_task("scenarios", total=len(scenario_set))
                if scheduler is not None or workers is not None:
                    from ccm.dist.stress import stress_on_cluster

                    bar.update(task, description="cluster")
                    result = stress_on_cluster(loaded_book, snapshot, loaded_config, scenario_set,
                                               scheduler=scheduler, workers=workers, fund_usd=fund,
                                               confidence=confidence,
                                               on_done=lambda done, total: bar.update(
                                                   task, completed=len(scenario_set) * done / total))
                else:
                    result = run_stress(ctx, scenario_set, fund_usd=fund, confidence=confidence,
                                        on_chunk=lambda done, total: bar.update(task, completed=done))
                rev = {}
                if reverse:
                    bar.update(task, description="reverse")
                    rev = {d: reverse_stress(ctx, direction=d, fund_usd=fund) for d in ("down", "up")}
                cascade_out = None
                if cascade and len(scenario_set):
                    bar.update(task, description="cascade")
                    worst = int(result.scenario_order[0])
                    cascade_out = (run_cascade(ctx, scenario_set.take([worst])), scenario_set.names[worst])
        except InputError as error:
            raise error.relocated({"market": str(market), "config": str(config or "built-in default config")}) \
                from None
        doc = stress_document(result, as_of=snapshot.as_of, currency=loaded_config.currency,
                              source=scenario_label(scenarios), reverse=rev,
                              cascade=cascade_out)
        emit(fmt, out, doc=doc, table=lambda console: print_stress(console, doc), html=lambda: stress_html(doc))

"""``ccm stress``: the whole book through historical, hypothetical, Monte Carlo or user scenarios."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ccm.app.scenarios import build_scenarios, scenario_label
from ccm.cli.output import exit_on_error, progress
from ccm.errors import InputError
from ccm.io.numbers import usd


class StressFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    HTML = "html"


class Distribution(StrEnum):
    NORMAL = "normal"
    T = "t"


def print_stress(console: Console, doc: dict) -> None:
    kpi = Table(title=f"Stress at {doc['as_of']}: {len(doc['scenarios']):,} {doc['scenario_source']} scenarios, "
                      f"{doc['accounts']:,} accounts ({doc['currency']})", show_header=False)
    kpi.add_column("metric", style="bold")
    kpi.add_column("value", justify="right")
    fund_cov = doc["fund_coverage"]
    colour = "green" if fund_cov is None or fund_cov >= 1 else "red"
    rows = [("Cover-1 (largest uncovered loss)", f"{usd(doc['cover_1'])}  in {doc['cover_1_scenario']}"),
            ("Cover-2 (two largest)", f"{usd(doc['cover_2'])}  in {doc['cover_2_scenario']}"),
            ("fund", usd(doc["fund"])),
            ("fund ÷ Cover-2", f"[{colour}]{'—' if fund_cov is None else f'{fund_cov:.2f}'}[/]")]
    if len(doc["scenarios"]) > 1:
        rows += [(f"VaR {doc['confidence']:.0%} of system uncovered loss", usd(doc["var"])),
                 (f"ES {doc['confidence']:.0%}", usd(doc["es"]))]
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
        worst.add_row(name, s["date"] or "", usd(s["system_uncovered_loss"]), f"{s['accounts_breached']:,}",
                      usd(s["cover_2"]),
                      ", ".join(f"{a['account']} {usd(a['uncovered_loss'])}" for a in s["worst_accounts"][:3]))
    console.print(worst)
    cascade = doc["cascade"]
    if cascade:
        table = Table(title=f"Liquidation cascade after {cascade['scenario']}", header_style="bold")
        for col in ("rounds", "accounts liquidated", "liquidated notional", "impact cost", "bad debt",
                    "bad debt without cascade"):
            table.add_column(col, justify="right")
        table.add_row(str(cascade["rounds"]), f"{cascade['accounts_liquidated']:,}",
                      usd(cascade["liquidated_notional"]), usd(cascade["impact_cost"]), usd(cascade["bad_debt"]),
                      usd(cascade["bad_debt_no_cascade"]))
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
    from ccm.pricing.market_state import resolve_market
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

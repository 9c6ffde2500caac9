"""Rendering of coverage results: the terminal tables, and a metrics run as a table, JSON or CSV."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ccm.cli.output import emit, write_text
from ccm.enums import MARGIN_MODELS, STATUSES, Status
from ccm.io.numbers import pct, ratio, usd
from ccm.io.results import metrics_csv, metrics_document, worst_first
from ccm.risk.coverage import CoverageResult, SystemResult

STATUS_STYLE = {
    Status.HEALTHY: "green",
    Status.WARNING: "yellow",
    Status.MARGIN_CALL: "dark_orange",
    Status.LIQUIDATION: "red",
    Status.BANKRUPT: "bold white on red",
}


def accounts_table(result: CoverageResult, *, limit: int | None = 25, title: str | None = None) -> Table:
    """Accounts, worst coverage first (bankrupt, then lowest coverage ratio)."""
    order = worst_first(result)
    shown = order if limit is None else order[:limit]
    table = Table(title=title or f"Accounts, worst coverage first ({len(shown)} of {result.n_accounts})",
                  header_style="bold", row_styles=["", "dim"] if len(shown) > 12 else None)
    for col, justify in (("account", "left"), ("model", "left"), ("status", "left"), ("adj. equity", "right"),
                         ("IM", "right"), ("MM", "right"), ("coverage", "right"), ("shortfall", "right"),
                         ("dist ↓", "right"), ("dist ↑", "right"), ("top driver", "left")):
        table.add_column(col, justify=justify, no_wrap=True)
    c = result.contributors
    for i in shown:
        status = STATUSES[int(result.status[i])]
        label = int(c.label[i, 0])
        driver = f"{c.labels[label]} ({100 * c.share[i, 0]:.0f}%)" if label >= 0 else ""
        table.add_row(
            str(result.account_ids[i]),
            MARGIN_MODELS[int(result.model[i])].value,
            f"[{STATUS_STYLE[status]}]{status.value}[/]",
            usd(result.adjusted_equity[i]),
            usd(result.initial_margin[i]),
            usd(result.maintenance_margin[i]),
            ratio(result.coverage_ratio[i], bool(result.unbounded[i])),
            usd(result.shortfall[i]) if result.shortfall[i] > 0 else "",
            pct(result.distance_down[i]),
            pct(result.distance_up[i]),
            driver,
        )
    return table


def system_table(system: SystemResult, *, as_of: str, currency: str) -> Table:
    table = Table(title=f"Venue at {as_of} ({currency})", show_header=False, header_style="bold")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    status_line = "  ".join(
        f"[{STATUS_STYLE[Status(s)]}]{s}[/] {n:,}" for s, n in system.by_status.items()
    )
    rows = [
        ("accounts", f"{system.accounts:,}"),
        ("by status", status_line),
        ("total equity", usd(system.total_equity)),
        ("haircut collateral", usd(system.total_collateral_value)),
        ("adjusted equity", usd(system.total_adjusted_equity)),
        ("initial margin", usd(system.total_initial_margin)),
        ("maintenance margin", usd(system.total_maintenance_margin)),
        ("system coverage ratio", ratio(system.system_coverage_ratio)),
        ("total shortfall", usd(system.total_shortfall)),
        ("coverage quantiles", "  ".join(f"{k} {ratio(v)}" for k, v in system.coverage_quantiles.items())),
        ("top-10 concentration", pct(system.concentration)),
    ]
    if system.largest_shortfalls:
        rows.append(("largest shortfalls", "  ".join(f"{a} {usd(s)}" for a, s in system.largest_shortfalls[:3])))
    for k, v in rows:
        table.add_row(k, v)
    return table


def print_report(console: Console, result: CoverageResult, system: SystemResult, *, as_of: str, currency: str,
                 limit: int | None, notes: list[str] | tuple[str, ...] = ()) -> None:
    """The venue table, then the accounts; ``notes`` (e.g. haircut parts the user's config did not set) first."""
    for note in notes:
        console.print(f"[bold yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    console.print(system_table(system, as_of=as_of, currency=currency))
    console.print(accounts_table(result, limit=limit))


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def emit_metrics(run, *, fmt: OutputFormat, out: Path | None, as_of: datetime, traced, assets,
                 limit: int | None) -> None:
    """Render a metrics run (``ccm metrics``, ``ccm demo``) as CSV, JSON or the tables; ``traced`` (a TracedConfig)
    gives the effective haircuts of the book's ``assets``."""
    from ccm.cli.render_lending import lending_of, print_lending
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



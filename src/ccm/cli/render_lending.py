"""DeFi lending views of ``ccm metrics`` (``--preset aave-v3|compound-v3|maker|liquity-v1``): health factor,
borrowing capacity, liquidation prices per collateral asset, and the table of price drops at which accounts
become liquidatable. Thin shell over ``ccm.lending.metrics``."""

from __future__ import annotations

import math

import numpy as np
from rich.console import Console
from rich.table import Table

from ccm.cli.render import pct, ratio, usd
from ccm.lending.metrics import LendingResult, drop_table
from ccm.risk.context import LENDING_CODE
from ccm.risk.coverage import CoverageResult
from ccm.risk.margin.lending import account_lending_metrics


def lending_of(run) -> LendingResult | None:
    """Lending metrics of a ``MetricsRun`` when it has lending accounts, else None."""
    if not np.any(run.context.model_code == LENDING_CODE):
        return None
    return account_lending_metrics(run.context)


def _price(x: float) -> str:
    if not math.isfinite(x):
        return "—"
    return f"{x:,.2f}" if x >= 1 else f"{x:.6g}"


def lending_table(result: CoverageResult, lending: LendingResult, *, limit: int | None = 25) -> Table:
    """Lending accounts, lowest health factor first."""
    rows = np.flatnonzero(~np.isnan(lending.debt_usd))
    order = rows[np.lexsort((result.account_ids[rows].astype(str), lending.health_factor[rows]))]
    shown = order if limit is None else order[:limit]
    title = f"Lending accounts{f' ({lending.protocol})' if lending.protocol else ''}, lowest health factor first"
    table = Table(title=f"{title} ({len(shown)} of {len(rows)})", header_style="bold")
    for col, justify in (("account", "left"), ("health factor", "right"), ("collateral", "right"),
                         ("debt", "right"), ("borrow limit", "right"), ("available", "right"),
                         ("liq. drop", "right"), ("liquidation price", "left")):
        table.add_column(col, justify=justify, no_wrap=True)
    finite = np.isfinite(lending.liquidation_price)
    starts = np.searchsorted(lending.balance_account, shown, side="left")  # balances are in account order
    ends = np.searchsorted(lending.balance_account, shown, side="right")
    for i, start, end in zip(shown, starts, ends, strict=True):
        mine = start + np.flatnonzero(finite[start:end])
        prices = ", ".join(f"{lending.assets[lending.balance_asset[k]]} {_price(lending.liquidation_price[k])}"
                           for k in mine)
        hf = lending.health_factor[i]
        style = "red" if hf < 1 else ("yellow" if hf < 1.1 else "")
        table.add_row(str(result.account_ids[i]), f"[{style}]{ratio(hf, bool(np.isinf(hf)))}[/]" if style
                      else ratio(hf, bool(np.isinf(hf))), usd(lending.collateral_usd[i]),
                      usd(lending.debt_usd[i]), usd(lending.borrowing_capacity[i]),
                      usd(lending.available_to_borrow[i]), pct(lending.liquidation_drop[i]), prices)
    return table


def drop_table_view(lending: LendingResult) -> Table:
    """Cumulative accounts, debt and collateral liquidatable at each uniform drop of non-stable prices."""
    t = drop_table(lending)
    table = Table(title="Liquidatable after a uniform drop of all non-stable prices", header_style="bold")
    for col in ("drop", "accounts", "debt", "collateral"):
        table.add_column(col, justify="right")
    for d, a, debt, coll in zip(t.drops, t.accounts, t.debt_usd, t.collateral_usd, strict=True):
        table.add_row(pct(d), f"{a:,}", usd(debt), usd(coll))
    return table


def print_lending(console: Console, result: CoverageResult, lending: LendingResult, *, limit: int | None) -> None:
    console.print(lending_table(result, lending, limit=limit))
    console.print(drop_table_view(lending))
    if lending.recovery_mode is not None:
        mode = "[red]Recovery Mode[/]" if lending.recovery_mode else "normal mode"
        console.print(f"Liquity system: TCR {ratio(lending.tcr)}, {mode}")

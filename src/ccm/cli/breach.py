"""``ccm breach``: per-account probability that coverage falls below 1 within a horizon (analytic model)."""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ccm.app.histories import price_specs
from ccm.app.volatility import asset_vols, check_horizon_hours
from ccm.cli.output import Format, evaluate_with_progress, exit_on_error
from ccm.enums import STATUSES, MarginModelName
from ccm.errors import InputError
from ccm.io.numbers import json_number


class VolModel(StrEnum):
    EWMA = "ewma"
    GARCH = "garch"
    GJR = "gjr"
    GBM = "gbm"


class DriftChoice(StrEnum):
    ZERO = "zero"
    MARTINGALE = "martingale"


def breach_document(run, breach, *, as_of, currency: str, vol_model: str, vols: np.ndarray, vol_as_of,
                    horizon_hours: float) -> dict[str, Any]:
    """The JSON document: settings, volatilities, a summary and one record per account (book order)."""
    assets = run.context.book.assets
    result = run.result
    p = breach.probability
    accounts = [
        {"account": str(result.account_ids[i]), "status": str(STATUSES[int(result.status[i])]),
         "coverage_ratio": json_number(result.coverage_ratio[i]), "distance_down": json_number(breach.distance_down[i]),
         "distance_up": json_number(breach.distance_up[i]),
         "dominant_asset": assets[int(breach.dominant[i])] if breach.dominant[i] >= 0 else None,
         "vol_daily": json_number(breach.vol_daily[i]) if breach.dominant[i] >= 0 else None,
         "breach_probability": float(p[i])}
        for i in range(result.account_ids.shape[0])
    ]
    return {
        "as_of": as_of.isoformat(), "currency": currency, "horizon_hours": horizon_hours,
        "model": "analytic first passage", "drift": breach.drift, "vol_model": vol_model,
        "volatility": {"as_of": None if vol_as_of is None else str(vol_as_of),
                       "daily": {a: json_number(v) for a, v in zip(assets, vols, strict=True) if math.isfinite(v)}},
        "summary": {"accounts": len(accounts), "expected_breaches": float(p.sum()),
                    "already_breached": int((p >= 1.0).sum()),
                    "above_50pct": int((p > 0.5).sum()), "above_5pct": int((p > 0.05).sum())},
        "accounts": accounts,
    }


def print_breach(console: Console, doc: dict, limit: int | None) -> None:
    s = doc["summary"]
    vols = ", ".join(f"{a} {v:.2%}" for a, v in doc["volatility"]["daily"].items())
    source = f"{doc['vol_model']} daily vols at {doc['volatility']['as_of']}: {vols}; " if vols else ""
    console.print(f"[bold]Breach probability within {doc['horizon_hours']:g} h[/] at {doc['as_of']} "
                  f"({source}drift {doc['drift']})")
    console.print(f"{s['accounts']:,} accounts; expected breaches {s['expected_breaches']:.1f}; already breached "
                  f"{s['already_breached']:,}; p > 50 %: {s['above_50pct']:,}; p > 5 %: {s['above_5pct']:,}")
    table = Table(header_style="bold")
    for col in ("account", "status", "coverage", "dist. down", "dist. up", "asset", "vol/day", "P(breach)"):
        table.add_column(col, justify="left" if col in ("account", "status", "asset") else "right")

    def pct(x):
        return "—" if x is None else f"{x:.1%}"

    ranked = sorted(doc["accounts"], key=lambda r: (-r["breach_probability"], math.inf if r["coverage_ratio"] is None
                                                    else r["coverage_ratio"]))
    for r in ranked[:limit]:
        cov = "—" if r["coverage_ratio"] is None else f"{r['coverage_ratio']:.3f}"
        table.add_row(r["account"], r["status"], cov, pct(r["distance_down"]), pct(r["distance_up"]),
                      r["dominant_asset"] or "—", pct(r["vol_daily"]), f"{r['breach_probability']:.2%}")
    console.print(table)


def breach(
    book: Path = typer.Argument(..., help="Book (as for ccm metrics)."),
    market: Path = typer.Option(..., "--market", "-m", help="Market snapshot JSON."),
    horizon_hours: float = typer.Option(24.0, "--horizon-hours", help="Horizon h in hours (> 0, at most 8,760 = "
                                        "one year)."),
    vol_model: VolModel = typer.Option(VolModel.EWMA, "--vol-model", help="Daily volatility forecast "
                                       "(ccm.analysis.forecast): ewma (RiskMetrics λ 0.94), garch, gjr or gbm."),
    prices: list[str] | None = typer.Option(None, "--prices", help="Price history for the vols: a wide CSV or "
                                            "ASSET=FILE pairs (as ccm replay); default: the Yahoo daily files in "
                                            "$CCM_DATA_DIR for the book's non-stable assets. Only prices at or "
                                            "before the market's as_of are used."),
    drift: DriftChoice = typer.Option(DriftChoice.ZERO, "--drift", help="zero: driftless log price; martingale: "
                                      "log drift −σ²/2 (driftless price)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Risk configuration YAML."),
    model: MarginModelName | None = typer.Option(None, "--model", help="Margin every account with this model."),
    fmt: Format = typer.Option(Format.TABLE, "--format", "-f", help="table for people, json for machines."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout (atomically)."),
    limit: int = typer.Option(25, "--limit", help="Accounts shown in the table, most likely to breach first "
                              "(0 = all)."),
) -> None:
    """Probability that each account's coverage falls below 1 within the horizon.

    The engine's distance to liquidation (uniform move of all non-stable prices, down and up) and the daily
    volatility of the account's dominant underlying give the exact two-sided first-passage probability of a
    Brownian log price (continuously monitored). Already breached accounts get 1; accounts without a
    liquidation within ±95 % get 0. See docs/breach-model-card.md.

    Example: [bold]ccm breach examples/book.json -m examples/market.json --horizon-hours 24 -f json[/bold]
    """
    from ccm.analysis.breach import account_breach_probability
    from ccm.cli.output import emit
    from ccm.io.book import load_book
    from ccm.io.config import load_config
    from ccm.io.market import load_market

    with exit_on_error():
        check_horizon_hours(horizon_hours)
        loaded_config = load_config(config)
        snapshot = load_market(market)
        loaded_book = load_book(book)
        try:
            run = evaluate_with_progress(loaded_book, snapshot, loaded_config, model=model, with_distance=True,
                                         show_progress=fmt is Format.TABLE or out is not None)
            ctx = run.context
            vols, vol_as_of = np.full(ctx.book.n_assets, np.nan), None
            if ctx.moving.any():  # a book of stablecoins only has no distance to liquidation and needs no vol
                specs = price_specs(prices, ctx.book.assets, ctx.haircuts.stable)
                if not specs:
                    raise InputError("no price history found for the book's assets in $CCM_DATA_DIR",
                                     record="--prices", hint="give --prices ASSET=FILE")
                as_of = np.datetime64(snapshot.as_of.replace(tzinfo=None), "s")
                vols, vol_as_of = asset_vols(specs, assets=ctx.book.assets, moving=ctx.moving, as_of=as_of,
                                             vol_model=vol_model.value, horizon_days=horizon_hours / 24.0)
            result = account_breach_probability(ctx, run.result, vols, horizon_hours / 24.0, drift=drift.value)
        except InputError as error:
            raise error.relocated({"market": str(market), "config": str(config or "built-in default config")}) \
                from None
        doc = breach_document(run, result, as_of=snapshot.as_of, currency=loaded_config.currency,
                              vol_model=vol_model.value, vols=vols, vol_as_of=vol_as_of, horizon_hours=horizon_hours)
        emit(fmt, out, doc=doc, table=lambda console: print_breach(console, doc, None if limit == 0 else limit))

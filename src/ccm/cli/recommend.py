"""``ccm recommend``: margin add-ons, collateral swaps and haircut proposals for a book (docs/recommend.md)."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ccm.cli.output import Format, exit_on_error, progress
from ccm.errors import InputError
from ccm.io.numbers import json_number, pct, usd


def recommend_document(result, *, as_of: str, currency: str, target: float, horizon_hours: float,
                       vol_model: str, scenario_source: str) -> dict:
    """The JSON document of ``ccm recommend`` (see docs/recommend.md)."""
    add, sw, hc = result.addons, result.swaps, result.haircuts
    above = np.flatnonzero(add.breach_probability > target)
    above = above[np.argsort(-np.nan_to_num(add.addon_usd[above], nan=np.inf), kind="stable")]
    addons = [{"account": str(add.account_ids[i]), "breach_probability": json_number(add.breach_probability[i]),
               "addon_usd": json_number(add.addon_usd[i]), "probability_after": json_number(add.probability_after[i]),
               "vol_daily": json_number(add.vol_daily[i]), "distance_down": json_number(add.distance_down[i]),
               "distance_up": json_number(add.distance_up[i]),
               "distance_down_after": json_number(add.distance_down_after[i]),
               "distance_up_after": json_number(add.distance_up_after[i])} for i in above]
    position = {int(r): j for j, r in enumerate(sw.rows)}
    swaps = []
    for k in range(sw.sell.shape[0]):
        j = position[int(sw.account_row[k])]
        swaps.append({"account": str(add.account_ids[sw.account_row[k]]), "sell": sw.assets[sw.sell[k]],
                      "sell_qty": json_number(sw.sell_qty[k]), "buy": sw.assets[sw.buy[k]],
                      "buy_qty": json_number(sw.buy_qty[k]),
                      "sell_usd": json_number(sw.sell_usd[k]), "cost_usd": json_number(sw.cost_usd[k]),
                      "stressed_coverage_before": json_number(sw.coverage_before[j]),
                      "stressed_coverage_after": json_number(sw.coverage_after[j]),
                      "stressed_equity_before": json_number(sw.worst_before[j]),
                      "stressed_equity_after": json_number(sw.worst_after[j]),
                      "worst_scenario_before": result.scenario_names[sw.worst_scenario_before[j]],
                      "worst_scenario_after": result.scenario_names[sw.worst_scenario_after[j]]})
    haircuts = [{"asset": a, "current": json_number(hc.current[k]), "proposed": json_number(hc.proposed[k]),
                 "action": hc.action[k], "forecast_vol": json_number(hc.forecast_vol[k]),
                 "configured_vol": json_number(hc.configured_vol[k]),
                 "reference_value_usd": json_number(hc.reference_value_usd[k]),
                 "reason": hc.reason[k]} for k, a in enumerate(hc.assets)]
    finite = np.isfinite(add.addon_usd)
    return {
        "as_of": as_of,
        "currency": currency,
        "target_probability": target,
        "horizon_hours": horizon_hours,
        "addon_asset": add.asset,
        "vol_model": vol_model,
        "scenario_source": scenario_source,
        "summary": {"accounts": int(add.account_ids.shape[0]), "accounts_above_target": int(above.shape[0]),
                    "total_addon_usd": float(add.addon_usd[finite].sum()),
                    "accounts_addon_impossible": int((~finite).sum()),
                    "swap_accounts_considered": int(sw.rows.shape[0]),
                    "swap_accounts_improved": int(np.unique(sw.account_row).shape[0]),
                    "swap_cost_usd": float(sw.cost_usd.sum())},
        "addons": addons,
        "swaps": swaps,
        "haircuts": haircuts,
    }


def _qty(x: float) -> str:
    return f"{x:,.2f}" if abs(x) >= 1_000 else f"{x:,.6g}"


def _cov(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def print_recommend(console: Console, doc: dict, limit: int | None) -> None:
    s = doc["summary"]
    console.print(f"[bold]Recommendations at {doc['as_of']}[/]: target P(coverage < 1 within "
                  f"{doc['horizon_hours']:g} h) ≤ {doc['target_probability']:.2%}; {s['accounts_above_target']:,} of "
                  f"{s['accounts']:,} accounts above target, add-ons {usd(s['total_addon_usd'])} "
                  f"{doc['addon_asset']} in total; vol model {doc['vol_model']}")
    add = Table(title=f"Margin add-ons ({doc['addon_asset']}), largest first", header_style="bold")
    for col in ("account", "P(breach) now", "add-on USD", "P after", "dist ↓ now → after", "dist ↑ now → after"):
        add.add_column(col, justify="left" if col == "account" else "right")
    for a in doc["addons"][:limit]:
        add.add_row(a["account"], pct(a["breach_probability"], 2), usd(a["addon_usd"]),
                    pct(a["probability_after"], 2),
                    f"{pct(a['distance_down'], 1)} → {pct(a['distance_down_after'], 1)}",
                    f"{pct(a['distance_up'], 1)} → {pct(a['distance_up_after'], 1)}")
    console.print(add)
    swaps = Table(title=f"Collateral swaps ({doc['scenario_source']} scenarios; {s['swap_accounts_improved']:,} of "
                        f"{s['swap_accounts_considered']:,} stressed accounts improved)", header_style="bold")
    for col in ("account", "swap", "cost USD", "stressed coverage before → after", "worst scenario after"):
        swaps.add_column(col, justify="right" if col == "cost USD" else "left")
    for w in doc["swaps"][:limit]:
        swaps.add_row(w["account"], f"sell {_qty(w['sell_qty'])} {w['sell']} → buy {_qty(w['buy_qty'])} {w['buy']}",
                      f"{w['cost_usd']:,.2f}",
                      f"{_cov(w['stressed_coverage_before'])} → {_cov(w['stressed_coverage_after'])}",
                      w["worst_scenario_after"])
    console.print(swaps)
    if not doc["haircuts"]:
        console.print("[dim]No haircut proposals: no price history (give --prices or set CCM_DATA_DIR).[/]")
        return
    hc = Table(title="Haircut proposals (at the largest balance of each asset)", header_style="bold")
    for col in ("asset", "current", "proposed", "action", "forecast vol", "configured vol", "reason"):
        hc.add_column(col, justify="left" if col in ("asset", "action", "reason") else "right")
    colour = {"raise": "red", "lower": "green", "keep": "dim"}
    for h in doc["haircuts"]:
        hc.add_row(h["asset"], pct(h["current"], 2), pct(h["proposed"], 2), f"[{colour[h['action']]}]{h['action']}[/]",
                   pct(h["forecast_vol"], 0), pct(h["configured_vol"], 0), h["reason"])
    console.print(hc)


def recommend(
    book: Path = typer.Argument(..., help="Book (as for ccm metrics)."),
    market: Path = typer.Option(..., "--market", "-m", help="Market snapshot JSON."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Risk configuration YAML."),
    target_probability: float = typer.Option(0.01, "--target-probability", "-p", help="Target probability of "
                                             "coverage falling below 1 within the horizon, in (0, 1)."),
    horizon_hours: float = typer.Option(24.0, "--horizon-hours", help="Horizon of the breach probability (hours, at "
                                        "most 8,760 = one year)."),
    prices: list[str] | None = typer.Option(None, "--prices", help="Daily price history for the volatility forecast: "
                                            "one wide CSV or ASSET=FILE pairs (repeat). Default: CCM_DATA_DIR's "
                                            "daily files; else the configured volatilities."),
    vol_model: str = typer.Option("ewma", "--vol-model", help="Volatility forecast: ewma, garch, gjr or gbm."),
    scenarios: str = typer.Option("hypothetical", "--scenarios", "-s", help="Stress scenarios of the swap "
                                  "optimisation: hypothetical, historical, all, or a scenario file."),
    swap_cost_bp: float = typer.Option(10.0, "--swap-cost-bp", help="Cost of every collateral swap (bp)."),
    max_swap_accounts: int = typer.Option(100, "--max-swap-accounts", help="Optimise at most this many of the "
                                          "accounts whose worst stressed coverage is below 1, worst first."),
    addon_asset: str = typer.Option("USDC", "--addon-asset", help="Stablecoin in which add-ons are posted."),
    fmt: Format = typer.Option(Format.TABLE, "--format", "-f", help="table or json."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout (atomically)."),
    limit: int = typer.Option(25, "--limit", help="Rows per table in the table view (0 = all)."),
) -> None:
    """Recommend margin add-ons (breach probability under target), collateral swaps (best worst-case stressed
    equity) and haircut changes (forecast volatility).

    Example: [bold]ccm recommend examples/book.json -m examples/market.json --target-probability 0.01
    --horizon-hours 24 -f json[/bold]
    """
    from ccm.analysis.forecast import MODEL_NAMES
    from ccm.analysis.optimise import recommend as run_recommend
    from ccm.app.scenarios import build_scenarios, scenario_label
    from ccm.app.volatility import check_horizon_hours, forecast_vols
    from ccm.cli.output import emit
    from ccm.io.book import load_book
    from ccm.io.config import load_config
    from ccm.io.market import load_market
    from ccm.pricing.market_state import resolve_market
    from ccm.risk.context import RiskContext

    with exit_on_error():
        if not 0.0 < target_probability < 1.0:
            raise InputError(f"target probability must be in (0, 1), got {target_probability}",
                             record="--target-probability")
        check_horizon_hours(horizon_hours)
        if vol_model not in MODEL_NAMES:
            raise InputError(f"unknown volatility model {vol_model!r}", record="--vol-model",
                             hint=f"use one of {', '.join(MODEL_NAMES)}")
        if scenarios in ("montecarlo", "histsim"):
            raise InputError(f"{scenarios} scenarios are not offered for swaps", record="--scenarios",
                             hint="use hypothetical, historical, all or a scenario file")
        loaded_config = load_config(config)
        snapshot = load_market(market)
        loaded_book = load_book(book)
        try:
            ctx = RiskContext.build(loaded_book, resolve_market(snapshot, loaded_book.assets, loaded_book.instruments),
                                    loaded_config)
            scenario_set = build_scenarios(scenarios, ctx, prices=None, paths=1, seed=0, horizon_days=1.0,
                                           distribution="t")
            with progress(fmt is Format.TABLE or out is not None) as bar:
                bar.add_task("forecast", total=None)
                as_of = np.datetime64(snapshot.as_of.astimezone(UTC).replace(tzinfo=None), "s")
                vols = forecast_vols(ctx, prices, vol_model, as_of, horizon_hours / 24.0)
                bar.add_task("optimising", total=None)
                result = run_recommend(ctx, forecast_vol_daily=vols, target_probability=target_probability,
                                       horizon_days=horizon_hours / 24.0, scenarios=scenario_set,
                                       swap_cost_bp=swap_cost_bp, max_swap_accounts=max_swap_accounts,
                                       addon_asset=addon_asset)
        except InputError as error:
            raise error.relocated({"market": str(market), "config": str(config or "built-in default config")}) \
                from None
        doc = recommend_document(result, as_of=snapshot.as_of.isoformat(), currency=loaded_config.currency,
                                 target=target_probability, horizon_hours=horizon_hours, vol_model=vol_model,
                                 scenario_source=scenario_label(scenarios))
        emit(fmt, out, doc=doc, table=lambda console: print_recommend(console, doc, None if limit == 0 else limit),
             width=200)

"""``ccm liquidations``: liquidations at risk and bad-debt VaR of a book's lending accounts under a DeFi
protocol's liquidation rules (docs/liquidation-economics.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ccm.cli.output import Format, exit_on_error, progress
from ccm.errors import InputError
from ccm.io.numbers import usd


def _level(c: float) -> str:
    return f"{100 * c:g}%"


def _covariance(assets, stable, needed, prices: list[str] | None, ewma_lambda: float):
    """Daily EWMA covariance (n_assets, n_assets) of the assets in ``needed`` from --prices or CCM_DATA_DIR;
    zero rows for the rest (they do not move). Also returns a description of the history used."""
    from ccm.app.histories import price_specs, require_daily
    from ccm.io.prices import read_prices
    from ccm.scenario.montecarlo import estimate_covariance

    n = len(assets)
    cov = np.zeros((n, n))
    if not needed.any():
        return cov, None
    specs = price_specs(prices, assets, stable)
    history = read_prices(specs) if specs else None  # a bad row is an input error, not a silently dropped day
    if history is not None:  # a missing day would make a 2-day return look daily in the covariance
        require_daily(history.timestamps, file=", ".join(specs),
                      hint="give daily closes without missing days (one wide CSV or ASSET=FILE pairs)")
    have = set(history.assets) if history is not None else set()
    missing = [a for a, need in zip(assets, needed, strict=True) if need and a not in have]
    if missing:
        raise InputError(f"no price history for collateral asset(s) {', '.join(missing)}", record="--prices",
                         field=missing[0], hint="pass --prices ASSET=FILE (repeat) or one wide CSV, or set "
                                                "CCM_DATA_DIR to the shared market data")
    cols = [history.assets.index(a) for a in assets if a in have]
    idx = [k for k, a in enumerate(assets) if a in have]
    cov[np.ix_(idx, idx)] = estimate_covariance(history.prices[:, cols], method="ewma", ewma_lambda=ewma_lambda)
    info = {"assets": [assets[k] for k in idx], "from": str(history.timestamps[0])[:10],
            "to": str(history.timestamps[-1])[:10], "days": int(len(history.timestamps)), "ewma_lambda": ewma_lambda}
    return cov, info


def liquidations_document(*, as_of, currency, protocol, ids, collateral, debt, prices, assets, today, worsening,
                          risk, seed, impact, history, ignored_usd) -> dict:
    """The JSON report (plain numbers, USD)."""
    coll_usd = float((collateral * prices).sum())
    moving = [k for k, a in enumerate(assets) if history and a in history["assets"]]
    return {
        "as_of": as_of.isoformat(),
        "currency": currency,
        "protocol": protocol,
        "accounts": int(len(ids)),
        "debt_usd": float(debt.sum()),
        "collateral_usd": coll_usd,
        "ignored_collateral_usd": ignored_usd,
        "now": {
            "accounts_liquidated": int(today.accounts_liquidated[0]),
            "liquidations": int(today.total_liquidations[0]),
            "liquidated_usd": float(today.total_liquidated_usd[0]),
            "bad_debt_usd": float(today.total_bad_debt_usd[0]),
            "redistributed_usd": float(today.redistributed_usd.sum()),
            "still_liquidatable": int(today.pending[0]),
            "worsening": None if worsening is None else int(worsening.sum()),
            "worsening_accounts": None if worsening is None else [str(ids[k]) for k in np.flatnonzero(worsening)[:20]],
        },
        "paths": risk.paths,
        "horizon_days": risk.horizon_days,
        "steps": risk.steps,
        "seed": seed,
        "impact_multiplier": impact,
        "bad_debt_var": {_level(c): float(v) for c, v in zip(risk.confidence, risk.bad_debt_var, strict=True)},
        "liquidations_at_risk": {_level(c): float(v) for c, v in
                                 zip(risk.confidence, risk.liquidations_at_risk, strict=True)},
        "liquidation_count_at_risk": {_level(c): int(v) for c, v in
                                      zip(risk.confidence, risk.liquidation_count_at_risk, strict=True)},
        "expected_bad_debt_usd": risk.expected_bad_debt,
        "expected_liquidated_usd": risk.expected_liquidated_usd,
        "expected_impact_cost_usd": float(risk.impact_cost_usd.mean()),
        "expected_redistributed_usd": float(risk.redistributed_usd.mean()),
        "worst_price_impact": {assets[k]: float(risk.worst_price_impact[k]) for k in moving},
        "price_history": history,
    }


def print_liquidations(console: Console, doc: dict) -> None:
    now = doc["now"]
    head = Table(title=f"Liquidations under {doc['protocol']} at {doc['as_of']}: {doc['accounts']:,} borrowing "
                       f"accounts, debt {usd(doc['debt_usd'])} {doc['currency']}", show_header=False)
    head.add_column("metric", style="bold")
    head.add_column("value", justify="right")
    rows = [("collateral (seizable)", usd(doc["collateral_usd"])),
            ("borrowers' balances without weight under the preset (ignored)", usd(doc["ignored_collateral_usd"])),
            ("accounts liquidated now (with the cascade)", f"{now['accounts_liquidated']:,}"),
            ("liquidated now, after cascade", usd(now["liquidated_usd"])),
            ("bad debt now", usd(now["bad_debt_usd"])),
            ("still liquidatable after it (dust rule, empty pool, round cap)", f"{now['still_liquidatable']:,}")]
    if now["worsening"] is not None:
        rows.append(("liquidatable with HF < LT × LB (liquidation worsens HF)", f"{now['worsening']:,}"))
    for k, v in rows:
        head.add_row(k, v)
    console.print(head)
    risk = Table(title=f"{doc['paths']:,} paths over {doc['horizon_days']:g} day(s) in {doc['steps']} step(s), "
                       f"impact × {doc['impact_multiplier']:g}", header_style="bold")
    for col in ("confidence", "bad debt VaR", "liquidations at risk (USD)", "liquidations at risk (count)"):
        risk.add_column(col, justify="right")
    for level in doc["bad_debt_var"]:
        risk.add_row(level, usd(doc["bad_debt_var"][level]), usd(doc["liquidations_at_risk"][level]),
                     f"{doc['liquidation_count_at_risk'][level]:,}")
    risk.add_row("mean", usd(doc["expected_bad_debt_usd"]), usd(doc["expected_liquidated_usd"]), "")
    console.print(risk)
    if doc["worst_price_impact"]:
        console.print("worst price impact of liquidations: " + ", ".join(
            f"{a} {100 * v:.2f}%" for a, v in doc["worst_price_impact"].items()))
    if doc["price_history"]:
        h = doc["price_history"]
        console.print(f"[dim]EWMA (λ {h['ewma_lambda']}) covariance from {h['days']:,} days {h['from']} → {h['to']} "
                      f"of {', '.join(h['assets'])}[/]")


def liquidations(
    book: Path = typer.Argument(..., help="Book (as for ccm metrics): accounts on the lending margin model (the "
                                "presets' default) with negative balances are the borrowers."),
    market: Path = typer.Option(..., "--market", "-m", help="Market snapshot JSON."),
    preset: str | None = typer.Option(None, "--preset", help="Protocol rules: aave-v3 | compound-v3 | maker | "
                                      "liquity-v1 (or a --config with a protocol: section)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Risk configuration YAML, merged over the "
                                       "preset."),
    paths: int = typer.Option(1_000, "--paths", min=1, help="Monte Carlo price paths."),
    horizon_days: float = typer.Option(1.0, "--horizon-days", min=0.01, help="Horizon (1 = 24 h, as Gauntlet and "
                                       "Chaos Labs)."),
    steps_per_day: int = typer.Option(1, "--steps-per-day", min=1, help="Cascade steps per day."),
    prices: list[str] | None = typer.Option(None, "--prices", help="Price history for the covariance: one wide CSV "
                                            "or ASSET=FILE pairs (repeat). Default: CCM_DATA_DIR's daily files."),
    ewma_lambda: float = typer.Option(0.94, "--ewma-lambda", min=0.5, max=0.9999, help="EWMA decay."),
    impact: float = typer.Option(1.0, "--impact", min=0.0, help="Multiplier of the square-root impact of "
                                 "liquidation sales (config assets.<A>.impact_coefficient, volatility, adv_usd); "
                                 "0 = none."),
    stability_pool: float = typer.Option(0.0, "--stability-pool", min=0.0, help="Liquity: LUSD in the Stability "
                                         "Pool (what it cannot offset is redistributed)."),
    seed: int = typer.Option(7, "--seed", help="Random seed."),
    fmt: Format = typer.Option(Format.TABLE, "--format", "-f", help="table or json."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout (atomically)."),
) -> None:
    """Liquidations at risk and bad-debt VaR (95%, 99%) of the book's borrowers under a DeFi protocol's
    liquidation rules, with liquidation cascades that move prices.

    Example: [bold]ccm liquidations book.json -m market.json --preset aave-v3 --paths 2000 -f json[/bold]
    """
    from ccm.cli.output import emit
    from ccm.enums import MARGIN_MODELS, MarginModelName
    from ccm.io.book import load_book
    from ccm.io.config import load_config
    from ccm.io.market import load_market
    from ccm.lending.cascade import lending_positions, liquidations_at_risk, run_protocol_cascade
    from ccm.lending.liquidation import AAVE_V3, params_from_config, worsening_accounts
    from ccm.pricing.market_state import resolve_market
    from ccm.risk.context import RiskContext
    from ccm.stress.cascade import impact_scale

    with exit_on_error():
        loaded_config = load_config(config, preset=preset)
        snapshot = load_market(market)
        loaded_book = load_book(book)
        try:
            ctx = RiskContext.build(loaded_book, resolve_market(snapshot, loaded_book.assets, loaded_book.instruments),
                                    loaded_config)
            params = params_from_config(loaded_config, loaded_book.assets, loaded_book.account_ids)
            asset_prices = ctx.market.asset_prices
            lending = ctx.model_code == MARGIN_MODELS.index(MarginModelName.LENDING)
            rows, collateral, debt, borrowed = lending_positions(loaded_book.balances, asset_prices,
                                                                 params.liquidation_threshold, lending)
            params = params.for_accounts(rows)
            held = np.maximum(loaded_book.balances[rows].toarray(), 0.0) @ asset_prices
            ignored = float(held.sum() - (collateral @ asset_prices).sum())
            scale = impact_scale(ctx) * impact
            needed = ctx.moving & ((collateral.sum(axis=0) > 0) | (borrowed.sum(axis=0) > 0))
            cov, history = _covariance(loaded_book.assets, ctx.haircuts.stable, needed, prices, ewma_lambda)
            n_assets = len(loaded_book.assets)
            today = run_protocol_cascade(collateral, debt, asset_prices, np.zeros((1, 1, n_assets)), params,
                                         impact_scale=scale, debt_assets=borrowed, stability_pool_usd=stability_pool)
            worsening = (worsening_accounts(collateral, debt, asset_prices, params)
                         if params.protocol == AAVE_V3 else None)
            with progress(fmt is Format.TABLE or out is not None) as bar:
                task = bar.add_task("paths", total=paths)
                risk = liquidations_at_risk(
                    collateral, debt, asset_prices, loaded_book.assets, cov, params, impact_scale=scale, paths=paths,
                    rng=np.random.default_rng(seed), debt_assets=borrowed, horizon_days=horizon_days,
                    steps_per_day=steps_per_day, stability_pool_usd=stability_pool,
                    on_chunk=lambda done, total: bar.update(task, completed=done))
        except InputError as error:
            source = config or (f"preset {preset}" if preset else "built-in default config")
            raise error.relocated({"market": str(market), "config": str(source)}) from None
        doc = liquidations_document(
            as_of=snapshot.as_of, currency=loaded_config.currency, protocol=params.protocol,
            ids=loaded_book.account_ids[rows], collateral=collateral, debt=debt, prices=asset_prices,
            assets=loaded_book.assets, today=today, worsening=worsening, risk=risk, seed=seed, impact=impact,
            history=history, ignored_usd=ignored)
        emit(fmt, out, doc=doc, table=lambda console: print_liquidations(console, doc))

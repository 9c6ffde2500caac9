"""``ccm reserves`` (backing ratios) and ``ccm por`` (proof of reserves: build, prove, verify)."""

from __future__ import annotations

import json
import math
import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ccm.cli.output import Format, exit_on_error
from ccm.errors import InputError
from ccm.io.numbers import json_number, pct

SCENARIO_SOURCES = ("historical", "hypothetical", "all")
SALT_BYTES = 16

por_app = typer.Typer(
    help="Proof of reserves: commit customers' balances to a Merkle sum tree ([bold]build[/bold]), give each "
    "customer an inclusion proof ([bold]prove[/bold]), and check a proof against the published root "
    "([bold]verify[/bold]).",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def _ratios(reserve: float, haircut: float) -> dict:
    return {"reserve_ratio": json_number(reserve), "haircut_reserve_ratio": json_number(haircut),
            "unbounded": not math.isfinite(reserve)}


def reserves_document(backing, scenarios, *, source: str | None, as_of: str, currency: str,
                      liabilities_from: str) -> dict:
    """The JSON document of ``ccm reserves``: per asset and total now, and the worst scenario if any."""
    assets = [{"asset": a, "liabilities": float(backing.liabilities[k]), "reserves": float(backing.reserves[k]),
               "price": float(backing.prices[k]), "liabilities_usd": float(backing.liabilities_usd[k]),
               "reserves_usd": float(backing.reserves_usd[k]),
               "haircut_reserves_usd": float(backing.haircut_reserves_usd[k]),
               **_ratios(backing.reserve_ratio[k], backing.haircut_reserve_ratio[k])}
              for k, a in enumerate(backing.assets)]
    total = {"liabilities_usd": float(backing.total_liabilities_usd), "reserves_usd": float(backing.total_reserves_usd),
             "haircut_reserves_usd": float(backing.total_haircut_reserves_usd),
             **_ratios(backing.total_reserve_ratio, backing.total_haircut_reserve_ratio)}
    doc = {"as_of": as_of, "currency": currency, "liabilities_from": liabilities_from, "assets": assets,
           "total": total, "scenarios": None}
    if scenarios is not None and scenarios.names:
        b, names = scenarios.backing, scenarios.names
        w = scenarios.worst_total
        doc["scenarios"] = {
            "source": source, "count": len(names),
            "worst": {
                "total": {"scenario": names[w], "liabilities_usd": float(b.total_liabilities_usd[w]),
                          "haircut_reserves_usd": float(b.total_haircut_reserves_usd[w]),
                          **_ratios(b.total_reserve_ratio[w], b.total_haircut_reserve_ratio[w])},
                "assets": [{"asset": a, "scenario": names[s],
                            **_ratios(b.reserve_ratio[s, k], b.haircut_reserve_ratio[s, k])}
                           for k, (a, s) in enumerate(zip(b.assets, scenarios.worst_asset.tolist(), strict=True))],
            },
            "by_scenario": [{"name": n, **_ratios(b.total_reserve_ratio[s], b.total_haircut_reserve_ratio[s])}
                            for s, n in enumerate(names)],
        }
    return doc


def _pct(value: float | None) -> str:
    return "∞" if value is None else pct(value)  # a document's null ratio: no liabilities


def _colour(value: float | None) -> str:
    return "green" if value is None or value >= 1 else "red"


def print_reserves(console: Console, doc: dict) -> None:
    table = Table(title=f"Backing at {doc['as_of']} ({doc['currency']}; liabilities from {doc['liabilities_from']})",
                  header_style="bold")
    for col in ("asset", "liabilities", "reserves", "liabilities USD", "reserves USD", "haircut reserves USD",
                "reserve ratio", "haircut ratio"):
        table.add_column(col, justify="left" if col == "asset" else "right")
    for row in doc["assets"]:
        table.add_row(row["asset"], f"{row['liabilities']:,.4f}", f"{row['reserves']:,.4f}",
                      f"{row['liabilities_usd']:,.0f}", f"{row['reserves_usd']:,.0f}",
                      f"{row['haircut_reserves_usd']:,.0f}",
                      f"[{_colour(row['reserve_ratio'])}]{_pct(row['reserve_ratio'])}[/]",
                      f"[{_colour(row['haircut_reserve_ratio'])}]{_pct(row['haircut_reserve_ratio'])}[/]")
    t = doc["total"]
    table.add_row("[bold]total[/]", "", "", f"{t['liabilities_usd']:,.0f}", f"{t['reserves_usd']:,.0f}",
                  f"{t['haircut_reserves_usd']:,.0f}", f"[{_colour(t['reserve_ratio'])}]{_pct(t['reserve_ratio'])}[/]",
                  f"[{_colour(t['haircut_reserve_ratio'])}]{_pct(t['haircut_reserve_ratio'])}[/]")
    console.print(table)
    scen = doc["scenarios"]
    if scen:
        worst = Table(title=f"Worst of {scen['count']} scenarios ({scen['source']}), by haircut ratio",
                      header_style="bold")
        for col in ("asset", "scenario", "reserve ratio", "haircut ratio"):
            worst.add_column(col, justify="right" if "ratio" in col else "left")
        for row in scen["worst"]["assets"] + [{"asset": "total", **scen["worst"]["total"]}]:
            worst.add_row(row["asset"], row["scenario"], _pct(row["reserve_ratio"]),
                          f"[{_colour(row['haircut_reserve_ratio'])}]{_pct(row['haircut_reserve_ratio'])}[/]")
        console.print(worst)


def _load_liabilities(path: Path, decimals: int) -> tuple[tuple[str, ...], np.ndarray, str]:
    """(assets, total quantities, description) from a liabilities CSV or a published root.json."""
    from ccm.io.liabilities import read_liabilities, units_to_quantities
    from ccm.io.por import read_root

    if path.suffix.lower() == ".json":
        root, root_decimals = read_root(path)
        return root.assets, units_to_quantities(root.sums, root_decimals), f"root {root.hash.hex()}"
    table = read_liabilities(path, decimals=decimals)
    return table.assets, table.totals, f"{len(table.customer_ids):,} customers"


def reserves(
    liabilities: Path = typer.Argument(..., help="Liabilities: a customer_id,asset,balance CSV, or the root.json "
                                       "of ccm por build (its per-asset totals)."),
    reserves_file: Path = typer.Option(..., "--reserves", "-r", help="Reserves JSON/YAML {asset: quantity}."),
    market: Path = typer.Option(..., "--market", "-m", help="Market snapshot JSON (index prices in USD)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Risk configuration YAML (asset haircuts)."),
    scenarios: str | None = typer.Option(None, "--scenarios", "-s", help="Also under scenarios: historical, "
                                         "hypothetical, all, or a scenario file (.json/.yaml/.csv)."),
    decimals: int = typer.Option(8, "--decimals", help="Decimal places of CSV balances."),
    fmt: Format = typer.Option(Format.TABLE, "--format", "-f", help="table or json."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout (atomically)."),
) -> None:
    """Backing ratios: reserves and haircut reserves ÷ liabilities, per asset and in total (USD), now and in the
    worst scenario.

    Example: [bold]ccm reserves liabilities.csv -r reserves.json -m market.json -s historical[/bold]
    """
    from ccm.app.scenarios import library_scenarios, scenario_label
    from ccm.cli.output import emit
    from ccm.io.config import load_config
    from ccm.io.liabilities import read_reserves
    from ccm.io.market import load_market
    from ccm.reserves.backing import backing_ratios, backing_under_scenarios
    from ccm.risk.haircut import compile_haircuts

    with exit_on_error():
        loaded_config = load_config(config)
        snapshot = load_market(market)
        liability_assets, liability_totals, described = _load_liabilities(liabilities, decimals)
        held = read_reserves(reserves_file)
        assets = tuple(sorted(set(liability_assets) | set(held)))
        for asset in assets:
            if asset not in snapshot.index:
                raise InputError(f"no index price for asset {asset!r}", file=str(market), record="index",
                                 field=asset, hint=f"add \"{asset}\": <USD price> to the market's index")
        by_asset = dict(zip(liability_assets, liability_totals, strict=True))
        owed = np.array([by_asset.get(a, 0.0) for a in assets])
        reserve_qty = np.array([held.get(a, 0.0) for a in assets])
        prices = np.array([snapshot.index[a] for a in assets], dtype=float)
        try:
            table = compile_haircuts(assets, loaded_config)
            backing = backing_ratios(assets, owed, reserve_qty, prices, table)
            under = None
            if scenarios is not None:
                under = backing_under_scenarios(assets, owed, reserve_qty, prices, table,
                                                library_scenarios(scenarios, assets, table.stable,
                                                                  offered=SCENARIO_SOURCES))
        except InputError as error:
            raise error.relocated({"config": str(config or "built-in default config")}) from None
        doc = reserves_document(backing, under, as_of=snapshot.as_of.isoformat().replace("+00:00", "Z"),
                                source=None if scenarios is None else scenario_label(scenarios, SCENARIO_SOURCES),
                                currency=loaded_config.currency, liabilities_from=described)
        emit(fmt, out, doc=doc, table=lambda console: print_reserves(console, doc), width=150)


@por_app.command("build")
def build(
    liabilities: Path = typer.Argument(..., help="Liabilities CSV: customer_id,asset,balance."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for root.json (publish it) and tree.npz (keep "
                             "it private: it holds every customer's salt and balances)."),
    decimals: int = typer.Option(8, "--decimals", help="Decimal places of the balances (base unit 10^-decimals)."),
) -> None:
    """Commit every customer's balances to a Merkle sum tree with a fresh random salt per customer.

    Example: [bold]ccm por build liabilities.csv --out por/[/bold]
    """
    from ccm.io.liabilities import format_units, read_liabilities
    from ccm.io.por import ROOT_FILE, write_tree
    from ccm.reserves.merkle_sum import LIABILITIES, build_tree

    with exit_on_error():
        table = read_liabilities(liabilities, decimals=decimals)
        n = len(table.customer_ids)
        salts = np.frombuffer(os.urandom(SALT_BYTES * n), dtype=np.uint8).reshape(n, SALT_BYTES)
        try:
            tree = build_tree(table.customer_ids, table.assets, table.units, salts)
        except InputError as error:
            raise error.relocated({LIABILITIES: str(liabilities)}) from None
        write_tree(out, tree, decimals)
        root = tree.root
        typer.echo(f"root {root.hash.hex()}  customers {root.customers:,}  depth {root.depth}")
        typer.echo("liabilities " + ", ".join(f"{a} {format_units(s, decimals)}"
                                              for a, s in zip(root.assets, root.sums, strict=True)))
        typer.echo(f"wrote {out / ROOT_FILE} (publish) and {out / 'tree.npz'} (private)")


@por_app.command("prove")
def prove(
    directory: Path = typer.Argument(..., help="The --out directory of ccm por build."),
    customer_id: str = typer.Argument(..., help="The customer whose inclusion proof to write."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the proof here (atomically); default stdout."),
) -> None:
    """Write one customer's inclusion proof (their leaf and the sibling hashes and sums up to the root)."""
    from ccm.cli.output import write_text
    from ccm.io.por import load_tree, proof_document
    from ccm.reserves.merkle_sum import prove as prove_leaf
    from ccm.reserves.merkle_sum import verify_proof

    with exit_on_error():
        tree, decimals = load_tree(directory)
        try:
            index = tree.customer_ids.index(customer_id)
        except ValueError:
            raise InputError(f"customer {customer_id!r} is not in the tree", file=str(directory),
                             record="customer_id") from None
        proof = prove_leaf(tree, index)
        checked = verify_proof(proof, tree.root)  # never hand out a proof that does not verify (a damaged tree)
        if not checked.valid:
            raise InputError(f"the tree is damaged: the proof of {customer_id!r} does not verify ({checked.reason})",
                             file=str(directory / "tree.npz"), hint="rebuild it with ccm por build")
        write_text(json.dumps(proof_document(proof, decimals), indent=1), out)


def _expected_balances(specs: list[str]) -> dict[str, Decimal]:
    """``--expect ASSET=AMOUNT`` options → {asset: amount}; a malformed one is an input error."""
    out: dict[str, Decimal] = {}
    for spec in specs:
        asset, sep, amount = spec.partition("=")
        try:
            value = Decimal(amount.strip()) if sep and asset.strip() else None
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or value < 0:
            raise InputError(f"{spec!r} is not ASSET=AMOUNT with an amount ≥ 0", record="--expect",
                             hint="e.g. --expect BTC=1.5")
        out[asset.strip()] = value
    return out


def _own_figures(proof, decimals: int, customer: str | None, expected: dict[str, Decimal]):
    """Valid, unless the proof is for another customer or commits another balance than the customer's own."""
    from ccm.reserves.merkle_sum import VerificationResult

    if customer is not None and proof.customer_id != customer:
        return VerificationResult(valid=False, reason=f"the proof is for customer {proof.customer_id!r}, not "
                                                      f"{customer!r}")
    committed = dict(zip(proof.assets, proof.balances, strict=True))
    for asset, amount in expected.items():
        if asset not in committed:
            return VerificationResult(valid=False, reason=f"the proof has no {asset} balance (you expect {amount})")
        if Decimal(committed[asset]).scaleb(-decimals) != amount:
            from ccm.io.liabilities import format_units

            return VerificationResult(valid=False, reason=f"the proof commits {asset} "
                                                          f"{format_units(committed[asset], decimals)}, you expect "
                                                          f"{amount}")
    return VerificationResult(valid=True)


@por_app.command("verify")
def verify(
    proof_file: Path = typer.Argument(..., help="A customer's proof JSON (from ccm por prove)."),
    root_file: Path = typer.Option(..., "--root", help="The published root.json."),
    fmt: Format = typer.Option(Format.TABLE, "--format", "-f", help="table (one line) or json."),
    customer: str | None = typer.Option(None, "--customer", help="Your customer id: the proof must be for it."),
    expect: list[str] = typer.Option([], "--expect", help="ASSET=AMOUNT (repeat): your own balance of ASSET from "
                                     "your statement; the proof must commit exactly that (assets not named are not "
                                     "checked). Without it, compare the balances printed with your own."),
) -> None:
    """Check an inclusion proof against the published root: exit 0 if valid, 1 (with the reason) if not, 2 if a
    file cannot be read.

    A proof only shows that the balances it states are in the root: pass [bold]--customer[/bold] and
    [bold]--expect[/bold] to check they are yours (a custodian could commit a reduced balance)."""
    from ccm.io.liabilities import format_units
    from ccm.io.por import ReadableMismatch, read_proof, read_root
    from ccm.reserves.merkle_sum import VerificationResult, verify_proof

    with exit_on_error():
        expected = _expected_balances(expect)
        root, root_decimals = read_root(root_file)
        try:
            proof, proof_decimals = read_proof(proof_file)
            mismatch = None
        except ReadableMismatch as error:
            mismatch = str(error)
            proof, proof_decimals = read_proof(proof_file, check_readable=False)
    if mismatch is not None:
        result = VerificationResult(valid=False, reason=mismatch)
    elif proof_decimals != root_decimals:
        result = VerificationResult(valid=False, reason=f"the proof counts balances in {proof_decimals} decimals, "
                                                         f"the root in {root_decimals}")
    else:
        result = verify_proof(proof, root)
    if result.valid:
        result = _own_figures(proof, proof_decimals, customer, expected)
    balances = {a: format_units(b, proof_decimals) for a, b in zip(proof.assets, proof.balances, strict=True)}
    if fmt is Format.JSON:
        typer.echo(json.dumps({"valid": result.valid, "reason": result.reason, "customer_id": proof.customer_id,
                               "balances": balances, "root_hash": root.hash.hex()}, indent=1))
    elif result.valid:
        typer.echo(f"valid: customer {proof.customer_id} with "
                   + ", ".join(f"{a} {v}" for a, v in balances.items()) + f" is included in root {root.hash.hex()}")
    else:
        typer.echo(f"invalid: {result.reason}")
    if not result.valid:
        raise typer.Exit(code=1)

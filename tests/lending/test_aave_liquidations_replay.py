"""Replay of recorded Aave v2 liquidations (shared data: TheRensselaerIDEA_IDEA-Blockchain, SOURCES.md).

What the data allows. Each row is one ``LiquidationCall``: the collateral seized and the debt repaid (one reserve
pair), the reserve prices in ETH at that block, and the user. It does not hold the user's positions, so the
health factor of the whole account at liquidation cannot be recomputed from it. What can be checked:

1. Price consistency: Aave seizes ``repaid × price_debt / price_collateral × LB`` (LiquidationLogic), so
   seized value ÷ repaid value must equal the collateral reserve's liquidation bonus when the recorded prices
   are the oracle prices of that block. ``aave_v2_tokens.csv`` holds one (late) snapshot of the bonuses, so
   events before a governance change carry an earlier bonus.
2. Health factor of the liquidated slice: ccm's lending model, given the seized collateral and the repaid debt
   at the recorded prices with the reserves' liquidation thresholds, must find HF < 1 (the slice's HF is
   LT × seized/repaid = LT × LB < 1 by the protocol invariant LT × LB ≤ 1 — a check of prices, decimals,
   thresholds and ccm's arithmetic together, not of the accounts' real health factor).

The fractions are printed (``pytest -s``) and asserted with a margin below what was measured: 8,639 events
with prices; seized/repaid within 0.5% of the tokens.csv bonus 58.0%, of some v2 bonus 91.6%; slice HF < 1
97.8%. The 192 misses have seized/repaid 1.19–2.7 × the bonus (median 1.46), i.e. recorded prices that are
not the block's oracle prices; 117 of them repay GUSD (2-decimal token).
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ccm.book import Account
from ccm.enums import MarginModelName
from ccm.lending.rules import LendingParams
from ccm.risk.config import AssetRisk, RiskConfig
from ccm.risk.margin.lending import account_lending_metrics
from tests.reference.builders import AS_OF
from tests.reference.harness import engine_context

FOLDER = "TheRensselaerIDEA_IDEA-Blockchain"


def _amount(text: str, decimals: int) -> float:
    """Rows up to 2021-07 hold raw integer token amounts; later rows hold decimal token amounts."""
    return int(text) / 10.0 ** decimals if text.isdigit() else float(text)


def _price_eth(text: str, raw: bool) -> float:
    """ETH per token: raw rows in wei (1e18 = 1 ETH), later rows in ETH."""
    return float(text) / 1e18 if raw else float(text)


@pytest.fixture(scope="module")
def events(data_dir: Path):
    folder = data_dir / FOLDER
    if not (folder / "aave_v2_liquidations.csv").is_file():
        pytest.skip("Aave v2 liquidations not in the shared data")
    with open(folder / "aave_v2_tokens.csv", newline="") as fh:
        tokens = {(t["pool"], t["symbol"]): t for t in csv.DictReader(fh)}
    out, skipped = [], Counter()
    with open(folder / "aave_v2_liquidations.csv", newline="") as fh:
        for k, row in enumerate(csv.DictReader(fh)):
            tc = tokens.get((row["pool"], row["collateralReserve"]))
            tp = tokens.get((row["pool"], row["principalReserve"]))
            if not row["reservePriceETHCollateral"] or not row["reservePriceETHPrincipal"]:
                skipped["no recorded price"] += 1
                continue
            if tc is None or tp is None:
                skipped["reserve not in tokens.csv"] += 1
                continue
            if row["collateralReserve"] == row["principalReserve"]:
                skipped["same reserve as collateral and debt"] += 1
                continue
            raw = row["collateralAmount"].isdigit()
            seized = _amount(row["collateralAmount"], int(tc["decimals"])) * _price_eth(
                row["reservePriceETHCollateral"], raw)
            repaid = _amount(row["principalAmount"], int(tp["decimals"])) * _price_eth(
                row["reservePriceETHPrincipal"], raw)
            if not (seized > 0 and repaid > 0):
                skipped["zero amount or price"] += 1
                continue
            out.append({"k": k, "collateral": row["collateralReserve"], "debt": row["principalReserve"],
                        "pool": row["pool"], "seized_eth": seized, "repaid_eth": repaid,
                        "lt": float(tc["reserveLiquidationThreshold"]) / 1e4,
                        "lb": float(tc["reserveLiquidationBonus"]) / 1e4})
    return out, skipped


def test_recorded_prices_reproduce_the_liquidation_bonus(events):
    rows, skipped = events
    ratio = np.array([e["seized_eth"] / e["repaid_eth"] for e in rows])
    lb = np.array([e["lb"] for e in rows])
    exact = np.abs(ratio / lb - 1) < 0.005
    # Any Aave v2 bonus (5% … 15%) within 0.5%: the ratio is a bonus, maybe one set before the snapshot.
    bonuses = np.array([1.05, 1.065, 1.075, 1.08, 1.085, 1.09, 1.1, 1.1125, 1.115, 1.12, 1.125, 1.15])
    some_bonus = np.min(np.abs(ratio[:, None] / bonuses[None, :] - 1), axis=1) < 0.005
    print(f"\n{len(rows)} liquidations with prices (skipped: {dict(skipped)}); seized/repaid = tokens.csv LB "
          f"±0.5%: {exact.mean():.1%}; = some v2 bonus ±0.5%: {some_bonus.mean():.1%}")
    assert len(rows) > 8_000
    assert exact.mean() > 0.5
    assert some_bonus.mean() > 0.85


def test_liquidated_slices_have_health_factor_below_one(events):
    rows, _ = events
    # One lending account per event: the seized collateral and the repaid debt, valued in ETH (price 1 per
    # ETH-valued unit); each reserve's liquidation threshold from tokens.csv (pool-qualified names).
    def name(e, side):
        return f"{e['pool'][:6]}:{e[side]}"

    lending = {name(e, "collateral"): LendingParams(liquidation_threshold=e["lt"], ltv=0.0) for e in rows}
    assets = {a for e in rows for a in (name(e, "collateral"), name(e, "debt"))}
    config = RiskConfig(default_model=MarginModelName.LENDING, lending=lending,
                        assets={a: AssetRisk() for a in assets})
    accounts = [Account(id=str(e["k"]), collateral={name(e, "collateral"): e["seized_eth"],
                                                    name(e, "debt"): -e["repaid_eth"]}) for e in rows]
    ctx = engine_context([], accounts, {a: 1.0 for a in assets}, {}, AS_OF, config)
    hf = account_lending_metrics(ctx).health_factor
    by_hand = np.array([e["lt"] * e["seized_eth"] / e["repaid_eth"] for e in rows])
    np.testing.assert_allclose(hf, by_hand, rtol=1e-12)
    below = hf < 1.0
    misses = Counter(e["collateral"] for e, b in zip(rows, below, strict=True) if not b)
    print(f"\nslice HF < 1: {below.mean():.1%} of {len(rows)}; misses by collateral: {misses.most_common(6)}")
    assert below.mean() > 0.9

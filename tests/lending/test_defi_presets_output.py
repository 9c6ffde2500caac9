"""DeFi preset output: the metrics JSON carries liquidation prices and the drop table; the terminal view renders."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from ccm.book import Account, build_book
from ccm.cli.render_lending import print_lending
from ccm.enums import MarginModelName
from ccm.io.config import load_config
from ccm.io.results import metrics_document
from ccm.market import MarketSnapshot
from ccm.risk.margin.lending import account_lending_metrics
from ccm.risk.metrics import evaluate
from tests.reference.builders import AS_OF

ACCOUNTS = [Account(id="borrower", collateral={"ETH": 10.0, "USDC": -20_000.0}, margin_model=MarginModelName.LENDING),
            Account(id="trader", collateral={"USDC": 5_000.0}, margin_model=MarginModelName.STANDARD)]
MARKET = MarketSnapshot(as_of=AS_OF, index={"ETH": 2_600.0, "USDC": 1.0})


@pytest.fixture(scope="module")
def run():
    return evaluate(build_book([], ACCOUNTS), MARKET, load_config(preset="aave-v3"), with_distance=False)


def test_metrics_json_has_liquidation_price_for_lending_accounts(run):
    lending = account_lending_metrics(run.context)
    doc = json.loads(json.dumps(metrics_document(run.result, run.system, as_of=AS_OF, lending=lending),
                                allow_nan=False))
    borrower, trader = doc["accounts"]
    # ETH LT 82.5%: HF = 26,000 × 0.825 / 20,000; HF = 1 at ETH = 20,000 / (10 × 0.825) = 2,424.24.
    assert borrower["health_factor"] == pytest.approx(26_000 * 0.825 / 20_000)
    assert borrower["liquidation_price"] == {"ETH": pytest.approx(20_000 / 8.25)}
    assert borrower["borrowing_capacity"] == pytest.approx(26_000 * 0.80)
    assert borrower["liquidation_drop"] == pytest.approx(1 - 20_000 / (26_000 * 0.825))
    assert trader["liquidation_price"] is None and trader["health_factor"] is None
    assert doc["lending"]["protocol"] == "aave-v3" and doc["lending"]["accounts"] == 1
    steps = {row["drop"]: row["accounts"] for row in doc["lending"]["liquidatable_by_drop"]}
    assert steps[0.05] == 0 and steps[0.10] == 1  # drop 6.8%


def test_without_lending_the_document_is_unchanged(run):
    doc = metrics_document(run.result, run.system, as_of=AS_OF)
    assert "lending" not in doc and "liquidation_price" not in doc["accounts"][0]


def test_terminal_view_lists_the_borrower(run):
    console = Console(record=True, width=160)
    print_lending(console, run.result, account_lending_metrics(run.context), limit=None)
    text = console.export_text()
    assert "borrower" in text and "ETH 2,424.24" in text and "trader" not in text


def test_cli_metrics_with_a_preset(tmp_path):
    from typer.testing import CliRunner

    from ccm.cli.main import app

    book = tmp_path / "book.json"
    book.write_text(json.dumps({"instruments": [], "accounts": [
        {"id": "vault", "collateral": {"ETH": 10.0, "DAI": -15_000.0}}]}))
    market = tmp_path / "market.json"
    market.write_text(json.dumps({"as_of": "2025-02-10T08:00:00Z", "index": {"ETH": 3_000.0, "DAI": 1.0}}))
    runner = CliRunner()
    result = runner.invoke(app, ["metrics", str(book), "--market", str(market), "--preset", "maker", "-f", "json"])
    assert result.exit_code == 0, result.output
    vault = json.loads(result.stdout)["accounts"][0]
    assert vault["model"] == "lending"  # the preset's default model
    assert vault["health_factor"] == pytest.approx(30_000 / 1.5 / 15_000)
    assert vault["liquidation_price"] == {"ETH": pytest.approx(15_000 * 1.5 / 10)}
    bad = runner.invoke(app, ["metrics", str(book), "--market", str(market), "--preset", "aave-v2"])
    assert bad.exit_code == 2 and "unknown preset" in bad.output

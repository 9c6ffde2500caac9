"""End-to-end checks of the ``ccm`` command on the shipped example and on bad input."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccm.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "examples" / "book.json"
MARKET = ROOT / "examples" / "market.json"
runner = CliRunner()

ACCOUNT_KEYS = {"account", "model", "equity", "collateral_value", "adjusted_equity", "initial_margin",
                "maintenance_margin", "coverage_ratio", "unbounded", "initial_coverage_ratio", "margin_utilisation",
                "excess", "shortfall", "available", "status", "distance_to_liquidation", "health_factor",
                "contributors"}
SYSTEM_KEYS = {"accounts", "by_status", "total_equity", "total_collateral_value", "total_initial_margin",
               "total_maintenance_margin", "system_coverage_ratio", "total_shortfall", "coverage_quantiles",
               "largest_shortfalls", "concentration"}


@pytest.fixture(scope="module")
def document() -> dict:
    result = runner.invoke(app, ["metrics", str(BOOK), "--market", str(MARKET), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_has_the_documented_shape(document):
    assert document["currency"] == "USD"
    assert document["as_of"] == "2025-02-10T08:00:00Z"
    assert len(document["accounts"]) == len(json.loads(BOOK.read_text())["accounts"])
    for account in document["accounts"]:
        assert ACCOUNT_KEYS <= set(account)
        assert set(account["distance_to_liquidation"]) == {"down", "up"}
    assert SYSTEM_KEYS <= set(document["system"])


def test_json_metrics_are_consistent_with_their_definitions(document):
    accounts = document["accounts"]
    for a in accounts:
        assert a["excess"] == pytest.approx(a["adjusted_equity"] - a["maintenance_margin"])
        assert a["available"] == pytest.approx(a["adjusted_equity"] - a["initial_margin"])
        assert a["shortfall"] == pytest.approx(max(0.0, -a["excess"]))
        if a["maintenance_margin"] == 0:
            assert a["unbounded"] and a["coverage_ratio"] is None
        else:
            assert a["coverage_ratio"] == pytest.approx(a["adjusted_equity"] / a["maintenance_margin"])
    system = document["system"]
    total_ae = sum(a["adjusted_equity"] for a in accounts)
    total_mm = sum(a["maintenance_margin"] for a in accounts)
    assert system["system_coverage_ratio"] == pytest.approx(total_ae / total_mm)
    assert system["total_shortfall"] == pytest.approx(sum(a["shortfall"] for a in accounts))
    assert sum(system["by_status"].values()) == len(accounts)


def test_example_accounts_behave_as_their_names_say(document):
    by_id = {a["account"]: a for a in document["accounts"]}
    assert by_id["idle"]["unbounded"] and by_id["idle"]["status"] == "healthy"
    assert by_id["underwater"]["status"] == "bankrupt"
    assert by_id["borrower-eth"]["health_factor"] is not None
    # the same book under portfolio margin needs less than under standard margin (hedged options book)
    assert by_id["mm-options-1"]["maintenance_margin"] < by_id["mm-options-1-standard"]["maintenance_margin"]


def test_table_is_the_default_and_lists_worst_first():
    result = runner.invoke(app, ["metrics", str(BOOK), "--market", str(MARKET)])
    assert result.exit_code == 0, result.output
    assert "system coverage ratio" in result.stdout
    lines = [line for line in result.stdout.splitlines() if "│ underwater" in line or "│ idle" in line]
    assert lines and "underwater" in lines[0]


def test_csv_has_one_row_per_account(tmp_path):
    out = tmp_path / "m.csv"
    result = runner.invoke(app, ["metrics", str(BOOK), "-m", str(MARKET), "-f", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = out.read_text().strip().splitlines()
    assert len(rows) == 1 + len(json.loads(BOOK.read_text())["accounts"])


def test_model_option_applies_to_every_account():
    result = runner.invoke(app, ["metrics", str(BOOK), "-m", str(MARKET), "-f", "json", "--model", "portfolio",
                                 "--no-distance"])
    assert result.exit_code == 0, result.output
    accounts = json.loads(result.stdout)["accounts"]
    assert {a["model"] for a in accounts} == {"portfolio"}
    assert all(a["distance_to_liquidation"] == {"down": None, "up": None} for a in accounts)


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda m: m["index"].update(BTC=float("nan")), "BTC"),
        (lambda m: m["index"].update(BTC=-1), "BTC"),
        (lambda m: m["index"].pop("ETH"), "ETH"),
        (lambda m: m["vols"].update({"BTC-28MAR25-90000-P": -0.2}), "BTC-28MAR25-90000-P"),
    ],
)
def test_bad_market_exits_2_naming_the_field_and_writes_nothing(tmp_path, mutate, expect):
    market = json.loads(MARKET.read_text())
    mutate(market)
    path = tmp_path / "market.json"
    path.write_text(json.dumps(market))
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["metrics", str(BOOK), "-m", str(path), "-f", "json", "-o", str(out)])
    assert result.exit_code == 2
    assert expect in result.output and str(path) in result.output
    assert "Traceback" not in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == [path]


def test_existing_output_survives_a_failed_run(tmp_path):
    out = tmp_path / "out.json"
    out.write_text("previous")
    book = tmp_path / "book.json"
    data = json.loads(BOOK.read_text())
    data["accounts"][0]["positions"][0]["instrument"] = "NOPE"
    book.write_text(json.dumps(data))
    result = runner.invoke(app, ["metrics", str(book), "-m", str(MARKET), "-f", "json", "-o", str(out)])
    assert result.exit_code == 2
    assert "NOPE" in result.output and "mm-options-1" in result.output
    assert out.read_text() == "previous"


def test_missing_book_file_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["metrics", str(tmp_path / "none.json"), "-m", str(MARKET)])
    assert result.exit_code == 2
    assert "none.json" in result.output


def test_demo_saves_files_that_metrics_reproduces(tmp_path):
    shutil.rmtree(tmp_path, ignore_errors=True)
    result = runner.invoke(app, ["demo", "--accounts", "300", "--seed", "3", "--save", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in tmp_path.iterdir()} >= {"book.json", "market.json", "config.yaml"}
    rerun = runner.invoke(app, ["metrics", str(tmp_path / "book.json"), "-m", str(tmp_path / "market.json"),
                                "-c", str(tmp_path / "config.yaml"), "-f", "json"])
    assert rerun.exit_code == 0, rerun.output
    system = json.loads(rerun.stdout)["system"]
    assert system["accounts"] == 300
    shown = next(line for line in result.stdout.splitlines() if "system coverage ratio" in line)
    assert f"{system['system_coverage_ratio']:,.3f}" in shown
    assert math.isfinite(system["total_maintenance_margin"])


def test_config_gap_found_while_margining_names_the_config_file(tmp_path):
    config = tmp_path / "risk.yaml"
    config.write_text("margin:\n  portfolio:\n    default: null\n    SOL: null\n")
    result = runner.invoke(app, ["metrics", str(BOOK), "-m", str(MARKET), "-c", str(config), "--model", "portfolio"])
    assert result.exit_code == 2
    assert str(config) in result.output and "margin.portfolio" in result.output and "SOL" in result.output

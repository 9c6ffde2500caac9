"""End-to-end checks of ``ccm stress`` on the shipped example book."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccm.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "examples" / "book.json"
MARKET = ROOT / "examples" / "market.json"
DATA = Path(os.environ.get("CCM_DATA_DIR", ROOT.parent / "shared" / "data"))
runner = CliRunner()


def stress_json(*args: str) -> dict:
    result = runner.invoke(app, ["stress", str(BOOK), "-m", str(MARKET), "-f", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def historical() -> dict:
    return stress_json("--fund", "100000", "--cascade")


def test_json_has_the_documented_shape(historical):
    assert {"scenarios", "cover_1", "cover_2", "fund_coverage", "var", "es", "reverse", "cascade"} <= set(historical)
    assert len(historical["scenarios"]) >= 7
    for s in historical["scenarios"]:
        assert {"name", "date", "system_uncovered_loss", "accounts_breached", "worst_accounts"} <= set(s)
    assert any(s["date"] == "2022-11-08" for s in historical["scenarios"])  # FTX: the event's first day


def test_cover_figures_follow_from_the_scenarios(historical):
    scenarios = historical["scenarios"]
    assert historical["cover_1"] == pytest.approx(max(s["cover_1"] for s in scenarios))
    assert historical["cover_2"] == pytest.approx(max(s["cover_2"] for s in scenarios))
    for s in scenarios:
        losses = [a["uncovered_loss"] for a in s["worst_accounts"]]
        assert losses == sorted(losses, reverse=True)
        assert s["cover_2"] == pytest.approx(sum(losses[:2]))
        assert s["system_uncovered_loss"] >= sum(losses) - 1e-6
    if historical["cover_2"] > 0:
        assert historical["fund_coverage"] == pytest.approx(100_000 / historical["cover_2"])


def test_cascade_never_ends_with_less_bad_debt(historical):
    cascade = historical["cascade"]
    assert cascade["bad_debt"] >= cascade["bad_debt_no_cascade"] - 1e-6
    worst = max(historical["scenarios"], key=lambda s: s["system_uncovered_loss"])
    assert cascade["scenario"] == worst["name"]
    assert cascade["bad_debt_no_cascade"] == pytest.approx(worst["system_uncovered_loss"], rel=1e-9)


def test_user_scenario_file_and_zero_shock(tmp_path):
    scenarios = tmp_path / "s.json"
    scenarios.write_text(json.dumps({"scenarios": [{"name": "nothing"}, {"name": "BTC -50%",
                                                                          "returns": {"BTC": -0.5}}]}))
    doc = stress_json("--scenarios", str(scenarios), "--no-reverse")
    metrics = runner.invoke(app, ["metrics", str(BOOK), "-m", str(MARKET), "-f", "json", "--no-distance"])
    accounts = json.loads(metrics.stdout)["accounts"]
    today = sum(max(0.0, -a["adjusted_equity"]) for a in accounts)
    nothing, crash = doc["scenarios"]
    assert nothing["system_uncovered_loss"] == pytest.approx(today, rel=1e-12)
    assert crash["system_uncovered_loss"] > nothing["system_uncovered_loss"]


def test_html_report_is_written(tmp_path):
    out = tmp_path / "stress.html"
    result = runner.invoke(app, ["stress", str(BOOK), "-m", str(MARKET), "-s", "hypothetical", "--cascade",
                                 "-f", "html", "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "Liquidation cascade" in page


@pytest.mark.skipif(not (DATA / "budydeveloper_crypto-dataset").is_dir(), reason="shared market data not present")
def test_monte_carlo_from_the_shared_price_files():
    doc = stress_json("-s", "montecarlo", "--paths", "400", "--seed", "3", "--no-reverse")
    assert len(doc["scenarios"]) == 400 and doc["kind"] == "montecarlo"
    losses = sorted(s["system_uncovered_loss"] for s in doc["scenarios"])
    assert losses[0] <= doc["var"] <= doc["es"] <= losses[-1]


@pytest.mark.skipif(not (DATA / "budydeveloper_crypto-dataset").is_dir(), reason="shared market data not present")
def test_historical_simulation_has_one_scenario_per_window():
    doc = stress_json("-s", "histsim", "--horizon-days", "10", "--no-reverse")
    assert doc["kind"] == "historical-simulation" and len(doc["scenarios"]) > 1000
    assert doc["scenarios"][0]["date"] < doc["scenarios"][-1]["date"]


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["-s", "nonsense"], "nonsense"),
        (["-s", "montecarlo", "--prices", "BTC=/nowhere.csv"], "/nowhere.csv"),
    ],
)
def test_bad_input_exits_2(args, expect):
    result = runner.invoke(app, ["stress", str(BOOK), "-m", str(MARKET), *args])
    assert result.exit_code == 2
    assert expect in result.output and "Traceback" not in result.output


def test_monte_carlo_refuses_a_bad_price_row_naming_it(tmp_path):
    """A malformed row is exit 2 naming the file and row (dropping it would turn a 2-day return into a daily one)."""
    bad = tmp_path / "btc.csv"
    bad.write_text("Date,Close\n2024-01-01,42000\n2024-01-02,oops\n2024-01-03,43000\n2024-01-04,44000\n")
    result = CliRunner().invoke(app, ["stress", str(ROOT / "examples" / "book.json"), "--market",
                                      str(ROOT / "examples" / "market.json"), "--scenarios", "montecarlo",
                                      "--prices", f"BTC={bad}", "--paths", "10", "--format", "json"])
    assert result.exit_code == 2, result.output
    assert "btc.csv" in result.output and "3" in result.output and "Traceback" not in result.output

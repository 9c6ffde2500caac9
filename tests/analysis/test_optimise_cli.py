"""``ccm recommend`` end to end on the example book: JSON keys, figures consistent with the core, exit 2 on bad
input with one line and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ccm.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "examples" / "book.json"
MARKET = ROOT / "examples" / "market.json"
runner = CliRunner()


@pytest.fixture(scope="module")
def prices_csv(tmp_path_factory) -> Path:
    """A wide daily price CSV ending the day before the example market (synthetic, seeded)."""
    rng = np.random.default_rng(11)
    days = np.arange(np.datetime64("2024-08-01"), np.datetime64("2025-02-10"))
    paths = np.exp(np.cumsum(rng.normal(0, [0.03, 0.04, 0.05], (len(days), 3)), axis=0)) * [97_000, 2_650, 200]
    path = tmp_path_factory.mktemp("recommend") / "prices.csv"
    lines = ["date,BTC,ETH,SOL"] + [f"{d},{a:.4f},{b:.4f},{c:.4f}" for d, (a, b, c) in zip(days, paths, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def doc(prices_csv) -> dict:
    result = runner.invoke(app, ["recommend", str(BOOK), "-m", str(MARKET), "-f", "json", "--prices", str(prices_csv),
                                 "--target-probability", "0.01", "--horizon-hours", "24"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_has_the_documented_keys(doc):
    assert {"as_of", "target_probability", "horizon_hours", "addons", "swaps", "haircuts"} <= set(doc)
    assert doc["target_probability"] == 0.01 and doc["horizon_hours"] == 24
    assert doc["addons"] and doc["swaps"] and doc["haircuts"]
    assert {"account", "breach_probability", "addon_usd", "probability_after"} <= set(doc["addons"][0])
    assert {"account", "sell", "sell_qty", "buy", "buy_qty", "cost_usd", "stressed_coverage_before",
            "stressed_coverage_after"} <= set(doc["swaps"][0])
    assert {"asset", "current", "proposed", "forecast_vol", "reason"} <= set(doc["haircuts"][0])


def test_figures_are_consistent(doc):
    for a in doc["addons"]:
        assert a["breach_probability"] > 0.01
        assert a["addon_usd"] > 0 and a["probability_after"] <= 0.01
    assert doc["summary"]["total_addon_usd"] == pytest.approx(sum(a["addon_usd"] for a in doc["addons"]))
    for s in doc["swaps"]:
        assert s["stressed_coverage_after"] >= s["stressed_coverage_before"]
        assert s["sell_usd"] == pytest.approx(s["cost_usd"] / 10e-4, rel=1e-9)  # default 10 bp
    vols = {h["asset"]: h["forecast_vol"] for h in doc["haircuts"]}
    assert set(vols) == {"BTC", "ETH", "SOL"}


def test_forecast_vols_are_riskmetrics_on_the_file_annualised(doc, prices_csv):
    """The default --vol-model ewma, recomputed from the CSV (every close is before the market's as_of): λ = 0.94
    seeded with the mean square of the first 30 log returns, today's daily σ × √365."""
    import math

    rows = [line.split(",") for line in prices_csv.read_text().splitlines()[1:]]
    vols = {h["asset"]: h["forecast_vol"] for h in doc["haircuts"]}
    for k, asset in enumerate(("BTC", "ETH", "SOL"), start=1):
        closes = [float(r[k]) for r in rows]
        x = [math.log(b / a) for a, b in zip(closes[:-1], closes[1:], strict=True)]
        s2 = sum(r * r for r in x[:30]) / 30
        for r in x:
            s2 = 0.94 * s2 + 0.06 * r * r
        assert vols[asset] == pytest.approx(math.sqrt(365 * s2), rel=1e-9)


def test_table_view_runs(prices_csv, tmp_path):
    out = tmp_path / "report.txt"
    result = runner.invoke(app, ["recommend", str(BOOK), "-m", str(MARKET), "--prices", str(prices_csv),
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "Margin add-ons" in text and "Collateral swaps" in text and "Haircut proposals" in text


@pytest.mark.parametrize("args", [
    ["--target-probability", "1.5"],
    ["--target-probability", "0"],
    ["--horizon-hours", "-1"],
    ["--addon-asset", "BTC"],
    ["--addon-asset", "XYZ"],
    ["--vol-model", "magic"],
    ["--swap-cost-bp", "-5"],
    ["--scenarios", "no-such-scenarios"],
    ["--prices", "BTC=/no/such/file.csv"],
])
def test_bad_input_exits_2_with_one_line(args, tmp_path, prices_csv):
    out = tmp_path / "out.json"
    base = ["recommend", str(BOOK), "-m", str(MARKET), "-f", "json", "-o", str(out)]
    if "--prices" not in args:
        base += ["--prices", str(prices_csv)]
    result = runner.invoke(app, base + args)
    assert result.exit_code == 2, result.output
    assert "error" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_a_stale_price_history_exits_2(tmp_path, prices_csv):
    stale = tmp_path / "stale.csv"  # the fixture without its last 30 days: it ends 2025-01-10
    stale.write_text("\n".join(prices_csv.read_text().splitlines()[:-30]) + "\n")
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["recommend", str(BOOK), "-m", str(MARKET), "-f", "json", "-o", str(out),
                                 "--prices", str(stale)])
    assert result.exit_code == 2 and "stale" in result.output and "--prices" in result.output
    assert not out.exists()


def test_missing_book_exits_2(tmp_path):
    result = runner.invoke(app, ["recommend", str(tmp_path / "nope.json"), "-m", str(MARKET)])
    assert result.exit_code == 2


@pytest.mark.parametrize("hours", ["1e300", "8761"])
def test_horizon_beyond_a_year_exits_2_saying_the_limit(prices_csv, hours):
    result = runner.invoke(app, ["recommend", str(BOOK), "-m", str(MARKET), "-f", "json", "--prices", str(prices_csv),
                                 "--vol-model", "garch", "--horizon-hours", hours])
    assert result.exit_code == 2, result.output
    assert "at most 8,760 hours" in result.output and "Traceback" not in result.output

"""``ccm backtest`` end to end on a small demo venue and real BTC/ETH history: the JSON keys, the figures
against the exceptions recounted from the accounts, the HTML report, and bad input → one line, exit 2."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from ccm.cli.main import app
from ccm.io.book import write_book_json
from ccm.io.market import write_market_json
from ccm.synthetic import generate_venue

runner = CliRunner()
KEYS = ["model", "confidence", "mpor_days", "observations", "exceptions", "coverage", "kupiec", "christoffersen",
        "traffic_light", "procyclicality", "accounts"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("backtest-demo")
    venue = generate_venue(60, rng=np.random.default_rng(4))
    write_book_json(venue.columns, root / "book.json")
    write_market_json(venue.market, root / "market.json")
    prices = data_dir / "budydeveloper_crypto-dataset"
    return root, [f"{a}={prices / f'{a}-USD_1d.csv'}" for a in ("BTC", "ETH", "SOL")]


def _kupiec_by_hand(t: int, x: int, p: float) -> float:
    rate = x / t
    null = (t - x) * math.log(1 - p) + (x * math.log(p) if x else 0.0)
    alt = ((t - x) * math.log(1 - rate) if x < t else 0.0) + (x * math.log(rate) if x else 0.0)
    return -2 * null + 2 * alt


def _args(demo, *extra):
    root, specs = demo
    args = ["backtest", str(root / "book.json"), "-m", str(root / "market.json")]
    for spec in specs:
        args += ["--prices", spec]
    return args + list(extra)


def test_json_document(demo, tmp_path):
    out = tmp_path / "bt.json"
    res = runner.invoke(app, _args(demo, "--model", "portfolio", "--from", "2022-11-01", "--to", "2022-11-11",
                                   "--mpor-days", "1", "-f", "json", "-o", str(out)))
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert list(doc) == KEYS
    assert doc["model"] == "portfolio" and doc["mpor_days"] == 1 and doc["confidence"] == 0.99
    assert doc["observations"] == sum(a["observations"] for a in doc["accounts"])
    assert doc["exceptions"] == sum(a["exceptions"] for a in doc["accounts"])
    assert all(a["observations"] == 10 for a in doc["accounts"])  # 10 margin dates in the window
    t, x = doc["observations"], doc["exceptions"]
    assert doc["coverage"] == pytest.approx(1 - x / t, rel=1e-12)
    assert doc["kupiec"]["statistic"] == pytest.approx(_kupiec_by_hand(t, x, 0.01), rel=1e-9, abs=1e-12)
    assert doc["kupiec"]["p_value"] == pytest.approx(math.erfc(math.sqrt(doc["kupiec"]["statistic"] / 2)),
                                                     rel=1e-9)  # χ²(1) survival = erfc(√(LR/2))
    for a in doc["accounts"]:
        assert a["coverage"] == pytest.approx(1 - a["exceptions"] / a["observations"], rel=1e-12)
    assert set(doc["kupiec"]) == {"statistic", "p_value"}
    assert set(doc["christoffersen"]) == {"independence", "conditional"}
    assert set(doc["procyclicality"]) == {"peak_to_trough", "max_increase"}
    zones = doc["traffic_light"]
    assert zones["green"] + zones["yellow"] + zones["red"] == len(doc["accounts"])


def test_html_and_table(demo, tmp_path):
    out = tmp_path / "bt.html"
    res = runner.invoke(app, _args(demo, "--model", "var", "--from", "2022-06-01", "--to", "2022-06-11", "-f", "html",
                                   "-o", str(out)))
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert text.startswith("<!doctype html>") and "<svg" in text and "Kupiec" in text
    res = runner.invoke(app, _args(demo, "--from", "2022-06-01", "--to", "2022-06-06", "-f", "table"))
    assert res.exit_code == 0, res.output
    assert "Kupiec POF" in res.output


@pytest.mark.parametrize("extra,message", [
    (("--mpor-days", "0"), "--mpor-days"),
    (("--confidence", "1.5"), "--confidence"),
    (("--from", "2030-01-01"), "no margin date"),
    (("--from", "yesterday"), "unreadable date"),
])
def test_bad_input_exits_2(demo, extra, message):
    res = runner.invoke(app, _args(demo, *extra))
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output


def test_missing_price_file_exits_2(demo, tmp_path):
    root, _ = demo
    res = runner.invoke(app, ["backtest", str(root / "book.json"), "-m", str(root / "market.json"),
                              "--prices", f"BTC={tmp_path / 'nope.csv'}"])
    assert res.exit_code == 2 and "nope.csv" in res.output


def test_a_position_asset_without_history_exits_2_and_writes_nothing(demo, tmp_path):
    """Held at its snapshot price, SOL would have no realised loss: a silently optimistic coverage."""
    root, specs = demo
    out = tmp_path / "bt.json"
    res = runner.invoke(app, ["backtest", str(root / "book.json"), "-m", str(root / "market.json"),
                              "--prices", specs[0], "--prices", specs[1], "--from", "2022-06-01", "--to",
                              "2022-06-05", "-o", str(out)])
    assert res.exit_code == 2 and "no price history for SOL" in res.output and "--prices" in res.output
    assert "Traceback" not in res.output and not out.exists()


def test_malformed_price_row_exits_2_naming_file_row_and_field(demo, tmp_path):
    root, specs = demo
    bad = tmp_path / "BTC-USD_1d.csv"
    lines = open(specs[0].split("=", 1)[1]).read().splitlines()
    lines[100] = lines[100].replace(lines[100].split(",")[1], "-1", 1)
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "bt.json"
    res = runner.invoke(app, ["backtest", str(root / "book.json"), "-m", str(root / "market.json"),
                              "--prices", f"BTC={bad}", "--prices", specs[1], "--prices", specs[2], "-o", str(out)])
    assert res.exit_code == 2 and "BTC-USD_1d.csv" in res.output and "row 101" in res.output
    assert "'Close'" in res.output and not out.exists()


def test_a_gap_in_the_daily_history_exits_2(demo, tmp_path):
    root, specs = demo
    gap = tmp_path / "BTC-USD_1d.csv"
    lines = open(specs[0].split("=", 1)[1]).read().splitlines()
    gap.write_text("\n".join(lines[:2500] + lines[2501:]) + "\n")
    out = tmp_path / "bt.json"
    res = runner.invoke(app, ["backtest", str(root / "book.json"), "-m", str(root / "market.json"),
                              "--prices", f"BTC={gap}", "--prices", specs[1], "--prices", specs[2], "-o", str(out)])
    assert res.exit_code == 2 and "without gaps" in res.output and "--prices" in res.output
    assert "Traceback" not in res.output and not out.exists()

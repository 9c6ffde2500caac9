"""End-to-end checks of ``ccm breach`` on the shipped example book with a synthetic daily price history whose
EWMA volatility is known exactly (alternating ±r log returns: every squared return is r², so the forecast is r)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import typer
from scipy.stats import norm
from typer.testing import CliRunner

from ccm.cli.breach import breach

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "examples" / "book.json"
MARKET = ROOT / "examples" / "market.json"
RATES = {"BTC": 0.02, "ETH": 0.03, "SOL": 0.05}
runner = CliRunner()
app = typer.Typer()
app.command()(breach)  # the command alone: independent of the registration in ccm.cli.main


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    """Daily closes up to the market's as_of (2025-02-10) with log returns ±r per asset, alternating."""
    path = tmp_path_factory.mktemp("prices") / "wide.csv"
    days = np.arange(120)
    start = np.datetime64("2025-02-10", "D") - np.timedelta64(119, "D")
    sign = np.where(days % 2 == 1, 1.0, -1.0)
    sign[0] = 0.0
    cols = {a: 100 * np.exp(np.cumsum(sign * r)) for a, r in RATES.items()}
    lines = ["date,BTC,ETH,SOL"] + [f"{start + np.timedelta64(int(d), 'D')},{cols['BTC'][d]:.12g},"
                                    f"{cols['ETH'][d]:.12g},{cols['SOL'][d]:.12g}" for d in days]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*args: str):
    return runner.invoke(app, [str(BOOK), "-m", str(MARKET), *args])


@pytest.fixture(scope="module")
def document(history) -> dict:
    result = run("--prices", str(history), "--horizon-hours", "48", "-f", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_volatilities_are_the_known_ewma_values(document):
    assert document["horizon_hours"] == 48
    for asset, r in RATES.items():
        assert document["volatility"]["daily"][asset] == pytest.approx(r, rel=1e-9)


def test_probabilities_follow_the_first_passage_closed_forms(document):
    h = 2.0
    vols = document["volatility"]["daily"]  # ≈ RATES (checked above); exact values for the far tails here
    seen = {"one": 0, "breached": 0, "none": 0}
    for rec in document["accounts"]:
        p, down, up = rec["breach_probability"], rec["distance_down"], rec["distance_up"]
        assert 0.0 <= p <= 1.0
        if down == 0.0 or up == 0.0:
            assert p == 1.0
            seen["breached"] += 1
        elif down is None and up is None:
            assert p == 0.0
            seen["none"] += 1
        elif (down is None) != (up is None):
            s = vols[rec["dominant_asset"]] * math.sqrt(h)
            barrier = math.log(1 - down) if down is not None else -math.log(1 + up)
            assert p == pytest.approx(2 * norm.cdf(barrier / s), rel=1e-9, abs=1e-300)
            seen["one"] += 1
        else:  # two barriers: between the larger one-sided probability and the union bound
            s = vols[rec["dominant_asset"]] * math.sqrt(h)
            lo, hi = 2 * norm.cdf(math.log(1 - down) / s), 2 * norm.cdf(-math.log(1 + up) / s)
            assert max(lo, hi) - 1e-12 <= p <= min(1.0, lo + hi) + 1e-12
    assert seen["one"] >= 3 and seen["breached"] >= 1 and seen["none"] >= 1
    s = document["summary"]
    assert s["accounts"] == len(document["accounts"])
    assert s["expected_breaches"] == pytest.approx(sum(r["breach_probability"] for r in document["accounts"]))


def test_a_single_asset_account_uses_its_own_volatility(document):
    by_id = {r["account"]: r for r in document["accounts"]}
    assert by_id["trader-eth-short"]["dominant_asset"] == "ETH"
    assert by_id["sol-short-spot"]["dominant_asset"] == "SOL"
    assert by_id["idle"]["dominant_asset"] is None and by_id["idle"]["breach_probability"] == 0.0


def test_table_lists_the_most_likely_first(history):
    result = run("--prices", str(history), "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "P(breach)" in result.stdout and "underwater" in result.stdout


@pytest.mark.parametrize("args", [
    ("--horizon-hours", "-5"),
    ("--horizon-hours", "nan"),
])
def test_bad_horizon_exits_2_with_one_line(history, args):
    result = run("--prices", str(history), *args)
    assert result.exit_code == 2
    assert "horizon" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("hours", ["1e300", "8761", "inf"])
def test_horizon_beyond_a_year_exits_2_saying_the_limit_without_running(history, hours):
    """GARCH summed one forecast per horizon day: --horizon-hours 1e300 ran forever. Refused before any work."""
    result = run("--prices", str(history), "--vol-model", "garch", "--horizon-hours", hours)
    assert result.exit_code == 2, result.output
    assert "horizon" in result.output and "Traceback" not in result.output
    if hours != "inf":
        assert "at most 8,760 hours" in result.output


def test_a_horizon_of_exactly_one_year_runs(history):
    result = run("--prices", str(history), "--horizon-hours", "8760", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["horizon_hours"] == 8760


def test_missing_asset_history_and_unreadable_file_exit_2(history, tmp_path):
    only_btc = tmp_path / "btc.csv"
    only_btc.write_text("date,BTC\n2025-02-01,100\n2025-02-02,101\n2025-02-03,99\n2025-02-04,100\n")
    result = run("--prices", str(only_btc))
    assert result.exit_code == 2 and "ETH" in result.output and "--prices" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("date,BTC,ETH,SOL\n2025-02-01,100,abc,3\n")
    result = run("--prices", str(bad))
    assert result.exit_code == 2 and "bad.csv" in result.output
    result = run("--prices", str(tmp_path / "absent.csv"))
    assert result.exit_code == 2


def test_history_after_the_snapshot_is_refused(tmp_path):
    late = tmp_path / "late.csv"
    late.write_text("date,BTC,ETH,SOL\n2026-01-01,1,1,1\n2026-01-02,2,2,2\n2026-01-03,1,1,1\n")
    result = run("--prices", str(late))
    assert result.exit_code == 2 and "as_of" in result.output


def test_garch_vol_model_from_the_forecast_module(history):
    result = run("--prices", str(history), "--vol-model", "garch", "-f", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["vol_model"] == "garch"
    from ccm.analysis.forecast import forecast_volatility

    for asset, r in RATES.items():  # every squared return is r²: any variance model fitted to it forecasts ≈ r
        assert doc["volatility"]["daily"][asset] == pytest.approx(r, rel=0.05)
    # exactly: GARCH (tested against arch) fitted on the file's closes, H = ⌈24 h / 24⌉ = 1 day
    lines = [line.split(",") for line in history.read_text().splitlines()[1:]]
    closes = np.array([[float(v) for v in line[1:]] for line in lines])
    want = forecast_volatility(closes, model="garch", horizon_days=1)
    got = [doc["volatility"]["daily"][a] for a in ("BTC", "ETH", "SOL")]
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_a_book_of_stablecoins_needs_no_price_history(tmp_path):
    book = tmp_path / "stable.json"
    book.write_text(json.dumps({"instruments": [], "accounts": [{"id": "cash", "collateral": {"USDC": 1000}}]}))
    result = runner.invoke(app, [str(book), "-m", str(MARKET), "-f", "json", "--prices", str(tmp_path / "none.csv")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["accounts"][0]["breach_probability"] == 0.0 and doc["volatility"]["as_of"] is None


def test_a_history_ending_long_before_the_snapshot_is_refused(tmp_path):
    """Closes of 2024 only for a market of 2025-02-10: a year-old volatility would be used silently."""
    old = tmp_path / "old.csv"
    days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-03-01"))
    old.write_text("date,BTC,ETH,SOL\n" + "".join(f"{d},{100 + k % 2},{50 + k % 3},{10 + k % 2}\n"
                                                  for k, d in enumerate(days)))
    out = tmp_path / "out.json"
    result = run("--prices", str(old), "-f", "json", "-o", str(out))
    assert result.exit_code == 2 and "--prices" in result.output and "2024-02-29" in result.output
    assert "stale" in result.output and "Traceback" not in result.output and not out.exists()

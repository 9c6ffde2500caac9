"""``ccm forecast`` end to end: the JSON contract, the table, and exit code 2 with one located line on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from ccm.cli.forecast import forecast

app = typer.Typer()
app.command()(forecast)
runner = CliRunner()
REQUIRED = {"asset", "horizon_days", "models", "best"}
MODEL_KEYS = {"model", "qlike", "mse", "n_test"}


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def synthetic_prices(tmp_path_factory) -> str:
    """A daily Yahoo-layout file of a GARCH(1,1) path (fixed rng), 900 days from 2020-01-01."""
    rng = np.random.default_rng(42)
    n, s2, x = 900, 4e-4, []
    for z in rng.standard_normal(n):
        x.append(np.sqrt(s2) * z)
        s2 = 2e-5 + 0.1 * x[-1] ** 2 + 0.85 * s2
    prices = 100 * np.exp(np.concatenate([[0.0], np.cumsum(x)]))
    days = np.datetime64("2020-01-01") + np.arange(n + 1)
    path = tmp_path_factory.mktemp("forecast") / "SYN-USD_1d.csv"
    path.write_text("Date,Close,High,Low,Open,Volume\n" + "".join(
        f"{d},{p:.6f},{p:.6f},{p:.6f},{p:.6f},1\n" for d, p in zip(days, prices, strict=True)))
    return str(path)


def test_json_contract_on_synthetic_prices(synthetic_prices):
    result = run(synthetic_prices, "--test-from", "2022-01-01", "-H", "3", "--refit-days", "90", "-f", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert REQUIRED <= set(doc)
    assert doc["asset"] == "SYN-USD_1d" and doc["horizon_days"] == 3
    assert [m["model"] for m in doc["models"]] == ["ewma", "garch", "gjr", "gbm"]
    for m in doc["models"]:
        assert MODEL_KEYS <= set(m)
        # returns dated 2022-01-01 … 2022-06-19 (the last of the 900 days); origins need 3 days to realise
        assert m["n_test"] == (np.datetime64("2022-06-19") - np.datetime64("2022-01-01")).astype(int) + 1 - 2
        assert m["qlike"] > 0 and m["mse"] > 0 and 0 < m["latest_daily_vol"] < 0.2
    assert doc["best"] == min(doc["models"], key=lambda m: m["qlike"])["model"]
    assert doc["models"][0]["qlike_ratio_vs_ewma"] == pytest.approx(1.0)
    assert doc["models"][0]["dm_pvalue_vs_ewma"] == 1.0
    assert all(0.0 <= m["dm_pvalue_vs_ewma"] <= 1.0 for m in doc["models"])
    assert doc["test_from"] == "2022-01-01"


def test_single_model_still_reports_ratios_to_ewma(synthetic_prices):
    result = run(f"SYN={synthetic_prices}", "--model", "garch", "--test-from", "2022-03-01", "-f", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["asset"] == "SYN" and [m["model"] for m in doc["models"]] == ["garch"] and doc["best"] == "garch"
    ewma = run(f"SYN={synthetic_prices}", "--model", "ewma", "--test-from", "2022-03-01", "-f", "json")
    base = json.loads(ewma.stdout)["models"][0]
    garch = doc["models"][0]
    assert garch["n_test"] == base["n_test"]
    assert garch["qlike_ratio_vs_ewma"] == pytest.approx(garch["qlike"] / base["qlike"], rel=1e-12)
    assert garch["mse_ratio_vs_ewma"] == pytest.approx(garch["mse"] / base["mse"], rel=1e-12)


def test_table_names_every_model(synthetic_prices):
    result = run(synthetic_prices, "--test-from", "2022-03-01", "--refit-days", "120")
    assert result.exit_code == 0, result.output
    for name in ("ewma", "garch", "gjr", "gbm", "QLIKE", "best by QLIKE"):
        assert name in result.stdout


@pytest.mark.parametrize(("args", "where"), [
    (["/nonexistent/prices.csv"], "/nonexistent/prices.csv"),
    (["{p}", "--test-from", "2030-01-01"], "--test-from"),
    (["{p}", "--test-from", "someday"], "--test-from"),
    (["{p}", "--horizon-days", "0"], "--horizon-days"),
    (["{p}", "--model", "arima"], "arima"),
    (["{p}", "--funding", "{bad}"], "header"),
    (["{p}", "--implied-vol", "{bad}"], "header"),
    (["{gap}"], "gaps"),
    (["{p}", "--test-from", "2020-01-20"], "first 30 days"),
    (["{p}", "--test-from", "2020-03-01"], "at least 100"),
])
def test_bad_input_exits_2_with_one_located_line(synthetic_prices, tmp_path, args, where):
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\n2022-01-01,1\n")
    gap = tmp_path / "gap.csv"
    gap.write_text("Date,Close\n2022-01-01,100\n2022-01-02,101\n2022-01-04,99\n2022-01-05,98\n")
    filled = [a.format(p=synthetic_prices, bad=bad, gap=gap) for a in args]
    result = run(*filled, "-f", "json")
    assert result.exit_code == 2, result.output
    assert where in result.output
    assert "Traceback" not in result.output


def test_real_btc_with_funding_and_dvol(data_dir):
    """A short real-data window: BTC daily (Yahoo), Binance funding, Deribit DVOL, last ~4 months of 2024."""
    prices = data_dir / "budydeveloper_crypto-dataset" / "BTC-USD_1d.csv"
    funding = data_dir / "sky1241_HSBC-algo-genetic" / "funding_rate_BTCUSDT.csv"
    dvol = data_dir / "isayggyo_new" / "dvol_btc.csv"
    result = run(f"BTC={prices}", "--test-from", "2024-09-01", "--refit-days", "60", "--funding", str(funding),
                 "--implied-vol", str(dvol), "-f", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["asset"] == "BTC" and doc["features"] == ["funding_daily", "implied_var_daily"]
    assert {m["model"] for m in doc["models"]} == {"ewma", "garch", "gjr", "gbm"}
    for m in doc["models"]:
        assert m["n_test"] == 164  # 2024-09-01 … 2025-02-11
        assert 0.15 < m["latest_annualised_vol"] < 1.5  # BTC's vol has stayed in this band since 2017
    garch = next(m for m in doc["models"] if m["model"] == "garch")
    assert 0.5 < garch["qlike_ratio_vs_ewma"] < 2.0


def test_real_dvol_json_layout(data_dir):
    prices = data_dir / "budydeveloper_crypto-dataset" / "BTC-USD_1d.csv"
    dvol = data_dir / "kalyar197_eth-dashboard" / "dvol_btc.json"
    result = run(str(prices), "--asset", "BTC", "--model", "gbm", "--test-from", "2024-12-01", "--refit-days", "90",
                 "--implied-vol", str(dvol), "-f", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["asset"] == "BTC" and doc["features"] == ["implied_var_daily"]


def test_ewma_figures_match_a_hand_loop_over_the_file(synthetic_prices):
    """QLIKE, MSE, n_test and today's vol of the EWMA row recomputed from the CSV with plain loops: RiskMetrics
    λ = 0.94 seeded with the mean square of the first 30 returns, H-day forecast H σ², realised = the next H
    squared returns, origins from the first return dated on or after --test-from."""
    import csv
    import math

    h = 3
    result = run(synthetic_prices, "--model", "ewma", "--test-from", "2022-01-01", "-H", str(h), "-f", "json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["models"][0]
    with open(synthetic_prices, newline="") as handle:
        rows = list(csv.DictReader(handle))
    closes = [float(r["Close"]) for r in rows]
    x = [math.log(b / a) for a, b in zip(closes[:-1], closes[1:], strict=True)]
    dates = [r["Date"] for r in rows[1:]]  # x[t] is dated by its closing day
    s2 = [sum(r * r for r in x[:30]) / 30]
    for r in x:
        s2.append(0.94 * s2[-1] + 0.06 * r * r)
    first = next(t for t, d in enumerate(dates) if d >= "2022-01-01")
    qlikes, squares = [], []
    for t in range(first, len(x) - h + 1):
        f, realised = h * s2[t], sum(r * r for r in x[t:t + h])
        qlikes.append(realised / f - math.log(realised / f) - 1)
        squares.append((realised - f) ** 2)
    assert row["n_test"] == len(qlikes)
    assert row["qlike"] == pytest.approx(sum(qlikes) / len(qlikes), rel=1e-9)
    assert row["mse"] == pytest.approx(sum(squares) / len(squares), rel=1e-9)
    assert row["latest_daily_vol"] == pytest.approx(math.sqrt(s2[-1]), rel=1e-9)
    assert row["latest_annualised_vol"] == pytest.approx(math.sqrt(365 * s2[-1]), rel=1e-9)

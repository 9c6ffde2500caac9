"""``ccm metrics --model var --prices …`` on a one-account book of a linear BTC perpetual, against hand
computations: historical VaR by a plain sort of the 2-day window losses, parametric VaR = z σ √MPOR |exposure|
(sample σ of daily log returns), and distance to liquidation from its closed form (the VaR of a linear book
scales with the price level)."""

from __future__ import annotations

import json
import math
import statistics
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import pytest
from typer.testing import CliRunner

from ccm.cli.main import app

runner = CliRunner()
Q, F, CASH = 2.0, 60_000.0, 50_000.0
N_DAYS = 150
START = date(2024, 6, 1)


def _closes() -> list[float]:
    rng = np.random.default_rng(21)
    return [float(x) for x in 40_000.0 * np.exp(np.cumsum(np.r_[0.0, 0.035 * rng.standard_t(4, N_DAYS - 1)]))]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("var")
    book = {"instruments": [{"id": "BTC_USDC-PERPETUAL", "type": "perpetual", "underlying": "BTC",
                             "settlement": "linear", "settlement_asset": "USDC"}],
            "accounts": [{"id": "long-perp", "collateral": {"USDC": CASH},
                          "positions": [{"instrument": "BTC_USDC-PERPETUAL", "quantity": Q}]}]}
    as_of = START + timedelta(days=N_DAYS - 1)
    market = {"as_of": f"{as_of.isoformat()}T12:00:00Z", "index": {"BTC": F, "USDC": 1.0}}
    (d / "book.json").write_text(json.dumps(book))
    (d / "market.json").write_text(json.dumps(market))
    rows = [f"{(START + timedelta(days=k)).isoformat()},{c!r}" for k, c in enumerate(_closes())]
    rows.append(f"{(as_of + timedelta(days=1)).isoformat()},1.0")  # after the snapshot: must be ignored
    (d / "btc.csv").write_text("Date,Close\n" + "\n".join(rows) + "\n")
    (d / "parametric.yaml").write_text("margin:\n  var:\n    method: parametric\n    covariance: sample\n")
    return d


def _metrics(files, *extra: str) -> dict:
    result = runner.invoke(app, ["metrics", str(files / "book.json"), "--market", str(files / "market.json"),
                                 "--model", "var", "--prices", f"BTC={files / 'btc.csv'}", "--format", "json",
                                 *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["accounts"][0]


def _hand_historical_var(c: float = 0.99, h: int = 2) -> float:
    closes = _closes()
    losses = [-Q * F * (closes[k + h] / closes[k] - 1.0) for k in range(len(closes) - h)]
    ordered = sorted(losses)
    return ordered[math.ceil(c * len(ordered) - 1e-9) - 1]


def test_historical_var_equals_the_plain_sort(files):
    account = _metrics(files, "--no-distance")
    assert account["model"] == "var"
    want = _hand_historical_var()
    assert account["initial_margin"] == pytest.approx(want, rel=1e-9)
    assert account["maintenance_margin"] == pytest.approx(want, rel=1e-9)  # maintenance_ratio 1
    assert account["coverage_ratio"] == pytest.approx(CASH / want, rel=1e-9)
    assert account["contributors"][0]["instrument"] == "BTC_USDC-PERPETUAL"


def test_parametric_var_equals_z_sigma_sqrt_mpor_exposure(files):
    account = _metrics(files, "--no-distance", "--config", str(files / "parametric.yaml"))
    closes = _closes()
    sigma = statistics.stdev([math.log(closes[k + 1] / closes[k]) for k in range(len(closes) - 1)])
    want = NormalDist().inv_cdf(0.99) * sigma * math.sqrt(2) * abs(Q * F)
    assert account["initial_margin"] == pytest.approx(want, rel=1e-6)


def test_distance_to_liquidation_solves_coverage_one(files):
    account = _metrics(files)
    var = _hand_historical_var()
    # Down by d: equity CASH − Q F d, requirement var × (1 − d) (linear book); coverage 1 ⇔ d below.
    want = (CASH - var) / (Q * F - var)
    down = account["distance_to_liquidation"]["down"]
    assert down == pytest.approx(want, abs=2e-5)
    assert (CASH - Q * F * down) / (var * (1 - down)) == pytest.approx(1.0, abs=1e-3)
    assert account["distance_to_liquidation"]["up"] is None  # a long only gains on the way up


def test_var_without_prices_exits_2_naming_the_field(files):
    result = runner.invoke(app, ["metrics", str(files / "book.json"), "--market", str(files / "market.json"),
                                 "--model", "var", "--format", "json"])
    assert result.exit_code == 2
    assert "margin_model" in result.output and "long-perp" in result.output and "--prices" in result.output
    assert "Traceback" not in result.output


def test_prices_after_the_snapshot_only_exit_2(files, tmp_path):
    late = tmp_path / "late.csv"
    late.write_text("Date,Close\n2030-01-01,1.0\n2030-01-02,1.1\n2030-01-03,1.2\n")
    result = runner.invoke(app, ["metrics", str(files / "book.json"), "--market", str(files / "market.json"),
                                 "--model", "var", "--prices", f"BTC={late}", "--format", "json"])
    assert result.exit_code == 2 and "--prices" in result.output


def test_an_account_of_the_book_on_var_uses_the_history_and_needs_it(files, tmp_path):
    """``margin_model: var`` in the book (no --model): the same margin as --model var; without --prices, exit 2."""
    book = json.loads((files / "book.json").read_text())
    book["accounts"][0]["margin_model"] = "var"
    path = tmp_path / "book-var.json"
    path.write_text(json.dumps(book))
    result = runner.invoke(app, ["metrics", str(path), "--market", str(files / "market.json"), "--prices",
                                 f"BTC={files / 'btc.csv'}", "--format", "json", "--no-distance"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accounts"][0]["initial_margin"] == pytest.approx(_hand_historical_var(),
                                                                                       rel=1e-9)
    missing = runner.invoke(app, ["metrics", str(path), "--market", str(files / "market.json"), "--format", "json"])
    assert missing.exit_code == 2 and "long-perp" in missing.output and "--prices" in missing.output


@pytest.mark.parametrize(("rows", "words"), [
    # ends 40 days before the snapshot: a stale history
    ([f"{(START + timedelta(days=k)).isoformat()},{40_000 + k}" for k in range(N_DAYS - 40)], "days before"),
    # one day missing: the 2-day window would silently span 3 days
    ([f"{(START + timedelta(days=k)).isoformat()},{40_000 + k}" for k in range(N_DAYS) if k != 60], "gaps"),
])
def test_stale_or_gapped_history_exits_2(files, tmp_path, rows, words):
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,Close\n" + "\n".join(rows) + "\n")
    result = runner.invoke(app, ["metrics", str(files / "book.json"), "--market", str(files / "market.json"),
                                 "--model", "var", "--prices", f"BTC={bad}", "--format", "json"])
    assert result.exit_code == 2, result.output
    assert words in result.output and "--prices" in result.output and "Traceback" not in result.output

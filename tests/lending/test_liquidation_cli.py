"""``ccm liquidations``: JSON against hand-computed figures, table output, exit 2 on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from ccm.cli.liquidations import liquidations

runner = CliRunner()
app = typer.Typer()
app.command()(liquidations)


@pytest.fixture()
def files(tmp_path):
    """Two Compound-style borrowers on ETH at $2,000 and a 60-day ETH price history (±2% a day, alternating)."""
    book = {"instruments": [], "accounts": [
        {"id": "thin", "margin_model": "lending", "collateral": {"ETH": 10.0, "USDC": -18_000.0}},
        {"id": "safe", "margin_model": "lending", "collateral": {"ETH": 10.0, "USDC": -8_000.0}},
        {"id": "saver", "collateral": {"USDC": 5_000.0}},
    ]}
    market = {"as_of": "2025-02-10T08:00:00Z", "index": {"ETH": 2_000.0, "USDC": 1.0}}
    (tmp_path / "book.json").write_text(json.dumps(book))
    (tmp_path / "market.json").write_text(json.dumps(market))
    prices = 2_000.0 * np.cumprod(np.where(np.arange(60) % 2, 1.02, 1 / 1.02))
    lines = ["date,close"] + [f"2024-12-{d + 1:02d},{p:.6f}" if d < 31 else f"2025-01-{d - 30:02d},{p:.6f}"
                            for d, p in enumerate(prices)]
    (tmp_path / "eth.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def run(files, *args):
    return runner.invoke(app, [str(files / "book.json"), "--market", str(files / "market.json"),
                               "--prices", f"ETH={files / 'eth.csv'}", *args])


def test_json_now_figures_by_hand(files):
    """cUSDCv3 WETH (defi.md §2.1): liquidateCF 0.895, liquidationFactor 0.95, store front 0.5. 'thin': 10 ETH
    at $2,000 × 0.895 = 17,900 < 18,000 → absorbed now, credit 19,000 covers the debt; 'safe' is not."""
    result = run(files, "--preset", "compound-v3", "--impact", "0", "--paths", "200", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["protocol"] == "compound-v3"
    assert doc["accounts"] == 2  # the saver has no debt
    assert doc["debt_usd"] == 26_000.0
    assert doc["collateral_usd"] == 40_000.0
    assert doc["ignored_collateral_usd"] == 0.0
    assert doc["now"] == {"accounts_liquidated": 1, "liquidations": 1, "liquidated_usd": 20_000.0, "bad_debt_usd": 0.0,
                          "redistributed_usd": 0.0, "still_liquidatable": 0, "worsening": None,
                          "worsening_accounts": None}
    assert set(doc["bad_debt_var"]) == {"95%", "99%"}
    lar95, lar99 = doc["liquidations_at_risk"]["95%"], doc["liquidations_at_risk"]["99%"]
    assert 0 <= lar95 <= lar99
    assert doc["price_history"]["assets"] == ["ETH"] and doc["price_history"]["days"] == 60
    # Paths start from today's book, impact off. 'thin' is absorbed on a path iff 10 × P × 0.895 < 18,000, i.e.
    # P < 2,011.17 (about 61% of paths at a daily σ of ln 1.02 ≈ 2%), for 10 × P < 20,111.73; 'safe' would need
    # P < $893.85 (−55%, never in a day). So every path liquidates 0 or 10 × P ∈ (0, 20,111.73), and the top 5%
    # lie just below the bound: more than 19,000 (P(−5%) < 1%).
    assert 19_000.0 < lar95 <= lar99 < 18_000.0 / 0.895
    assert doc["bad_debt_var"]["99%"] == 0.0


def test_aave_reports_worsening_accounts(files, tmp_path):
    """Aave v3 test market WETH LT 0.825, LB 1.05: 'thin' HF = 20,000 × 0.825 / 18,000 = 0.917 > 0.866: a
    liquidation improves it; make a third borrower at HF 0.80 < 0.866."""
    book = json.loads((files / "book.json").read_text())
    book["accounts"].append({"id": "deep", "margin_model": "lending", "collateral": {"ETH": 10.0, "USDC": -20_625.0}})
    (files / "book.json").write_text(json.dumps(book))
    result = run(files, "--preset", "aave-v3", "--impact", "0", "--paths", "50", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["now"]["worsening"] == 1 and doc["now"]["worsening_accounts"] == ["deep"]
    # HF 0.917 and 0.80 are ≤ 0.95: 100% close factor, one liquidation each ('thin' repays all 18,000)
    assert doc["now"]["liquidations"] == 2
    assert doc["now"]["liquidated_usd"] == pytest.approx(18_000 * 1.05 + 20_000.0)  # 'deep' loses all 10 ETH
    assert doc["now"]["bad_debt_usd"] == pytest.approx(20_625.0 - 20_000.0 / 1.05)


def test_aave_emode_accounts_use_their_category(files):
    """'thin' in the preset's eth-correlated eMode (LT 0.98, LB 1.01): HF 20,000 × 0.98 / 18,000 = 1.089, no longer
    liquidatable; 'capped' (HF 0.971, 50%: seizes 8,925) is; 'safe' is not."""
    (files / "emode.yaml").write_text(
        "protocol:\n  name: aave-v3\n  aave:\n    account_emode: {thin: eth-correlated}\n")
    result = run(files, "--preset", "aave-v3", "--config", str(files / "emode.yaml"), "--impact", "0", "--paths",
                 "20", "--format", "json")
    assert result.exit_code == 0, result.output
    book = json.loads((files / "book.json").read_text())
    assert [a["id"] for a in book["accounts"]] == ["thin", "safe", "saver"]
    assert json.loads(result.output)["now"]["accounts_liquidated"] == 0
    book["accounts"].append({"id": "capped", "margin_model": "lending", "collateral": {"ETH": 10.0, "USDC": -17_000.0}})
    (files / "book.json").write_text(json.dumps(book))
    doc = json.loads(run(files, "--preset", "aave-v3", "--config", str(files / "emode.yaml"), "--impact", "0",
                         "--paths", "20", "--format", "json").output)
    assert doc["now"]["accounts_liquidated"] == 1
    assert doc["now"]["liquidated_usd"] == pytest.approx(8_925.0)
    plain = json.loads(run(files, "--preset", "aave-v3", "--impact", "0", "--paths", "20", "--format", "json").output)
    assert plain["now"]["accounts_liquidated"] == 2  # without eMode 'thin' (HF 0.917) is liquidated too


def test_table_output(files):
    result = run(files, "--preset", "maker", "--paths", "50")
    assert result.exit_code == 0, result.output
    assert "bad debt VaR" in result.output and "Liquidations under maker" in result.output


@pytest.mark.parametrize("args, words", [
    (["--preset", "morpho"], "unknown preset"),
    ([], "protocol"),
    (["--preset", "aave-v3", "--paths", "0"], "paths"),
])
def test_bad_input_exits_2(files, args, words):
    result = run(files, *args)
    assert result.exit_code == 2
    assert words in result.output
    assert "Traceback" not in result.output


def test_missing_price_history_exits_2(files, tmp_path, monkeypatch):
    monkeypatch.setenv("CCM_DATA_DIR", str(tmp_path / "nowhere"))
    result = runner.invoke(app, [str(files / "book.json"), "--market", str(files / "market.json"),
                                 "--preset", "aave-v3"])
    assert result.exit_code == 2
    assert "no price history for collateral asset(s) ETH" in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) <= 3


def test_real_history_from_the_shared_data(files, data_dir, monkeypatch):
    monkeypatch.setenv("CCM_DATA_DIR", str(data_dir))
    result = runner.invoke(app, [str(files / "book.json"), "--market", str(files / "market.json"),
                                 "--preset", "compound-v3", "--paths", "100", "--horizon-days", "2", "-f", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["steps"] == 2 and doc["price_history"]["days"] > 1_000


@pytest.mark.parametrize("cell", ["abc", "-5", "nan"])
def test_a_bad_price_row_is_an_error_not_a_dropped_day(files, cell):
    """A malformed or non-positive price in --prices used to be dropped silently (the covariance then took a
    two-day return for a daily one); it is bad input: exit 2 naming the file, the row and the column."""
    path = files / "eth.csv"
    lines = path.read_text().splitlines()
    lines[11] = lines[11].split(",")[0] + "," + cell  # row 12 (the header is row 1)
    path.write_text("\n".join(lines) + "\n")
    result = run(files, "--preset", "aave-v3", "--paths", "20")
    assert result.exit_code == 2, result.output
    assert "eth.csv" in result.output and "row 12" in result.output and "'close'" in result.output
    assert "Traceback" not in result.output


def test_aave_reserve_with_lt_times_lb_above_one_is_refused(files):
    """Aave's PoolConfigurator requires LT × LB ≤ 100% (defi.md §1.2): LT 0.95 with a 10% bonus (1.045) would
    let a liquidation at HF just below 1 seize more than the account holds. Exit 2 naming the file and field."""
    (files / "lt.yaml").write_text("lending:\n"
                                   "  ETH: {ltv: 0.9, liquidation_threshold: 0.95, liquidation_bonus: 0.10}\n")
    result = run(files, "--preset", "aave-v3", "--config", str(files / "lt.yaml"), "--paths", "20")
    assert result.exit_code == 2, result.output
    assert "lt.yaml" in result.output and "lending.ETH" in result.output and "liquidation_bonus" in result.output
    ok = files / "ok.yaml"
    ok.write_text("lending:\n  ETH: {ltv: 0.9, liquidation_threshold: 0.95, liquidation_bonus: 0.05}\n")  # 0.9975
    assert run(files, "--preset", "aave-v3", "--config", str(ok), "--paths", "20").exit_code == 0

"""``ccm liquidations --prices``: a history with a missing day is refused (the covariance counts rows as days)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

from ccm.cli.main import app

runner = CliRunner()


@pytest.fixture()
def files(tmp_path):
    """One Aave-style ETH borrower and a 40-day ETH close history from 2024-12-01 (alternating ±2% a day)."""
    book = {"instruments": [], "accounts": [
        {"id": "b", "margin_model": "lending", "collateral": {"ETH": 10.0, "USDC": -8_000.0}}]}
    market = {"as_of": "2025-02-10T08:00:00Z", "index": {"ETH": 2_000.0, "USDC": 1.0}}
    (tmp_path / "book.json").write_text(json.dumps(book))
    (tmp_path / "market.json").write_text(json.dumps(market))
    return tmp_path


def write_history(path, days: list[int]) -> None:
    start = date(2024, 12, 1)
    rows = [f"{start + timedelta(days=d)},{2_000.0 * (1.02 if d % 2 else 1 / 1.02):.6f}" for d in days]
    path.write_text("date,close\n" + "\n".join(rows) + "\n")


def run(files, spec):
    return runner.invoke(app, ["liquidations", str(files / "book.json"), "-m", str(files / "market.json"),
                               "--preset", "aave-v3", "--paths", "50", "-f", "json", "--prices", spec])


def test_a_missing_day_is_refused_naming_the_file_and_the_rows(files):
    eth = files / "eth.csv"
    write_history(eth, [d for d in range(40) if d != 10])  # 2024-12-11 missing
    result = run(files, f"ETH={eth}")
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert "need one price per day without gaps" in out
    assert "2024-12-10T00:00:00 is followed by 2024-12-12T00:00:00" in out
    assert "eth.csv" in out and len(result.output.strip().splitlines()) <= 3  # one red line, no traceback


def test_the_same_history_without_the_gap_runs(files):
    eth = files / "eth.csv"
    write_history(eth, list(range(40)))
    result = run(files, f"ETH={eth}")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["price_history"]["days"] == 40


def test_an_intraday_history_is_refused(files):
    eth = files / "eth.csv"
    eth.write_text("timestamp,close\n" + "\n".join(f"2024-12-01T{h:02d}:00:00Z,{2000 + h}" for h in range(24)) + "\n")
    result = run(files, f"ETH={eth}")
    assert result.exit_code == 2 and "need one price per day" in result.output

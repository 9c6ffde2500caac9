"""``ccm monitor`` on the simulated feed: runs, shows the gauges, persists off the tick path."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ccm.cli.main import app
from ccm.store import open_store

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "examples" / "book.json"
MARKET = ROOT / "examples" / "market.json"
runner = CliRunner()


def test_monitor_runs_on_the_simulated_feed_and_persists(tmp_path):
    store = tmp_path / "ccm.sqlite"
    result = runner.invoke(app, ["monitor", str(BOOK), "-m", str(MARKET), "--updates", "25", "--interval", "0.01",
                                 "--refresh", "0.05", "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "system coverage ratio" in result.output and "Worst accounts" in result.output
    assert "25 updates" in result.output
    opened = open_store(str(store))
    try:
        assert opened.books()  # the book was saved
        history = opened.system_history()
        assert history and all(h.system_coverage_ratio > 0 for h in history)
        # simulated time runs from the snapshot's as_of (2025-02-10), not the wall clock
        assert all(h.at.year == 2025 for h in history)
    finally:
        opened.close()


def test_monitor_replay_without_history_exits_2():
    result = runner.invoke(app, ["monitor", str(BOOK), "-m", str(MARKET), "--feed", "replay"])
    assert result.exit_code == 2 and "--replay" in result.output

"""``ccm config show`` and the haircut parts ``ccm metrics`` reports, against expectations written by hand."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ccm.cli.main import app
from ccm.io.config import load_config

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "examples" / "book.json"
MARKET = ROOT / "examples" / "market.json"
DEFAULT = ROOT / "src" / "ccm" / "presets" / "default.yaml"
runner = CliRunner()

USER = """\
# my venue
thresholds:
  warning: 1.6
assets:
  BTC:
    haircut: 0.0
"""
# BTC's volatility haircut from the packaged default, by hand: z 2.326 × σ 0.55 × √(1/365)
BTC_VOL_HAIRCUT = 2.326 * 0.55 * math.sqrt(1 / 365)  # = 0.066961...


def _user(tmp_path: Path, text: str = USER) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    return path


def _show(*args: str) -> str:
    result = runner.invoke(app, ["config", "show", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_json_names_the_user_line_or_the_default_line_of_every_value(tmp_path: Path) -> None:
    path = _user(tmp_path)
    doc = json.loads(_show("--config", str(path), "--format", "json"))
    sources = doc["sources"]
    assert sources["thresholds.warning"] == {"origin": "user", "file": str(path), "line": 3}
    assert sources["assets.BTC.haircut"] == {"origin": "user", "file": str(path), "line": 6}
    assert doc["config"]["thresholds"] == {"warning": 1.6, "margin_call": 1.2, "liquidation": 1.0}
    default_lines = DEFAULT.read_text().splitlines()
    for key in ("thresholds.margin_call", "assets.BTC.volatility", "assets.BTC.adv_usd", "haircut_confidence_z",
                "margin.portfolio.ETH.pnl_offset", "lending.SOL.ltv"):
        source = sources[key]
        assert source["origin"] == "default" and source["file"] == "ccm/presets/default.yaml"
        line = default_lines[source["line"] - 1]  # the key named really is on that line of the packaged file
        name = key.rsplit(".", 1)[-1]
        assert line.strip().startswith(f"{name}:") or f"{name}:" in line, (key, line)
    # nothing sets these: the dataclass default applies
    assert sources["assets.BTC.stable"] == {"origin": "built-in", "file": None, "line": None}
    # every leaf has a source
    assert all(s["origin"] in ("user", "default", "built-in") for s in sources.values())
    btc = doc["effective_haircuts"]["BTC"]
    assert btc["static_haircut"] == 0.0
    assert btc["haircut"] == pytest.approx(BTC_VOL_HAIRCUT, rel=1e-12)
    assert btc["binding"] == "volatility"


def test_yaml_listing_reads_back_to_the_same_configuration(tmp_path: Path) -> None:
    path = _user(tmp_path)
    text = _show("--config", str(path))
    btc = next(line for line in text.splitlines() if line.strip().startswith("haircut: 0.0") and "mine.yaml:6" in line)
    assert "your file" in btc
    shown = tmp_path / "shown.yaml"
    shown.write_text(text)
    assert yaml.safe_load(text)["inherit_default"] is False
    assert load_config(shown) == load_config(path)
    assert re.search(r"#   BTC +6.70 %  = the volatility haircut", text)


def test_preset_values_are_named_as_such() -> None:
    doc = json.loads(_show("--preset", "aave-v3", "--format", "json"))
    assert doc["sources"]["default_model"]["origin"] == "preset"
    assert doc["sources"]["default_model"]["file"] == "ccm/presets/aave-v3.yaml"
    assert doc["config"]["default_model"] == "lending"


def test_show_of_a_missing_file_is_exit_2() -> None:
    result = runner.invoke(app, ["config", "show", "--config", "/nonexistent/risk.yaml"])
    assert result.exit_code == 2
    assert "config file not found" in result.output


def _metrics(*args: str) -> str:
    result = runner.invoke(app, ["metrics", str(BOOK), "--market", str(MARKET), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_metrics_table_header_notes_the_default_parts_of_a_user_haircut(tmp_path: Path) -> None:
    path = _user(tmp_path)
    out = _metrics("--config", str(path))
    head = out[:out.index("Venue at")]
    assert "note:" in head and "BTC: your static haircut 0.00 %" in head and "mine.yaml:6" in head
    assert "6.70 %" in head and "assets.BTC.volatility: null" in head
    assert "ETH" not in head  # the user did not set ETH's haircut: nothing to explain
    assert "note:" not in _metrics()[:200]  # no user file, no note


def test_no_note_when_the_user_switched_the_default_parts_off(tmp_path: Path) -> None:
    path = _user(tmp_path, USER + "    volatility: null\n    tiers: null\n")
    out = _metrics("--config", str(path))
    assert "note:" not in out[:out.index("Venue at")]


def test_metrics_json_carries_the_effective_haircut_and_values_collateral_with_it(tmp_path: Path) -> None:
    path = _user(tmp_path)
    doc = json.loads(_metrics("--config", str(path), "--format", "json"))
    assert {"accounts", "system", "as_of", "currency"} <= doc.keys()  # the existing keys stay
    btc = doc["effective_haircuts"]["BTC"]
    assert btc["haircut"] == pytest.approx(BTC_VOL_HAIRCUT, rel=1e-12)
    assert btc["sources"]["haircut"]["origin"] == "user" and btc["sources"]["volatility"]["origin"] == "default"
    # 0.5 BTC at 97,000 = 48,500 USD: below the first tier bound; the size add-on Y·σ/√365·√(v/ADV) by hand
    value = 0.5 * 97_000
    add_on = 1.0 * 0.55 / math.sqrt(365) * math.sqrt(value / 2.0e10)
    assert btc["liquidity_scale"] * math.sqrt(value) == pytest.approx(add_on, rel=1e-12)
    account = next(a for a in doc["accounts"] if a["account"] == "trader-btc-long")
    assert account["collateral_value"] == pytest.approx(value * (1 - BTC_VOL_HAIRCUT - add_on), rel=1e-12)
    # switching the default parts off leaves the user's 0 %: the full value counts
    off = _user(tmp_path, USER + "    volatility: null\n")
    doc = json.loads(_metrics("--config", str(off), "--format", "json"))
    account = next(a for a in doc["accounts"] if a["account"] == "trader-btc-long")
    assert account["collateral_value"] == pytest.approx(value, rel=1e-12)
    assert doc["effective_haircuts"]["BTC"]["haircut"] == 0.0

"""``ccm metrics`` with the derive-pmrm margin model: ``--preset``, ``--model``, per-account ``margin_model``,
distance to liquidation, and refusal of books it cannot margin."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccm.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "tests" / "conformance" / "derive_pmrm_vectors.json").read_text())
runner = CliRunner()


@pytest.fixture()
def general(tmp_path):
    """Derive's test_general_portfolio_pm (options in two expiries, a perp, base, negative cash) as files."""
    case = next(c for c in VECTORS["cases"] if c["name"] == "test_general_portfolio_pm")
    book, market = tmp_path / "book.json", tmp_path / "market.json"
    book.write_text(json.dumps(case["book"]))
    market.write_text(json.dumps(case["market"]))
    return book, market, case


def _json(args):
    result = runner.invoke(app, ["metrics", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_preset_selects_derive_pmrm_and_reproduces_the_published_margins(general):
    book, market, case = general
    account = _json([str(book), "--market", str(market), "--preset", "derive-pmrm-test"])["accounts"][0]
    assert account["model"] == "derive-pmrm"
    assert math.trunc(account["equity"] - account["maintenance_margin"]) == case["expected"]["mm"]
    assert math.trunc(account["equity"] - account["initial_margin"]) == case["expected"]["im"]
    down = account["distance_to_liquidation"]["down"]
    assert 0 < down < 0.95 and account["contributors"]


def test_model_option_and_the_production_preset_change_the_requirement(general, tmp_path):
    book, market, _ = general
    doc = json.loads(book.read_text())
    doc["accounts"][0].pop("margin_model")
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(doc))
    standard = _json([str(plain), "--market", str(market)])["accounts"][0]
    forced = _json([str(plain), "--market", str(market), "--model", "derive-pmrm", "--no-distance"])["accounts"][0]
    mainnet = _json([str(plain), "--market", str(market), "--preset", "derive-pmrm", "--no-distance"])["accounts"][0]
    assert standard["model"] == "standard" and forced["model"] == mainnet["model"] == "derive-pmrm"
    assert forced["maintenance_margin"] == pytest.approx(mainnet["maintenance_margin"], rel=1e-12)  # same defaults
    assert mainnet["maintenance_margin"] != pytest.approx(standard["maintenance_margin"], rel=1e-3)


def test_coin_settled_book_is_refused_with_exit_2_naming_account_and_instrument():
    result = runner.invoke(app, ["metrics", str(ROOT / "examples" / "book.json"), "--market",
                                 str(ROOT / "examples" / "market.json"), "--model", "derive-pmrm"])
    assert result.exit_code == 2
    assert "mm-options-1" in result.output and "BTC-PERPETUAL" in result.output and "Traceback" not in result.output


def test_unknown_preset_lists_the_margin_presets(general):
    book, market, _ = general
    result = runner.invoke(app, ["metrics", str(book), "--market", str(market), "--preset", "derive"])
    assert result.exit_code == 2 and "derive-pmrm-test" in result.output and "aave-v3" in result.output

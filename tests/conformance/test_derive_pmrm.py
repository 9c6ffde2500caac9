"""Derive PMRM against Derive's own published portfolio vectors (derivexyz/v2-core test-cases-portfolio-pm.json).

The vectors (``derive_pmrm_vectors.json``, built by ``build_derive_vectors.py`` from the published file; source
and commit inside) hold 44 portfolios, each as a ccm book and market document, with the IM and MM that Derive's
Solidity test asserts: Derive's margin (cash + MtM − requirement) ÷ 1e18 in integer division, i.e. whole USDC
truncated toward zero. ccm computes in float64, Derive in 18-decimal fixed point; several margins are exact
integers there (1650 = 2000 − 300 − 50), which float rounding can put 2e-13 below. So ccm's margin is rounded to
1e-9 USDC before it is truncated: agreement to a nanodollar, then Derive's rounding.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ccm.io.book import columns_from_document
from ccm.io.config import load_config
from ccm.io.market import market_from_dict
from ccm.risk.context import account_equity
from ccm.risk.margin import margin_requirement
from ccm.risk.metrics import evaluate

VECTORS = Path(__file__).with_name("derive_pmrm_vectors.json")
DOC = json.loads(VECTORS.read_text())
CASES = DOC["cases"]


def derive_units(value_usd: float, stable: float) -> int:
    """A ccm USD margin in Derive's test units: USDC (÷ the USDC index), to 1e-9, truncated toward zero."""
    return math.trunc(round(value_usd / stable, 9))


def _run(case, *, with_distance=False):
    book = columns_from_document(case["book"], file=case["name"]).build()
    snapshot = market_from_dict(case["market"], file=case["name"])
    return evaluate(book, snapshot, load_config(None, preset=DOC["preset"]), with_distance=with_distance), snapshot


def test_vectors_name_their_source_and_hold_the_44_published_portfolios():
    source = DOC["source"]
    assert source["repository"] == "derivexyz/v2-core"
    assert source["path"].endswith("test-cases-portfolio-pm.json")
    assert len(source["commit"]) == 40
    assert len(CASES) == 44 and len({c["name"] for c in CASES}) == 44


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_portfolio_gives_the_published_im_and_mm(case):
    run, snapshot = _run(case)
    r, stable = run.result, snapshot.index["USDC"]
    got = {"im": derive_units(r.equity[0] - r.initial_margin[0], stable),
           "mm": derive_units(r.equity[0] - r.maintenance_margin[0], stable)}
    assert got == case["expected"], (case["name"], (r.equity[0] - r.initial_margin[0]) / stable,
                                     (r.equity[0] - r.maintenance_margin[0]) / stable)


def test_all_portfolios_in_one_book_give_the_same_requirements_as_one_by_one():
    """The 37 cases of the default market as 37 accounts of one book: the vectorised model over accounts gives
    each account the requirement it has alone (no leakage between accounts, expiries or strikes)."""
    plain = [c for c in CASES if _default_market(c)]
    instruments = {i["id"]: i for c in plain for i in c["book"]["instruments"]}
    market = _merged_market(plain)
    doc = {"instruments": list(instruments.values()), "accounts": [c["book"]["accounts"][0] for c in plain]}
    book = columns_from_document(doc).build()
    together = evaluate(book, market_from_dict(market), load_config(None, preset=DOC["preset"]), with_distance=False)
    alone = [_run(c)[0].result for c in plain]
    np.testing.assert_allclose(together.result.maintenance_margin, [a.maintenance_margin[0] for a in alone],
                               rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(together.result.initial_margin, [a.initial_margin[0] for a in alone],
                               rtol=1e-12, atol=1e-9)


def _default_market(case) -> bool:
    m = case["market"]
    return m["index"] == {"ETH": 2000.0, "USDC": 1.0} and all(v == 1.0 for v in m["confidences"].values()) \
        and all(v == 0.5 for v in m.get("vols", {}).values()) and m.get("marks", {}).get("ETH-PERP", 2001.0) == 2001.0


def _merged_market(cases):
    merged = {k: v for k, v in cases[0]["market"].items() if k in ("as_of", "index", "rates")}
    for key in ("vols", "forwards", "confidences", "marks"):
        merged[key] = {k: v for c in cases for k, v in c["market"].get(key, {}).items()}
    return merged


@pytest.mark.parametrize("name", ["test_general_portfolio_pm", "test_multi_expiry_pm", "test_long_perp_short_call_pm"])
def test_distance_root_gives_coverage_one(name):
    """ccm metrics' distance to liquidation of a derive-pmrm account: an independent evaluation of equity and
    requirement at the reported move gives coverage 1 (to the search tolerance)."""
    case = next(c for c in CASES if c["name"] == name)
    run, _ = _run(case, with_distance=True)
    ctx, result = run.context, run.result
    for direction, distance in ((-1, result.distance_down[0]), (+1, result.distance_up[0])):
        if not np.isfinite(distance) or distance == 0.0:
            continue
        move = np.array([direction * distance])
        equity = account_equity(ctx, move).adjusted_equity[0]
        requirement = margin_requirement(ctx, move).maintenance[0]
        assert equity / requirement == pytest.approx(1.0, abs=2e-3), (name, direction, distance)
        inside = np.array([direction * distance * 0.9])  # before the root the account is still covered
        assert account_equity(ctx, inside).adjusted_equity[0] >= margin_requirement(ctx, inside).maintenance[0]
    assert np.isfinite(result.distance_down[0]) or np.isfinite(result.distance_up[0])

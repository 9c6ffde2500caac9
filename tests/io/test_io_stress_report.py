"""The stress HTML report is one self-contained file that shows the run's key figures."""

from __future__ import annotations

import re

from ccm.io.stress_report import stress_html


def _doc():
    scenarios = [{"name": f"scenario {i}", "date": None, "system_uncovered_loss": float(i * 1000),
                  "accounts_breached": i, "worst_accounts": [{"account": f"acc-{i}", "uncovered_loss": float(i)}]}
                 for i in range(40)]
    return {"as_of": "2025-02-10T10:00:00Z", "accounts": 40, "scenario_source": "montecarlo",
            "scenarios": scenarios, "cover_1": 39_000.0, "cover_2": 40_000.0, "fund": 20_000.0,
            "fund_coverage": 0.5, "var": 38_000.0, "es": 39_000.0, "confidence": 0.99,
            "cascade": {"rounds": 3, "accounts_liquidated": 7, "liquidated_notional": 1e6, "impact_cost": 1e4,
                        "bad_debt": 5e4, "bad_debt_no_cascade": 3e4, "price_path": {"BTC": [90.0, 85.0, 84.0]}}}


def test_report_is_self_contained():
    page = stress_html(_doc())
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)  # nothing fetched from anywhere
    assert page.count("<svg") == 4  # loss distribution, worst scenarios, breached accounts, cascade path


def test_report_shows_cover_and_fund_shortfall():
    page = stress_html(_doc())
    assert "40,000" in page and "0.50" in page and "class='bad'" in page
    table = page[page.index("Scenarios, worst first"):]
    assert table.index("scenario 39") < table.index("scenario 38") < table.index("scenario 30")

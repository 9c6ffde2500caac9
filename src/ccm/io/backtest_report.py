"""Serialise a margin backtest (``ccm backtest``): the JSON document and a self-contained HTML report.

JSON::

    {"model", "confidence", "mpor_days", "observations", "exceptions", "coverage",
     "kupiec": {"statistic", "p_value"},
     "christoffersen": {"independence": {"statistic", "p_value"}, "conditional": {"statistic", "p_value"}},
     "traffic_light": {"window", "green", "yellow", "red"},
     "procyclicality": {"peak_to_trough", "max_increase"},
     "accounts": [{"account", "observations", "exceptions", "coverage", "kupiec": {"statistic", "p_value"},
                   "traffic_light", "largest_exception", "procyclicality": {"peak_to_trough", "max_increase"}}]}

``traffic_light`` counts the accounts per Basel zone of their most recent ``window`` observations; each
account's own zone is in its entry. ``accounts`` lists the accounts holding positions (the observed ones),
most exceptions first. NaN (a test without observations, a margin that touched 0) becomes ``null``.
"""

from __future__ import annotations

import html
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ccm.analysis.backtest import BacktestResult
from ccm.analysis.backtest_stats import TestResult
from ccm.io.html import head, svg, table
from ccm.io.numbers import json_number


def _test(result: TestResult) -> dict[str, float | None]:
    return {"statistic": json_number(result.statistic), "p_value": json_number(result.p_value)}


def account_order(result: BacktestResult) -> np.ndarray:
    """Rows of the observed accounts, most exceptions first (then largest exception, then row)."""
    rows = np.flatnonzero(result.active)
    keys = (rows, -result.account_largest_exception[rows], -result.account_exceptions[rows])
    return rows[np.lexsort(keys)]


def backtest_document(result: BacktestResult) -> dict[str, Any]:
    """The JSON document of ``ccm backtest`` (the keys of issue 6)."""
    r = result
    accounts = []
    for i in account_order(r):
        accounts.append({
            "account": str(r.account_ids[i]),
            "observations": int(r.account_observations[i]),
            "exceptions": int(r.account_exceptions[i]),
            "coverage": json_number(r.account_coverage[i]),
            "kupiec": {"statistic": json_number(r.account_kupiec[i]), "p_value": json_number(r.account_kupiec_p[i])},
            "traffic_light": str(r.account_zone[i]),
            "largest_exception": float(r.account_largest_exception[i]),
            "procyclicality": {"peak_to_trough": json_number(r.account_peak_to_trough[i]),
                               "max_increase": json_number(r.account_max_increase[i])},
        })
    return {
        "model": r.model,
        "confidence": r.confidence,
        "mpor_days": r.mpor_days,
        "observations": r.observations,
        "exceptions": r.n_exceptions,
        "coverage": json_number(r.coverage),
        "kupiec": _test(r.kupiec),
        "christoffersen": {"independence": _test(r.independence), "conditional": _test(r.conditional)},
        "traffic_light": {"window": min(r.window, r.n_days), **r.zone_counts},
        "procyclicality": {"peak_to_trough": json_number(r.peak_to_trough),
                           "max_increase": json_number(r.max_increase)},
        "accounts": accounts,
    }


def _exception_plot(result: BacktestResult) -> str:
    x = result.timestamps.astype(object)
    active = result.active
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5.6), sharex=True, height_ratios=(3, 2))
    top.plot(x, result.total_margin, color="#4e79a7", label="Σ initial margin at t")
    top.plot(x, np.maximum(result.loss[:, active], 0.0).sum(axis=1), color="#e15759", linewidth=0.8,
             label=f"Σ realised losses t → t+{result.mpor_days}d (accounts that lost)")
    top.set_ylabel("USD")
    top.legend(loc="best", fontsize=8)
    per_day = result.exceptions.sum(axis=1)
    bottom.bar(x, per_day, width=1.0, color="#e15759")
    expected = (1.0 - result.confidence) * int(active.sum())
    bottom.axhline(expected, color="#667085", linestyle=":", linewidth=1)
    bottom.annotate(f"expected {expected:,.1f} a day", (x[0], expected), fontsize=7, color="#667085", va="bottom")
    bottom.set_ylabel("accounts with an exception")
    fig.autofmt_xdate()
    return svg(fig)


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "—" if x is None else format(x, spec)


def backtest_html(result: BacktestResult, *, title: str = "Margin backtest", subtitle: str = "",
                  top: int = 50) -> str:
    """The HTML report: key figures, the test table, the exception plot, the accounts with most exceptions."""
    doc = backtest_document(result)
    span = (f"{np.datetime_as_string(result.timestamps[0], unit='D')} → "
            f"{np.datetime_as_string(result.timestamps[-1], unit='D')}")
    coverage_ok = doc["coverage"] is not None and doc["coverage"] >= result.confidence
    kpis = [
        ("model", html.escape(result.model)),
        ("margin dates", f"{result.n_days:,}"),
        ("accounts observed", f"{int(result.active.sum()):,}"),
        ("observations", f"{doc['observations']:,}"),
        ("exceptions", f"{doc['exceptions']:,}"),
        ("coverage", f"<span class='{'good' if coverage_ok else 'bad'}'>{_fmt(doc['coverage'], '.4%')}</span>"),
        ("target", f"{result.confidence:.2%}"),
    ]
    tests = [
        ["Kupiec POF (χ² 1 dof)", _fmt(doc["kupiec"]["statistic"]), _fmt(doc["kupiec"]["p_value"], ".4f")],
        ["Christoffersen independence (χ² 1 dof)", _fmt(doc["christoffersen"]["independence"]["statistic"]),
         _fmt(doc["christoffersen"]["independence"]["p_value"], ".4f")],
        ["Christoffersen conditional coverage (χ² 2 dof)", _fmt(doc["christoffersen"]["conditional"]["statistic"]),
         _fmt(doc["christoffersen"]["conditional"]["p_value"], ".4f")],
    ]
    zones = doc["traffic_light"]
    parts = [head(title), f"<h1>{html.escape(title)}</h1>",
             f"<p class='muted'>{html.escape(span)}; confidence {result.confidence:g}, MPOR {result.mpor_days} "
             f"days. {html.escape(subtitle)}</p>",
             "".join(f"<div class='kpi'>{k}<b>{v}</b></div>" for k, v in kpis),
             "<h2>Tests (pooled account-days)</h2>", table(["test", "statistic", "p-value"], tests),
             f"<p>Traffic light over each account's last {zones['window']} observations: green {zones['green']:,}, "
             f"yellow {zones['yellow']:,}, red {zones['red']:,}.</p>",
             f"<p>Procyclicality of Σ margin: peak-to-trough {_fmt(doc['procyclicality']['peak_to_trough'])}, "
             f"largest {result.increase_days}-day increase {_fmt(doc['procyclicality']['max_increase'], '.1%')}.</p>",
             "<h2>Margin, losses and exceptions</h2><figure>" + _exception_plot(result) + "</figure>"]
    rows = [[a["account"], a["observations"], a["exceptions"], _fmt(a["coverage"], ".2%"), a["traffic_light"],
             f"{a['largest_exception']:,.0f}", _fmt(a["kupiec"]["p_value"], ".4f")]
            for a in doc["accounts"][:top] if a["exceptions"] > 0]
    parts.append(f"<h2>Accounts with exceptions (first {top})</h2>")
    parts.append(table(["account", "observations", "exceptions", "coverage", "zone", "largest exception (USD)",
                        "Kupiec p"], rows) if rows else "<p>No exception.</p>")
    parts.append("<p class='muted'>Realised loss: fall of the positions' value over the margin period of risk with "
                 "positions held constant (collateral excluded); exception: loss &gt; initial margin at t.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


__all__ = ["account_order", "backtest_document", "backtest_html"]

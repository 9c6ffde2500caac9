"""Serialise a coverage timeline (``ccm replay``): the JSON document and a self-contained HTML report.

JSON (issue 4)::

    {"series": [{"timestamp", "system_coverage_ratio", "total_shortfall", "accounts_by_status"}],
     "accounts": [{"account", "min_coverage", "min_coverage_at", "first_breach_at",
                   "time_below": {"warning", "margin_call", "liquidation"}}],
     "events": [{"timestamp", "account", "from_status", "to_status"}]}

Timestamps are ISO 8601 UTC (``2021-05-01T00:00:00Z``); ``time_below`` is in hours; NaN becomes ``null``
(``min_coverage`` is null for an account whose requirement was 0 at every step; ``first_breach_at`` is null
when coverage never fell below 1). The HTML report (inline SVG and CSS, works offline) plots system coverage
and the worst account's coverage over time and the accounts by status, and lists the first breaches.
"""

from __future__ import annotations

import html
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ccm.analysis.timeline import LEVELS, TimelineResult
from ccm.enums import STATUSES
from ccm.io.html import head, svg, table
from ccm.io.numbers import json_number, ratio

STATUS_COLOURS = {"healthy": "#59a14f", "warning": "#edc948", "margin_call": "#f28e2b", "liquidation": "#e15759",
                  "bankrupt": "#76100e"}


def _iso(stamp: np.datetime64) -> str:
    return f"{np.datetime_as_string(np.datetime64(stamp, 's'), unit='s')}Z"


def timeline_document(result: TimelineResult) -> dict[str, Any]:
    """The JSON document of ``ccm replay`` (exactly the keys of issue 4)."""
    stamps = [_iso(t) for t in result.timestamps]
    names = [s.value for s in STATUSES]
    series = [
        {
            "timestamp": stamps[t],
            "system_coverage_ratio": json_number(result.system_coverage_ratio[t]),
            "total_shortfall": json_number(result.total_shortfall[t]),
            "accounts_by_status": {name: int(c) for name, c in zip(names, result.status_counts[t], strict=True)},
        }
        for t in range(result.n_steps)
    ]
    ids = [str(a) for a in result.account_ids]
    accounts = []
    for i, account in enumerate(ids):
        m, breach = int(result.min_coverage_step[i]), int(result.first_breach_step[i])
        accounts.append({
            "account": account,
            "min_coverage": json_number(result.min_coverage[i]),
            "min_coverage_at": stamps[m] if m >= 0 else None,
            "first_breach_at": stamps[breach] if breach >= 0 else None,
            "time_below": {level: float(result.time_below_hours[i, k]) for k, level in enumerate(LEVELS)},
        })
    events = [
        {"timestamp": stamps[int(t)], "account": ids[int(a)], "from_status": names[int(f)], "to_status": names[int(s)]}
        for t, a, f, s in zip(result.event_step, result.event_account, result.event_from, result.event_to,
                              strict=True)
    ]
    return {"series": series, "accounts": accounts, "events": events}




def _dates(result: TimelineResult):
    return result.timestamps.astype("datetime64[s]").astype(object)


def _coverage_plot(result: TimelineResult, thresholds: dict[str, float]) -> str:
    fig, ax = plt.subplots(figsize=(10, 3.8))
    x = _dates(result)
    ax.plot(x, result.system_coverage_ratio, color="#4e79a7", label="system coverage (Σ AE ÷ Σ MM)")
    worst = np.clip(result.worst_covered_coverage, -1.0, None)
    ax.plot(x, worst, color="#e15759", label="worst account among those covered at the start (clipped at −1)")
    ax.plot(x, np.clip(result.coverage_p05, -1.0, None), color="#f28e2b", linestyle="--", linewidth=1,
            label="5th percentile of account coverage (clipped at −1)")
    for name, level in thresholds.items():
        ax.axhline(level, color="#98a2b3", linestyle=":", linewidth=1)
        ax.annotate(name, (x[0], level), fontsize=7, color="#667085", va="bottom")
    top = np.nanmax(np.concatenate([result.system_coverage_ratio, result.coverage_p05, [1.6]]))
    ax.set_ylim(-1.1, min(float(top), 6.0) * 1.1)
    ax.set_ylabel("coverage ratio")
    ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    return svg(fig)


def _status_plot(result: TimelineResult) -> str:
    fig, ax = plt.subplots(figsize=(10, 3.4))
    x = _dates(result)
    counts = result.status_counts.T
    names = [s.value for s in STATUSES]
    ax.stackplot(x, counts, labels=names, colors=[STATUS_COLOURS.get(n, "#999") for n in names])
    ax.set_ylabel("accounts")
    ax.legend(loc="upper left", fontsize=8, ncols=len(names))
    ax.set_ylim(0, 1.15 * max(1, int(counts.sum(axis=0).max())))  # room for the legend
    fig.autofmt_xdate()
    return svg(fig)




def timeline_html(result: TimelineResult, *, title: str = "Coverage replay", subtitle: str = "",
                  thresholds: dict[str, float] | None = None, top: int = 50) -> str:
    """The HTML report of a timeline: coverage and status plots, the first ``top`` breaches."""
    doc = timeline_document(result)
    thresholds = thresholds or {}
    scr = result.system_coverage_ratio
    low = int(np.nanargmin(scr)) if np.isfinite(scr).any() else None
    breached = sorted((a for a in doc["accounts"] if a["first_breach_at"]), key=lambda a: a["first_breach_at"])
    kpis = [
        ("steps", f"{result.n_steps:,}"),
        ("accounts", f"{result.account_ids.shape[0]:,}"),
        ("system coverage: start", ratio(json_number(scr[0]))),
        ("lowest system coverage", "—" if low is None else f"{scr[low]:.3f} at {doc['series'][low]['timestamp']}"),
        ("peak total shortfall", f"{float(np.max(result.total_shortfall)):,.0f}"),
        ("accounts breached (coverage < 1)", f"<span class='{'bad' if breached else 'good'}'>{len(breached):,}</span>"),
        ("status changes", f"{len(doc['events']):,}"),
    ]
    parts = [head(title), f"<h1>{html.escape(title)}</h1>"]
    span = f"{doc['series'][0]['timestamp']} → {doc['series'][-1]['timestamp']}"
    parts.append(f"<p class='muted'>{html.escape(span)}. {html.escape(subtitle)}</p>")
    parts.append("".join(f"<div class='kpi'>{k}<b>{v}</b></div>" for k, v in kpis))
    parts.append("<h2>Coverage over time</h2><figure>" + _coverage_plot(result, thresholds) + "</figure>")
    parts.append("<h2>Accounts by status</h2><figure>" + _status_plot(result) + "</figure>")
    rows = [[a["account"], a["first_breach_at"], ratio(a["min_coverage"]), a["min_coverage_at"] or "—",
             f"{a['time_below']['liquidation']:,.0f}"] for a in breached[:top]]
    parts.append(f"<h2>First breaches ({len(breached):,} accounts{'' if len(breached) <= top else f', first {top}'})"
                 "</h2>")
    parts.append(table(["account", "first breach", "min coverage", "min at", "hours below liquidation"], rows)
                 if rows else "<p>No account fell below coverage 1.</p>")
    parts.append("<p class='muted'>Prices move, time does not: option expiries and implied vols stay as in the "
                 "market snapshot. Hours below a level count each step until the next one.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


__all__ = ["timeline_document", "timeline_html"]

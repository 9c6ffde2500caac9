"""A self-contained HTML report of a stress run (inline SVG plots, inline CSS: works offline).

It is rendered from the JSON document of ``ccm stress`` (see ``ccm.cli.stress``), so the report and the
JSON never disagree.
"""

from __future__ import annotations

import html

import matplotlib.pyplot as plt

from ccm.io.html import head, svg, table
from ccm.io.numbers import usd


def _loss_distribution(doc: dict) -> str | None:
    losses = [s["system_uncovered_loss"] for s in doc["scenarios"]]
    if len(losses) < 2:
        return None
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.hist(losses, bins=min(60, max(10, len(losses) // 20)), color="#4e79a7")
    for key, colour in (("var", "#e15759"), ("es", "#b07aa1")):
        if doc.get(key) is not None:
            ax.axvline(doc[key], color=colour, linestyle="--", label=f"{key.upper()} {usd(doc[key])}")
    ax.set_xlabel("system uncovered loss (USD)")
    ax.set_ylabel("scenarios")
    if doc.get("var") is not None:
        ax.legend()
    return svg(fig)


def _worst_scenarios(doc: dict, key: str, label: str, colour: str, top: int = 15) -> str | None:
    rows = sorted(doc["scenarios"], key=lambda s: s[key], reverse=True)[:top]
    if not rows or rows[0][key] == 0:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(rows) + 1))
    ax.barh([r["name"] for r in rows][::-1], [r[key] for r in rows][::-1], color=colour)
    ax.set_xlabel(label)
    return svg(fig)


def _price_path(cascade: dict) -> str | None:
    path = cascade.get("price_path") or {}
    if not path:
        return None
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for asset, prices in path.items():
        if prices and prices[0]:
            ax.plot(range(len(prices)), [p / prices[0] for p in prices], marker="o", label=asset)
    ax.set_xlabel("liquidation round (0 = right after the shock)")
    ax.set_ylabel("price ÷ price after the shock")
    ax.legend()
    return svg(fig)




def stress_html(doc: dict) -> str:
    """The HTML report of a ``ccm stress`` JSON document."""
    parts = [head("ccm stress report"),
             "<h1>Stress report</h1>",
             f"<p class='muted'>as of {html.escape(str(doc.get('as_of', '')))}, {len(doc['scenarios']):,} scenarios "
             f"({html.escape(str(doc.get('scenario_source', '')))}), {doc.get('accounts', 0):,} accounts</p>"]
    fund_cov = doc.get("fund_coverage")
    cls = "good" if fund_cov is None or fund_cov >= 1 else "bad"
    kpis = [("Cover-1", usd(doc.get("cover_1"))), ("Cover-2", usd(doc.get("cover_2"))),
            ("fund", usd(doc.get("fund"))),
            ("fund ÷ Cover-2", f"<span class='{cls}'>{'—' if fund_cov is None else f'{fund_cov:.2f}'}</span>")]
    if doc.get("var") is not None:
        conf = doc.get("confidence", 0.99)
        kpis += [(f"VaR {conf:.0%}", usd(doc["var"])), (f"ES {conf:.0%}", usd(doc["es"]))]
    parts.append("".join(f"<div class='kpi'>{k}<b>{v}</b></div>" for k, v in kpis))
    parts.append("<p class='muted'>Cover-2 is the largest, over all scenarios, of the two largest uncovered losses "
                 "(accounts whose adjusted equity turns negative) in one scenario; the fund covers it when "
                 "fund ÷ Cover-2 ≥ 1.</p>")
    for title, figure in (
        ("Loss distribution", _loss_distribution(doc)),
        ("Worst scenarios", _worst_scenarios(doc, "system_uncovered_loss", "system uncovered loss (USD)", "#e15759")),
        ("Breached accounts", _worst_scenarios(doc, "accounts_breached", "accounts below coverage 1", "#f28e2b")),
    ):
        if figure:
            parts.append(f"<h2>{title}</h2><figure>{figure}</figure>")
    worst = sorted(doc["scenarios"], key=lambda s: s["system_uncovered_loss"], reverse=True)[:15]
    parts.append("<h2>Scenarios, worst first</h2>" + table(
        ["scenario", "date", "system uncovered loss", "accounts breached", "largest uncovered accounts"],
        [[s["name"], s.get("date") or "", usd(s["system_uncovered_loss"]), f"{s['accounts_breached']:,}",
          ", ".join(f"{a['account']} {usd(a['uncovered_loss'])}" for a in s.get("worst_accounts", [])[:3])]
         for s in worst]))
    cascade = doc.get("cascade")
    if cascade:
        parts.append("<h2>Liquidation cascade</h2>" + table(
            ["rounds", "accounts liquidated", "liquidated notional", "impact cost", "bad debt",
             "bad debt without cascade"],
            [[cascade.get("rounds"), f"{cascade.get('accounts_liquidated', 0):,}",
              usd(cascade.get("liquidated_notional")), usd(cascade.get("impact_cost")),
              usd(cascade.get("bad_debt")), usd(cascade.get("bad_debt_no_cascade"))]]))
        figure = _price_path(cascade)
        if figure:
            parts.append(f"<figure>{figure}</figure>")
    reverse = doc.get("reverse")
    if reverse:
        parts.append("<h2>Reverse stress</h2>" + table(
            ["direction", "system: move that exhausts the fund", "accounts that breach within ±95%"],
            [[k, "—" if v.get("system_move") is None else f"{100 * v['system_move']:.1f}%",
              f"{v.get('accounts_breaching', 0):,}"] for k, v in reverse.items()]))
    parts.append("</body></html>")
    return "\n".join(parts)

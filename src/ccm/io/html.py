"""Building blocks of ccm's self-contained HTML reports: one stylesheet, inline SVG plots, tables.

Everything is inline (no script, stylesheet or image is fetched), so a report works offline.
"""

from __future__ import annotations

import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1c2430}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde3ea}
.muted{color:#667085} table{border-collapse:collapse;margin:.6rem 0} td,th{padding:.25rem .7rem;text-align:right}
th{background:#f2f4f7} td:first-child,th:first-child{text-align:left} tr:nth-child(even) td{background:#fafbfc}
.kpi{display:inline-block;margin:.4rem 1.2rem .4rem 0;padding:.6rem .9rem;border:1px solid #dde3ea;border-radius:8px}
.kpi b{display:block;font-size:1.3rem} .bad{color:#b42318} .good{color:#067647} figure{margin:1rem 0}
"""


def head(title: str) -> str:
    """The opening of a report page, with the shared stylesheet."""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>")


def svg(fig) -> str:
    """A matplotlib figure as an inline ``<svg>`` element (the figure is closed)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """An HTML table; every cell is escaped."""
    top = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{top}</tr>{body}</table>"

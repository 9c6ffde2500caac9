"""Serialise coverage results: the JSON document of ``ccm metrics`` and flat CSV rows.

NaN and ±inf become JSON ``null``; an account whose maintenance requirement is 0 has
``coverage_ratio: null`` with ``unbounded: true``.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import numpy as np

from ccm.enums import MARGIN_MODELS, STATUSES
from ccm.io.lending_results import lending_account_fields, lending_system_record
from ccm.io.numbers import json_number
from ccm.lending.metrics import LendingResult
from ccm.risk.coverage import CoverageResult, SystemResult


def _contributors(result: CoverageResult, i: int) -> list[dict[str, Any]]:
    c = result.contributors
    out = []
    for label, share, amount in zip(c.label[i], c.share[i], c.amount[i], strict=True):
        if label < 0:
            continue
        name = str(c.labels[label])
        key = "asset" if c.kinds[label] == "asset" else "instrument"
        out.append({key: name.removeprefix("asset:"), "share": float(share), "amount": float(amount)})
    return out


def account_records(result: CoverageResult) -> list[dict[str, Any]]:
    """One JSON-ready dict per account, in the order of the result."""
    cols = {
        name: [json_number(v) for v in getattr(result, name)]
        for name in ("equity", "collateral_value", "adjusted_equity", "initial_margin", "maintenance_margin",
                     "coverage_ratio", "initial_coverage_ratio", "margin_utilisation", "excess", "shortfall",
                     "available", "distance_down", "distance_up", "health_factor")
    }
    models = [MARGIN_MODELS[int(m)].value for m in result.model]
    statuses = [STATUSES[int(s)].value for s in result.status]
    records = []
    for i in range(result.n_accounts):
        records.append({
            "account": str(result.account_ids[i]),
            "model": models[i],
            "equity": cols["equity"][i],
            "collateral_value": cols["collateral_value"][i],
            "adjusted_equity": cols["adjusted_equity"][i],
            "initial_margin": cols["initial_margin"][i],
            "maintenance_margin": cols["maintenance_margin"][i],
            "coverage_ratio": cols["coverage_ratio"][i],
            "unbounded": bool(result.unbounded[i]),
            "initial_coverage_ratio": cols["initial_coverage_ratio"][i],
            "margin_utilisation": cols["margin_utilisation"][i],
            "excess": cols["excess"][i],
            "shortfall": cols["shortfall"][i],
            "available": cols["available"][i],
            "status": statuses[i],
            "distance_to_liquidation": {"down": cols["distance_down"][i], "up": cols["distance_up"][i]},
            "health_factor": cols["health_factor"][i],
            "contributors": _contributors(result, i),
        })
    return records


def system_record(system: SystemResult) -> dict[str, Any]:
    return {
        "accounts": system.accounts,
        "by_status": system.by_status,
        "by_model": system.by_model,
        "total_equity": json_number(system.total_equity),
        "total_collateral_value": json_number(system.total_collateral_value),
        "total_adjusted_equity": json_number(system.total_adjusted_equity),
        "total_initial_margin": json_number(system.total_initial_margin),
        "total_maintenance_margin": json_number(system.total_maintenance_margin),
        "system_coverage_ratio": json_number(system.system_coverage_ratio),
        "total_shortfall": json_number(system.total_shortfall),
        "coverage_quantiles": {k: json_number(v) for k, v in system.coverage_quantiles.items()},
        "largest_shortfalls": [{"account": a, "shortfall": json_number(s)} for a, s in system.largest_shortfalls],
        "concentration": json_number(system.concentration),
    }


def metrics_document(
    result: CoverageResult, system: SystemResult, *, as_of: datetime, currency: str = "USD",
    lending: LendingResult | None = None, effective_haircuts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``ccm metrics`` JSON document: ``{"as_of", "currency", "accounts": [...], "system": {...}}``.

    With ``lending`` (``ccm.lending.metrics``), accounts also get ``borrowing_capacity``,
    ``available_to_borrow``, ``liquidation_drop`` and ``liquidation_price``, and the document a ``lending`` section.
    With ``effective_haircuts`` (``ccm.io.haircut_report``) the document has that section: per asset the haircut
    applied, its static, volatility and size parts and the source of each setting.
    """
    records = account_records(result)
    if lending is not None:
        for record, extra in zip(records, lending_account_fields(lending), strict=True):
            record.update(extra)
    return {
        "as_of": as_of.isoformat().replace("+00:00", "Z"),
        "currency": currency,
        "accounts": records,
        "system": system_record(system),
        **({"lending": lending_system_record(lending)} if lending is not None else {}),
        **({"effective_haircuts": effective_haircuts} if effective_haircuts is not None else {}),
    }


CSV_COLUMNS = ("account", "model", "status", "equity", "collateral_value", "adjusted_equity", "initial_margin",
               "maintenance_margin", "coverage_ratio", "unbounded", "initial_coverage_ratio",
               "margin_utilisation", "excess", "shortfall", "available", "distance_down", "distance_up",
               "health_factor", "top_contributor", "top_contributor_share")


def metrics_csv(result: CoverageResult) -> str:
    """One CSV row per account (empty cell = null)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    c = result.contributors
    for rec, label, share in zip(account_records(result), c.label[:, 0], c.share[:, 0], strict=True):
        dist = rec["distance_to_liquidation"]
        flat = {**rec, "distance_down": dist["down"], "distance_up": dist["up"],
                "top_contributor": str(c.labels[label]) if label >= 0 else None,
                "top_contributor_share": float(share) if label >= 0 else None}
        writer.writerow([_cell(flat[k]) for k in CSV_COLUMNS])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def worst_first(result: CoverageResult) -> np.ndarray:
    """Account order for display: bankrupt first, then lowest coverage; unbounded last."""
    cov = np.where(result.unbounded, np.inf, result.coverage_ratio)
    cov = np.where(result.adjusted_equity < 0, -np.inf, cov)
    return np.lexsort((result.account_ids, -result.shortfall, cov))

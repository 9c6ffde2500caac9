"""Serialise stress outcomes: the JSON document of ``ccm stress`` (the HTML report renders from it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from ccm.io.numbers import json_number
from ccm.stress.cascade import CascadeResult
from ccm.stress.reverse import ReverseResult
from ccm.stress.run import StressResult


def scenario_records(result: StressResult) -> list[dict[str, Any]]:
    """One dict per scenario, in the set's order."""
    ids = result.top_account_ids
    out = []
    for s, name in enumerate(result.scenario_names):
        worst = [{"account": str(ids[s, k]), "uncovered_loss": float(result.top_uncovered_loss[s, k])}
                 for k in range(ids.shape[1]) if result.top_account_rows[s, k] >= 0]
        out.append({
            "name": name,
            "date": result.scenario_dates[s],
            "system_uncovered_loss": float(result.system_uncovered_loss[s]),
            "accounts_breached": int(result.accounts_breached[s]),
            "cover_1": float(result.cover_1_by_scenario[s]),
            "cover_2": float(result.cover_2_by_scenario[s]),
            "worst_accounts": worst,
        })
    return out


def worst_account_records(result: StressResult, top: int = 20) -> list[dict[str, Any]]:
    """The accounts with the largest uncovered loss in their own worst scenario."""
    order = np.argsort(-result.worst_uncovered_loss, kind="stable")[:top]
    return [{
        "account": str(result.account_ids[i]),
        "worst_scenario": result.scenario_names[int(result.worst_scenario[i])] if result.worst_scenario[i] >= 0
        else None,
        "stressed_adjusted_equity": float(result.worst_adjusted_equity[i]),
        "stressed_coverage": json_number(result.worst_coverage[i]),
        "uncovered_loss": float(result.worst_uncovered_loss[i]),
    } for i in order if result.worst_uncovered_loss[i] > 0]


def reverse_record(result: ReverseResult) -> dict[str, Any]:
    scale = result.account_scale
    return {
        "system_move": json_number(result.system_scale),
        "system_uncovered_loss": json_number(result.system_uncovered_loss),
        "accounts_breaching": int(np.sum(np.isfinite(scale) & (scale > 0))),
        "accounts_already_breached": int(np.sum(scale == 0)),
        "median_account_move": json_number(np.nanmedian(scale[scale > 0])) if np.any(scale > 0) else None,
        "max_move": result.max_scale,
    }


def cascade_record(result: CascadeResult, scenario: str) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "rounds": result.rounds,
        "stop_reason": result.stop_reason,
        "accounts_liquidated": int(result.accounts_liquidated),
        "liquidated_notional": float(result.liquidated_notional_usd),
        "impact_cost": float(result.impact_cost_usd),
        "bad_debt": float(result.bad_debt_usd),
        "bad_debt_no_cascade": float(result.no_cascade_bad_debt_usd),
        "accounts_pending": int(result.pending),
        "price_path": {asset: [float(p) for p in result.price_path[:, k]]
                       for k, asset in enumerate(result.assets)
                       if not np.allclose(result.price_path[:, k], result.price_path[0, k])},
    }


def stress_document(
    result: StressResult,
    *,
    as_of: datetime,
    currency: str,
    source: str,
    reverse: dict[str, ReverseResult] | None = None,
    cascade: tuple[CascadeResult, str] | None = None,
) -> dict[str, Any]:
    """``{"scenarios": [...], "cover_1", "cover_2", "fund_coverage", "var", "es", "reverse", "cascade", …}``."""
    names = result.scenario_names
    return {
        "as_of": as_of.isoformat().replace("+00:00", "Z"),
        "currency": currency,
        "accounts": int(result.account_ids.shape[0]),
        "scenario_source": source,
        "kind": result.kind,
        "scenarios": scenario_records(result),
        "worst_scenarios": [names[int(s)] for s in result.worst_scenarios(10)],
        "cover_1": result.cover_1,
        "cover_1_scenario": names[result.cover_1_scenario] if result.cover_1_scenario >= 0 else None,
        "cover_2": result.cover_2,
        "cover_2_scenario": names[result.cover_2_scenario] if result.cover_2_scenario >= 0 else None,
        "fund": result.fund_usd,
        "fund_coverage": json_number(result.fund_to_cover_2),
        "confidence": result.confidence,
        "var": json_number(result.var),
        "es": json_number(result.es),
        "worst_accounts": worst_account_records(result),
        "reverse": {k: reverse_record(v) for k, v in (reverse or {}).items()},
        "cascade": None if cascade is None else cascade_record(*cascade),
    }

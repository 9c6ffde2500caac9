"""Events the CoverageEngine emits: metrics changed, status transitions, alerts (frozen value objects)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemSnapshot:
    """Venue-level totals after an update (USD), cheap enough to compute on every trade.

    ``system_coverage_ratio`` is NaN when the total requirement is 0; ``fund_to_shortfall`` = fund ÷ total
    shortfall (inf without shortfall), NaN when no fund is configured.
    """

    accounts: int
    by_status: dict[str, int]
    total_adjusted_equity: float
    total_maintenance_margin: float
    system_coverage_ratio: float
    total_shortfall: float
    fund_usd: float | None = None
    fund_to_shortfall: float = math.nan


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsChanged:
    """Metrics of ``rows`` (int64 row indices into the engine's accounts) changed.

    ``accounts`` holds their ids (ndarray of str, aligned with ``rows``); ``system`` the venue totals after it.
    """

    at: datetime
    rows: np.ndarray = field(repr=False)
    accounts: np.ndarray = field(repr=False)
    system: SystemSnapshot
    cause: str = "tick"  # "prices" | "vols" | "market" (both) | "trade" | "transfer"


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusChanged:
    """An account's status moved from ``from_status`` to ``to_status`` (``Status`` values)."""

    at: datetime
    account: str
    from_status: str
    to_status: str
    coverage: float  # NaN when unbounded (no requirement)


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """An alert rule fired. ``account`` is None for system rules; ``values`` holds the figures that tripped it."""

    at: datetime
    account: str | None
    rule: str
    values: dict[str, float]


Event = MetricsChanged | StatusChanged | Alert


def _number(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def event_to_dict(event: Event) -> dict[str, Any]:
    """JSON-ready dict of an event (non-finite numbers become None; ``type`` names the event)."""
    if isinstance(event, Alert):
        return {"type": "alert", "at": event.at.isoformat(), "account": event.account, "rule": event.rule,
                "values": {k: _number(v) for k, v in event.values.items()}}
    if isinstance(event, StatusChanged):
        return {"type": "status_changed", "at": event.at.isoformat(), "account": event.account,
                "from_status": event.from_status, "to_status": event.to_status,
                "coverage": _number(event.coverage)}
    system = event.system
    return {
        "type": "metrics_changed", "at": event.at.isoformat(), "cause": event.cause,
        "accounts": [str(a) for a in event.accounts],
        "system": {
            "accounts": system.accounts, "by_status": dict(system.by_status),
            "total_adjusted_equity": _number(system.total_adjusted_equity),
            "total_maintenance_margin": _number(system.total_maintenance_margin),
            "system_coverage_ratio": _number(system.system_coverage_ratio),
            "total_shortfall": _number(system.total_shortfall),
            "fund_usd": _number(system.fund_usd), "fund_coverage": _number(system.fund_to_shortfall),
        },
    }

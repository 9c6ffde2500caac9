"""Run the vectorised engine on value objects and return per-account dicts shaped like the reference's.

This is glue for the tests (book → snapshot → resolve → RiskContext → compute_coverage), not a model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from ccm.book import Account, Instrument, build_book
from ccm.enums import STATUSES
from ccm.market import MarketSnapshot
from ccm.pricing.market_state import resolve_market
from ccm.risk.config import RiskConfig
from ccm.risk.context import RiskContext
from ccm.risk.coverage import CoverageResult, compute_coverage

FIELDS = ("equity", "collateral_value", "adjusted_equity", "initial_margin", "maintenance_margin",
          "coverage_ratio", "initial_coverage_ratio", "excess", "available", "health_factor",
          "distance_down", "distance_up")


def engine_context(
    instruments: Sequence[Instrument],
    accounts: Sequence[Account],
    prices: Mapping[str, float],
    vols: Mapping[str, float],
    as_of: datetime,
    config: RiskConfig,
    *,
    rates: Mapping[str, float] | None = None,
    marks: Mapping[str, float] | None = None,
) -> RiskContext:
    book = build_book(instruments, accounts)
    snapshot = MarketSnapshot(as_of=as_of, index=dict(prices), vols=dict(vols), rates=dict(rates or {}),
                              marks=dict(marks or {}))
    return RiskContext.build(book, resolve_market(snapshot, book.assets, book.instruments), config)


def engine_result(*args, with_distance: bool = False, **kwargs) -> CoverageResult:
    return compute_coverage(engine_context(*args, **kwargs), with_distance=with_distance)


def engine_metrics(*args, with_distance: bool = False, **kwargs) -> list[dict]:
    """Per-account dicts with the reference's keys (NaN where undefined) from the engine."""
    r = engine_result(*args, with_distance=with_distance, **kwargs)
    out = []
    for k in range(r.n_accounts):
        row = {"account": str(r.account_ids[k]), "status": STATUSES[int(r.status[k])].value}
        for name in FIELDS:
            value = float(getattr(r, name)[k])
            row[name] = value if math.isfinite(value) or math.isinf(value) else math.nan
        out.append(row)
    return out


def reference_rows(
    instruments: Sequence[Instrument],
    accounts: Sequence[Account],
    prices: Mapping[str, float],
    vols: Mapping[str, float],
    as_of: datetime,
    config: RiskConfig,
    *,
    rates: Mapping[str, float] | None = None,
    marks: Mapping[str, float] | None = None,
    with_distance: bool = False,
) -> list[dict]:
    """The reference's per-account dicts (same keys as :func:`engine_metrics`)."""
    from tests.reference.models import ReferenceMarket, ReferenceModel

    market = ReferenceMarket(prices=prices, vols=vols, as_of=as_of, rates=rates or {}, marks=marks or {})
    model = ReferenceModel(instruments, market, config)
    rows = []
    for account in accounts:
        row = model.metrics(account)
        row["distance_down"] = model.distance(account, -1) if with_distance else math.nan
        row["distance_up"] = model.distance(account, +1) if with_distance else math.nan
        rows.append(row)
    return rows


#: Both implementations, for tests that pin hand-worked numbers on each.
IMPLEMENTATIONS = {"engine": engine_metrics, "reference": reference_rows}

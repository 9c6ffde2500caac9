"""One call from a book, a market snapshot and a config to every coverage metric (no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ccm.book.book import Book
from ccm.enums import MARGIN_MODELS, MarginModelName
from ccm.market.snapshot import MarketSnapshot
from ccm.pricing.market_state import resolve_market
from ccm.risk.config import RiskConfig
from ccm.risk.context import RiskContext
from ccm.risk.coverage import CoverageResult, SystemResult, compute_coverage, system_metrics

if TYPE_CHECKING:
    from ccm.risk.margin.var import MarketHistory


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsRun:
    context: RiskContext
    result: CoverageResult
    system: SystemResult


def with_model(book: Book, model: MarginModelName) -> Book:
    """The book with every account under ``model`` (to compare models on the same book)."""
    code = MARGIN_MODELS.index(model)
    return replace(book, margin_model=np.full(book.n_accounts, code, dtype=np.int8))


def evaluate(
    book: Book,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    *,
    model: MarginModelName | None = None,
    with_distance: bool = True,
    on_step: Callable[[str], None] | None = None,
    history: MarketHistory | None = None,
) -> MetricsRun:
    """Resolve the market on the book and compute all per-account and system metrics.

    ``history``: daily prices ending at the snapshot's date, required when an account is on the ``var`` model
    (``ccm.risk.margin.var``; its parameters are ``config.var``).
    """
    if model is not None:
        book = with_model(book, model)
    state = resolve_market(snapshot, book.assets, book.instruments)
    ctx = RiskContext.build(book, state, config, history=history)
    result = compute_coverage(ctx, with_distance=with_distance, on_step=on_step)
    return MetricsRun(context=ctx, result=result, system=system_metrics(result))


def progress_steps(config: RiskConfig, with_distance: bool = True) -> int:
    """Upper bound of ``on_step`` calls made by :func:`evaluate` (for progress bars)."""
    distance = 1 + 2 * config.distance.refine_iterations if with_distance else 0
    return 3 + distance

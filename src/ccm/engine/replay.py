"""A timeline step evaluator backed by the CoverageEngine, so fills can happen along a replayed path.

``ccm.analysis.timeline.run_timeline`` calls ``advance_to(timestamp)`` before each step when the evaluator has
it: the fills stamped up to that time are applied (``on_trade``) before the step's prices.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from ccm._typing import FloatArray
from ccm.analysis.timeline import StepValues
from ccm.book.book import Book
from ccm.engine.engine import CoverageEngine
from ccm.errors import InputError
from ccm.market.snapshot import MarketSnapshot
from ccm.risk.config import RiskConfig


class EngineStepEvaluator:
    """Steps a CoverageEngine through a path, applying fills at their times.

    Parameters
    ----------
    fills : an object with ``timestamps`` (datetime64[s], sorted), ``accounts``, ``instruments``, ``quantities``,
        ``prices``, ``rows`` (for error messages) and ``file`` — e.g. ``ccm.io.trades.TradeList``.
    """

    def __init__(self, book: Book, snapshot: MarketSnapshot, config: RiskConfig, fills) -> None:
        self.engine = CoverageEngine(book, snapshot, config)
        self.assets: Sequence[str] = book.assets
        self.fills = fills
        self.next = 0
        for k in range(len(fills)):  # refuse a bad fill before the replay starts
            try:
                self.engine.validate_trade(fills.accounts[k], fills.instruments[k], float(fills.quantities[k]),
                                           float(fills.prices[k]))
            except InputError as err:
                raise InputError(err.message, file=fills.file, record=f"row {int(fills.rows[k])}",
                                 field=err.field) from None

    def advance_to(self, stamp: np.datetime64) -> None:
        """Apply every fill stamped at or before ``stamp``."""
        fills = self.fills
        while self.next < len(fills) and fills.timestamps[self.next] <= stamp:
            k = self.next
            at = datetime.fromtimestamp(int(fills.timestamps[k].astype("datetime64[s]").astype(np.int64)), tz=UTC)
            self.engine.on_trade(fills.accounts[k], fills.instruments[k], float(fills.quantities[k]),
                                 float(fills.prices[k]), at=at)
            self.next += 1

    def __call__(self, asset_prices: FloatArray) -> StepValues:
        self.engine.on_prices({a: float(p) for a, p in zip(self.assets, asset_prices, strict=True)})
        metrics = self.engine.metrics
        return StepValues(adjusted_equity=metrics.adjusted_equity.copy(),
                          maintenance_margin=metrics.maintenance_margin.copy())

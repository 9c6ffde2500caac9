"""Partitions for the cluster: a book split by account into shards, a scenario set split into chunks.

Shards and chunks are contiguous ranges (``slice``), so a shard's row r is the book's row
``shard.start + r`` and a chunk's scenario s is the set's scenario ``chunk.start + s``: merging results
back is an offset, and "first on ties" (first account, first scenario) survives the merge.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ccm.book.book import Book

if TYPE_CHECKING:
    from ccm.enums import MarginModelName
    from ccm.market.snapshot import MarketSnapshot
    from ccm.risk.config import RiskConfig

#: Largest shard by default (accounts): bounds a task's memory whatever the number of workers.
SHARD_ACCOUNTS_MAX = 250_000
#: Shards per worker by default: a lost worker loses half as much work and stragglers even out.
SHARDS_PER_WORKER = 2


def ranges(n: int, parts: int) -> list[slice]:
    """``n`` items split into ``min(parts, n)`` contiguous ranges whose sizes differ by at most one.

    ``n = 0`` gives one empty range (a run over nothing still returns one, empty, result).
    """
    if parts < 1:
        raise ValueError("parts must be ≥ 1")
    parts = max(1, min(parts, n))
    bounds = np.linspace(0, n, parts + 1).round().astype(np.int64)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def default_shards(n_accounts: int, n_workers: int) -> int:
    """Number of account shards: SHARDS_PER_WORKER per worker, more when shards would exceed
    SHARD_ACCOUNTS_MAX accounts."""
    return max(1, SHARDS_PER_WORKER * max(1, n_workers), math.ceil(n_accounts / SHARD_ACCOUNTS_MAX))


def shard_book(book: Book, shards: list[slice]) -> list[Book]:
    """The sub-books of ``shards`` (``Book.take`` of each range: same instruments and assets)."""
    return [book.take(np.arange(s.start, s.stop, dtype=np.int64)) for s in shards]


__all__ = ["SHARD_ACCOUNTS_MAX", "default_shards", "ranges", "shard_book"]


def book_wide_config(book: Book, snapshot: MarketSnapshot, config: RiskConfig,
                     model: MarginModelName | None = None) -> RiskConfig:
    """``config`` with the figures a shard cannot compute alone pinned from the whole ``book``.

    Today one: Liquity's system TCR (Σ collateral ÷ Σ debt of every lending trove) decides Recovery Mode and
    each trove's health factor; a shard would otherwise use the TCR of its own troves. With ``system_tcr``
    set (by the user, or here at the current prices, as one process decides it) the config is returned as is.
    ``model`` is the margin model forced on every account (``ccm metrics --model``), None = the book's own.
    """
    from dataclasses import replace

    from ccm.pricing.market_state import resolve_market
    from ccm.risk.context import RiskContext
    from ccm.lending.rules import LiquityRules
    from ccm.risk.margin.lending import liquity_tcr
    from ccm.risk.metrics import with_model

    rules = config.protocol
    if not isinstance(rules, LiquityRules) or rules.system_tcr is not None:
        return config
    whole = book if model is None else with_model(book, model)
    ctx = RiskContext.build(whole, resolve_market(snapshot, whole.assets, whole.instruments), config)
    tcr = float(liquity_tcr(ctx))
    return replace(config, protocol=replace(rules, system_tcr=tcr)) if math.isfinite(tcr) else config

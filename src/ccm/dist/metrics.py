"""``ccm metrics`` on a Dask cluster: every shard of accounts evaluated on a worker, then reduced.

Per-account metrics depend only on the account and the (broadcast) market and config, so each shard runs
:func:`ccm.risk.metrics.evaluate` unchanged and the per-account arrays are concatenated back in book order
(they are small: a few arrays of n_accounts floats). The venue figures that are not additive — coverage
quantiles, largest shortfalls, concentration of the top 10 — are then computed by
:func:`ccm.risk.coverage.system_metrics` on the whole concatenated result, exactly as in one process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import numpy as np
from distributed import Client

from ccm.book.book import Book
from ccm.dist.cluster import broadcast, cluster_client, run_tasks, worker_count
from ccm.dist.shards import book_wide_config, default_shards, ranges, shard_book
from ccm.enums import MarginModelName
from ccm.pricing.market_state import resolve_market
from ccm.market.snapshot import MarketSnapshot
from ccm.risk.config import RiskConfig
from ccm.risk.context import RiskContext
from ccm.risk.coverage import CoverageResult, SystemResult, system_metrics
from ccm.risk.metrics import evaluate, with_model


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterMetricsResult:
    """What ``ccm metrics`` renders: per-account ``result`` (n_accounts, book order) and venue ``system``.

    Like :class:`ccm.risk.metrics.MetricsRun`, plus how it ran (``shards``, ``workers``); its ``context`` (the
    whole book's RiskContext, for renderers that need more than the result) is built on first use, in this
    process.
    """

    result: CoverageResult
    system: SystemResult
    shards: int
    workers: int
    book: Book
    snapshot: MarketSnapshot
    config: RiskConfig

    @property
    def context(self) -> RiskContext:
        return RiskContext.build(self.book, resolve_market(self.snapshot, self.book.assets, self.book.instruments),
                                 self.config)


def shard_coverage(
    book: Book,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    model: MarginModelName | None,
    with_distance: bool,
    before_task: Callable[[], None] | None = None,
) -> CoverageResult:
    """The task run on a worker: :func:`evaluate` of one shard (``before_task`` first, e.g. fault injection)."""
    if before_task is not None:
        before_task()
    return evaluate(book, snapshot, config, model=model, with_distance=with_distance).result


def concat_coverage(parts: list[CoverageResult]) -> CoverageResult:
    """The shards' results as one, rows in shard order (every (n,) / (n, k) array concatenated; contributor
    labels are the instruments and assets, the same in every shard)."""
    first = parts[0]
    arrays = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(CoverageResult)
              if f.name != "contributors"}
    contributors = replace(first.contributors, **{
        name: np.concatenate([getattr(p.contributors, name) for p in parts]) for name in ("label", "share", "amount")
    })
    return CoverageResult(**arrays, contributors=contributors)


def evaluate_on_client(
    client: Client,
    book: Book,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    *,
    model: MarginModelName | None = None,
    with_distance: bool = True,
    shards: int | None = None,
    before_task: Callable[[], None] | None = None,
    on_done: Callable[[int, int], None] | None = None,
) -> ClusterMetricsResult:
    """Every per-account and venue metric of ``book``, computed on the cluster of ``client``.

    Same figures as ``evaluate(book, snapshot, config, model=model, with_distance=with_distance)`` (per-account
    values identical; sums up to the order of floating-point addition). ``shards`` defaults to
    :func:`ccm.dist.shards.default_shards`. The snapshot and config are broadcast once to every worker.
    """
    workers = worker_count(client)
    parts = ranges(book.n_accounts, shards or default_shards(book.n_accounts, workers))
    market_f = broadcast(client, snapshot)
    config_f = broadcast(client, book_wide_config(book, snapshot, config, model))  # e.g. Liquity's system TCR
    results = run_tasks(client, shard_coverage,
                        [(sub, market_f, config_f, model, with_distance, before_task)
                         for sub in shard_book(book, parts)],
                        name="metrics", on_done=on_done)
    merged = concat_coverage(results)
    return ClusterMetricsResult(result=merged, system=system_metrics(merged), shards=len(parts), workers=workers,
                                book=book if model is None else with_model(book, model), snapshot=snapshot,
                                config=config)


def evaluate_on_cluster(
    book: Book,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    model: MarginModelName | None = None,
    with_distance: bool = True,
    on_done: Callable[[int, int], None] | None = None,
) -> ClusterMetricsResult:
    """:func:`evaluate_on_client` on ``scheduler`` (tcp://HOST:PORT) or on a local cluster of ``workers``."""
    with cluster_client(scheduler, workers) as client:
        return evaluate_on_client(client, book, snapshot, config, model=model, with_distance=with_distance,
                                  on_done=on_done)


__all__ = ["ClusterMetricsResult", "concat_coverage", "evaluate_on_client", "evaluate_on_cluster",
           "shard_coverage"]

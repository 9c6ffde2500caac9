"""``ccm stress`` on a Dask cluster: shards of accounts × chunks of scenarios, reduced to one StressResult.

Each task accumulates one shard of accounts over one chunk of scenarios into a
:class:`ccm.stress.run.StressPartial` (:func:`ccm.stress.run.stress_partial`, the accumulation
:func:`ccm.stress.run.run_stress` runs in one process); the market, config and scenario set are broadcast once
to every worker and the task takes its chunk there. The client merges the partials with
:func:`ccm.stress.run.combine` and derives the result with :func:`ccm.stress.run.finalise` — the same two
functions as one process, so Cover-1/2, VaR/ES, orderings and fund ratios cannot drift between the two.

Each chunk of a shard recomputes that shard's maintenance margin today (the accumulation needs it), so
chunks > 1 trade that repeated cost for more tasks than shards (useful when there are more workers than
shards of a useful size).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from distributed import Client

from ccm.book.book import Book
from ccm.dist.cluster import broadcast, cluster_client, run_tasks, worker_count
from ccm.dist.shards import book_wide_config, default_shards, ranges, shard_book
from ccm.pricing.market_state import resolve_market
from ccm.market.snapshot import MarketSnapshot
from ccm.risk.config import RiskConfig
from ccm.risk.context import RiskContext
from ccm.scenario.base import ScenarioSet
from ccm.stress.run import StressPartial, StressResult, combine, finalise, stress_partial


def shard_stress(
    book: Book,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    scenarios: ScenarioSet,
    shard: slice,
    chunk: slice,
    top_accounts: int,
    chunk_size: int,
    before_task: Callable[[], None] | None = None,
) -> StressPartial:
    """The task run on a worker: the partial of one shard of accounts (rows ``shard`` of the whole book, the
    accounts of ``book``) over the scenarios ``chunk``."""
    if before_task is not None:
        before_task()
    ctx = RiskContext.build(book, resolve_market(snapshot, book.assets, book.instruments), config)
    part = scenarios.take(np.arange(chunk.start, chunk.stop, dtype=np.int64))
    return stress_partial(ctx, part, account_start=shard.start, scenario_start=chunk.start, chunk_size=chunk_size,
                          top_accounts=top_accounts)


def stress_on_client(
    client: Client,
    book: Book,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    scenarios: ScenarioSet,
    *,
    fund_usd: float = 0.0,
    top_accounts: int = 5,
    confidence: float = 0.99,
    chunk_size: int = 500,
    shards: int | None = None,
    chunks: int = 1,
    before_task: Callable[[], None] | None = None,
    on_done: Callable[[int, int], None] | None = None,
) -> StressResult:
    """:func:`ccm.stress.run.run_stress` of ``book`` (on ``snapshot`` and ``config``) over ``scenarios``,
    computed on the cluster of ``client`` in ``shards`` × ``chunks`` tasks; the same StressResult.

    ``shards`` defaults to :func:`ccm.dist.shards.default_shards`; ``chunks`` splits the scenario set (each
    chunk recomputes its shard's requirement today). ``chunk_size`` is run_stress's, inside each task.
    """
    if top_accounts < 0:
        raise ValueError("top_accounts must be ≥ 0")
    if not fund_usd >= 0:
        raise ValueError("fund_usd must be ≥ 0")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    account_parts = ranges(book.n_accounts, shards or default_shards(book.n_accounts, worker_count(client)))
    scenario_parts = ranges(len(scenarios), chunks)
    shard_config = book_wide_config(book, snapshot, config)  # e.g. Liquity's system TCR, not each shard's
    market_f, config_f, scenarios_f = (broadcast(client, x) for x in (snapshot, shard_config, scenarios))
    k = max(top_accounts, 2)  # Cover-2 needs the two largest, as in run_stress
    books = shard_book(book, account_parts)
    tasks = [(sub, market_f, config_f, scenarios_f, shard, chunk, k, chunk_size, before_task)
             for sub, shard in zip(books, account_parts, strict=True) for chunk in scenario_parts]
    parts = run_tasks(client, shard_stress, tasks, name="stress", on_done=on_done)
    return finalise(combine(parts), scenarios, fund_usd=fund_usd, top_accounts=top_accounts, confidence=confidence)


def stress_on_cluster(
    book: Book,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    scenarios: ScenarioSet,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    fund_usd: float = 0.0,
    confidence: float = 0.99,
    on_done: Callable[[int, int], None] | None = None,
) -> StressResult:
    """:func:`stress_on_client` on ``scheduler`` (tcp://HOST:PORT) or on a local cluster of ``workers``."""
    with cluster_client(scheduler, workers) as client:
        return stress_on_client(client, book, snapshot, config, scenarios, fund_usd=fund_usd,
                                confidence=confidence, on_done=on_done)


__all__ = ["shard_stress", "stress_on_client", "stress_on_cluster"]

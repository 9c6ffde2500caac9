"""``ccm stress`` on a Dask cluster: shards of accounts × chunks of scenarios, reduced to one StressResult.

Each task runs :func:`ccm.stress.run.run_stress` unchanged on one shard of accounts and one chunk of
scenarios (the market, config and scenario set are broadcast once to every worker; the task takes its
chunk there). The partial results are merged so that every figure equals the single-process run:

- per scenario, across shards: the system uncovered loss and the accounts breached are sums; the k largest
  uncovered losses are the k largest of the shards' own k largest (merged with
  :func:`ccm.stress.cover.largest_losses`; ties in account order, as in one process). Cover-1 / Cover-2
  per scenario then come from :func:`ccm.stress.cover.cover_n` on the merged losses, and VaR / ES from
  :func:`ccm.stress.cover.var_es` on the per-scenario system loss summed over shards — never from
  per-shard VaRs;
- per account, across chunks: the worst scenario is the chunk with the lowest worst adjusted equity
  (the first chunk on ties, so the first scenario wins as in one process), and its stressed coverage and
  uncovered loss are taken from that chunk's result.

Each chunk of a shard recomputes that shard's maintenance margin today (``run_stress`` needs it), so
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
from ccm.market.resolve import resolve_market
from ccm.market.snapshot import MarketSnapshot
from ccm.risk.config import RiskConfig
from ccm.risk.context import RiskContext
from ccm.scenario.base import ScenarioSet
from ccm.stress.cover import cover_n, fund_coverage, largest_losses, var_es
from ccm.stress.run import StressResult, run_stress


def shard_stress(
    book: Book,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    scenarios: ScenarioSet,
    chunk: slice,
    top_accounts: int,
    confidence: float,
    chunk_size: int,
    before_task: Callable[[], None] | None = None,
) -> StressResult:
    """The task run on a worker: :func:`run_stress` of one shard of accounts over the scenarios ``chunk``."""
    if before_task is not None:
        before_task()
    ctx = RiskContext.build(book, resolve_market(snapshot, book.assets, book.instruments), config)
    part = scenarios.take(np.arange(chunk.start, chunk.stop, dtype=np.int64))
    return run_stress(ctx, part, chunk_size=chunk_size, top_accounts=top_accounts, confidence=confidence)


def _merge_top(parts: list[StressResult], shards: list[slice], k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, losses) of shape (S, k): the k largest uncovered losses per scenario over all shards, rows into
    the whole book. Candidates are laid out shard by shard, each shard's largest first, so equal losses
    keep account order."""
    losses = np.concatenate([p.top_uncovered_loss for p in parts], axis=1)
    rows = np.concatenate([np.where(p.top_account_rows >= 0, p.top_account_rows + s.start, -1)
                           for p, s in zip(parts, shards, strict=True)], axis=1)
    column, amount = largest_losses(losses, k)
    merged = np.take_along_axis(rows, np.maximum(column, 0), axis=1)
    return np.where(column >= 0, merged, -1), amount


def _worst_over_chunks(parts: list[StressResult], chunks: list[slice]) -> dict[str, np.ndarray]:
    """Per account of one shard: the worst-scenario fields of the chunk holding its lowest adjusted equity."""
    worst = np.stack([p.worst_adjusted_equity for p in parts])
    pick = np.argmin(np.where(np.isnan(worst), np.inf, worst), axis=0)[None, :]  # first chunk on ties

    def chosen(values: list[np.ndarray]) -> np.ndarray:
        return np.take_along_axis(np.stack(values), pick, axis=0)[0]

    return {
        "worst_scenario": chosen([np.where(p.worst_scenario >= 0, p.worst_scenario + c.start, -1)
                                  for p, c in zip(parts, chunks, strict=True)]),
        "worst_adjusted_equity": chosen([p.worst_adjusted_equity for p in parts]),
        "worst_coverage": chosen([p.worst_coverage for p in parts]),
        "worst_uncovered_loss": chosen([p.worst_uncovered_loss for p in parts]),
    }


def merge_stress(
    parts: list[list[StressResult]],
    shards: list[slice],
    chunks: list[slice],
    scenarios: ScenarioSet,
    *,
    top_accounts: int,
    fund_usd: float,
    confidence: float,
) -> StressResult:
    """One StressResult from ``parts[shard][chunk]`` (see the module docstring)."""
    k = parts[0][0].top_account_rows.shape[1]
    if top_accounts > k:
        raise ValueError(f"the parts keep {k} accounts per scenario, fewer than top_accounts={top_accounts}")
    system, breached, top_rows, top_loss = [], [], [], []
    for c in range(len(chunks)):
        column = [row[c] for row in parts]
        system.append(np.sum([p.system_uncovered_loss for p in column], axis=0))
        breached.append(np.sum([p.accounts_breached for p in column], axis=0, dtype=np.int64))
        rows, loss = _merge_top(column, shards, k)
        top_rows.append(rows)
        top_loss.append(loss)
    system_s, top_l = np.concatenate(system), np.concatenate(top_loss)
    per_account = [_worst_over_chunks(row, chunks) for row in parts]
    n_s = system_s.shape[0]
    cover_1_s, cover_2_s = cover_n(top_l, 1), cover_n(top_l, 2)
    c1 = int(np.argmax(cover_1_s)) if n_s else -1
    c2 = int(np.argmax(cover_2_s)) if n_s else -1
    cover_2 = float(cover_2_s[c2]) if n_s else 0.0
    var, es = var_es(system_s, confidence) if n_s else (float("nan"), float("nan"))
    return StressResult(
        account_ids=np.concatenate([row[0].account_ids for row in parts]),
        scenario_names=scenarios.names,
        scenario_dates=scenarios.dates,
        kind=scenarios.kind,
        adjusted_equity=np.concatenate([row[0].adjusted_equity for row in parts]),
        maintenance_margin=np.concatenate([row[0].maintenance_margin for row in parts]),
        system_uncovered_loss=system_s,
        accounts_breached=np.concatenate(breached).astype(np.int64),
        top_account_rows=np.concatenate(top_rows)[:, :top_accounts],
        top_uncovered_loss=top_l[:, :top_accounts],
        cover_1_by_scenario=cover_1_s,
        cover_2_by_scenario=cover_2_s,
        **{name: np.concatenate([a[name] for a in per_account]) for name in per_account[0]},
        cover_1=float(cover_1_s[c1]) if n_s else 0.0,
        cover_2=cover_2,
        cover_1_scenario=c1,
        cover_2_scenario=c2,
        fund_usd=float(fund_usd),
        fund_coverage=fund_coverage(fund_usd, cover_2),
        scenario_order=np.argsort(-system_s, kind="stable").astype(np.int64),
        confidence=confidence,
        var=var,
        es=es,
    )


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
    tasks = [(sub, market_f, config_f, scenarios_f, chunk, k, confidence, chunk_size, before_task)
             for sub in books for chunk in scenario_parts]
    flat = run_tasks(client, shard_stress, tasks, name="stress", on_done=on_done)
    n_chunks = len(scenario_parts)
    grid = [flat[i * n_chunks:(i + 1) * n_chunks] for i in range(len(account_parts))]
    return merge_stress(grid, account_parts, scenario_parts, scenarios, top_accounts=top_accounts,
                        fund_usd=fund_usd, confidence=confidence)


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


__all__ = ["merge_stress", "shard_stress", "stress_on_client", "stress_on_cluster"]

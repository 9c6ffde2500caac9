"""A worker killed mid-run, or a task that fails once, does not change the answer: Dask runs the task
again (the scheduler reassigns a dead worker's tasks; ``retries=`` re-runs a task that raised)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from ccm.dist.metrics import evaluate_on_client
from ccm.dist.stress import stress_on_client
from ccm.errors import InputError
from ccm.risk.metrics import evaluate
from ccm.stress import run_stress
from tests.dist.same import assert_same
from tests.dist.test_dist_stress import scenario_set


@dataclass(frozen=True)
class FirstCallFails:
    """Run on a worker before each task: the first call cluster-wide (an O_EXCL marker file decides) kills
    its own worker process (``os._exit``) or raises; every later call does nothing."""

    marker: str
    kill: bool

    def __call__(self) -> None:
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        if self.kill:
            os._exit(1)
        raise RuntimeError("injected failure on the first attempt")


def _pids(client) -> set[int]:
    return set(client.run(os.getpid).values())


def test_killed_worker_stress_still_complete_and_equal(client, venue, config, tmp_path: Path):
    from ccm.pricing.market_state import resolve_market
    from ccm.risk.context import RiskContext

    generated, book = venue
    ctx = RiskContext.build(book, resolve_market(generated.market, book.assets, book.instruments), config)
    scenarios = scenario_set("historical", ctx)
    single = run_stress(ctx, scenarios, fund_usd=1e6)
    before = _pids(client)
    marker = tmp_path / "killed"
    cluster = stress_on_client(client, book, generated.market, config, scenarios, fund_usd=1e6, shards=2, chunks=2,
                               before_task=FirstCallFails(str(marker), kill=True))
    killed = int(marker.read_text())
    assert killed in before  # a worker of the cluster died in the middle of the run …
    assert_same(single, cluster)  # … yet every task ran (again) and the result is complete and right
    client.wait_for_workers(2, timeout=120)
    assert killed not in _pids(client)  # its nanny replaced it (the cluster is whole for the next tests)


def test_task_that_raises_once_is_retried(client, venue, config, tmp_path: Path):
    generated, book = venue
    small = book.take(list(range(300)))
    single = evaluate(small, generated.market, config, with_distance=False)
    marker = tmp_path / "raised"
    cluster = evaluate_on_client(client, small, generated.market, config, with_distance=False, shards=2,
                                 before_task=FirstCallFails(str(marker), kill=False))
    assert marker.exists()
    assert_same(single.result, cluster.result)


@dataclass(frozen=True)
class CountCalls:
    """Run on a worker before each task: appends one line to ``path`` per attempt."""

    path: str

    def __call__(self) -> None:
        with open(self.path, "a") as f:
            f.write("attempt\n")


def test_bad_input_on_a_worker_is_the_single_process_error_without_retries(client, venue, config, tmp_path: Path):
    generated, book = venue
    market = replace(generated.market, index={k: v for k, v in generated.market.index.items() if k != "SOL"})
    with pytest.raises(InputError) as single:
        evaluate(book, market, config, with_distance=False)
    calls = tmp_path / "calls"
    with pytest.raises(InputError) as cluster:
        evaluate_on_client(client, book, market, config, with_distance=False, shards=2,
                           before_task=CountCalls(str(calls)))
    assert str(cluster.value) == str(single.value)
    assert (cluster.value.file, cluster.value.record, cluster.value.field) == ("market", "index", "SOL")
    assert calls.read_text().count("attempt") == 2  # one per shard: a bad input is not retried

"""``ccm metrics`` on a 2-process local cluster gives the single-process figures, account by account."""

from __future__ import annotations

from dataclasses import fields

import pytest

from ccm.dist.metrics import evaluate_on_client
from ccm.enums import MarginModelName
from ccm.risk.coverage import CoverageResult, SystemResult
from ccm.risk.metrics import evaluate
from tests.dist.same import assert_same


@pytest.mark.parametrize("model", [MarginModelName.STANDARD, MarginModelName.PORTFOLIO])
def test_cluster_metrics_equal_single_process(client, venue, config, model):
    generated, book = venue
    single = evaluate(book, generated.market, config, model=model)
    cluster = evaluate_on_client(client, book, generated.market, config, model=model, shards=3)
    assert cluster.shards == 3 and cluster.workers == 2
    compared = assert_same(single.result, cluster.result)
    assert {f".{f.name}" for f in fields(CoverageResult)} - {".contributors"} <= set(compared)
    assert_same(single.system, cluster.system)
    assert {f.name for f in fields(SystemResult)} == {f.name for f in fields(cluster.system)}
    # the non-additive figures are real here (not vacuous): quantiles spread, shortfalls present
    assert single.system.coverage_quantiles["p01"] < single.system.coverage_quantiles["p50"]
    assert len(single.system.largest_shortfalls) == 10


def test_more_shards_than_accounts_and_own_models(client, venue, config):
    generated, book = venue
    small = book.take(list(range(5)))
    single = evaluate(small, generated.market, config, with_distance=False)
    cluster = evaluate_on_client(client, small, generated.market, config, with_distance=False, shards=8)
    assert cluster.shards == 5
    assert_same(single.result, cluster.result)
    assert_same(single.system, cluster.system)

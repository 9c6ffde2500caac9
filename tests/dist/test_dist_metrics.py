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


def test_liquity_shards_share_the_system_tcr(client):
    """Liquity's Recovery Mode depends on the whole system's TCR: six troves at $2,000 (collateral 120,000, debt
    86,500, TCR 1.387 < CCR 1.5). Troves with ICR < TCR then have HF = ICR / TCR, e.g. ICR 1.333 → 0.961
    (liquidatable). Each shard used to compute the TCR of its own troves (trove 2 came out at 1.212)."""
    from ccm.book import Account, build_book
    from ccm.io.config import load_config
    from ccm.market import MarketSnapshot
    from tests.reference.builders import AS_OF

    troves = [(10, 12_000), (10, 16_000), (10, 15_000), (10, 14_000), (10, 12_500), (10, 17_000)]
    book = build_book([], [Account(id=f"t{k}", collateral={"ETH": q, "LUSD": -d}) for k, (q, d) in enumerate(troves)])
    market = MarketSnapshot(as_of=AS_OF, index={"ETH": 2_000.0, "LUSD": 1.0})
    config = load_config(preset="liquity-v1")
    single = evaluate(book, market, config, with_distance=False)
    cluster = evaluate_on_client(client, book, market, config, with_distance=False, shards=4)
    assert_same(single.result, cluster.result)
    assert_same(single.system, cluster.system)
    tcr = 120_000 / 86_500
    mm = cluster.result.maintenance_margin[2]  # ICR 4/3 < TCR: HF = ICR / TCR, MM = C (1 − 1 / TCR)
    assert mm == pytest.approx(20_000 * (1 - 1 / tcr), rel=1e-12)

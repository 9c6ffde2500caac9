"""``ccm stress`` on a 2-process local cluster gives the single-process StressResult, field by field."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from ccm.dist.stress import stress_on_client
from ccm.pricing.market_state import resolve_market
from ccm.risk.context import RiskContext
from ccm.scenario import historical_events
from ccm.scenario.base import ScenarioSet
from ccm.scenario.montecarlo import monte_carlo
from ccm.stress import run_stress
from ccm.stress.run import StressResult, combine, finalise
from tests.dist.same import assert_same

FUND = 5e6


@pytest.fixture(scope="module")
def ctx(venue, config):
    generated, book = venue
    return RiskContext.build(book, resolve_market(generated.market, book.assets, book.instruments), config)


def scenario_set(kind: str, ctx) -> ScenarioSet:
    assets = ctx.book.assets
    stable = ctx.haircuts.stable
    if kind == "historical":
        return historical_events(assets, stable={a for a, s in zip(assets, stable, strict=True) if s})
    daily_vol = np.where(stable, 0.0005, 0.05)
    corr = np.where(np.outer(~stable, ~stable), 0.8, 0.0)
    np.fill_diagonal(corr, 1.0)
    return monte_carlo(assets, np.outer(daily_vol, daily_vol) * corr, paths=300, rng=np.random.default_rng(11),
                       horizon_days=2.0, distribution="t", vol_beta=2.5)


@pytest.mark.parametrize(("kind", "shards", "chunks"), [("montecarlo", 3, 2), ("historical", None, 1)])
def test_cluster_stress_equals_single_process(client, venue, config, ctx, kind, shards, chunks):
    generated, book = venue
    scenarios = scenario_set(kind, ctx)
    single = run_stress(ctx, scenarios, fund_usd=FUND, top_accounts=5, confidence=0.99)
    cluster = stress_on_client(client, book, generated.market, config, scenarios, fund_usd=FUND, top_accounts=5,
                               confidence=0.99, shards=shards, chunks=chunks)
    compared = assert_same(single, cluster)
    assert {f".{f.name}" for f in fields(StressResult)} == set(compared)
    # the merged figures are not vacuous: losses in several shards, a tail for VaR/ES
    assert single.cover_2 > single.cover_1 > 0
    assert (single.top_account_rows[:, 0] >= 0).sum() > 1
    assert single.es >= single.var > 0


@pytest.mark.parametrize(("scenarios", "shards", "chunks"), [(0, 3, 2), (5, 7, 5)])
def test_edge_partitions_in_process(venue, config, ctx, scenarios, shards, chunks):
    """No scenarios, and one-account shards × one-scenario chunks: the tasks run here (no cluster)."""
    from ccm.dist.shards import ranges, shard_book
    from ccm.dist.stress import shard_stress

    generated, book = venue
    small = book.take(list(range(shards)))
    sub_ctx = ctx.take(list(range(shards)))
    chosen = scenario_set("montecarlo", ctx).take(list(range(scenarios)))
    single = run_stress(sub_ctx, chosen, fund_usd=FUND, top_accounts=3)
    account_parts, scenario_parts = ranges(shards, shards), ranges(scenarios, chunks)
    parts = [shard_stress(b, generated.market, config, chosen, a, c, 3, 500)
             for b, a in zip(shard_book(small, account_parts), account_parts, strict=True) for c in scenario_parts]
    merged = finalise(combine(parts[::-1]), chosen, fund_usd=FUND, top_accounts=3)  # any order of the parts
    assert_same(single, merged)


def test_liquity_stress_shards_share_the_system_tcr(client):
    """As test_dist_metrics' Liquity case, under scenarios: every shard's troves use the whole book's TCR."""
    from ccm.book import Account, build_book
    from ccm.io.config import load_config
    from ccm.market import MarketSnapshot
    from tests.reference.builders import AS_OF

    troves = [(10, 12_000), (10, 16_000), (10, 15_000), (10, 14_000), (10, 12_500), (10, 17_000)]
    book = build_book([], [Account(id=f"t{k}", collateral={"ETH": q, "LUSD": -d}) for k, (q, d) in enumerate(troves)])
    market = MarketSnapshot(as_of=AS_OF, index={"ETH": 2_000.0, "LUSD": 1.0})
    config = load_config(preset="liquity-v1")
    scenarios = ScenarioSet(assets=("ETH", "LUSD"), names=("flat", "eth -10%", "eth -20%"),
                            price_returns=np.array([[0.0, 0.0], [-0.1, 0.0], [-0.2, 0.0]]), kind="custom")
    ctx = RiskContext.build(book, resolve_market(market, book.assets, book.instruments), config)
    single = run_stress(ctx, scenarios, fund_usd=FUND, top_accounts=3, confidence=0.5)
    cluster = stress_on_client(client, book, market, config, scenarios, fund_usd=FUND, top_accounts=3,
                               confidence=0.5, shards=4, chunks=2)
    assert_same(single, cluster)

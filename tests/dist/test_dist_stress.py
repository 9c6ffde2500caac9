"""``ccm stress`` on a 2-process local cluster gives the single-process StressResult, field by field."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from ccm.dist.stress import merge_stress, stress_on_client
from ccm.market import resolve_market
from ccm.risk.context import RiskContext
from ccm.scenario import historical_events
from ccm.scenario.base import ScenarioSet
from ccm.scenario.montecarlo import monte_carlo
from ccm.stress import run_stress
from ccm.stress.run import StressResult
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


def _part(*, rows, losses, system, breached, worst_ae, worst_scenario, maintenance) -> StressResult:
    """A hand-made partial result: k = 2 largest per scenario, per-account worst figures."""
    rows, losses = np.array(rows), np.array(losses, dtype=float)
    worst_ae, mm = np.array(worst_ae, dtype=float), np.array(maintenance, dtype=float)
    n = worst_ae.shape[0]
    return StressResult(
        account_ids=np.array([f"x{k}" for k in range(n)]), scenario_names=("a", "b"), scenario_dates=(None, None),
        kind="custom", adjusted_equity=np.ones(n), maintenance_margin=mm,
        system_uncovered_loss=np.array(system, dtype=float), accounts_breached=np.array(breached),
        top_account_rows=rows, top_uncovered_loss=losses, cover_1_by_scenario=losses[:, 0],
        cover_2_by_scenario=losses.sum(axis=1), worst_scenario=np.array(worst_scenario),
        worst_adjusted_equity=worst_ae, worst_coverage=worst_ae / mm, worst_uncovered_loss=np.maximum(0, -worst_ae),
        cover_1=0.0, cover_2=0.0, cover_1_scenario=-1, cover_2_scenario=-1, fund_usd=0.0, fund_coverage=None,
        scenario_order=np.arange(2), confidence=0.5, var=0.0, es=0.0)


def test_merge_by_hand_ties_go_to_the_first_account_and_the_first_scenario():
    """Two shards (accounts 0–1 and 2–4) × one chunk of two scenarios, figures worked out by hand."""
    first = _part(rows=[[1, 0], [0, -1]], losses=[[5.0, 3.0], [2.0, 0.0]], system=[8.0, 2.0], breached=[2, 1],
                  worst_ae=[-5.0, -3.0], worst_scenario=[0, 0], maintenance=[1.0, 1.0])
    second = _part(rows=[[2, 0], [1, 2]], losses=[[5.0, 4.0], [7.0, 2.0]], system=[9.0, 9.0], breached=[3, 2],
                   worst_ae=[-4.0, -7.0, 0.5], worst_scenario=[0, 1, 1], maintenance=[1.0, 2.0, 1.0])
    scenarios = ScenarioSet(assets=("BTC",), names=("a", "b"), price_returns=np.zeros((2, 1)), kind="custom")
    merged = merge_stress([[first], [second]], [slice(0, 2), slice(2, 5)], [slice(0, 2)], scenarios,
                          top_accounts=2, fund_usd=6.0, confidence=0.5)
    # scenario a: 5 (row 1), 5 (row 4: shard 2's row 2) before 4 (row 2); b: 7 (row 3), 2 (row 0) before 2 (row 4)
    assert merged.top_account_rows.tolist() == [[1, 4], [3, 0]]
    assert merged.top_uncovered_loss.tolist() == [[5.0, 5.0], [7.0, 2.0]]
    assert merged.system_uncovered_loss.tolist() == [17.0, 11.0]
    assert merged.accounts_breached.tolist() == [5, 3]
    assert merged.cover_1_by_scenario.tolist() == [5.0, 7.0] and merged.cover_2_by_scenario.tolist() == [10.0, 9.0]
    assert (merged.cover_1, merged.cover_1_scenario, merged.cover_2, merged.cover_2_scenario) == (7.0, 1, 10.0, 0)
    assert merged.fund_coverage == pytest.approx(0.6)
    assert (merged.var, merged.es) == (11.0, 17.0)  # losses 11, 17 at 50%: VaR the first, ES the one beyond
    assert merged.scenario_order.tolist() == [0, 1]
    assert merged.worst_scenario.tolist() == [0, 0, 0, 1, 1]
    assert merged.worst_uncovered_loss.tolist() == [5.0, 3.0, 4.0, 7.0, 0.0]


def test_merge_across_chunks_keeps_the_first_scenario_on_ties():
    """One shard of two accounts × two chunks of one scenario each: account 0 is equally bad in both
    (the first scenario wins), account 1 is worse in the second."""
    early = _part(rows=[[0, 1]], losses=[[4.0, 1.0]], system=[5.0], breached=[2], worst_ae=[-4.0, -1.0],
                  worst_scenario=[0, 0], maintenance=[2.0, 1.0])
    late = _part(rows=[[1, 0]], losses=[[6.0, 4.0]], system=[10.0], breached=[2], worst_ae=[-4.0, -6.0],
                 worst_scenario=[0, 0], maintenance=[2.0, 1.0])
    scenarios = ScenarioSet(assets=("BTC",), names=("a", "b"), price_returns=np.zeros((2, 1)), kind="custom")
    merged = merge_stress([[early, late]], [slice(0, 2)], [slice(0, 1), slice(1, 2)], scenarios,
                          top_accounts=2, fund_usd=0.0, confidence=0.5)
    assert merged.worst_scenario.tolist() == [0, 1]
    assert merged.worst_adjusted_equity.tolist() == [-4.0, -6.0]
    assert merged.worst_coverage.tolist() == [-2.0, -6.0]
    assert merged.top_account_rows.tolist() == [[0, 1], [1, 0]]
    assert merged.system_uncovered_loss.tolist() == [5.0, 10.0]
    # cover-1 / cover-2: scenario b's largest loss 6 and its two largest 6 + 4 = 10; a fund of 0 covers 0 of it
    assert (merged.cover_1, merged.cover_1_scenario, merged.cover_2, merged.cover_2_scenario) == (6.0, 1, 10.0, 1)
    assert merged.fund_coverage == 0.0


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
    parts = [[shard_stress(b, generated.market, config, chosen, c, 3, 0.99, 500) for c in scenario_parts]
             for b in shard_book(small, account_parts)]
    merged = merge_stress(parts, account_parts, scenario_parts, chosen, top_accounts=3, fund_usd=FUND,
                          confidence=0.99)
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

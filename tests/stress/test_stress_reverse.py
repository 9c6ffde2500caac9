"""Reverse stress: the roots are where coverage = 1 (or Σ uncovered = fund), checked by re-evaluating the
book with the core's valuation at the root and just before it; one system root by hand."""

from __future__ import annotations

import numpy as np
import pytest

from ccm.book import Account, Position
from ccm.risk.context import scenario_adjusted_equity
from ccm.risk.coverage import compute_coverage
from ccm.risk.distance import excess_at
from ccm.scenario.base import ScenarioSet
from ccm.stress import reverse_stress
from ccm.stress.reverse import direction_path, scaled_adjusted_equity
from tests.reference.builders import AS_OF, config, perp
from tests.reference.harness import engine_context

SCENARIO = ScenarioSet(assets=("BTC", "ETH", "USDC"), names=("crash",),
                       price_returns=np.array([[-0.20, -0.30, 0.0]]), vol_shifts=np.array([[0.5, 0.8, 0.0]]),
                       haircut_multipliers=np.array([[2.0, 1.5, 1.0]]), liquidity_multipliers=0.5)


def core_equity_at(ctx, path, t):
    """Adjusted equity (n_accounts,) at scale t through the core's scenario_adjusted_equity (t·r etc.)."""
    t = float(t)
    return scenario_adjusted_equity(
        ctx, (1.0 + t * path.returns)[None, :], vol_multiplier=(1.0 + t * path.vol_shifts)[None, :],
        haircut_multiplier=np.maximum(0.0, 1.0 + t * (path.haircut_multipliers - 1.0))[None, :],
        liquidity_multiplier=np.maximum(1e-6, 1.0 + t * (path.liquidity_multipliers - 1.0))[None, :])[0]


@pytest.mark.parametrize("book", ["long_ctx", "mixed_ctx"])
def test_account_equity_at_own_scale_matches_the_core(book, request):
    ctx = request.getfixturevalue(book)
    path = direction_path(ctx, SCENARIO)
    for t in (0.0, 0.4, 1.0, 2.5):
        own = scaled_adjusted_equity(ctx, path, np.full(ctx.n_accounts, t))
        np.testing.assert_allclose(own, core_equity_at(ctx, path, t), rtol=1e-10, atol=1e-6)
    scales = np.linspace(0.1, 2.0, ctx.n_accounts)
    own = scaled_adjusted_equity(ctx, path, scales)
    for i, t in enumerate(scales):
        assert own[i] == pytest.approx(core_equity_at(ctx, path, t)[i], rel=1e-10, abs=1e-6)


@pytest.mark.parametrize("direction", ["down", "up"])
@pytest.mark.parametrize("book", ["long_ctx", "mixed_ctx"])
def test_uniform_root_is_where_coverage_reaches_one(book, direction, request):
    ctx = request.getfixturevalue(book)
    result = reverse_stress(ctx, direction=direction)
    sign = -1.0 if direction == "down" else 1.0
    base = compute_coverage(ctx, with_distance=False)
    np.testing.assert_array_equal(result.account_scale[base.excess < 0], 0.0)
    found = np.flatnonzero(result.account_scale > 0)
    if direction == "down" and book == "long_ctx":
        assert found.size >= 3
    for i in found:
        root = result.account_scale[i]
        moves = np.zeros(ctx.n_accounts)
        moves[i] = sign * root
        at_root = excess_at(ctx, moves)[i]
        moves[i] = sign * 0.99 * root
        before = excess_at(ctx, moves)[i]
        mm = base.maintenance_margin[i]
        assert abs(at_root) <= 1e-3 * max(mm, 1.0), (i, at_root, mm)
        assert before > 0


@pytest.mark.parametrize("book", ["long_ctx", "mixed_ctx"])
def test_scenario_root_is_where_coverage_against_todays_requirement_reaches_one(book, request):
    ctx = request.getfixturevalue(book)
    result = reverse_stress(ctx, direction=SCENARIO)
    assert result.requirement_held and result.direction == "crash"
    base = compute_coverage(ctx, with_distance=False)
    path = direction_path(ctx, SCENARIO)
    found = np.flatnonzero(result.account_scale > 0)
    assert found.size >= 1
    for i in found:
        root = result.account_scale[i]
        mm = base.maintenance_margin[i]
        coverage_at_root = core_equity_at(ctx, path, root)[i] / mm
        assert coverage_at_root == pytest.approx(1.0, abs=1e-4)
        assert core_equity_at(ctx, path, 0.99 * root)[i] / mm > 1.0
    never = np.isnan(result.account_scale)
    top = core_equity_at(ctx, path, result.max_scale)
    assert np.all(top[never] >= base.maintenance_margin[never])


def test_system_root_by_hand(linear_ctx):
    # Down by t: b is bankrupt beyond 8,000/120,000, a beyond 5,000/60,000; past both,
    # Σ uncovered = 180,000·t − 13,000 = fund 10,000 at t = 23,000 / 180,000.
    result = reverse_stress(linear_ctx, direction="down", fund_usd=10_000.0)
    assert result.system_scale == pytest.approx(23_000.0 / 180_000.0, abs=1e-5)
    assert result.system_uncovered_loss == pytest.approx(10_000.0, rel=1e-4)
    # a fund of 0 is gone as soon as b is bankrupt; up: d (short 1 BTC, 3,000) from t = 0.05.
    assert reverse_stress(linear_ctx, direction="down", fund_usd=0.0).system_scale == pytest.approx(
        8_000.0 / 120_000.0, abs=1e-5)
    up = reverse_stress(linear_ctx, direction="up", fund_usd=6_000.0)
    assert up.system_scale == pytest.approx(9_000.0 / 60_000.0, abs=1e-5)


@pytest.mark.parametrize("book", ["long_ctx", "mixed_ctx"])
def test_system_root_is_where_uncovered_loss_reaches_the_fund(book, request):
    ctx = request.getfixturevalue(book)
    path = direction_path(ctx, SCENARIO)
    fund = 5_000.0
    result = reverse_stress(ctx, direction=SCENARIO, fund_usd=fund)
    t = result.system_scale
    assert 0 < t < result.max_scale
    total = np.maximum(0.0, -core_equity_at(ctx, path, t)).sum()
    assert total == pytest.approx(fund, rel=1e-3)
    assert np.maximum(0.0, -core_equity_at(ctx, path, 0.99 * t)).sum() <= fund


def test_no_fund_no_system_search_and_a_fund_that_survives(linear_ctx):
    assert np.isnan(reverse_stress(linear_ctx, direction="down").system_scale)
    big = reverse_stress(linear_ctx, direction="down", fund_usd=1e12)
    assert np.isnan(big.system_scale) and big.max_scale == pytest.approx(0.95)


def test_already_exhausted_fund_gives_zero():
    p = perp("BTC")
    bankrupt = Account(id="x", collateral={"USDC": 5_000.0},
                       positions=(Position(instrument=p.id, quantity=1.0, entry_price=70_000.0),))
    ctx = engine_context([p], [bankrupt], {"BTC": 60_000.0, "USDC": 1.0}, {}, AS_OF, config())
    result = reverse_stress(ctx, direction="down", fund_usd=4_999.0)
    assert result.system_scale == 0.0 and result.system_uncovered_loss == pytest.approx(5_000.0)
    assert result.account_scale.tolist() == [0.0]
    assert reverse_stress(ctx, direction="down", fund_usd=5_001.0).system_scale == pytest.approx(1 / 60_000, abs=1e-5)


def test_scale_is_capped_before_prices_reach_zero(linear_ctx, long_ctx):
    assert reverse_stress(long_ctx, direction=SCENARIO, max_scale=100.0).max_scale == pytest.approx(0.95 / 0.30)
    assert reverse_stress(linear_ctx, direction=SCENARIO, max_scale=100.0).max_scale == pytest.approx(0.95 / 0.20)
    assert reverse_stress(linear_ctx, direction=SCENARIO, max_scale=2.0).max_scale == 2.0


def test_a_direction_must_be_one_scenario(linear_ctx):
    from ccm.errors import InputError

    two = ScenarioSet(assets=("BTC",), names=("x", "y"), price_returns=np.zeros((2, 1)))
    with pytest.raises(InputError):
        reverse_stress(linear_ctx, direction=two)
    with pytest.raises(InputError):
        reverse_stress(linear_ctx, direction="sideways")  # type: ignore[arg-type]


def test_uniform_max_scale_limits_the_search(long_ctx):
    full = reverse_stress(long_ctx, direction="down")
    limited = reverse_stress(long_ctx, direction="down", max_scale=0.2)
    assert limited.max_scale == pytest.approx(0.2)
    inside = full.account_scale <= 0.2
    np.testing.assert_allclose(limited.account_scale[inside], full.account_scale[inside], atol=1e-5)
    assert np.isnan(limited.account_scale[~inside & ~np.isnan(full.account_scale)]).all()
    assert (full.account_scale > 0.2).any()

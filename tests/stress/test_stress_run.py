"""run_stress against hand values, today's metrics (compute_coverage) and invariants."""

from __future__ import annotations

import numpy as np
import pytest

from ccm.risk.coverage import compute_coverage
from ccm.scenario.base import ScenarioSet
from ccm.stress import run_stress

BTC_MOVES = [-0.30, 0.40, -0.10]


def btc_scenarios(moves):
    return ScenarioSet(assets=("BTC",), names=tuple(f"btc{m:+.2f}" for m in moves),
                       price_returns=np.array(moves, dtype=float)[:, None])


def uniform(ctx, moves, **extra):
    """Every non-stable asset of the book moves by each of ``moves``."""
    moves = np.asarray(moves, dtype=float)
    returns = moves[:, None] * ctx.moving[None, :]
    return ScenarioSet(assets=ctx.book.assets, names=tuple(f"u{m:+.3f}" for m in moves), price_returns=returns,
                       **extra)


def random_scenarios(ctx, n, seed):
    rng = np.random.default_rng(seed)
    k = len(ctx.book.assets)
    return ScenarioSet(
        assets=ctx.book.assets, names=tuple(f"r{i}" for i in range(n)),
        price_returns=np.clip(rng.normal(0.0, 0.25, (n, k)), -0.9, 2.0) * ctx.moving[None, :],
        vol_shifts=np.clip(rng.normal(0.2, 0.3, (n, k)), -0.5, 2.0),
        haircut_multipliers=rng.uniform(1.0, 3.0, (n, k)),
        liquidity_multipliers=rng.uniform(0.2, 1.0, (n, k)),
        kind="montecarlo",
    )


def test_cover_1_cover_2_by_hand(linear_ctx):
    # AE = collateral + q × 60,000 × r: a (5,000, q 1), b (8,000, q 2), c (10,000, q 0.5), d (3,000, q −1), e.
    result = run_stress(linear_ctx, btc_scenarios(BTC_MOVES), fund_usd=20_500.0, top_accounts=3)
    expected_ae = np.array([
        [5_000 - 18_000, 8_000 - 36_000, 10_000 - 9_000, 3_000 + 18_000, 1_000],
        [5_000 + 24_000, 8_000 + 48_000, 10_000 + 12_000, 3_000 - 24_000, 1_000],
        [5_000 - 6_000, 8_000 - 12_000, 10_000 - 3_000, 3_000 + 6_000, 1_000],
    ], dtype=float)
    np.testing.assert_allclose(result.system_uncovered_loss, [41_000.0, 21_000.0, 5_000.0], rtol=1e-12)
    np.testing.assert_allclose(result.cover_1_by_scenario, [28_000.0, 21_000.0, 4_000.0], rtol=1e-12)
    np.testing.assert_allclose(result.cover_2_by_scenario, [41_000.0, 21_000.0, 5_000.0], rtol=1e-12)
    assert result.cover_1 == pytest.approx(28_000.0) and result.cover_1_scenario == 0
    assert result.cover_2 == pytest.approx(41_000.0) and result.cover_2_scenario == 0
    assert result.fund_to_cover_2 == pytest.approx(20_500.0 / 41_000.0)
    assert result.top_account_ids.tolist() == [["b", "a", ""], ["d", "", ""], ["b", "a", ""]]
    np.testing.assert_allclose(result.top_uncovered_loss, [[28_000, 13_000, 0], [21_000, 0, 0], [4_000, 1_000, 0]],
                               rtol=1e-12)
    mm = compute_coverage(linear_ctx, with_distance=False).maintenance_margin
    np.testing.assert_array_equal(result.accounts_breached, (expected_ae < mm[None, :]).sum(axis=1))
    np.testing.assert_array_equal(result.worst_scenario, [0, 0, 0, 1, 0])
    np.testing.assert_allclose(result.worst_adjusted_equity, expected_ae.min(axis=0), rtol=1e-12)
    np.testing.assert_allclose(result.worst_uncovered_loss, [13_000, 28_000, 0, 21_000, 0], rtol=1e-12)
    # losses sorted: 5,000 < 21,000 < 41,000; at 50% VaR is the 2nd (⌈1.5⌉), ES the mean beyond it.
    assert result.scenario_order.tolist() == [0, 1, 2]
    assert run_stress(linear_ctx, btc_scenarios(BTC_MOVES), confidence=0.5).var == pytest.approx(21_000.0)
    assert run_stress(linear_ctx, btc_scenarios(BTC_MOVES), confidence=0.5).es == pytest.approx(41_000.0)


def test_worst_coverage_is_against_todays_requirement(linear_ctx):
    base = compute_coverage(linear_ctx, with_distance=False)
    result = run_stress(linear_ctx, btc_scenarios(BTC_MOVES))
    bounded = base.maintenance_margin > 0
    np.testing.assert_allclose(result.worst_coverage[bounded],
                               result.worst_adjusted_equity[bounded] / base.maintenance_margin[bounded], rtol=1e-12)
    assert np.isnan(result.worst_coverage[~bounded]).all()  # e: no requirement


@pytest.mark.parametrize("book", ["linear_ctx", "long_ctx", "mixed_ctx"])
def test_zero_shock_reproduces_base_metrics(book, request):
    ctx = request.getfixturevalue(book)
    base = compute_coverage(ctx, with_distance=False)
    zero = ScenarioSet(assets=ctx.book.assets, names=("zero", "zero-2"),
                       price_returns=np.zeros((2, len(ctx.book.assets))))
    result = run_stress(ctx, zero)
    np.testing.assert_allclose(result.worst_adjusted_equity, base.adjusted_equity, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(result.adjusted_equity, base.adjusted_equity, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(result.maintenance_margin, base.maintenance_margin, rtol=1e-12)
    np.testing.assert_allclose(result.worst_coverage, base.coverage_ratio, rtol=1e-12, equal_nan=True)
    expected_loss = np.maximum(0.0, -base.adjusted_equity).sum()
    np.testing.assert_allclose(result.system_uncovered_loss, [expected_loss] * 2, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(result.accounts_breached, [np.sum(base.excess < 0)] * 2)
    np.testing.assert_array_equal(result.worst_scenario, 0)  # ties: the first scenario


def test_losses_are_monotone_in_shock_size_for_a_long_book(long_ctx):
    moves = -np.linspace(0.0, 0.9, 31)
    result = run_stress(long_ctx, uniform(long_ctx, moves), chunk_size=4)
    loss = result.system_uncovered_loss
    assert loss[0] == 0.0 and loss[-1] > 0.0
    assert np.all(np.diff(loss) >= -1e-9 * max(1.0, loss.max()))
    assert np.all(np.diff(result.accounts_breached) >= 0)
    assert np.all(np.diff(result.cover_2_by_scenario) >= -1e-9 * max(1.0, loss.max()))
    # every account is worst off in the deepest scenario
    moved = np.diff(long_ctx.book.positions.indptr) > 0
    assert np.all(result.worst_scenario[moved] == len(moves) - 1)


def test_up_moves_do_not_hurt_a_long_book(long_ctx):
    result = run_stress(long_ctx, uniform(long_ctx, np.linspace(0.0, 2.0, 9)))
    np.testing.assert_array_equal(result.worst_scenario, 0)


@pytest.mark.parametrize("book", ["long_ctx", "mixed_ctx"])
def test_chunking_gives_identical_results(book, request):
    ctx = request.getfixturevalue(book)
    scenarios = random_scenarios(ctx, 60, seed=11)
    runs = [run_stress(ctx, scenarios, chunk_size=c, fund_usd=1e5, top_accounts=3) for c in (1, 7, 60, 500)]
    first = runs[0]
    assert first.system_uncovered_loss.max() > 0  # the check below is not vacuous
    for other in runs[1:]:
        for name in ("system_uncovered_loss", "accounts_breached", "top_account_rows", "top_uncovered_loss",
                     "cover_1_by_scenario", "cover_2_by_scenario", "worst_scenario", "worst_adjusted_equity",
                     "worst_coverage", "worst_uncovered_loss", "scenario_order"):
            np.testing.assert_array_equal(getattr(other, name), getattr(first, name), err_msg=name)
        assert (other.cover_1, other.cover_2, other.var, other.es, other.fund_to_cover_2) == (
            first.cover_1, first.cover_2, first.var, first.es, first.fund_to_cover_2)


def test_on_chunk_reports_progress(long_ctx):
    calls = []
    run_stress(long_ctx, random_scenarios(long_ctx, 10, seed=1), chunk_size=4,
               on_chunk=lambda d, t: calls.append((d, t)))
    assert calls == [(4, 10), (8, 10), (10, 10)]


def test_scenarios_over_other_assets_are_realigned(linear_ctx):
    # BTC and an asset the book does not hold; the book's USDC (stable, missing) does not move.
    other = ScenarioSet(assets=("DOGE", "BTC"), names=("s",), price_returns=np.array([[-0.5, -0.3]]))
    result = run_stress(linear_ctx, other)
    assert result.system_uncovered_loss[0] == pytest.approx(41_000.0)


def test_no_scenarios(linear_ctx):
    empty = ScenarioSet(assets=("BTC",), names=(), price_returns=np.zeros((0, 1)))
    result = run_stress(linear_ctx, empty)
    assert result.cover_2 == 0.0 and result.fund_to_cover_2 is None and np.isnan(result.var)
    assert result.worst_scenario.tolist() == [-1] * 5


def test_bad_arguments(linear_ctx):
    with pytest.raises(ValueError):
        run_stress(linear_ctx, btc_scenarios([0.0]), chunk_size=0)
    with pytest.raises(ValueError):
        run_stress(linear_ctx, btc_scenarios([0.0]), fund_usd=-1.0)


@pytest.mark.parametrize("book", ["long_ctx", "mixed_ctx"])
def test_compiled_and_numpy_reductions_agree(book, request, monkeypatch):
    import ccm.stress.run as run_module

    if not run_module.COMPILED:
        pytest.skip("numba not installed")
    ctx = request.getfixturevalue(book)
    scenarios = random_scenarios(ctx, 45, seed=5)
    monkeypatch.setattr(run_module, "_USE_COMPILED", False)
    plain = [run_stress(ctx, scenarios, chunk_size=c, top_accounts=4) for c in (1, 7, 45)]
    monkeypatch.setattr(run_module, "_USE_COMPILED", True)
    compiled = run_stress(ctx, scenarios, chunk_size=7, top_accounts=4)
    assert compiled.system_uncovered_loss.max() > 0
    for other in plain:
        for name in ("accounts_breached", "top_account_rows", "worst_scenario", "worst_adjusted_equity",
                     "scenario_order"):
            np.testing.assert_array_equal(getattr(other, name), getattr(compiled, name), err_msg=name)
        for name in ("system_uncovered_loss", "top_uncovered_loss", "cover_2_by_scenario", "worst_coverage"):
            np.testing.assert_allclose(getattr(other, name), getattr(compiled, name), rtol=1e-12, err_msg=name)

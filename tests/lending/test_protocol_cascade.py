"""Protocol cascades along price paths, and Monte Carlo VaR / LaR of bad debt and liquidations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ccm.errors import InputError
from ccm.lending import cascade as protocol_cascade
from ccm.lending.cascade import (
    empirical_quantile,
    liquidations_at_risk,
    run_protocol_cascade,
    simulate_step_returns,
)
from ccm.lending.liquidation import LiquidationParams, liquidate

PRICES = np.array([3_000.0, 60_000.0])
COV = np.array([[0.04**2, 0.7 * 0.04 * 0.03], [0.7 * 0.04 * 0.03, 0.03**2]])


def params(protocol: str) -> LiquidationParams:
    lt = {"maker": [1 / 1.5] * 2, "liquity-v1": [1 / 1.1] * 2}.get(protocol, [0.825, 0.78])
    return LiquidationParams(protocol=protocol, liquidation_threshold=np.array(lt), bonus=np.array([0.05, 0.08]),
                             protocol_fee=np.array([0.1, 0.1]))


def book(n: int = 300, seed: int = 11):
    rng = np.random.default_rng(seed)
    q = np.column_stack([rng.lognormal(0.0, 1.0, n), rng.lognormal(-3.0, 1.0, n)]) * (rng.uniform(size=(n, 2)) < 0.8)
    debt = (q * PRICES).sum(axis=1) * rng.uniform(0.3, 0.85, n)
    return q, debt


def independent(q, debt, prices, prm):
    """Plain reference: each account alone, liquidated again and again at fixed prices until it stops."""
    q_out, d_out, bad, events = q.copy(), debt.copy(), 0.0, 0
    for i in range(len(debt)):
        qi, di = q[i:i + 1], debt[i:i + 1]
        for _ in range(200):
            r = liquidate(qi, di, prices, prm)
            if not r.liquidated[0]:
                break
            qi, di = r.collateral_after, r.debt_after
            bad += r.bad_debt_usd[0]
            events += 1
        q_out[i], d_out[i] = qi[0], di[0]
    return q_out, d_out, bad, events


@pytest.mark.parametrize("protocol", ["aave-v3", "compound-v3", "maker"])
def test_zero_impact_equals_independent_liquidation(protocol):
    q, debt = book()
    prm = params(protocol)
    step = np.array([[[-0.25, -0.15]]])  # one path, one step
    res = run_protocol_cascade(q, debt, PRICES, step, prm, impact_scale=np.zeros(2), max_rounds=200)
    moved = PRICES * np.array([0.75, 0.85])
    q_ref, d_ref, bad_ref, events_ref = independent(q, debt, moved, prm)
    assert events_ref > 20
    assert np.allclose(res.collateral_after[0], q_ref, rtol=1e-12, atol=1e-12)
    assert np.allclose(res.debt_after[0], d_ref, rtol=1e-12, atol=1e-9)
    assert res.bad_debt_usd[0, 0] == pytest.approx(bad_ref, rel=1e-10, abs=1e-6)
    assert res.liquidations[0, 0] == events_ref
    assert np.array_equal(res.prices[0, -1], moved)
    assert np.all(res.impact == 0.0)


def test_per_account_parameters_in_the_cascade():
    """Two groups with their own LT and bonus, impact off: one cascade over both equals one cascade per group."""
    q, debt = book(120, seed=6)
    group = np.arange(120) % 2 == 0
    lt = np.where(group[:, None], [0.9, 0.85], [0.8, 0.75])
    bonus = np.where(group[:, None], [0.02, 0.03], [0.05, 0.1])
    step = np.array([[[-0.2, -0.1]], [[-0.3, -0.25]]])  # two paths, one step
    both = run_protocol_cascade(q, debt, PRICES, step, LiquidationParams(
        protocol="aave-v3", liquidation_threshold=lt, bonus=bonus), impact_scale=np.zeros(2))
    for g in (group, ~group):
        part = run_protocol_cascade(q[g], debt[g], PRICES, step, LiquidationParams(
            protocol="aave-v3", liquidation_threshold=lt[g][0], bonus=bonus[g][0]), impact_scale=np.zeros(2))
        assert np.allclose(both.debt_after[:, g], part.debt_after)
        assert np.allclose(both.collateral_after[:, g], part.collateral_after)
    assert both.liquidations.sum() > 10


def test_two_round_cascade_by_hand():
    """Compound, one asset at $100, impact scale s: a −10% step absorbs A (10 coins); selling them at $90 moves
    the price by −s√900, which absorbs B; B's 20 coins move it again; C never falls."""
    prm = LiquidationParams(protocol="compound-v3", liquidation_threshold=np.array([0.9]), bonus=np.array([0.05]))
    q = np.array([[10.0], [20.0], [100.0]])
    debt = np.array([850.0, 1_600.0, 1_000.0])  # HF at $90: 0.953 → A; B at 81 coins-price: 20×0.9×p < 1,600
    s = 0.003
    res = run_protocol_cascade(q, debt, np.array([100.0]), np.array([[[-0.10]]]), prm, impact_scale=np.array([s]))
    p1 = 90.0 * (1 - s * math.sqrt(10 * 90.0))  # after A's sale
    assert 20 * 0.9 * p1 < 1_600.0  # B breaches at p1 (hand check of the setup)
    p2 = p1 * (1 - s * math.sqrt(20 * p1))
    assert 100 * 0.9 * p2 > 1_000.0  # C does not
    assert res.prices[0, -1, 0] == pytest.approx(p2, rel=1e-12)
    assert res.liquidations[0, 0] == 2 and res.rounds[0, 0] == 2
    assert res.liquidated_usd[0, 0] == pytest.approx(10 * 90.0 + 20 * p1)
    assert res.bad_debt_usd[0, 0] == pytest.approx(max(0, 850 - 10 * 90 * 0.95) + max(0, 1_600 - 20 * p1 * 0.95))
    cost = 10 * 90.0 * s * math.sqrt(900.0) / 2 + 20 * p1 * s * math.sqrt(20 * p1) / 2
    assert res.impact_cost_usd[0, 0] == pytest.approx(cost)
    assert res.impact[0, 0] == pytest.approx(p2 / 90.0 - 1)
    assert res.accounts_liquidated[0] == 2 and res.pending[0] == 0


@pytest.mark.parametrize("protocol", ["aave-v3", "compound-v3", "maker"])
def test_more_impact_never_fewer_liquidations_or_less_bad_debt(protocol):
    q, debt = book(400, seed=4)
    returns = simulate_step_returns(("ETH", "BTC"), COV, paths=40, steps=2, step_days=1.0,
                                    rng=np.random.default_rng(9))
    base = np.array([0.04, 0.03]) / np.sqrt([2e6, 4e6])
    runs = [run_protocol_cascade(q, debt, PRICES, returns, params(protocol), impact_scale=k * base)
            for k in (0.0, 0.5, 1.0, 2.0)]
    for low, high in zip(runs, runs[1:], strict=False):
        assert np.all(high.accounts_liquidated >= low.accounts_liquidated)
        assert np.all(high.total_bad_debt_usd >= low.total_bad_debt_usd - 1e-6)
        assert np.all(high.prices[:, -1] <= low.prices[:, -1] * (1 + 1e-12))
    assert runs[-1].accounts_liquidated.sum() > runs[0].accounts_liquidated.sum()


def test_borrowed_eth_is_revalued_along_the_path():
    """USDC collateral (LT 0.85) against 3 ETH borrowed at $2,000 (HF 1.417). ETH +45%: debt 8,700, HF 0.977 >
    0.95 → 50%: repay 4,350, seize 4,567.5 USDC, 1.5 ETH left. ETH +10% more: debt 1.5 × 3,190 = 4,785 >
    5,432.5 × 0.85 = 4,617.6, HF 0.965 → 50% again: repay 2,392.5, seize 2,512.125."""
    prm = LiquidationParams(protocol="aave-v3", liquidation_threshold=np.array([0.825, 0.85]),
                            bonus=np.array([0.05, 0.05]))
    prices = np.array([2_000.0, 1.0])  # ETH, USDC
    q = np.array([[0.0, 10_000.0]])
    borrowed = np.array([[3.0, 0.0]])
    steps = np.array([[[0.45, 0.0], [0.10, 0.0]]])
    res = run_protocol_cascade(q, np.array([6_000.0]), prices, steps, prm, impact_scale=np.zeros(2),
                               debt_assets=borrowed)
    assert res.liquidations[0].tolist() == [1, 1]
    assert res.debt_repaid_usd[0].tolist() == pytest.approx([4_350.0, 2_392.5])
    assert res.liquidated_usd[0].tolist() == pytest.approx([4_567.5, 2_512.125])
    assert res.debt_after[0, 0] == pytest.approx(2_392.5)
    assert res.collateral_after[0, 0, 1] == pytest.approx(10_000.0 - 4_567.5 - 2_512.125)
    fixed = run_protocol_cascade(q, np.array([6_000.0]), prices, steps, prm, impact_scale=np.zeros(2))
    assert fixed.liquidations.sum() == 0  # a stable $6,000 debt never breaches
    with pytest.raises(InputError) as err:
        run_protocol_cascade(q, np.array([5_000.0]), prices, steps, prm, impact_scale=np.zeros(2),
                             debt_assets=borrowed)
    assert err.value.field == "debt_usd"


def test_liquity_cascade_conserves_debt_and_collateral():
    q, debt = book(200, seed=2)
    prm = params("liquity-v1")
    res = run_protocol_cascade(q, debt, PRICES, np.array([[[-0.3, -0.2]]]), prm, impact_scale=np.zeros(2),
                               stability_pool_usd=20_000.0)
    assert res.liquidations.sum() > 5
    assert res.redistributed_usd.sum() > 0  # the 20,000 pool runs dry
    # debt leaves only through the pool's offsets or as orphaned bad debt; redistribution keeps it in the book
    assert res.debt_after.sum() + res.debt_repaid_usd.sum() == pytest.approx(debt.sum(), rel=1e-12)
    alive = res.debt_after[0] > 0
    assert np.all(q.sum(axis=0) >= res.collateral_after[0].sum(axis=0) - 1e-9)
    assert alive.any()


@pytest.mark.parametrize("pool, events", [(20_000.0, 1), (40_000.0, 2)])
def test_liquity_recovery_mode_cascade_rounds(pool, events):
    """Troves at ICR 1.3, 1.25 and 1.2 (10 ETH at $2,000 each): TCR 60,000 / 48,051.67 = 1.2487 < 1.5, only the
    ICR-1.2 trove is below it and goes first (capped); the closed trove leaves the system, TCR becomes
    40,000 / 31,385 = 1.2745 and the ICR-1.25 trove goes in round 2 if the pool still holds its 16,000; then
    TCR = 1.3 = the last trove's ICR and the cascade stops."""
    prm = LiquidationParams(protocol="liquity-v1", liquidation_threshold=np.array([1 / 1.1]), bonus=np.array([0.0]))
    debt = np.array([15_385.0, 16_000.0, 16_666.67])
    res = run_protocol_cascade(np.full((3, 1), 10.0), debt, np.array([2_000.0]), np.zeros((1, 1, 1)), prm,
                               impact_scale=np.zeros(1), stability_pool_usd=pool)
    assert res.liquidations[0, 0] == events and res.rounds[0, 0] == events
    assert res.debt_repaid_usd[0, 0] == pytest.approx([16_666.67, 32_666.67][events - 1])
    assert res.bad_debt_usd[0, 0] == 0.0
    assert res.debt_after[0, 0] == 15_385.0


def test_empirical_quantile_is_an_observed_value():
    x = np.random.default_rng(0).normal(size=1_001)
    srt = np.sort(x)
    for c in (0.95, 0.99):
        assert empirical_quantile(x, [c])[0] == srt[math.ceil(c * len(x)) - 1]


def test_monte_carlo_chunks_and_quantiles(monkeypatch):
    q, debt = book(150, seed=8)
    prm = params("aave-v3")
    scale = np.array([0.04, 0.03]) / np.sqrt([5e6, 1e7])
    monkeypatch.setattr(protocol_cascade, "CHUNK_CELLS", 150 * 2 * 7)  # 7 paths per chunk
    res = liquidations_at_risk(q, debt, PRICES, ("ETH", "BTC"), COV * 9, prm, impact_scale=scale, paths=60,
                               rng=np.random.default_rng(3), horizon_days=2.0)
    returns = simulate_step_returns(("ETH", "BTC"), COV * 9, paths=60, steps=2, step_days=1.0,
                                    rng=np.random.default_rng(3))
    whole = run_protocol_cascade(q, debt, PRICES, returns, prm, impact_scale=scale)
    assert np.allclose(res.bad_debt, whole.total_bad_debt_usd)
    assert np.allclose(res.liquidated_usd, whole.total_liquidated_usd)
    srt = np.sort(whole.total_liquidated_usd)
    assert res.liquidations_at_risk[0] == srt[math.ceil(0.95 * 60) - 1]
    assert res.liquidations_at_risk[1] == srt[math.ceil(0.99 * 60) - 1]
    bad = np.sort(whole.total_bad_debt_usd)
    assert res.bad_debt_var.tolist() == [bad[math.ceil(0.95 * 60) - 1], bad[math.ceil(0.99 * 60) - 1]]
    assert res.expected_bad_debt == pytest.approx(bad.mean(), rel=1e-12, abs=1e-9)
    assert res.liquidated_usd.max() > 0


def test_step_returns_have_the_step_covariance():
    r = simulate_step_returns(("ETH", "BTC"), COV, paths=4_000, steps=5, step_days=0.5, rng=np.random.default_rng(1))
    assert r.shape == (4_000, 5, 2)
    x = np.log1p(r).reshape(-1, 2)
    assert np.allclose(np.cov(x, rowvar=False), COV * 0.5, rtol=0.05)


@pytest.mark.parametrize("returns, field", [(np.zeros((1, 2, 3)), "returns"), (np.full((1, 1, 2), -1.0), "returns")])
def test_bad_paths_name_the_field(returns, field):
    q, debt = book(5)
    with pytest.raises(InputError) as err:
        run_protocol_cascade(q, debt, PRICES, returns, params("aave-v3"), impact_scale=np.zeros(2))
    assert err.value.field == field


def test_bad_impact_scale():
    q, debt = book(5)
    with pytest.raises(InputError) as err:
        run_protocol_cascade(q, debt, PRICES, np.zeros((1, 1, 2)), params("aave-v3"), impact_scale=np.array([-1.0, 0]))
    assert err.value.field == "impact_scale"

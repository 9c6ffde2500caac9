"""One liquidation step per protocol against hand-computed cases (reference/defi.md §1.3, §1.6, §2.1–2.3)."""

from __future__ import annotations

import numpy as np
import pytest

from ccm.errors import InputError
from ccm.lending.liquidation import (
    LiquidationParams,
    health_factor_of,
    liquidate,
    liquidation_worsens,
    worsening_accounts,
)


def aave(lt=(0.8,), bonus=(0.05,), fee=(0.0,), **kw) -> LiquidationParams:
    return LiquidationParams(protocol="aave-v3", liquidation_threshold=np.array(lt), bonus=np.array(bonus),
                             protocol_fee=np.array(fee), **kw)


V30 = dict(min_close_factor_base_usd=0.0, min_leftover_usd=0.0)  # Aave v3.0–3.2: no size rules


# -- Aave v3 ----------------------------------------------------------------------------------------------

def test_aave_reconstructed_test_suite_case():
    """defi.md §1.6 item 2 (liquidation-underlying.spec.ts + liquidation-with-fee.spec.ts): 0.06775 WETH at
    $4,000, 205.96 DAI at $1.18, LT 82.5%, LB 105%, fee 10%; the liquidator covers half the debt (102.98 DAI)."""
    debt_usd = 205.96 * 1.18
    r = liquidate(np.array([[0.06775]]), np.array([debt_usd]), np.array([4000.0]),
                  aave(lt=(0.825,), fee=(0.10,), **V30), debt_to_cover_usd=102.98 * 1.18)
    assert r.health_factor_before[0] == pytest.approx(271.0 * 0.825 / 243.0328, rel=1e-12)
    assert r.health_factor_before[0] == pytest.approx(0.920, abs=5e-4)
    assert r.collateral_seized[0, 0] == pytest.approx(0.031898, abs=5e-7)  # 102.98×1.18×1.05/4000
    assert r.debt_repaid_usd[0] == pytest.approx(102.98 * 1.18, rel=1e-12)
    assert r.protocol_fee_usd[0] / 4000.0 == pytest.approx(0.000152, abs=5e-7)  # bonus × 10%, in WETH
    assert r.health_factor_after[0] == pytest.approx(0.974, abs=5e-4)
    assert r.bad_debt_usd[0] == 0.0
    assert not worsening_accounts(np.array([[0.06775]]), np.array([debt_usd]), np.array([4000.0]),
                                  aave(lt=(0.825,)))[0]  # 0.920 > LT × LB = 0.866


def _one(c_usd: float, debt: float, params: LiquidationParams, **kw):
    return liquidate(np.array([[c_usd]]), np.array([debt]), np.array([1.0]), params, **kw)


@pytest.mark.parametrize("rules", [{}, V30], ids=["v3.3", "v3.0"])
def test_close_factor_switches_at_hf_095(rules):
    # C × 0.8 / 10,000 = 0.95 exactly; the cap holds only strictly above (LiquidationLogic: HF > threshold)
    at = _one(11_875.0, 10_000.0, aave(**rules))
    assert at.health_factor_before[0] == 0.95
    assert at.debt_repaid_usd[0] == pytest.approx(10_000.0)  # 100%: 10,500 of 11,875 collateral
    assert at.collateral_seized[0, 0] == pytest.approx(10_500.0)
    above = _one(11_880.0, 10_000.0, aave(**rules))
    assert above.health_factor_before[0] > 0.95
    assert above.debt_repaid_usd[0] == pytest.approx(5_000.0)
    assert above.collateral_seized[0, 0] == pytest.approx(5_250.0)
    assert above.debt_after[0] == pytest.approx(5_000.0)


def test_small_positions_close_fully_in_v33_only():
    # $1,500 collateral at LT 0.9, $1,390 debt: HF 0.971 > 0.95, but below $2,000 v3.3 lifts the 50% cap
    params = aave(lt=(0.9,))
    small = _one(1_500.0, 1_390.0, params)
    assert small.health_factor_before[0] == pytest.approx(1_350.0 / 1_390.0)
    assert small.debt_repaid_usd[0] == pytest.approx(1_390.0)  # 1,459.5 of collateral, all the debt
    old = _one(1_500.0, 1_390.0, aave(lt=(0.9,), **V30))
    assert old.debt_repaid_usd[0] == pytest.approx(695.0)


def test_dust_rule_reduces_the_repayment():
    """ETH $2,500 + BTC $2,400 (LT 0.8), debt $4,000: HF 0.98, capped at $2,000 → $2,100 of ETH would leave
    $400 < $1,000: the liquidator repays (2,500 − 1,000) / 1.05 instead, leaving exactly $1,000 of ETH."""
    q = np.array([[1.0, 0.04]])
    p = np.array([2_500.0, 60_000.0])
    params = aave(lt=(0.8, 0.8), bonus=(0.05, 0.05), fee=(0.0, 0.0))
    r = liquidate(q, np.array([4_000.0]), p, params)
    assert r.health_factor_before[0] == pytest.approx(0.98)
    assert r.seized_asset[0] == 0
    assert r.debt_repaid_usd[0] == pytest.approx(1_500.0 / 1.05)
    assert r.collateral_after[0, 0] * 2_500.0 == pytest.approx(1_000.0)
    assert r.collateral_after[0, 1] == 0.04
    no_dust = liquidate(q, np.array([4_000.0]), p, aave(lt=(0.8, 0.8), bonus=(0.05, 0.05), fee=(0.0, 0.0),
                                                     min_leftover_usd=0.0))
    assert no_dust.debt_repaid_usd[0] == pytest.approx(2_000.0)


def test_dust_rule_on_the_debt_side_and_when_nothing_passes():
    # HF 0.5: 100% allowed; the liquidator offers all but $500 → leftover debt < $1,000 → repays debt − 1,000
    r = _one(10_000.0, 8_000.0, aave(lt=(0.4,)), debt_to_cover_usd=7_500.0)
    assert r.debt_repaid_usd[0] == pytest.approx(7_000.0)
    assert r.debt_after[0] == pytest.approx(1_000.0)
    # offering $600 of $1,500 leaves $900 of debt: cut to $500, leaving exactly $1,000
    cut = _one(2_000.0, 1_500.0, aave(lt=(0.5,)), debt_to_cover_usd=600.0)
    assert cut.debt_repaid_usd[0] == pytest.approx(500.0)
    # any partial repayment of a $900 debt leaves dust: a liquidator offering $400 cannot liquidate
    blocked = _one(2_000.0, 900.0, aave(lt=(0.4,)), debt_to_cover_usd=400.0)
    assert not blocked.liquidated[0]
    assert blocked.debt_after[0] == 900.0 and blocked.collateral_after[0, 0] == 2_000.0


def test_aave_seizes_only_reserves_with_a_threshold():
    # $5,000 of an LT-0 asset and $3,000 of ETH (LT 0.8) against $3,000: HF 0.8, 100% close factor; the ETH is
    # seized (not the larger LT-0 balance) and runs out; only LT-0 collateral is left, so the rest is a deficit
    params = aave(lt=(0.0, 0.8), bonus=(0.1, 0.05), fee=(0.0, 0.0))
    r = liquidate(np.array([[50.0, 1.5]]), np.array([3_000.0]), np.array([100.0, 2_000.0]), params)
    assert r.seized_asset[0] == 1
    assert r.debt_repaid_usd[0] == pytest.approx(3_000.0 / 1.05)
    assert r.collateral_after[0].tolist() == [50.0, 0.0]
    assert r.bad_debt_usd[0] == pytest.approx(3_000.0 - 3_000.0 / 1.05)


def test_collateral_exhausted_leaves_bad_debt():
    r = _one(1_000.0, 1_500.0, aave(fee=(0.1,)))
    assert r.collateral_after[0, 0] == 0.0
    assert r.debt_repaid_usd[0] == pytest.approx(1_000.0 / 1.05)
    assert r.bad_debt_usd[0] == pytest.approx(1_500.0 - 1_000.0 / 1.05)
    assert r.debt_after[0] == 0.0  # v3.3 deficit: written off
    assert r.protocol_fee_usd[0] == pytest.approx((1_000.0 - 1_000.0 / 1.05) * 0.1)
    assert r.health_factor_after[0] == np.inf


def test_aave_value_conservation_on_random_accounts():
    rng = np.random.default_rng(3)
    n, a = 2_000, 3
    q = rng.uniform(0, 2, (n, a)) * (rng.uniform(size=(n, a)) < 0.7)
    p = np.array([3_000.0, 60_000.0, 150.0])
    debt = rng.uniform(0, 1.2, n) * (q * p).sum(axis=1) * 0.8
    params = aave(lt=(0.825, 0.78, 0.7), bonus=(0.05, 0.05, 0.1), fee=(0.1, 0.1, 0.2))
    r = liquidate(q, debt, p, params)
    done = r.liquidated
    assert done.sum() > 100
    b = params.bonus[r.seized_asset[done]]
    exhausted = r.collateral_after[done, r.seized_asset[done]] == 0.0
    seized = r.seized_usd[done]
    assert np.allclose(seized, r.debt_repaid_usd[done] * (1 + b), rtol=1e-12)  # within the caps, and at them
    assert np.allclose(r.debt_repaid_usd + r.bad_debt_usd + r.debt_after, debt, rtol=1e-12, atol=1e-9)
    assert np.allclose(r.collateral_after + r.collateral_seized, q, rtol=1e-12, atol=1e-15)
    assert np.allclose(r.protocol_fee_usd + r.liquidator_profit_usd, r.seized_usd - r.debt_repaid_usd, atol=1e-9)
    assert np.all(r.bad_debt_usd[done & (r.bad_debt_usd > 0)] > 0)
    left = (r.collateral_after * p).sum(axis=1)
    assert np.all(left[r.bad_debt_usd > 0] == 0.0)  # bad debt only once every collateral is gone
    assert exhausted.any() and (~exhausted).any()
    assert np.array_equal(r.liquidated, (debt > 0) & (health_factor_of(q, debt, p, params.liquidation_threshold) < 1)
                          & (r.debt_repaid_usd + r.bad_debt_usd > 0))


# -- the LT × LB boundary ----------------------------------------------------------------------------------

@pytest.mark.parametrize("offset, worse", [(1e-6, False), (-1e-6, True), (0.05, False), (-0.2, True)])
def test_liquidation_worsens_exactly_below_lt_times_lb(offset, worse):
    lt, b, debt = 0.8, 0.05, 10_000.0
    hf = lt * (1 + b) + offset  # boundary 0.84
    c = hf * debt / lt
    repay = 1_000.0  # a partial liquidation that exhausts nothing
    r = _one(c, debt, aave(**V30), debt_to_cover_usd=repay)
    closed_form = (c - repay * (1 + b)) * lt / (debt - repay)
    assert r.health_factor_after[0] == pytest.approx(closed_form, rel=1e-12)
    assert (r.health_factor_after[0] < r.health_factor_before[0]) == worse
    assert liquidation_worsens(r.health_factor_before, lt, b)[0] == worse
    assert worsening_accounts(np.array([[c]]), np.array([debt]), np.array([1.0]), aave())[0] == worse


def test_at_the_boundary_hf_is_unchanged():
    r = _one(0.84 * 10_000.0 / 0.8, 10_000.0, aave(**V30), debt_to_cover_usd=2_000.0)
    assert r.health_factor_after[0] == pytest.approx(r.health_factor_before[0], rel=1e-12)
    assert not liquidation_worsens(np.array([0.8 * 1.05]), 0.8, 0.05)[0]  # strict: equality does not worsen


# -- Compound III ------------------------------------------------------------------------------------------

def compound(price: float, debt: float):
    """defi.md §2.1: 10 WETH, liquidateCF 0.895, liquidationFactor 0.95, storeFrontPriceFactor 0.5."""
    params = LiquidationParams(protocol="compound-v3", liquidation_threshold=np.array([0.895]),
                               bonus=np.array([0.05]), protocol_fee=np.array([0.5]))
    return liquidate(np.array([[10.0]]), np.array([debt]), np.array([price]), params)


def test_compound_absorb_with_surplus():
    assert not compound(2_000.0, 17_900.0).liquidated[0]  # liquidatable once debt > $17,900
    r = compound(2_000.0, 18_000.0)
    assert r.liquidated[0]
    assert r.collateral_seized[0, 0] == 10.0 and r.collateral_after[0, 0] == 0.0
    assert r.debt_repaid_usd[0] == pytest.approx(18_000.0)
    assert r.borrower_credit_usd[0] == pytest.approx(1_000.0)  # absorb credit 19,000 − 18,000
    assert r.protocol_fee_usd[0] == pytest.approx(500.0)  # 1,000 discount × (1 − 0.5)
    assert r.liquidator_profit_usd[0] == pytest.approx(500.0)  # store-front discount 2.5% of 20,000
    assert r.bad_debt_usd[0] == 0.0


def test_compound_absorb_shortfall_goes_to_reserves():
    r = compound(1_800.0, 18_000.0)
    assert r.bad_debt_usd[0] == pytest.approx(18_000.0 - 17_100.0)
    assert r.debt_after[0] == 0.0 and r.borrower_credit_usd[0] == 0.0


# -- Maker ---------------------------------------------------------------------------------------------------

def maker(price: float, debt: float, discount: float = 0.0):
    """ETH-A: liquidation ratio 150% (LT = 1/1.5), penalty 13% (defi.md §2.2)."""
    params = LiquidationParams(protocol="maker", liquidation_threshold=np.array([1 / 1.5]), bonus=np.array([0.13]),
                               auction_discount=discount)
    return liquidate(np.array([[10.0]]), np.array([debt]), np.array([price]), params)


def test_maker_auction_raises_the_tab_and_returns_the_rest():
    assert not maker(2_100.0, 14_000.0).liquidated[0]  # liquidation price 14,000 × 1.5 / 10 = 2,100
    r = maker(2_000.0, 14_000.0)
    assert r.collateral_seized[0, 0] == pytest.approx(7.91)  # tab 15,820 / 2,000
    assert r.debt_repaid_usd[0] == pytest.approx(14_000.0)
    assert r.protocol_fee_usd[0] == pytest.approx(1_820.0)
    assert r.collateral_after[0, 0] == pytest.approx(2.09)
    assert r.bad_debt_usd[0] == 0.0


def test_maker_underwater_vault_with_keeper_discount():
    r = maker(1_300.0, 14_000.0, discount=0.05)
    assert r.collateral_seized[0, 0] == pytest.approx(10.0)
    assert r.bad_debt_usd[0] == pytest.approx(14_000.0 - 13_000.0 * 0.95)
    assert r.liquidator_profit_usd[0] == pytest.approx(650.0)


# -- Liquity v1 ----------------------------------------------------------------------------------------------

def liquity(q, debt, price, pool):
    params = LiquidationParams(protocol="liquity-v1", liquidation_threshold=np.array([1 / 1.1]),
                               bonus=np.array([0.0]))
    return liquidate(np.array(q, dtype=float), np.array(debt, dtype=float), np.array([price]), params,
                     stability_pool_usd=pool)


def test_liquity_stability_pool_offset():
    r = liquity([[10.0], [20.0]], [18_500.0, 10_000.0], 2_000.0, 100_000.0)  # ICR 1.081 and 4.0
    assert r.liquidated.tolist() == [True, False]
    assert r.debt_repaid_usd[0] == 18_500.0
    assert r.collateral_seized[0, 0] == pytest.approx(10.0)  # 0.05 ETH to the liquidator, 9.95 to the pool
    assert r.liquidator_profit_usd[0] == pytest.approx(200.0 + 100.0)
    assert r.bad_debt_usd[0] == 0.0
    assert r.stability_pool_after_usd == pytest.approx(100_000.0 - 18_500.0)
    assert r.debt_after.tolist() == [0.0, 10_000.0]


def test_liquity_redistribution_when_the_pool_runs_dry():
    # troves 0 and 1 liquidatable; the pool (25,000) covers trove 0 (18,500) and 6,500 of trove 1 (19,000)
    q = [[10.0], [10.0], [20.0], [10.0]]
    debt = [18_500.0, 19_000.0, 10_000.0, 5_000.0]
    r = liquity(q, debt, 2_000.0, 25_000.0)
    assert r.liquidated.tolist() == [True, True, False, False]
    assert r.debt_repaid_usd.tolist() == pytest.approx([18_500.0, 6_500.0, 0.0, 0.0])
    moved_debt = 12_500.0
    moved_coll = 9.95 * 12_500.0 / 19_000.0
    assert r.redistributed_debt_usd[1] == pytest.approx(moved_debt)
    assert r.redistributed_collateral_usd[1] == pytest.approx(moved_coll * 2_000.0)
    # troves 2 and 3 take it pro rata to collateral: 2/3 and 1/3
    assert r.debt_after[2:].tolist() == pytest.approx([10_000.0 + moved_debt * 2 / 3, 5_000.0 + moved_debt / 3])
    assert r.collateral_after[2:, 0].tolist() == pytest.approx([20.0 + moved_coll * 2 / 3, 10.0 + moved_coll / 3])
    assert r.stability_pool_after_usd == pytest.approx(0.0)
    assert r.collateral_seized[1, 0] == pytest.approx(0.05 + 9.95 * 6_500.0 / 19_000.0)
    assert r.collateral_after.sum() + r.collateral_seized.sum() == pytest.approx(50.0)
    assert r.debt_after.sum() + r.debt_repaid_usd.sum() == pytest.approx(sum(debt))


def test_liquity_pool_loss_is_bad_debt():
    # ICR 0.952, in a system kept out of Recovery Mode by a large healthy trove (TCR ≈ 18.7)
    r = liquity([[10.0], [1_000.0]], [21_000.0, 100_000.0], 2_000.0, 1e9)
    assert r.debt_repaid_usd[0] == 21_000.0
    assert r.bad_debt_usd[0] == pytest.approx(21_000.0 - 9.95 * 2_000.0)
    assert r.debt_after[1] == 100_000.0


def test_liquity_recovery_mode_caps_the_collateral_taken():
    """Troves at ICR 1.3 and 1.25, TCR 40,000 / 31,385 = 1.2745 < CCR 1.5: Recovery Mode. The ICR-1.25 trove is
    below TCR (and ≥ MCR): with $20,000 in the pool (≥ its 16,000 debt) it is liquidated, giving up collateral
    worth 1.1 × 16,000 = 17,600 (8.8 ETH; 0.044 to the liquidator); 1.2 ETH stays with the borrower."""
    q, debt = [[10.0], [10.0]], [15_385.0, 16_000.0]
    r = liquity(q, debt, 2_000.0, 20_000.0)
    assert r.liquidated.tolist() == [False, True]
    assert r.debt_repaid_usd[1] == 16_000.0
    assert r.collateral_seized[1, 0] == pytest.approx(8.8)
    assert r.collateral_after[1, 0] == pytest.approx(1.2)
    assert r.liquidator_profit_usd[1] == pytest.approx(200.0 + 0.044 * 2_000.0)
    assert r.bad_debt_usd.sum() == 0.0
    assert r.stability_pool_after_usd == pytest.approx(4_000.0)
    short = liquity(q, debt, 2_000.0, 10_000.0)  # the pool cannot take the whole debt: nothing happens
    assert not short.liquidated.any()


def test_liquity_recovery_mode_redistributes_troves_below_100_percent():
    # ICR 0.952 and 1.3, TCR 40,000 / 36,385 = 1.099: Recovery Mode; the pool is not used below ICR 100%
    r = liquity([[10.0], [10.0]], [21_000.0, 15_385.0], 2_000.0, 1e9)
    assert r.liquidated.tolist() == [True, False]
    assert r.debt_repaid_usd[0] == 0.0 and r.redistributed_debt_usd[0] == 21_000.0
    assert r.debt_after[1] == pytest.approx(15_385.0 + 21_000.0)
    assert r.collateral_after[1, 0] == pytest.approx(10.0 + 9.95)
    assert r.stability_pool_after_usd == 1e9


# -- per-account parameters (Aave eMode) -------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["aave-v3", "compound-v3", "maker"])
def test_per_account_parameters_equal_one_call_per_account(protocol):
    rng = np.random.default_rng(12)
    n = 40
    q = rng.uniform(0, 2, (n, 2))
    p = np.array([2_000.0, 50.0])
    debt = (q * p).sum(axis=1) * rng.uniform(0.5, 1.1, n)
    lt = rng.uniform(0.6, 0.95, (n, 2))
    bonus = rng.uniform(0.01, 0.1, (n, 2))
    fee = rng.uniform(0, 0.2, (n, 2))
    both = liquidate(q, debt, p, LiquidationParams(protocol=protocol, liquidation_threshold=lt, bonus=bonus,
                                                   protocol_fee=fee))
    assert both.liquidated.sum() > 5
    for i in range(n):
        one = liquidate(q[i:i + 1], debt[i:i + 1], p, LiquidationParams(
            protocol=protocol, liquidation_threshold=lt[i], bonus=bonus[i], protocol_fee=fee[i]))
        assert both.debt_after[i] == pytest.approx(one.debt_after[0], rel=1e-12, abs=1e-9)
        assert both.collateral_after[i] == pytest.approx(one.collateral_after[0], rel=1e-12, abs=1e-12)
        assert both.protocol_fee_usd[i] == pytest.approx(one.protocol_fee_usd[0], rel=1e-12, abs=1e-9)
        assert both.health_factor_after[i] == pytest.approx(one.health_factor_after[0], rel=1e-12)


# -- shapes and bad input -----------------------------------------------------------------------------------

def test_batch_axis_equals_separate_calls():
    rng = np.random.default_rng(5)
    q = rng.uniform(0, 1, (50, 2))
    debt = rng.uniform(0, 3_000, 50)
    prices = np.array([[2_000.0, 100.0], [1_500.0, 80.0]])
    for protocol in ("aave-v3", "compound-v3", "maker", "liquity-v1"):
        params = LiquidationParams(protocol=protocol, liquidation_threshold=np.array([0.8, 0.7]),
                                   bonus=np.array([0.05, 0.1]))
        both = liquidate(np.broadcast_to(q, (2, 50, 2)), np.broadcast_to(debt, (2, 50)), prices, params,
                         stability_pool_usd=np.array([10_000.0, 0.0]))
        for k in range(2):
            one = liquidate(q, debt, prices[k], params, stability_pool_usd=[10_000.0, 0.0][k])
            assert np.allclose(both.debt_after[k], one.debt_after)
            assert np.allclose(both.collateral_after[k], one.collateral_after)
            assert np.allclose(both.bad_debt_usd[k], one.bad_debt_usd)


def test_inputs_are_not_mutated():
    q = np.array([[1.0, 2.0]])
    debt = np.array([5_000.0])
    liquidate(q, debt, np.array([2_000.0, 100.0]), aave(lt=(0.8, 0.8), bonus=(0.05, 0.05), fee=(0.0, 0.0)))
    assert q.tolist() == [[1.0, 2.0]] and debt.tolist() == [5_000.0]


@pytest.mark.parametrize("kwargs, field", [
    (dict(protocol="morpho"), "protocol"),
    (dict(bonus=np.array([0.05, 0.1])), "bonus"),
    (dict(liquidation_threshold=np.array([-0.1])), "liquidation_threshold"),
    (dict(protocol_fee=np.array([1.5])), "protocol_fee"),
    (dict(close_factor=1.5), "close_factor"),
])
def test_bad_parameters_name_the_field(kwargs, field):
    base = dict(protocol="aave-v3", liquidation_threshold=np.array([0.8]), bonus=np.array([0.05]))
    with pytest.raises(InputError) as err:
        LiquidationParams(**{**base, **kwargs})
    assert err.value.field == field


def test_bad_arrays_name_the_field():
    with pytest.raises(InputError) as err:
        liquidate(np.array([[1.0]]), np.array([np.nan]), np.array([1.0]), aave())
    assert err.value.field == "debt"
    with pytest.raises(InputError) as err:
        liquidate(np.array([[1.0, 1.0]]), np.array([1.0]), np.array([1.0]), aave())
    assert err.value.field == "collateral"

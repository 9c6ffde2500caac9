"""Margin add-ons: closed forms on one-barrier toy accounts, the breach-probability target after the add-on,
zero for safe accounts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from ccm.analysis.breach import analytic_breach_probability
from ccm.analysis.breach_features import account_vol_daily, asset_exposures, dominant_asset
from ccm.analysis.optimise_addon import _gain_to_usd, margin_addons, with_added_collateral
from ccm.book import Account, Position
from ccm.errors import InputError
from ccm.io.book import load_book
from ccm.io.config import load_config
from ccm.io.market import load_market
from ccm.lending.rules import LendingParams
from ccm.pricing.market_state import resolve_market
from ccm.risk.config import AssetRisk
from ccm.risk.context import RiskContext
from ccm.risk.coverage import compute_coverage
from tests.reference.builders import AS_OF, config, perp
from tests.reference.harness import engine_context

ROOT = Path(__file__).resolve().parents[2]
F = 100_000.0  # BTC price
M = 0.01 + 1.0 * 0.00005  # Deribit standard MM rate of a 1-BTC future: 1% + size × 0.005%
VOL = 0.03  # daily


def one_barrier_distance(p: float, vol: float, horizon_days: float) -> float:
    """Down distance whose driftless first-passage probability is p: 2Φ(ln(1 − d)/(σ√h)) = p."""
    return 1.0 - np.exp(vol * np.sqrt(horizon_days) * norm.ppf(p / 2.0))


def long_btc(collateral_usdc: float, *, account: str = "a") -> Account:
    return Account(id=account, collateral={"USDC": collateral_usdc},
                   positions=(Position(instrument="BTC-USDC-PERP", quantity=1.0),))


def context(accounts, cfg=None) -> RiskContext:
    return engine_context([perp("BTC")], accounts, {"BTC": F, "USDC": 1.0}, {}, AS_OF, cfg or config())


@pytest.mark.parametrize(("target", "horizon"), [(0.01, 1.0), (0.05, 1.0), (0.01, 7.0)])
def test_linear_account_addon_matches_the_closed_form(target, horizon):
    # Long 1 BTC linear perp (P&L 0 now) with C USDC: excess(−x) = C − F·x − F(1 − x)·M, linear in x, so the
    # distance is (C − F·M)/(F(1 − M)) and the collateral that puts it at d* is C* = F·M + d*·F(1 − M).
    # The add-on aims 0.2% inside the target (AIM_MARGIN): it lies between the closed forms at p and 0.998 p.
    c = 3_000.0
    d_star = one_barrier_distance(target, VOL, horizon)
    d_aim = one_barrier_distance(target * (1 - 2e-3), VOL, horizon)
    ctx = context([long_btc(c)])
    res = margin_addons(ctx, np.array([VOL]), target_probability=target, horizon_days=horizon)
    assert res.distance_down[0] == pytest.approx((c - F * M) / (F * (1 - M)), abs=1e-5)
    lo, hi = (F * M + d * F * (1.0 - M) - c for d in (d_star, d_aim))
    assert lo * (1 - 1e-6) <= res.addon_usd[0] <= hi * (1 + 1e-6)
    assert hi - lo < 1e-3 * lo  # the margin costs less than 0.1% of the add-on
    assert res.distance_down_after[0] == pytest.approx(d_aim, abs=2e-5)
    assert res.probability_after[0] <= target
    assert res.probability_after[0] == pytest.approx(target, rel=1e-2)


def test_safe_account_gets_no_addon_and_keeps_its_probability():
    ctx = context([long_btc(3_000.0, account="risky"), long_btc(60_000.0, account="safe")])
    res = margin_addons(ctx, np.array([VOL, VOL]), target_probability=0.01, horizon_days=1.0)
    assert res.addon_usd[1] == 0.0
    assert res.breach_probability[1] <= 0.01
    assert res.probability_after[1] == res.breach_probability[1]
    assert res.addon_usd[0] > 0


def test_account_in_liquidation_gets_its_shortfall_plus_the_buffer():
    # Coverage below 1 now (probability 1): the add-on covers the shortfall and then the distance d*.
    c = 500.0  # < F·M = 1,005
    d_star = one_barrier_distance(0.01, VOL, 1.0)
    ctx = context([long_btc(c)])
    res = margin_addons(ctx, np.array([VOL]), target_probability=0.01, horizon_days=1.0)
    assert res.breach_probability[0] == 1.0
    assert res.addon_usd[0] == pytest.approx(F * M + d_star * F * (1 - M) - c, rel=1e-3)


def test_lending_borrower_addon_repays_debt_closed_form():
    # ETH collateral q, USDC debt D, LT 0.8: HF = q·P(1 − x)·LT / D. USDC added repays debt 1:1, so the add-on
    # that puts the liquidation at d* is D − q·P(1 − d*)·LT.
    q, p_eth, debt, lt = 10.0, 3_000.0, 23_000.0, 0.8
    cfg = config(assets={"USDC": AssetRisk(stable=True)},
                 lending={"ETH": LendingParams(ltv=0.7, liquidation_threshold=lt), "default": LendingParams()})
    acc = Account(id="b", collateral={"ETH": q, "USDC": -debt}, margin_model="lending")
    ctx = engine_context([], [acc], {"ETH": p_eth, "USDC": 1.0}, {}, AS_OF, cfg)
    vol = 0.04
    d_star = one_barrier_distance(0.02, vol, 1.0)
    res = margin_addons(ctx, np.array([vol]), target_probability=0.02, horizon_days=1.0)
    assert res.distance_down[0] == pytest.approx(1 - debt / (q * p_eth * lt), abs=1e-5)
    assert res.addon_usd[0] == pytest.approx(debt - q * p_eth * (1 - d_star) * lt, rel=2e-3)


@pytest.fixture(scope="module")
def example():
    book = load_book(ROOT / "examples" / "book.json")
    snap = load_market(ROOT / "examples" / "market.json")
    cfg = load_config(None)
    return RiskContext.build(book, resolve_market(snap, book.assets, book.instruments), cfg)


def test_example_book_addons_bring_every_account_under_target(example):
    # Independent recomputation: add the add-ons to the book, run the full coverage engine, then the breach model.
    vols = np.array([(example.config.asset(a).volatility or 0.0) / np.sqrt(365) for a in example.book.assets])
    vol = account_vol_daily(dominant_asset(asset_exposures(example), example.moving), vols)
    target = 0.01
    res = margin_addons(example, vol, target_probability=target, horizon_days=1.0)
    assert np.all(np.isfinite(res.addon_usd)) and np.any(res.addon_usd > 0)
    rows = np.flatnonzero(res.addon_usd > 0)
    usdc = example.book.assets.index("USDC")
    book = with_added_collateral(example.book, rows, usdc, res.addon_usd[rows])
    after = compute_coverage(RiskContext.build(book, example.market, example.config))
    p_after = analytic_breach_probability(after.distance_down, after.distance_up, vol, 1.0)
    assert np.all(p_after <= target)
    before = res.breach_probability
    assert np.all(res.addon_usd[before <= target] == 0)
    assert np.all(res.addon_usd[before > target] > 0)
    # The add-on is the least that does it: 1% less leaves the account above target.
    less = with_added_collateral(example.book, rows, usdc, 0.99 * res.addon_usd[rows])
    short = compute_coverage(RiskContext.build(less, example.market, example.config))
    p_less = analytic_breach_probability(short.distance_down, short.distance_up, vol, 1.0)
    assert np.all(p_less[rows] > target)


def test_bad_addon_inputs_raise_input_errors(example):
    vol = np.full(example.n_accounts, 0.03)
    with pytest.raises(InputError, match="not a stablecoin"):
        margin_addons(example, vol, target_probability=0.01, horizon_days=1.0, asset="BTC")
    with pytest.raises(InputError, match="not among"):
        margin_addons(example, vol, target_probability=0.01, horizon_days=1.0, asset="DAI")
    with pytest.raises(InputError, match="target probability"):
        margin_addons(example, vol, target_probability=1.5, horizon_days=1.0)


def test_exact_bisection_alone_reaches_the_closed_form():
    # rounds=0 skips the grid step: the exact bisection on the USD amount does all the work, aiming at p itself.
    c = 3_000.0
    expected = F * M + one_barrier_distance(0.01, VOL, 1.0) * F * (1.0 - M) - c
    res = margin_addons(context([long_btc(c)]), np.array([VOL]), target_probability=0.01, horizon_days=1.0,
                        rounds=0)
    assert res.addon_usd[0] == pytest.approx(expected, rel=1e-4)
    assert res.probability_after[0] <= 0.01


def test_noise_gain_is_no_addon_not_impossible():
    # A demo account (portfolio margin, options) left 0.1% above target by round 1 got a ~1e-12 USD gain from the
    # grid of round 2; that must count as 0 (the exact bisection then finishes), not as "cannot help" (NaN), which
    # had wiped its whole add-on.
    ctx = context([long_btc(3_000.0)])
    usdc = ctx.book.assets.index("USDC")
    excess = np.array([3_000.0 - F * M])
    got = _gain_to_usd(ctx, usdc, np.array([2.4e-12]), excess)
    assert got[0] == 0.0
    np.testing.assert_allclose(_gain_to_usd(ctx, usdc, np.array([1234.5]), excess), [1234.5], rtol=1e-12)

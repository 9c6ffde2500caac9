"""Hypothetical builders against hand-checked numbers."""

from __future__ import annotations

import numpy as np
import pytest

from ccm.errors import InputError
from ccm.scenario import (
    ScenarioSet,
    alt_beta,
    combine,
    correlation_breakdown,
    exchange_token_collapse,
    liquidity_crunch,
    stablecoin_depeg,
    standard_hypotheticals,
    uniform_moves,
    vol_spikes,
)

ASSETS = ("BTC", "ETH", "SOL", "USDC")
STABLE = {"USDC"}


def test_uniform_moves_leave_stablecoins():
    s = uniform_moves(ASSETS, [-0.2, 0.1], stable=STABLE)
    assert s.kind == "hypothetical"
    assert s.names == ("uniform -20%", "uniform +10%")
    np.testing.assert_array_equal(s.price_returns, [[-0.2, -0.2, -0.2, 0.0], [0.1, 0.1, 0.1, 0.0]])
    np.testing.assert_array_equal(s.vol_shifts, 0.0)
    np.testing.assert_array_equal(s.haircut_multipliers, 1.0)


def test_vol_spikes():
    s = vol_spikes(ASSETS, [0.5], stable=STABLE)
    np.testing.assert_array_equal(s.vol_shifts, [[0.5, 0.5, 0.5, 0.0]])
    np.testing.assert_array_equal(s.price_returns, 0.0)


def test_alt_beta():
    s = alt_beta(ASSETS, [-0.2, -0.8], beta=1.5, stable=STABLE)
    # alts fall 1.5 × 20% = 30%; at BTC −80% they would fall 120%: floored at −99%
    np.testing.assert_allclose(s.price_returns, [[-0.2, -0.3, -0.3, 0.0], [-0.8, -0.99, -0.99, 0.0]])
    per_asset = alt_beta(ASSETS, [-0.1], beta={"SOL": 2.0}, stable=STABLE)
    np.testing.assert_allclose(per_asset.price_returns, [[-0.1, -0.1, -0.2, 0.0]])
    with pytest.raises(InputError):
        alt_beta(("ETH",), [-0.1])


def test_stablecoin_depeg():
    s = stablecoin_depeg(ASSETS, "USDC", [0.9, 0.75])
    assert s.names == ("USDC depeg to 0.90", "USDC depeg to 0.75")
    np.testing.assert_allclose(s.price_returns, [[0, 0, 0, -0.1], [0, 0, 0, -0.25]])
    np.testing.assert_array_equal(s.haircut_multipliers[:, 3], 2.0)
    np.testing.assert_array_equal(s.haircut_multipliers[:, :3], 1.0)
    np.testing.assert_array_equal(s.liquidity_multipliers[:, 3], 0.5)


def test_exchange_token_collapse():
    s = exchange_token_collapse(ASSETS, "SOL", [-0.6], contagion=-0.1, stable=STABLE)
    np.testing.assert_allclose(s.price_returns, [[-0.1, -0.1, -0.6, 0.0]])
    np.testing.assert_array_equal(s.haircut_multipliers, [[1, 1, 2, 1]])
    np.testing.assert_array_equal(s.liquidity_multipliers, [[1, 1, 0.5, 1]])


def test_correlation_breakdown():
    s = correlation_breakdown(ASSETS, stable=STABLE)
    np.testing.assert_allclose(s.price_returns, [[-0.2, 0.1, 0.1, 0.0], [0.2, -0.1, -0.1, 0.0]])


def test_liquidity_crunch():
    s = liquidity_crunch(ASSETS, [4.0])
    np.testing.assert_array_equal(s.haircut_multipliers, 4.0)
    np.testing.assert_array_equal(s.liquidity_multipliers, 0.25)
    np.testing.assert_array_equal(s.price_returns, 0.0)
    with pytest.raises(InputError):
        liquidity_crunch(ASSETS, [0.0])


def test_combine_compounds():
    a = ScenarioSet(assets=("X", "Y"), names=("a1", "a2"), price_returns=[[-0.1, 0.2], [0.0, 0.0]],
                    vol_shifts=[[0.5, 0.0], [0.0, 0.0]], haircut_multipliers=[[2.0, 1.0], [1.0, 1.0]],
                    kind="hypothetical")
    b = ScenarioSet(assets=("X", "Y"), names=("b",), price_returns=[[-0.2, -0.5]], vol_shifts=[[0.2, -0.5]],
                    haircut_multipliers=[[1.5, 3.0]], liquidity_multipliers=[[0.5, 0.25]], kind="hypothetical")
    c = combine(a, b)
    assert c.names == ("a1 + b", "a2 + b")
    assert c.kind == "hypothetical"
    # (1 − 0.1)(1 − 0.2) − 1 = −0.28; (1 + 0.2)(1 − 0.5) − 1 = −0.4
    np.testing.assert_allclose(c.price_returns, [[-0.28, -0.4], [-0.2, -0.5]])
    # (1.5)(1.2) − 1 = 0.8; (1)(0.5) − 1 = −0.5
    np.testing.assert_allclose(c.vol_shifts, [[0.8, -0.5], [0.2, -0.5]])
    np.testing.assert_allclose(c.haircut_multipliers, [[3.0, 3.0], [1.5, 3.0]])
    np.testing.assert_allclose(c.liquidity_multipliers, [[0.5, 0.25], [0.5, 0.25]])
    assert len(combine(a, a, b)) == 4
    with pytest.raises(ValueError):
        combine(a, uniform_moves(ASSETS, [0.1]))


def test_combine_two_uniform_moves_equals_the_compound_move():
    twice = combine(uniform_moves(ASSETS, [-0.5], stable=STABLE), uniform_moves(ASSETS, [-0.5], stable=STABLE))
    np.testing.assert_allclose(twice.price_returns, [[-0.75, -0.75, -0.75, 0.0]])


def test_standard_library():
    lib = standard_hypotheticals(("BTC", "ETH", "BNB", "USDT"), stable={"USDT"})
    assert lib.kind == "hypothetical"
    assert len(set(lib.names)) == len(lib)
    assert "USDT depeg to 0.90" in lib.names and "BNB collapse -50% (market -10%)" in lib.names
    assert (lib.price_returns > -1).all()
    crash = lib.names.index("uniform -30% + vol +100% + liquidity crunch ×2")
    np.testing.assert_allclose(lib.price_returns[crash], [-0.3, -0.3, -0.3, 0.0])
    np.testing.assert_allclose(lib.vol_shifts[crash], [1.0, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(lib.liquidity_multipliers[crash], 0.5)
    # without BTC or BNB the builders that need them are left out
    small = standard_hypotheticals(("ETH",), stable=set())
    assert not any("alt-beta" in n or "collapse" in n or "breakdown" in n for n in small.names)

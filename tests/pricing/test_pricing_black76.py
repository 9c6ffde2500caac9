"""Black-76 and contract values against textbook numbers, parity, finite differences and a scalar reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccm.pricing.black76 import black76_greeks, black76_price, implied_vol
from ccm.pricing.contracts import unit_delta, unit_value
from tests.reference.models import black76 as ref_black76


def price(f, k, t, v, call, discount=1.0) -> float:
    return float(black76_price(f, k, t, v, call, discount))


# -- textbook values (Hull, Options, Futures and Other Derivatives) -------------------------------------
def test_hull_black76_futures_option_put():
    # Hull, Black's model example: F0 = K = 20, r = 9%, T = 4 months, σ = 25%; European put ≈ 1.12.
    t, r = 4.0 / 12.0, 0.09
    put = price(20.0, 20.0, t, 0.25, False, math.exp(-r * t))
    assert put == pytest.approx(1.12, abs=0.005)
    # At the money on the forward, call and put are equal.
    assert price(20.0, 20.0, t, 0.25, True, math.exp(-r * t)) == pytest.approx(put, rel=1e-12)


def test_hull_black_scholes_via_forward():
    # Hull, Black-Scholes example: S0 = 42, K = 40, r = 10%, σ = 20%, T = 0.5: call 4.76, put 0.81.
    s, k, r, vol, t = 42.0, 40.0, 0.10, 0.20, 0.5
    forward, discount = s * math.exp(r * t), math.exp(-r * t)
    assert price(forward, k, t, vol, True, discount) == pytest.approx(4.76, abs=0.005)
    assert price(forward, k, t, vol, False, discount) == pytest.approx(0.81, abs=0.005)
    # Hull's printed intermediate values d1 = 0.7693, d2 = 0.6278 give the call to four decimals.
    d1 = (math.log(s / k) + (r + vol**2 / 2) * t) / (vol * math.sqrt(t))
    assert d1 == pytest.approx(0.7693, abs=1e-4)


# -- parity --------------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    f=st.floats(100.0, 200_000.0),
    k_rel=st.floats(0.3, 3.0),
    tau=st.floats(1e-4, 3.0),
    vol=st.floats(0.01, 3.0),
    discount=st.floats(0.5, 1.0),
)
def test_put_call_parity_linear(f, k_rel, tau, vol, discount):
    k = f * k_rel
    c = price(f, k, tau, vol, True, discount)
    p = price(f, k, tau, vol, False, discount)
    assert c - p == pytest.approx(discount * (f - k), abs=1e-11 * f)


@settings(max_examples=200, deadline=None)
@given(f=st.floats(100.0, 200_000.0), k_rel=st.floats(0.3, 3.0),
       tau=st.one_of(st.floats(-0.5, 0.0), st.floats(1e-6, 3.0)), vol=st.one_of(st.just(0.0), st.floats(1e-4, 3.0)))
def test_put_call_parity_inverse_coin(f, k_rel, tau, vol):
    """Inverse (coin-settled) options: C − P = (F − K)/F coin, live or expired."""
    k = f * k_rel
    terms = dict(is_option=True, inverse=True, strike=k, tau=tau, vol=vol)
    c = float(unit_value(f, is_call=True, **terms))
    p = float(unit_value(f, is_call=False, **terms))
    assert c - p == pytest.approx((f - k) / f, abs=1e-12)


# -- greeks against central finite differences -----------------------------------------------------
@pytest.mark.parametrize("is_call", [True, False])
@pytest.mark.parametrize(
    ("f", "k", "tau", "vol"),
    [(100.0, 100.0, 0.5, 0.2), (60_000.0, 70_000.0, 30 / 365, 0.65), (3000.0, 2500.0, 2.0, 0.9),
     (50.0, 40.0, 0.01, 0.3)],
)
def test_greeks_match_finite_differences(is_call, f, k, tau, vol):
    discount = 0.97
    g = {name: float(v) for name, v in black76_greeks(f, k, tau, vol, is_call, discount).items()}
    hf, hv, ht = 1e-4 * f, 1e-5, 1e-6 * tau

    def v(ff=f, tt=tau, vv=vol):
        return price(ff, k, tt, vv, is_call, discount)

    delta = (v(ff=f + hf) - v(ff=f - hf)) / (2 * hf)
    gamma = (v(ff=f + hf) - 2 * v() + v(ff=f - hf)) / hf**2
    vega = (v(vv=vol + hv) - v(vv=vol - hv)) / (2 * hv)
    theta = -(v(tt=tau + ht) - v(tt=tau - ht)) / (2 * ht)  # time passing = τ shrinking
    assert g["delta"] == pytest.approx(delta, rel=1e-6, abs=1e-9)
    assert g["gamma"] == pytest.approx(gamma, rel=1e-4, abs=1e-9 / f)
    assert g["vega"] == pytest.approx(vega, rel=1e-6, abs=1e-9 * f)
    assert g["theta"] == pytest.approx(theta, rel=1e-5, abs=1e-9 * f)


def test_greeks_closed_forms_for_atm():
    # ATM forward: d1 = σ√τ/2, gamma·F = φ(d1)/(σ√τ), vega = F·φ(d1)·√τ.
    f, tau, vol = 100.0, 1.0, 0.2
    g = black76_greeks(f, f, tau, vol, True)
    d1 = 0.5 * vol
    phi = math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    assert float(g["vega"]) == pytest.approx(f * phi, rel=1e-12)
    assert float(g["gamma"]) == pytest.approx(phi / (f * vol), rel=1e-12)
    assert float(g["delta"]) == pytest.approx(0.5 * (1 + math.erf(d1 / math.sqrt(2))), rel=1e-12)


# -- expiry ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tau", [0.0, -1e-9, -0.25])
@pytest.mark.parametrize(("f", "k"), [(120.0, 100.0), (80.0, 100.0), (100.0, 100.0)])
def test_intrinsic_at_and_after_expiry(tau, f, k):
    assert price(f, k, tau, 0.5, True) == pytest.approx(max(f - k, 0.0), abs=1e-12)
    assert price(f, k, tau, 0.5, False) == pytest.approx(max(k - f, 0.0), abs=1e-12)
    g = black76_greeks(f, k, tau, 0.5, True)
    assert float(g["delta"]) == (1.0 if f > k else 0.0)
    assert float(g["gamma"]) == float(g["vega"]) == float(g["theta"]) == 0.0
    gp = black76_greeks(f, k, tau, 0.5, False)
    assert float(gp["delta"]) == (-1.0 if f < k else 0.0)


def test_zero_vol_is_intrinsic():
    assert price(120.0, 100.0, 1.0, 0.0, True) == pytest.approx(20.0)
    assert price(120.0, 100.0, 1.0, 0.0, False) == 0.0


@pytest.mark.parametrize(("s", "k"), [(60_000.0, 50_000.0), (40_000.0, 50_000.0), (50_000.0, 50_000.0)])
@pytest.mark.parametrize("tau", [0.0, -0.01])
def test_inverse_option_payoff_at_expiry(s, k, tau):
    """Deribit inverse option payoff in coin: call max(S − K, 0)/S, put max(K − S, 0)/S."""
    terms = dict(is_option=True, inverse=True, strike=k, tau=tau, vol=0.6)
    assert float(unit_value(s, is_call=True, **terms)) == pytest.approx(max(s - k, 0.0) / s, abs=1e-15)
    assert float(unit_value(s, is_call=False, **terms)) == pytest.approx(max(k - s, 0.0) / s, abs=1e-15)


def test_unit_values_of_delta_one_contracts():
    terms = dict(is_option=False, strike=np.nan, tau=0.0, vol=0.0, is_call=False)
    assert float(unit_value(50_000.0, inverse=False, **terms)) == 50_000.0
    assert float(unit_value(50_000.0, inverse=True, **terms)) == pytest.approx(-1 / 50_000.0)
    assert float(unit_delta(50_000.0, inverse=False, **terms)) == 1.0
    assert float(unit_delta(50_000.0, inverse=True, **terms)) == pytest.approx(1 / 50_000.0)


@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("is_call", [True, False])
def test_unit_delta_is_the_coin_exposure(inverse, is_call):
    """Linear: ∂V/∂F. Inverse (coin value V_c): F·∂V_c/∂F = BS delta − V_c (Deribit's option delta)."""
    f, k, tau, vol = 60_000.0, 65_000.0, 45 / 365, 0.7
    terms = dict(is_option=True, inverse=inverse, strike=k, tau=tau, vol=vol, is_call=is_call)
    h = 1e-5 * f
    slope = (float(unit_value(f + h, **terms)) - float(unit_value(f - h, **terms))) / (2 * h)
    expected = slope * f if inverse else slope
    assert float(unit_delta(f, **terms)) == pytest.approx(expected, rel=1e-6)


# -- implied vol ---------------------------------------------------------------------------------------
def test_implied_vol_round_trip():
    f = np.array([100.0, 60_000.0, 3000.0, 100.0, 100.0])
    k = np.array([100.0, 80_000.0, 2000.0, 70.0, 150.0])
    tau = np.array([0.5, 10 / 365, 1.5, 0.25, 2.0])
    vol = np.array([0.2, 0.9, 0.45, 1.5, 0.05])
    is_call = np.array([True, True, False, False, True])
    p = black76_price(f, k, tau, vol, is_call)
    np.testing.assert_allclose(implied_vol(p, f, k, tau, is_call), vol, rtol=1e-8)


def test_implied_vol_outside_bounds_or_expired_is_nan():
    # Below intrinsic, above the forward (call), expired.
    out = implied_vol(np.array([5.0, 111.0, 1.0]), 110.0, 100.0, np.array([0.5, 0.5, 0.0]), True)
    assert np.isnan(out).all()


# -- engine vs scalar reference --------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(
    f=st.floats(1.0, 500_000.0),
    k_rel=st.floats(0.05, 20.0),
    tau=st.one_of(st.floats(-0.1, 0.0), st.floats(1e-6, 5.0)),
    vol=st.one_of(st.just(0.0), st.floats(1e-4, 4.0)),
    is_call=st.booleans(),
)
def test_black76_matches_scalar_reference(f, k_rel, tau, vol, is_call):
    k = f * k_rel
    assert price(f, k, tau, vol, is_call) == pytest.approx(ref_black76(f, k, tau, vol, is_call), rel=1e-9,
                                                           abs=1e-12 * f)

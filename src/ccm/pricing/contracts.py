"""Unit values of every contract type, in settlement-asset units, on whole arrays.

One unit is what the book's quantity counts: one unit of underlying for linear contracts and all
options, one USD of notional for inverse futures and perpetuals. The USD value of a position is
``quantity × unit_value × price of the settlement asset``.

- linear future / perpetual / spot: the forward F (quoted in the settlement asset, e.g. USDC);
- inverse future / perpetual: −1/F coin per USD of notional (the mark side of the coin P&L
  q·(1/F_entry − 1/F)); the entry side is carried as a coin balance (``Book.entry_amount``);
- linear option: Black-76 value on F;
- inverse option: Black-76 value ÷ F (coin per coin of underlying); its payoff at expiry is
  max(S − K, 0)/S for a call.
"""

from __future__ import annotations

import numpy as np

from ccm._typing import BoolArray, FloatArray
from ccm.pricing import _black76_compiled as _compiled
from ccm.pricing.black76 import black76_greeks, black76_price


def unit_value(
    forward: FloatArray,
    *,
    is_option: BoolArray,
    inverse: BoolArray,
    strike: FloatArray,
    tau: FloatArray,
    vol: FloatArray,
    is_call: BoolArray,
) -> FloatArray:
    """Value of one unit in settlement-asset units; arrays broadcast (scenario axis first).

    Black-76 is evaluated on option entries only; delta-one entries cost one division at most.
    With numba installed, the common case — forward and vol of shape (n,) or (S, n), terms of shape (n,)
    — runs in a compiled kernel (tests compare it with the numpy path).
    """
    compiled = _compiled_unit_value(forward, is_option, inverse, strike, tau, vol, is_call)
    if compiled is not None:
        return compiled
    return unit_value_numpy(forward, is_option=is_option, inverse=inverse, strike=strike, tau=tau, vol=vol,
                            is_call=is_call)


def _compiled_unit_value(forward, is_option, inverse, strike, tau, vol, is_call):
    if not _compiled.AVAILABLE:
        return None
    forward = np.asarray(forward, dtype=np.float64)
    terms = [np.asarray(x) for x in (is_option, inverse, strike, tau, is_call)]
    if forward.ndim not in (1, 2) or forward.size < _compiled_min_size():
        return None
    n = forward.shape[-1]
    if any(t.shape != (n,) for t in terms):
        return None
    vol = np.asarray(vol, dtype=np.float64)
    if vol.shape not in ((n,), forward.shape):
        return None
    f2 = forward.reshape(-1, n)
    v2 = np.broadcast_to(vol, forward.shape).reshape(-1, n) if vol.shape == (n,) else vol.reshape(-1, n)
    is_opt, inv, k, t, call = terms
    out = _compiled.unit_value_2d(f2, v2, is_opt.astype(np.bool_), inv.astype(np.bool_),
                                  k.astype(np.float64), t.astype(np.float64), call.astype(np.bool_))
    return out.reshape(forward.shape)


def _compiled_min_size() -> int:
    from ccm.pricing.black76 import COMPILED_MIN_SIZE

    return COMPILED_MIN_SIZE


def unit_value_numpy(
    forward: FloatArray,
    *,
    is_option: BoolArray,
    inverse: BoolArray,
    strike: FloatArray,
    tau: FloatArray,
    vol: FloatArray,
    is_call: BoolArray,
) -> FloatArray:
    """The numpy implementation of :func:`unit_value` (any broadcastable shapes)."""
    arrays = np.broadcast_arrays(np.asarray(forward, dtype=np.float64), is_option, inverse, strike, tau, vol,
                                 is_call)
    forward, is_option, inverse, strike, tau, vol, is_call = arrays
    with np.errstate(divide="ignore"):
        out = np.where(inverse, -1.0 / forward, forward)
    if is_option.any():
        sel = np.asarray(is_option, dtype=bool)
        f = forward[sel]
        usd = black76_price(f, strike[sel], tau[sel], vol[sel], is_call[sel])
        out[sel] = np.where(inverse[sel], usd / f, usd)
    return out


def unit_delta(
    forward: FloatArray,
    *,
    is_option: BoolArray,
    inverse: BoolArray,
    strike: FloatArray,
    tau: FloatArray,
    vol: FloatArray,
    is_call: BoolArray,
) -> FloatArray:
    """Exposure of one unit in coins of the underlying (Deribit "delta").

    Linear delta-one: 1; inverse future: 1/F coin per USD of notional; linear option: Black-76 delta;
    inverse option: Black-76 delta − coin mark (the coin premium itself moves against the holder).
    """
    forward = np.asarray(forward, dtype=np.float64)
    safe_strike = np.where(is_option, strike, 1.0)
    safe_vol = np.where(is_option, vol, 0.0)
    greeks = black76_greeks(forward, safe_strike, tau, safe_vol, is_call)
    option_coin = black76_price(forward, safe_strike, tau, safe_vol, is_call) / forward
    option_delta = np.where(inverse, greeks["delta"] - option_coin, greeks["delta"])
    delta_one = np.where(inverse, 1.0 / forward, 1.0)
    return np.where(is_option, option_delta, delta_one)


def option_greeks(
    forward: FloatArray,
    *,
    strike: FloatArray,
    tau: FloatArray,
    vol: FloatArray,
    is_call: BoolArray,
    inverse: BoolArray,
) -> dict[str, FloatArray]:
    """Greeks of one option in its settlement units: USD for linear, coin for inverse (V_coin = V_usd / F).

    Returns delta ∂V/∂F, gamma ∂²V/∂F², vega ∂V/∂σ (per 1.00 of vol) and theta ∂V/∂t (per year). For an
    inverse option, with V, Δ, Γ the Black-76 USD value and greeks:
    ∂(V/F)/∂F = Δ/F − V/F², ∂²(V/F)/∂F² = Γ/F − 2Δ/F² + 2V/F³, vega/F and theta/F.
    """
    forward = np.asarray(forward, dtype=np.float64)
    usd = black76_price(forward, strike, tau, vol, is_call)
    g = black76_greeks(forward, strike, tau, vol, is_call)
    inv = np.asarray(inverse, dtype=bool)
    return {
        "delta": np.where(inv, g["delta"] / forward - usd / forward**2, g["delta"]),
        "gamma": np.where(inv, g["gamma"] / forward - 2 * g["delta"] / forward**2 + 2 * usd / forward**3,
                          g["gamma"]),
        "vega": np.where(inv, g["vega"] / forward, g["vega"]),
        "theta": np.where(inv, g["theta"] / forward, g["theta"]),
    }

"""Black-76 price and greeks on whole arrays, in the forward's currency (USD per unit of underlying).

All inputs broadcast against each other. ``tau`` is in years (ACT/365), ``vol`` a decimal. At or after
expiry (τ ≤ 0), or with zero vol, the value is the discounted intrinsic value on the forward and the
greeks are those of the intrinsic payoff (delta 0 or ±1, zero gamma, vega and theta).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from ccm._typing import FloatArray
from ccm.pricing import _black76_compiled as _compiled

_SQRT_2PI = np.sqrt(2.0 * np.pi)


def _pdf(x: FloatArray) -> FloatArray:
    return np.exp(-0.5 * x * x) / _SQRT_2PI


def _d1_d2(forward, strike, tau, vol):
    live = (tau > 0) & (vol > 0)
    sig_sqrt_t = np.where(live, vol * np.sqrt(np.where(live, tau, 1.0)), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = np.where(live, (np.log(forward / strike) + 0.5 * sig_sqrt_t**2) / sig_sqrt_t, 0.0)
    return live, d1, d1 - sig_sqrt_t, sig_sqrt_t


#: Below this many elements the numpy path is used (compiled-call overhead dominates).
COMPILED_MIN_SIZE = 2048


def black76_price(forward, strike, tau, vol, is_call, discount=1.0) -> FloatArray:
    """Option value, shape = broadcast of the inputs (see :func:`black76_price_numpy`).

    Large inputs go to the numba-compiled kernel when numba is installed; results are the same to
    rounding (tests compare both).
    """
    if _compiled.AVAILABLE:
        arrays = np.broadcast_arrays(*(np.asarray(x) for x in (forward, strike, tau, vol, is_call, discount)))
        if arrays[0].size >= COMPILED_MIN_SIZE:
            flat = [a.ravel() for a in arrays]
            return _compiled.black76_price_flat(*flat).reshape(arrays[0].shape)
    return black76_price_numpy(forward, strike, tau, vol, is_call, discount)


def black76_price_numpy(forward, strike, tau, vol, is_call, discount=1.0) -> FloatArray:
    """Option value, shape = broadcast of the inputs.

    Parameters
    ----------
    forward, strike : USD per unit of underlying (> 0).
    tau : time to expiry in years; ≤ 0 means expired (intrinsic).
    vol : implied volatility as a decimal (≥ 0).
    is_call : bool array, True for calls.
    discount : discount factor to the payment date (default 1: Deribit's 0% rate).

    Uses ω·[F·N(ω·d1) − K·N(ω·d2)] with ω = ±1, so calls and puts cost two normal CDFs each and
    deep out-of-the-money values keep full relative precision (no parity subtraction).
    """
    forward, strike, tau, vol = (np.asarray(x, dtype=np.float64) for x in (forward, strike, tau, vol))
    omega = np.where(np.asarray(is_call, dtype=bool), 1.0, -1.0)
    live, d1, d2, _ = _d1_d2(forward, strike, tau, vol)
    live_value = omega * (forward * ndtr(omega * d1) - strike * ndtr(omega * d2))
    intrinsic = np.maximum(omega * (forward - strike), 0.0)
    return discount * np.where(live, live_value, intrinsic)


def black76_greeks(forward, strike, tau, vol, is_call, discount=1.0) -> dict[str, FloatArray]:
    """Forward delta ∂V/∂F, gamma ∂²V/∂F², vega ∂V/∂σ (per 1.00 of vol) and theta ∂V/∂t (per year).

    Theta is the change of value as calendar time passes (= −∂V/∂τ), with the forward held fixed.
    """
    forward, strike, tau, vol = (np.asarray(x, dtype=np.float64) for x in (forward, strike, tau, vol))
    is_call = np.asarray(is_call, dtype=bool)
    live, d1, d2, sig_sqrt_t = _d1_d2(forward, strike, tau, vol)
    safe_tau = np.where(live, tau, 1.0)
    pdf_d1 = _pdf(d1)
    delta_live = np.where(is_call, ndtr(d1), ndtr(d1) - 1.0)
    itm = np.where(is_call, forward > strike, forward < strike)
    delta_dead = np.where(itm, np.where(is_call, 1.0, -1.0), 0.0)
    delta = discount * np.where(live, delta_live, delta_dead)
    gamma = discount * np.where(live, pdf_d1 / (forward * sig_sqrt_t), 0.0)
    vega = discount * np.where(live, forward * pdf_d1 * np.sqrt(safe_tau), 0.0)
    theta = discount * np.where(live, -forward * pdf_d1 * vol / (2.0 * np.sqrt(safe_tau)), 0.0)
    return {"delta": delta, "gamma": gamma, "vega": vega, "theta": theta}


def implied_vol(price, forward, strike, tau, is_call, *, low=1e-4, high=10.0, iterations=80) -> FloatArray:
    """Black-76 implied vol by vectorised bisection (undiscounted prices).

    Returns NaN where the price lies outside the no-arbitrage bounds (below intrinsic or above the
    forward for calls / the strike for puts) or the option has expired.
    """
    price, forward, strike, tau = (np.asarray(x, dtype=np.float64) for x in (price, forward, strike, tau))
    is_call = np.asarray(is_call, dtype=bool)
    price, forward, strike, tau, is_call = np.broadcast_arrays(price, forward, strike, tau, is_call)
    lo = np.full(price.shape, low)
    hi = np.full(price.shape, high)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        above = black76_price(forward, strike, tau, mid, is_call) > price
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    vol = 0.5 * (lo + hi)
    lower = black76_price(forward, strike, tau, low, is_call)
    upper = black76_price(forward, strike, tau, high, is_call)
    ok = (tau > 0) & (price >= lower - 1e-12) & (price <= upper + 1e-12)
    return np.where(ok, vol, np.nan)

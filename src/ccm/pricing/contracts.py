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
    """Value of one unit in settlement-asset units; arrays broadcast (scenario axis first)."""
    forward = np.asarray(forward, dtype=np.float64)
    safe_strike = np.where(is_option, strike, 1.0)
    safe_vol = np.where(is_option, vol, 0.0)
    option_usd = black76_price(forward, safe_strike, tau, safe_vol, is_call)
    with np.errstate(divide="ignore"):
        inv_forward = 1.0 / forward
    delta_one = np.where(inverse, -inv_forward, forward)
    option = np.where(inverse, option_usd * inv_forward, option_usd)
    return np.where(is_option, option, delta_one)


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

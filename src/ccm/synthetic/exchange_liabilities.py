"""A synthetic custodial exchange: customer balances (liabilities) and the reserves backing them.

For proof-of-reserves benchmarks, docs and tests. Numpy only, no I/O (``ccm.io.liabilities`` writes the
CSV and JSON). Each customer holds each asset with a fixed probability; the USD value of a holding is
log-normal (median ``median_usd``, heavy right tail), turned into a quantity at the given price and rounded to
``decimals`` places (every customer holds at least one asset). Reserves are the total liabilities times a
per-asset backing factor (over- and under-backed assets on purpose).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ccm._typing import FloatArray
from ccm.synthetic.venue import account_ids

#: USD index prices of the shipped ``examples/market.json``.
EXCHANGE_PRICES = {"BTC": 97000.0, "ETH": 2650.0, "SOL": 200.0, "USDC": 1.0, "USDT": 0.9995}
#: Probability that a customer holds the asset.
HOLD_PROBABILITY = {"BTC": 0.6, "ETH": 0.45, "SOL": 0.25, "USDC": 0.3, "USDT": 0.7}
#: Reserves ÷ liabilities per asset (SOL deliberately under-backed).
BACKING = {"BTC": 1.08, "ETH": 1.02, "SOL": 0.97, "USDC": 1.0, "USDT": 1.03}


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticExchange:
    """Generated exchange.

    Attributes
    ----------
    customer_ids : ndarray of str, shape (n_customers,).
    assets : the n_assets names.
    balances : ndarray (n_customers, n_assets), quantities ≥ 0 with ``decimals`` places (0 = not held).
    reserves : ndarray (n_assets,), quantities held by the exchange.
    prices : ndarray (n_assets,), USD.
    """

    customer_ids: np.ndarray
    assets: tuple[str, ...]
    balances: FloatArray
    reserves: FloatArray
    prices: FloatArray


def generate_exchange(
    n_customers: int,
    *,
    rng: np.random.Generator,
    prices: Mapping[str, float] = EXCHANGE_PRICES,
    hold_probability: Mapping[str, float] = HOLD_PROBABILITY,
    backing: Mapping[str, float] = BACKING,
    median_usd: float = 2_000.0,
    sigma: float = 2.0,
    decimals: int = 8,
) -> SyntheticExchange:
    """``n_customers`` customers over the assets of ``prices`` (vectorised; 1e6 customers in about a second)."""
    assets = tuple(prices)
    price = np.array([prices[a] for a in assets], dtype=float)
    hold = rng.random((n_customers, len(assets))) < np.array([hold_probability.get(a, 0.5) for a in assets])
    empty = np.flatnonzero(~hold.any(axis=1))
    hold[empty, rng.integers(0, len(assets), size=empty.size)] = True  # every customer holds something
    value_usd = median_usd * np.exp(sigma * rng.standard_normal((n_customers, len(assets))))
    balances = np.where(hold, np.round(value_usd / price, decimals), 0.0)
    reserves = balances.sum(axis=0) * np.array([backing.get(a, 1.0) for a in assets])
    return SyntheticExchange(customer_ids=account_ids(n_customers), assets=assets, balances=balances,
                             reserves=np.round(reserves, decimals), prices=price)

"""The health factor, the one trigger every lending protocol shares (reference/defi.md §2.8, §6.1):

    HF = Σ_a collateral_a × LT_a ÷ debt,   liquidatable iff debt > 0 and HF < 1

Both the lending margin model (:mod:`ccm.risk.margin.lending`, sparse balances of a book) and the liquidation
step (:mod:`ccm.lending.liquidation`, dense (…, accounts, assets) arrays) reduce their inputs to the weighted
collateral and the debt of each account and call :func:`health_factor` here.
"""

from __future__ import annotations

import numpy as np

from ccm._typing import FloatArray
from ccm.division import guarded_ratio


def health_factor(weighted_collateral_usd: FloatArray, debt_usd: FloatArray) -> FloatArray:
    """Σ collateral × LT ÷ debt, element-wise; +inf where the debt is ≤ 0 (no debt, nothing to liquidate).

    Parameters
    ----------
    weighted_collateral_usd : ndarray (…,), Σ_a max(value_a, 0) × LT_a in USD.
    debt_usd : ndarray broadcasting with it, Σ of the owed values in USD (≥ 0).
    """
    return guarded_ratio(weighted_collateral_usd, debt_usd, otherwise=np.inf)


__all__ = ["health_factor"]

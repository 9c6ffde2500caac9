"""What every margin model returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ccm._typing import FloatArray


@dataclass(frozen=True, slots=True, kw_only=True)
class Requirement:
    """Margin requirement of a set of accounts, USD.

    Attributes
    ----------
    initial, maintenance : ndarray of shape (n_accounts,), ≥ 0.
    position_driver : ndarray (nnz_positions,), aligned with ``Book.positions.data``: how much each
        position drives the requirement (USD, ≥ 0; e.g. its loss in the worst scenario).
    balance_driver : ndarray (nnz_balances,), aligned with ``Book.balances.data`` (lending model).
    """

    initial: FloatArray
    maintenance: FloatArray
    position_driver: FloatArray
    balance_driver: FloatArray

    @classmethod
    def zeros(cls, n_accounts: int, nnz_positions: int, nnz_balances: int) -> Requirement:
        return cls(
            initial=np.zeros(n_accounts),
            maintenance=np.zeros(n_accounts),
            position_driver=np.zeros(nnz_positions),
            balance_driver=np.zeros(nnz_balances),
        )

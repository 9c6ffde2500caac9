"""The columnar Book: sparse positions and balances, accounts × instruments and accounts × assets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ccm._typing import FloatArray, IntArray
from ccm.book.instruments import InstrumentTable


def row_of_nonzeros(matrix: sp.csr_matrix) -> IntArray:
    """Row index of every stored entry of a CSR matrix, shape (nnz,)."""
    return np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))


def row_sums(values: FloatArray, indptr: np.ndarray) -> FloatArray:
    """Sum of per-entry ``values`` over each CSR row.

    ``values`` of shape (nnz,) gives (n_rows,); (B, nnz) gives (B, n_rows).
    """
    n_rows = indptr.shape[0] - 1
    nnz = values.shape[-1]
    if values.ndim == 1:
        if nnz == 0:
            return np.zeros(n_rows)
        rows = np.repeat(np.arange(n_rows), np.diff(indptr))
        return np.bincount(rows, weights=values, minlength=n_rows)
    aggregate = sp.csr_matrix((np.ones(nnz), np.arange(nnz), indptr), shape=(n_rows, nnz))
    return np.asarray(aggregate @ values.T).T


def nonzeros_of_rows(indptr: np.ndarray, rows: IntArray) -> IntArray:
    """Positions in ``data`` of the stored entries of ``rows`` (in row order), shape (nnz_selected,)."""
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return np.arange(total, dtype=np.int64) + offsets


@dataclass(frozen=True, slots=True, kw_only=True)
class Book:
    """All accounts of a venue in columnar form.

    Attributes
    ----------
    assets : tuple of str, sorted asset codes; columns of ``balances``.
    account_ids : ndarray of str, shape (n_accounts,).
    instruments : InstrumentTable, n_instruments entries; columns of ``positions``.
    positions : csr_matrix of shape (n_accounts, n_instruments), quantities (sorted indices, no zeros).
    entry_amount : ndarray of shape (nnz_positions,), aligned with ``positions.data``: the entry side of
        futures P&L in settlement-asset units (linear −q·entry, inverse +q/entry), summed over the
        account's trades in the instrument that carried an entry price; 0 for options and spot.
    unpriced_quantity : ndarray of shape (nnz_positions,): the part of the quantity that had no entry
        price (taken as settled to the current mark).
    balances : csr_matrix of shape (n_accounts, n_assets), collateral quantities (negative = borrowed).
    margin_model : int8 ndarray of shape (n_accounts,), index into ``MARGIN_MODELS``; −1 = config default.
    """

    assets: tuple[str, ...]
    account_ids: np.ndarray
    instruments: InstrumentTable
    positions: sp.csr_matrix
    entry_amount: FloatArray
    unpriced_quantity: FloatArray
    balances: sp.csr_matrix
    margin_model: np.ndarray

    @property
    def n_accounts(self) -> int:
        return int(self.account_ids.shape[0])

    @property
    def n_instruments(self) -> int:
        return len(self.instruments)

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    def asset_index(self) -> dict[str, int]:
        return {a: k for k, a in enumerate(self.assets)}

    def account_index(self) -> dict[str, int]:
        return {str(a): k for k, a in enumerate(self.account_ids)}

    def take(self, rows: IntArray) -> Book:
        """Sub-book with the accounts ``rows`` (same instruments and assets), in the given order."""
        rows = np.asarray(rows, dtype=np.int64)
        nz = nonzeros_of_rows(self.positions.indptr, rows)
        positions = self.positions[rows]
        positions.sort_indices()
        return Book(
            assets=self.assets,
            account_ids=self.account_ids[rows],
            instruments=self.instruments,
            positions=positions,
            entry_amount=self.entry_amount[nz],
            unpriced_quantity=self.unpriced_quantity[nz],
            balances=self.balances[rows],
            margin_model=self.margin_model[rows],
        )

"""Position value per account at shared moves, compiled with numba (used by ``context.account_equity``).

Σ over each account's positions of (q·value + entry)·settle price at each of B moves shared by every
account, read straight from the instrument-level (B, n_instruments) arrays: the same products, summed in
the same order as the numpy path's (B, nnz) gather and row sums, without the (B, nnz) temporaries.
"""

from __future__ import annotations

import numpy as np

from ccm.pricing._black76_compiled import AVAILABLE  # noqa: F401 (re-exported)

if AVAILABLE:
    from numba import njit, prange

    @njit(parallel=True, cache=True, fastmath=False, nogil=True)
    def _kernel(indptr, cols, q, entry, values, settle, out):  # pragma: no cover - compiled
        n_base = values.shape[0]
        for r in prange(indptr.shape[0] - 1):
            for b in range(n_base):
                acc = 0.0
                for i in range(indptr[r], indptr[r + 1]):
                    c = cols[i]
                    acc += (q[i] * values[b, c] + entry[i]) * settle[b, c]
                out[b, r] = acc


def position_value_sums(indptr, cols, q, entry, values, settle) -> np.ndarray:
    """(B, n_rows) USD: Σ_i (q_i·values[b, cols_i] + entry_i)·settle[b, cols_i] over each CSR row's positions.

    indptr : (n_rows + 1,); cols, q, entry : (nnz,); values, settle : (B, n_instruments).
    """
    out = np.empty((values.shape[0], indptr.shape[0] - 1))
    _kernel(np.ascontiguousarray(indptr, dtype=np.int64), np.ascontiguousarray(cols, dtype=np.int64),
            np.ascontiguousarray(q, dtype=np.float64), np.ascontiguousarray(entry, dtype=np.float64),
            np.ascontiguousarray(values, dtype=np.float64), np.ascontiguousarray(settle, dtype=np.float64), out)
    return out

"""Standard margin per position compiled with numba (used by ``standard`` when numba is present).

The same formulas as the numpy implementation in ``standard.py`` (tests compare the two), one pass per
position instead of one array temporary per operation.
"""

from __future__ import annotations

import numpy as np

from ccm.pricing._black76_compiled import AVAILABLE  # noqa: F401 (re-exported)

if AVAILABLE:
    from numba import njit, prange

    @njit(parallel=True, cache=True, fastmath=False, nogil=True)
    def _kernel(kind, q, inverse, is_call, strike, forward0, spot0, under_mult, mark, settle, im_base, mm_base,
                slope, opt_max, opt_min, opt_mm, im_out, mm_out):  # pragma: no cover - compiled
        n_base, n = mark.shape
        for j in prange(n):
            size = abs(q[j])
            for b in range(n_base):
                mult = under_mult[b if under_mult.shape[0] > 1 else 0, j]
                im = 0.0
                mm = 0.0
                if kind[j] == 1:
                    f = forward0[j] * mult
                    if inverse[j]:
                        size_coin = size / f
                        notional = size / f
                    else:
                        size_coin = size
                        notional = size * f
                    im = notional * (im_base[j] + size_coin * slope[j])
                    mm = notional * (mm_base[j] + size_coin * slope[j])
                elif kind[j] == 2:
                    s = spot0[j] * mult
                    m = mark[b, j]
                    if q[j] < 0:
                        if is_call[j]:
                            otm = max(strike[j] - s, 0.0)
                        else:
                            otm = max(s - strike[j], 0.0)
                        if inverse[j]:
                            scale = 1.0
                            otm_units = otm / s
                        else:
                            scale = s
                            otm_units = otm
                        short_im = max(opt_max[j] * scale - otm_units, opt_min[j] * scale) + m
                        if is_call[j]:
                            short_mm = opt_mm[j] * scale + m
                        else:
                            short_mm = max(opt_mm[j] * scale, opt_mm[j] * m) + m
                            short_im = max(short_im, short_mm)
                        im = size * short_im
                        mm = size * short_mm
                    else:
                        im = size * m
                sp = settle[b, j]
                im_out[b, j] = im * sp
                mm_out[b, j] = mm * sp


def standard_margin_positions(kind, q, inverse, is_call, strike, forward0, spot0, under_mult, mark, settle,
                              params) -> tuple[np.ndarray, np.ndarray]:
    """IM and MM (USD) per position, shapes like ``mark`` ((B, nnz)); ``kind`` 0 none, 1 delta-one, 2 option."""
    mark2 = np.ascontiguousarray(np.atleast_2d(mark), dtype=np.float64)
    shape = mark2.shape
    settle2 = np.ascontiguousarray(np.broadcast_to(settle, shape), dtype=np.float64)
    mult2 = np.ascontiguousarray(np.atleast_2d(under_mult), dtype=np.float64)
    im = np.empty(shape)
    mm = np.empty(shape)
    _kernel(kind, q, inverse, is_call, strike, forward0, spot0, mult2, mark2, settle2,
            params["future_im_base"], params["future_mm_base"], params["future_size_slope"],
            params["option_im_max"], params["option_im_min"], params["option_mm"], im, mm)
    if np.ndim(mark) == 1:
        return im[0], mm[0]
    return im, mm

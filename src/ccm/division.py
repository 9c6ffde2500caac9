"""Guarded element-wise division, the one ratio helper of the numerical core.

Ratios in ccm (coverage, health factor, backing, feature ratios) share one convention: the quotient where the
denominator is meaningful, a stated value (NaN, +inf, 0) elsewhere, and no floating-point warning raised.
"""

from __future__ import annotations

import numpy as np

from ccm._typing import BoolArray, FloatArray


def guarded_ratio(numerator: FloatArray, denominator: FloatArray, *, floor: float = 0.0,
                  where: BoolArray | None = None, otherwise: float = np.nan) -> FloatArray:
    """``numerator ÷ denominator`` where ``denominator > floor`` (or where ``where`` is True, if given), else
    ``otherwise``. Arrays broadcast together; the result has their broadcast shape (float64)."""
    den = np.asarray(denominator, dtype=float)
    ok = den > floor if where is None else np.asarray(where, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, np.asarray(numerator, dtype=float) / np.where(ok, den, 1.0), otherwise)


__all__ = ["guarded_ratio"]

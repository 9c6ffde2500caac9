"""Per-underlying implied-volatility surface: a flat ATM level or a grid of expiry × moneyness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ccm._typing import FloatArray


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class VolSurface:
    """Implied vols (decimals) on a grid of expiries (years) × moneyness K/F.

    A flat surface is a 1 × 1 grid (the ATM level). Interpolation is linear in moneyness and linear in
    total variance σ²τ along expiry; outside the grid the edge values are held flat.

    Attributes
    ----------
    expiries_years : ndarray of shape (n_t,), increasing.
    moneyness : ndarray of shape (n_k,), increasing strike / forward.
    vols : ndarray of shape (n_t, n_k).
    """

    expiries_years: FloatArray
    moneyness: FloatArray
    vols: FloatArray

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VolSurface):
            return NotImplemented
        return all(np.array_equal(getattr(self, f), getattr(other, f)) for f in ("expiries_years", "moneyness", "vols"))

    __hash__ = None  # type: ignore[assignment]  # holds arrays

    @classmethod
    def flat(cls, vol: float) -> VolSurface:
        return cls(expiries_years=np.array([1.0]), moneyness=np.array([1.0]), vols=np.array([[float(vol)]]))

    def vol(self, tau_years: FloatArray, moneyness: FloatArray) -> FloatArray:
        """Implied vol at each (τ, K/F) pair; arrays broadcast, result has their broadcast shape."""
        tau, m = np.broadcast_arrays(np.asarray(tau_years, float), np.asarray(moneyness, float))
        # Interpolate each expiry row along moneyness first: shape (n_t, *tau.shape).
        rows = np.stack([np.interp(m, self.moneyness, row) for row in self.vols])
        if self.expiries_years.shape[0] == 1:
            return rows[0]
        t = np.clip(tau, self.expiries_years[0], self.expiries_years[-1])
        hi = np.clip(np.searchsorted(self.expiries_years, t, side="left"), 1, self.expiries_years.shape[0] - 1)
        lo = hi - 1
        t_lo, t_hi = self.expiries_years[lo], self.expiries_years[hi]
        w = (t - t_lo) / (t_hi - t_lo)
        v_lo = np.take_along_axis(rows, lo[None, ...], axis=0)[0]
        v_hi = np.take_along_axis(rows, hi[None, ...], axis=0)[0]
        total_var = (1 - w) * v_lo**2 * t_lo + w * v_hi**2 * t_hi
        return np.sqrt(np.maximum(total_var, 0.0) / np.maximum(t, 1e-12))

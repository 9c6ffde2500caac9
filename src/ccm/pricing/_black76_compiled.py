"""Black-76 value compiled with numba (parallel over elements), used by ``black76`` when numba is present.

Same formula as the numpy version, ω·[F·N(ω·d1) − K·N(ω·d2)] with N(x) = ½·erfc(−x/√2), intrinsic value
at or after expiry or with zero vol. Tests check it against the numpy implementation.
"""

from __future__ import annotations

import math

import numpy as np

try:  # numba is optional: without it the numpy implementation is used
    from numba import njit, prange

    AVAILABLE = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    AVAILABLE = False

_INV_SQRT2 = 1.0 / math.sqrt(2.0)

if AVAILABLE:

    @njit(parallel=True, cache=True, fastmath=False, nogil=True)
    def _kernel(forward, strike, tau, vol, is_call, discount, out):  # pragma: no cover - compiled
        for i in prange(forward.shape[0]):
            f = forward[i]
            k = strike[i]
            t = tau[i]
            s = vol[i]
            omega = 1.0 if is_call[i] else -1.0
            if t > 0.0 and s > 0.0:
                sd = s * math.sqrt(t)
                d1 = (math.log(f / k) + 0.5 * sd * sd) / sd
                d2 = d1 - sd
                n1 = 0.5 * math.erfc(-omega * d1 * _INV_SQRT2)
                n2 = 0.5 * math.erfc(-omega * d2 * _INV_SQRT2)
                out[i] = discount[i] * omega * (f * n1 - k * n2)
            else:
                out[i] = discount[i] * max(omega * (f - k), 0.0)


def black76_price_flat(forward, strike, tau, vol, is_call, discount) -> np.ndarray:
    """Compiled Black-76 on 1-D arrays of equal length (float64, bool for ``is_call``)."""
    out = np.empty(forward.shape[0])
    _kernel(
        np.ascontiguousarray(forward, dtype=np.float64),
        np.ascontiguousarray(strike, dtype=np.float64),
        np.ascontiguousarray(tau, dtype=np.float64),
        np.ascontiguousarray(vol, dtype=np.float64),
        np.ascontiguousarray(is_call, dtype=np.bool_),
        np.ascontiguousarray(discount, dtype=np.float64),
        out,
    )
    return out


if AVAILABLE:

    @njit(cache=True, fastmath=False, inline="always")
    def _option_from_terms(f, k, log_fk, sd, omega, inverse):  # pragma: no cover - compiled
        """One option unit's value in settlement units given log(f/k) and sd = σ√τ (0 when expired or without
        vol: intrinsic value); shared by ``_value`` and the risk-matrix kernel."""
        if sd > 0.0:
            d1 = (log_fk + 0.5 * sd * sd) / sd
            d2 = d1 - sd
            value = omega * (f * 0.5 * math.erfc(-omega * d1 * _INV_SQRT2)
                             - k * 0.5 * math.erfc(-omega * d2 * _INV_SQRT2))
        else:
            value = max(omega * (f - k), 0.0)
        return value / f if inverse else value

    @njit(cache=True, fastmath=False, inline="always")
    def _value(f, k, t, sig, is_option, inverse, is_call):  # pragma: no cover - compiled
        """One contract unit's value in settlement units (see ``pricing.contracts.unit_value``)."""
        if not is_option:
            return -1.0 / f if inverse else f
        omega = 1.0 if is_call else -1.0
        if t > 0.0 and sig > 0.0:
            return _option_from_terms(f, k, math.log(f / k), sig * math.sqrt(t), omega, inverse)
        return _option_from_terms(f, k, 0.0, 0.0, omega, inverse)  # expired or no vol: intrinsic value

    @njit(parallel=True, cache=True, fastmath=False, nogil=True)
    def _unit_value_kernel(forward, vol, is_option, inverse, strike, tau, is_call, out):  # pragma: no cover
        n_scen, n = forward.shape
        for j in prange(n):
            for s in range(n_scen):
                out[s, j] = _value(forward[s, j], strike[j], tau[j], vol[s, j], is_option[j], inverse[j],
                                   is_call[j])


def unit_value_2d(forward, vol, is_option, inverse, strike, tau, is_call) -> np.ndarray:
    """Unit values (settlement units) for forward and vol of shape (S, n) and per-column terms (n,)."""
    out = np.empty(forward.shape)
    _unit_value_kernel(forward, vol, is_option, inverse, strike, tau, is_call, out)
    return out


if AVAILABLE:

    @njit(parallel=True, cache=True, fastmath=False, nogil=True)
    def _scenario_pnl_kernel(base_forward, vol, vol_up, vol_down, under, moves, log_moves, kinds, is_option,
                             inverse, strike, tau, is_call, out):  # pragma: no cover - compiled
        # Options: σ√τ per vol level and log(F/K) per base are computed once, log(F(1+m)/K) as
        # log(F/K) + log(1+m); futures and spot are cheap and go through ``_value``.
        n_base, n = base_forward.shape
        n_scen = moves.shape[1]
        for j in prange(n):
            u = under[j]
            k = strike[j]
            t = tau[j]
            if not is_option[j]:
                for b in range(n_base):
                    f0 = base_forward[b, j]
                    v0 = _value(f0, k, t, vol[j], False, inverse[j], is_call[j])
                    for s in range(n_scen):
                        out[j, b * n_scen + s] = _value(f0 * (1.0 + moves[u, s]), k, t, vol[j], False,
                                                        inverse[j], is_call[j]) - v0
                continue
            omega = 1.0 if is_call[j] else -1.0
            root_t = math.sqrt(t) if t > 0.0 else 0.0
            sd_same = vol[j] * root_t if vol[j] > 0.0 else 0.0
            sd_up = vol_up[j] * root_t if vol_up[j] > 0.0 else 0.0
            sd_down = vol_down[j] * root_t if vol_down[j] > 0.0 else 0.0
            for b in range(n_base):
                f0 = base_forward[b, j]
                log_f0k = math.log(f0 / k) if sd_same > 0.0 or sd_up > 0.0 or sd_down > 0.0 else 0.0
                v0 = _option_from_terms(f0, k, log_f0k, sd_same, omega, inverse[j])
                for s in range(n_scen):
                    kind = kinds[u, s]
                    sd = sd_up if kind > 0 else (sd_down if kind < 0 else sd_same)
                    out[j, b * n_scen + s] = _option_from_terms(f0 * (1.0 + moves[u, s]), k,
                                                                log_f0k + log_moves[u, s], sd, omega,
                                                                inverse[j]) - v0


def scenario_pnl(base_forward, vol, vol_up, vol_down, under, moves, kinds, is_option, inverse, strike, tau,
                 is_call) -> np.ndarray:
    """Compiled risk-matrix P&L per unit, shape (n_base, n_scen, n); see ``risk.margin.portfolio``.

    A transposed view of a C-contiguous (n, n_base, n_scen) array: each instrument's P&L is one contiguous row
    (``np.moveaxis(result, 2, 0)`` gets it back without a copy).
    """
    n_base, n = base_forward.shape
    out = np.empty((n, n_base * moves.shape[1]))
    _scenario_pnl_kernel(
        np.ascontiguousarray(base_forward, dtype=np.float64), np.ascontiguousarray(vol, dtype=np.float64),
        np.ascontiguousarray(vol_up, dtype=np.float64), np.ascontiguousarray(vol_down, dtype=np.float64),
        np.ascontiguousarray(under, dtype=np.int64), np.ascontiguousarray(moves, dtype=np.float64),
        np.log1p(np.asarray(moves, dtype=np.float64)), np.ascontiguousarray(kinds, dtype=np.int8),
        np.ascontiguousarray(is_option, dtype=np.bool_),
        np.ascontiguousarray(inverse, dtype=np.bool_), np.ascontiguousarray(strike, dtype=np.float64),
        np.ascontiguousarray(tau, dtype=np.float64), np.ascontiguousarray(is_call, dtype=np.bool_), out,
    )
    return np.moveaxis(out.reshape(n, n_base, moves.shape[1]), 0, 2)

"""The closed-form GARCH H-day variance sum against the plain recursion ``σ²_{h} = ω + φ σ²_{h−1}``."""

from __future__ import annotations

import numpy as np
import pytest

from ccm.analysis.forecast.garch import horizon_sum


def loop_sum(next_variance: np.ndarray, omega: float, phi: float, horizon: int) -> np.ndarray:
    step = np.array(next_variance, dtype=float)
    total = step.copy()
    for _ in range(horizon - 1):
        step = omega + phi * step
        total += step
    return total


@pytest.mark.parametrize("phi", [0.0, 0.3, 0.9, 0.97, 0.999, 1 - 1e-7, 1.0, 1 + 1e-9, 1.02])
@pytest.mark.parametrize("horizon", [1, 2, 3, 5, 10, 30, 365])
def test_closed_form_matches_the_recursion(phi, horizon):
    s = np.array([1e-4, 4e-4, 2.5e-3, 0.0])
    omega = 2e-6
    got = horizon_sum(s, omega=omega, persistence=phi, horizon_days=horizon)
    np.testing.assert_allclose(got, loop_sum(s, omega, phi, horizon), rtol=1e-12, atol=0)


def test_long_run_form_by_hand():
    """φ = 0.5, ω = 1, σ²_{t+1} = 4, V_L = 2: σ²_{t+h} = 2 + 0.5^{h−1}·2 → 4, 3, 2.5 (sum 9.5 over 3 days)."""
    assert horizon_sum(np.array([4.0]), omega=1.0, persistence=0.5, horizon_days=3)[0] == pytest.approx(9.5)


def test_a_long_horizon_matches_the_long_run_variance_form():
    """No loop per day: H = 10⁶ days against ``H·V_L + (σ²_{t+1} − V_L)(1 − φ^H)/(1 − φ)``, V_L = ω/(1 − φ)."""
    omega, phi, horizon, s = 1e-6, 0.95, 1_000_000, 1e-3
    long_run = omega / (1 - phi)
    got = horizon_sum(np.array([s]), omega=omega, persistence=phi, horizon_days=horizon)[0]
    assert got == pytest.approx(horizon * long_run + (s - long_run) / (1 - phi), rel=1e-9)

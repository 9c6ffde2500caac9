"""Greeks of linear and inverse options in settlement units, against central finite differences of the
contract value (``unit_value``), which is an independent path through the pricer."""

from __future__ import annotations

import numpy as np
import pytest

from ccm.pricing.contracts import option_greeks, unit_value

F, TAU, VOL = 60_000.0, 0.25, 0.6
STRIKES = np.array([40_000.0, 55_000.0, 60_000.0, 65_000.0, 90_000.0])


def value(forward, *, inverse, is_call, tau=TAU, vol=VOL):
    n = STRIKES.shape[0]
    return unit_value(np.full(n, forward), is_option=np.ones(n, bool), inverse=np.full(n, inverse),
                      strike=STRIKES, tau=np.full(n, tau), vol=np.full(n, vol), is_call=np.full(n, is_call))


@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("is_call", [False, True])
def test_greeks_match_finite_differences(inverse, is_call):
    g = option_greeks(np.full(5, F), strike=STRIKES, tau=np.full(5, TAU), vol=np.full(5, VOL),
                      is_call=np.full(5, is_call), inverse=np.full(5, inverse))
    h = F * 1e-4
    up, mid, dn = (value(F + d, inverse=inverse, is_call=is_call) for d in (h, 0.0, -h))
    np.testing.assert_allclose(g["delta"], (up - dn) / (2 * h), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(g["gamma"], (up - 2 * mid + dn) / h**2, rtol=1e-4, atol=1e-14)
    dv = 1e-5
    vega = (value(F, inverse=inverse, is_call=is_call, vol=VOL + dv)
            - value(F, inverse=inverse, is_call=is_call, vol=VOL - dv)) / (2 * dv)
    np.testing.assert_allclose(g["vega"], vega, rtol=1e-6)
    dt = 1e-6
    theta = -(value(F, inverse=inverse, is_call=is_call, tau=TAU + dt)
              - value(F, inverse=inverse, is_call=is_call, tau=TAU - dt)) / (2 * dt)
    np.testing.assert_allclose(g["theta"], theta, rtol=1e-5)


def test_inverse_delta_is_the_deribit_delta_over_forward():
    """Deribit's coin delta (Black-76 delta − coin mark) is F × ∂V_coin/∂F."""
    g_lin = option_greeks(np.full(5, F), strike=STRIKES, tau=np.full(5, TAU), vol=np.full(5, VOL),
                          is_call=np.ones(5, bool), inverse=np.zeros(5, bool))
    g_inv = option_greeks(np.full(5, F), strike=STRIKES, tau=np.full(5, TAU), vol=np.full(5, VOL),
                          is_call=np.ones(5, bool), inverse=np.ones(5, bool))
    coin_mark = value(F, inverse=True, is_call=True)
    np.testing.assert_allclose(F * g_inv["delta"], g_lin["delta"] - coin_mark, rtol=1e-12)

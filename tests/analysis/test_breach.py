"""The analytic breach probability against independent references: the reflection-principle closed form, the
eigenfunction series of the driftless strip, and a plain Monte Carlo of Brownian paths with a fixed generator;
plus its invariants (monotonicity, distance 0 → 1, NaN → 0, the union bound)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from ccm.analysis.breach import analytic_breach_probability
from ccm.errors import InputError

NAN = float("nan")


def prob(down, up, vol, horizon, **kw) -> float:
    return float(analytic_breach_probability(np.array([down]), np.array([up]), vol, horizon, **kw)[0])


@pytest.mark.parametrize(("d", "vol", "h"), [(0.1, 0.04, 3.0), (0.3, 0.05, 1.0), (0.02, 0.03, 0.5), (0.6, 0.1, 30.0)])
def test_driftless_one_sided_is_the_reflection_principle(d, vol, h):
    s = vol * math.sqrt(h)
    assert prob(d, NAN, vol, h) == pytest.approx(2 * norm.cdf(math.log(1 - d) / s), rel=1e-12, abs=1e-300)
    assert prob(NAN, d, vol, h) == pytest.approx(2 * norm.cdf(-math.log(1 + d) / s), rel=1e-12, abs=1e-300)


def test_one_sided_with_drift_is_the_drifted_first_passage_formula():
    # Lower barrier a of X_t = μt + σW_t: Φ((a − μh)/s) + exp(2μa/σ²) Φ((a + μh)/s) (e.g. Shreve II, 7.2.1).
    d, vol, h = 0.15, 0.06, 4.0
    a, mu, s = math.log(1 - d), -0.5 * vol**2, vol * math.sqrt(h)
    expected = norm.cdf((a - mu * h) / s) + math.exp(2 * mu * a / vol**2) * norm.cdf((a + mu * h) / s)
    assert prob(d, NAN, vol, h, drift="martingale") == pytest.approx(expected, rel=1e-12)


def test_upper_barrier_with_drift_is_the_running_maximum_formula():
    # Upper barrier b of X_t = μt + σW_t: P(max_{t≤h} X ≥ b) = Φ((μh − b)/s) + exp(2μb/σ²) Φ((−b − μh)/s)
    # (Shreve II, 7.2.1 for the maximum); with μ = −σ²/2 the price is a martingale and the barrier is harder to reach.
    u, vol, h = 0.12, 0.05, 6.0
    b, mu, s = math.log(1 + u), -0.5 * vol**2, vol * math.sqrt(h)
    expected = norm.cdf((mu * h - b) / s) + math.exp(2 * mu * b / vol**2) * norm.cdf((-b - mu * h) / s)
    assert prob(NAN, u, vol, h, drift="martingale") == pytest.approx(expected, rel=1e-12)
    assert prob(NAN, u, vol, h, drift="martingale") < prob(NAN, u, vol, h)


def strip_survival_eigen(a: float, b: float, s: float, terms: int = 400) -> float:
    """Driftless Brownian motion from 0 staying in (a, b) up to variance s²: the eigenfunction series
    Σ_n (2/(nπ)) (1 − (−1)^n) sin(nπ(−a)/L) exp(−n²π²s²/(2L²)), L = b − a (Karlin & Taylor; Cox & Miller)."""
    width = b - a
    total = 0.0
    for n in range(1, terms + 1):
        total += (2 / (n * math.pi)) * (1 - (-1) ** n) * math.sin(n * math.pi * (-a) / width) \
            * math.exp(-(n * math.pi * s / width) ** 2 / 2)
    return total


@pytest.mark.parametrize(("down", "up", "vol", "h"), [(0.1, 0.1, 0.04, 3.0), (0.05, 0.2, 0.05, 5.0),
                                                       (0.3, 0.02, 0.06, 2.0), (0.5, 0.5, 0.2, 5.0),
                                                       (0.02, 0.03, 0.03, 1.0), (0.2, 0.3, 0.01, 0.25)])
def test_two_sided_driftless_matches_the_eigenfunction_series(down, up, vol, h):
    a, b = math.log(1 - down), math.log(1 + up)
    expected = 1 - strip_survival_eigen(a, b, vol * math.sqrt(h))
    assert prob(down, up, vol, h) == pytest.approx(expected, abs=1e-10)


def monte_carlo(down, up, vol, h, mu, *, rng, paths=40_000, steps=40) -> tuple[float, float]:
    """Plain Monte Carlo of X_t = μt + σW_t on a grid, with the Brownian-bridge probability of touching a barrier
    between two grid points, exp(−2 (x − c)(y − c)/(σ² dt)) (it does not depend on the drift), so that the
    estimate has no discretisation bias. Returns (estimate, standard error)."""
    dt = h / steps
    a = math.log(1 - down) if not math.isnan(down) else -math.inf
    b = math.log(1 + up) if not math.isnan(up) else math.inf
    x = np.zeros(paths)
    survive = np.ones(paths)
    for _ in range(steps):
        y = x + mu * dt + vol * math.sqrt(dt) * rng.standard_normal(paths)
        inside = (y > a) & (y < b)
        p_low = np.exp(-2 * (x - a) * (y - a) / (vol**2 * dt)) if math.isfinite(a) else 0.0
        p_high = np.exp(-2 * (b - x) * (b - y) / (vol**2 * dt)) if math.isfinite(b) else 0.0
        survive = survive * np.where(inside, (1 - p_low) * (1 - p_high), 0.0)
        x = y
    hit = 1 - survive
    return float(hit.mean()), float(hit.std() / math.sqrt(paths))


@pytest.mark.parametrize(("down", "up", "vol", "h"), [(0.1, 0.1, 0.04, 3.0), (0.3, 0.02, 0.06, 2.0),
                                                       (0.08, NAN, 0.05, 4.0), (0.5, 0.5, 0.2, 5.0)])
@pytest.mark.parametrize("drift", ["zero", "martingale"])
def test_matches_monte_carlo_of_brownian_paths(down, up, vol, h, drift):
    rng = np.random.default_rng(20260101)
    mu = 0.0 if drift == "zero" else -0.5 * vol**2
    estimate, se = monte_carlo(down, up, vol, h, mu, rng=rng)
    assert prob(down, up, vol, h, drift=drift) == pytest.approx(estimate, abs=4 * se + 1e-4)


def test_two_barriers_lie_between_the_larger_one_sided_probability_and_the_union_bound():
    rng = np.random.default_rng(5)
    down, up = rng.uniform(0.01, 0.6, 500), rng.uniform(0.01, 0.6, 500)
    vol = rng.uniform(0.01, 0.1, 500)
    both = analytic_breach_probability(down, up, vol, 7.0)
    low = analytic_breach_probability(down, np.full(500, np.nan), vol, 7.0)
    high = analytic_breach_probability(np.full(500, np.nan), up, vol, 7.0)
    assert np.all(both >= np.maximum(low, high) - 1e-12)
    assert np.all(both <= np.minimum(1.0, low + high) + 1e-12)


def test_monotone_in_distance_horizon_and_vol():
    d = np.linspace(0.01, 0.9, 60)
    up = np.full(60, 0.2)
    p = analytic_breach_probability(d, up, 0.05, 3.0)
    assert np.all(np.diff(p) <= 1e-15) and p[0] > p[-1]
    p = analytic_breach_probability(up, d, 0.05, 3.0)
    assert np.all(np.diff(p) <= 1e-15) and p[0] > p[-1]
    p = np.array([prob(0.1, 0.15, 0.04, h) for h in np.linspace(0.0, 60.0, 60)])
    assert np.all(np.diff(p) >= -1e-15) and p[-1] > p[0]
    p = analytic_breach_probability(np.full(60, 0.1), np.full(60, 0.15), np.linspace(0.0, 0.5, 60), 2.0)
    assert np.all(np.diff(p) >= -1e-15) and p[-1] > p[0]


def test_distance_zero_is_certain_and_nan_is_impossible():
    down = np.array([0.0, 0.2, np.nan, np.nan, 0.0, 1.0])
    up = np.array([0.3, 0.0, np.nan, 0.0, np.nan, np.nan])
    p = analytic_breach_probability(down, up, np.array([0.05, 0.05, 0.5, 0.0, 0.0, 0.5]), 0.0)
    np.testing.assert_array_equal(p, [1.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    p = analytic_breach_probability(down, up, 0.05, 10.0)
    np.testing.assert_array_equal(p, [1.0, 1.0, 0.0, 1.0, 1.0, 0.0])


def test_far_beyond_the_strip_the_probability_is_one_and_small_vol_gives_tiny_probabilities():
    assert prob(0.01, 0.01, 0.5, 10.0) == 1.0
    p = prob(0.5, 0.5, 0.001, 1.0)
    assert 0.0 <= p < 1e-100


def test_scalar_and_array_volatility_agree():
    down, up = np.array([0.1, 0.2, np.nan]), np.array([0.3, np.nan, 0.1])
    np.testing.assert_array_equal(analytic_breach_probability(down, up, 0.04, 2.0),
                                  analytic_breach_probability(down, up, np.full(3, 0.04), 2.0))


@pytest.mark.parametrize(("down", "up", "vol", "h", "field"), [
    (-0.1, 0.1, 0.05, 1.0, "distance_down"), (0.1, -0.2, 0.05, 1.0, "distance_up"),
    (0.1, 0.1, -0.05, 1.0, "vol_daily"), (0.1, 0.1, NAN, 1.0, "vol_daily"), (0.1, 0.1, 0.05, -1.0, "horizon_days"),
])
def test_bad_input_names_the_field(down, up, vol, h, field):
    with pytest.raises(InputError) as caught:
        prob(down, up, vol, h)
    assert caught.value.field == field


def test_unknown_drift_and_mismatched_shapes_are_refused():
    with pytest.raises(InputError):
        prob(0.1, 0.1, 0.05, 1.0, drift="up")
    with pytest.raises(InputError):
        analytic_breach_probability(np.zeros(2), np.zeros(3), 0.05, 1.0)


@pytest.mark.parametrize("k", [0.0, -0.5])
def test_image_and_eigenfunction_series_agree_with_drift(k):
    from ccm.analysis.breach import strip_survival_eigen, strip_survival_images

    rng = np.random.default_rng(9)
    a, b = np.log1p(-rng.uniform(0.01, 0.9, 400)), np.log1p(rng.uniform(0.01, 0.9, 400))
    s = (b - a) * rng.uniform(0.2, 1.5, 400)
    np.testing.assert_allclose(strip_survival_images(a, b, s, k), strip_survival_eigen(a, b, s, k), atol=1e-13)

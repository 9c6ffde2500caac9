"""Volatility forecasters against independent references: simulated GARCH data with known parameters, plain loop
recursions, the ``arch`` package's own filter and forecasts, closed forms, and no-look-ahead invariants."""

from __future__ import annotations

import numpy as np
import pytest
from arch import arch_model
from sklearn.base import clone

from ccm.analysis.forecast import (
    DailySeries,
    EwmaForecaster,
    GarchForecaster,
    GbmForecaster,
    forecast_volatility,
    garch_variance,
    har_features,
    make_forecaster,
    realised_variance,
)
from ccm.errors import InputError


def simulate_gjr(n: int, *, omega: float, alpha: float, beta: float, gamma: float = 0.0,
                 rng: np.random.Generator, burn: int = 500) -> np.ndarray:
    """Gaussian GJR-GARCH(1,1,1) returns by the textbook loop (σ² starts at its long-run level)."""
    z = rng.standard_normal(n + burn)
    x = np.empty(n + burn)
    s2 = omega / (1.0 - alpha - gamma / 2.0 - beta)
    for t in range(n + burn):
        x[t] = np.sqrt(s2) * z[t]
        s2 = omega + (alpha + gamma * (x[t] < 0)) * x[t] ** 2 + beta * s2
    return x[burn:]


def loop_ewma(x: np.ndarray, lam: float, seed_window: int = 30) -> np.ndarray:
    out = [float(np.mean(x[:seed_window] ** 2))]
    for r in x:
        out.append(lam * out[-1] + (1 - lam) * r * r)
    return np.array(out)


@pytest.fixture(scope="module")
def garch_sample() -> np.ndarray:
    return simulate_gjr(10_000, omega=2e-5, alpha=0.10, beta=0.85, rng=np.random.default_rng(20240611))


def test_garch_recovers_known_parameters(garch_sample):
    # n = 10,000: arch's robust standard errors on such samples are ≈ 0.008 for α, ≈ 0.012 for β and ≈ 12 % of ω
    # (checked on several seeds); the tolerances are about 4 standard errors.
    model = GarchForecaster().fit(garch_sample)
    assert model.alpha_ == pytest.approx(0.10, abs=0.03)
    assert model.beta_ == pytest.approx(0.85, abs=0.05)
    assert model.omega_ == pytest.approx(2e-5, rel=0.5)
    assert model.persistence_ == pytest.approx(0.95, abs=0.02)
    assert model.gamma_ == 0.0
    assert model.long_run_variance_ == pytest.approx(2e-5 / 0.05, rel=0.25)


def test_gjr_recovers_the_leverage_term():
    x = simulate_gjr(10_000, omega=2e-5, alpha=0.05, beta=0.85, gamma=0.10, rng=np.random.default_rng(7))
    model = GarchForecaster(asymmetric=True).fit(x)
    # standard errors ≈ 0.008 (α), 0.011 (γ), 0.011 (β) at this size
    assert model.alpha_ == pytest.approx(0.05, abs=0.03)
    assert model.gamma_ == pytest.approx(0.10, abs=0.045)
    assert model.beta_ == pytest.approx(0.85, abs=0.045)


def test_fit_returns_self_and_learned_state_ends_in_underscore(garch_sample):
    for name in ("ewma", "garch", "gjr", "gbm"):
        model = make_forecaster(name, horizon_days=2)
        assert not [k for k in vars(model) if k.endswith("_")]
        assert model.fit(garch_sample[:1500]) is model
        assert [k for k in vars(model) if k.endswith("_")]
        assert clone(model).get_params() == model.get_params()


@pytest.mark.parametrize("gamma", [0.0, 0.08])
def test_garch_filter_matches_a_plain_loop_and_arch(garch_sample, gamma):
    x = garch_sample[:3000]
    omega, alpha, beta, start = 3e-5, 0.09, 0.86, 4e-4
    loop = [omega + (alpha + gamma / 2 + beta) * start]
    for r in x:
        loop.append(omega + (alpha + gamma * (r < 0)) * r * r + beta * loop[-1])
    assert garch_variance(x, omega=omega, alpha=alpha, beta=beta, gamma=gamma, start=start) == \
        pytest.approx(np.array(loop), rel=1e-12)
    fitted = GarchForecaster(asymmetric=gamma > 0).fit(x)
    res = arch_model(100 * x, mean="Zero", vol="GARCH", p=1, o=int(gamma > 0), q=1, rescale=False).fit(disp="off")
    ours = fitted.predict_variance(x)
    assert ours[:-1] == pytest.approx(np.asarray(res.conditional_volatility) ** 2 / 1e4, rel=1e-9)


@pytest.mark.parametrize("asymmetric", [False, True])
def test_garch_multi_day_forecast_matches_arch_and_the_closed_form(garch_sample, asymmetric):
    x = garch_sample[:2000]
    h = 10
    model = GarchForecaster(horizon_days=h, asymmetric=asymmetric).fit(x)
    res = arch_model(100 * x, mean="Zero", vol="GARCH", p=1, o=int(asymmetric), q=1, rescale=False).fit(disp="off")
    arch_path = res.forecast(horizon=h, reindex=False).variance.to_numpy()[-1] / 1e4
    assert model.predict_variance(x)[-1] == pytest.approx(arch_path.sum(), rel=1e-8)
    # Σ_h [σ̄² + φ^(h−1) (σ²_{n} − σ̄²)]
    one_day = GarchForecaster(asymmetric=asymmetric).fit(x).predict_variance(x)[-1]
    phi, lr = model.persistence_, model.long_run_variance_
    assert model.predict_variance(x)[-1] == pytest.approx(h * lr + (one_day - lr) * (1 - phi**h) / (1 - phi), rel=1e-10)


def test_ewma_forecaster_matches_a_plain_loop(garch_sample):
    x = garch_sample[:800]
    for lam in (0.94, 0.97):
        model = EwmaForecaster(horizon_days=5, lam=lam).fit(x)
        assert model.predict_variance(x) == pytest.approx(5 * loop_ewma(x, lam), rel=1e-12)


def test_realised_variance_and_har_features_by_hand():
    x = np.array([0.01, -0.02, 0.03, 0.0, -0.01, 0.02])
    assert realised_variance(x, 3) == pytest.approx([0.0014, 0.0013, 0.0010, 0.0005])
    assert realised_variance(x, 7).shape == (0,)
    features, names = har_features(DailySeries(returns=x))
    assert names == ("rv_1d", "rv_5d", "rv_22d")
    assert features.shape == (7, 3)
    assert np.isnan(features[0, 0]) and features[1, 0] == pytest.approx(1e-4)
    assert features[5, 1] == pytest.approx((1 + 4 + 9 + 0 + 1) * 1e-4 / 5)
    assert features[6, 1] == pytest.approx((4 + 9 + 0 + 1 + 4) * 1e-4 / 5)
    assert np.isnan(features[:, 2]).all()  # fewer than 22 days


def test_har_features_use_intraday_realised_variance_and_lag_side_information():
    x = np.array([0.01, -0.02, 0.03])
    rv = np.array([2e-4, np.nan, 5e-4])
    extra = np.array([[1.0], [2.0], [3.0]])
    features, names = har_features(DailySeries(returns=x, realised=rv, extra=extra, extra_names=("funding",)))
    assert names[-1] == "funding"
    assert features[1:, 0] == pytest.approx([2e-4, 4e-4, 5e-4])  # the missing intraday day filled by x²
    assert np.isnan(features[0, 3]) and features[1:, 3] == pytest.approx([1.0, 2.0, 3.0])  # day t−1 at origin t


@pytest.mark.parametrize("name", ["ewma", "garch", "gjr", "gbm"])
def test_forecasts_do_not_look_ahead(garch_sample, name):
    x = garch_sample[:1500]
    model = make_forecaster(name, horizon_days=3).fit(x[:1200])
    changed = x.copy()
    changed[1300:] *= 5.0
    a, b = model.predict_variance(x), model.predict_variance(changed)
    assert a[:1301] == pytest.approx(b[:1301], rel=1e-12)  # origins ≤ 1300 have not seen the change
    assert not np.allclose(a[1301:], b[1301:])


def test_gbm_beats_a_constant_forecast_on_garch_data(garch_sample):
    from ccm.analysis.forecast import qlike

    x = garch_sample[:4000]
    model = GbmForecaster().fit(x[:3000])
    realised = realised_variance(x, 1)[3000:]
    forecast = model.predict_variance(x)[3000:4000]
    keep = realised > 0
    constant = np.full(keep.sum(), np.mean(x[:3000] ** 2))
    assert qlike(realised[keep], forecast[keep]) < qlike(realised[keep], constant) - 0.02


def test_forecast_volatility_units_and_shapes(garch_sample):
    x = garch_sample[:1000]
    prices = 100 * np.exp(np.concatenate([[0.0], np.cumsum(x)]))
    expected = np.sqrt(loop_ewma(x, 0.94)[-1])
    assert forecast_volatility(prices, model="ewma", horizon_days=7) == pytest.approx(expected, rel=1e-9)
    assert forecast_volatility(x, model="ewma", kind="returns") == pytest.approx(expected, rel=1e-9)
    both = forecast_volatility(np.column_stack([prices, prices**2]), model="ewma")
    assert both.shape == (2,) and both == pytest.approx([expected, 2 * expected], rel=1e-9)
    fitted = GarchForecaster().fit(x)
    h = 2000
    far = forecast_volatility(x, model="garch", horizon_days=h, kind="returns")
    # V_H = H σ̄² + (σ²_{n+1} − σ̄²)(1 − φ^H)/(1 − φ), averaged over H days
    phi, lr, now = fitted.persistence_, fitted.long_run_variance_, fitted.predict_variance(x)[-1]
    assert far == pytest.approx(np.sqrt(lr + (now - lr) * (1 - phi**h) / ((1 - phi) * h)), rel=1e-9)
    assert far == pytest.approx(np.sqrt(lr), rel=0.02)  # long horizons → long-run vol


def test_bad_inputs_raise_located_errors(garch_sample):
    with pytest.raises(InputError, match="> 0"):
        forecast_volatility(garch_sample[:200])  # returns passed as prices
    with pytest.raises(InputError, match="unknown volatility model"):
        make_forecaster("arima")
    with pytest.raises(InputError, match="horizon"):
        GarchForecaster(horizon_days=0).fit(garch_sample)
    with pytest.raises(InputError, match="at least"):
        GarchForecaster().fit(garch_sample[:50])
    with pytest.raises(InputError, match="finite"):
        DailySeries(returns=np.array([0.01, np.nan]))
    with pytest.raises(InputError, match="shape"):
        DailySeries(returns=np.zeros(3), extra=np.zeros((2, 1)), extra_names=("f",))

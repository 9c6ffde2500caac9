"""VaR / ES margin against independent references: a plain sort of hand-computed window losses (historical),
the closed forms z σ √h · exposure and σ φ(z) / (1 − c) (parametric, delta-normal), a hand-written EWMA loop
(filtered), and the anti-procyclicality rules applied by hand."""

from __future__ import annotations

import math
import statistics
from statistics import NormalDist

import numpy as np
import pytest

from ccm.book import Account, Position
from ccm.errors import InputError
from ccm.risk.margin.var import MarketHistory, VarParams, var_requirement
from tests.reference.builders import AS_OF, config, option, perp
from tests.reference.harness import engine_context

BTC, ETH = 60_000.0, 3_000.0
Q_BTC, Q_ETH = 2.0, -30.0


def _history(n: int = 400, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Two correlated daily log-return series, heavier tails in the first 100 days; prices start at 1."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 2))
    x = np.column_stack([0.03 * z[:, 0], 0.04 * (0.7 * z[:, 0] + math.sqrt(1 - 0.49) * z[:, 1])])
    x[:100] *= 3.0
    prices = np.exp(np.vstack([np.zeros((1, 2)), np.cumsum(x, axis=0)]))
    return x, prices


@pytest.fixture(scope="module")
def ctx():
    ins = [perp("BTC"), perp("ETH"), option("BTC", 30, 55_000, False)]
    accounts = [
        Account(id="long-btc", collateral={"USDC": 50_000.0},
                positions=(Position(instrument=ins[0].id, quantity=Q_BTC, entry_price=58_000.0),)),
        Account(id="spread", collateral={"USDC": 50_000.0},
                positions=(Position(instrument=ins[0].id, quantity=Q_BTC),
                           Position(instrument=ins[1].id, quantity=Q_ETH))),
        Account(id="empty", collateral={"USDC": 1_000.0}),
        Account(id="short-put", collateral={"USDC": 50_000.0},
                positions=(Position(instrument=ins[2].id, quantity=-1.0),)),
    ]
    return engine_context(ins, accounts, {"BTC": BTC, "ETH": ETH, "USDC": 1.0}, {ins[2].id: 0.6}, AS_OF, config())


def _window_losses(x: np.ndarray, h: int, exposure: np.ndarray) -> list[float]:
    """Loss of a linear book (USD exposure per asset) over every overlapping h-day window, by plain loops."""
    losses = []
    for k in range(len(x) - h + 1):
        moves = [math.exp(sum(x[k + j, a] for j in range(h))) - 1.0 for a in range(x.shape[1])]
        losses.append(-sum(e * m for e, m in zip(exposure, moves, strict=True)))
    return losses


def _plain_var_es(losses: list[float], c: float) -> tuple[float, float]:
    ordered = sorted(losses)
    k = math.ceil(c * len(ordered) - 1e-9)
    tail = ordered[k:]
    return ordered[k - 1], (sum(tail) / len(tail) if tail else ordered[k - 1])


HISTORY = MarketHistory(assets=("BTC", "ETH"), prices=_history()[1])


@pytest.mark.parametrize("c,h", [(0.99, 2), (0.975, 1), (0.95, 5)])
def test_historical_var_and_es_equal_the_plain_sort(ctx, c, h):
    x = _history()[0]
    lookback = 300
    var = var_requirement(ctx, HISTORY, VarParams(confidence=c, mpor_days=h, lookback_days=lookback))
    es = var_requirement(ctx, HISTORY, VarParams(confidence=c, mpor_days=h, lookback_days=lookback, measure="es"))
    recent = x[-lookback:]
    for row, exposure in ((0, [Q_BTC * BTC, 0.0]), (1, [Q_BTC * BTC, Q_ETH * ETH])):
        want_var, want_es = _plain_var_es(_window_losses(recent, h, exposure), c)
        assert var.initial[row] == pytest.approx(want_var, rel=1e-10)
        assert es.initial[row] == pytest.approx(want_es, rel=1e-10)
        assert es.initial[row] >= var.initial[row]
    assert var.initial[2] == 0.0 and var.maintenance[2] == 0.0  # no position, no margin
    np.testing.assert_array_equal(var.maintenance, var.initial)  # maintenance_ratio 1


def test_single_position_driver_is_the_var(ctx):
    req = var_requirement(ctx, HISTORY, VarParams())
    # positions are stored row by row: long-btc's only position first
    assert req.position_driver[0] == pytest.approx(req.initial[0], rel=1e-10)
    assert req.position_driver[-1] == pytest.approx(req.initial[3], rel=1e-9)  # the short put alone
    assert req.balance_driver.shape == (ctx.book.balances.nnz,)


def test_short_put_var_is_full_revaluation(ctx):
    """The put is repriced (Black-76, vol held): its VaR equals the plain sort of repriced losses."""
    from ccm.pricing.black76 import black76_price

    x = _history()[0][-365:]
    req = var_requirement(ctx, HISTORY, VarParams(lookback_days=365))
    tau = ctx.market.tau[2]
    forward = ctx.market.forward[2]
    base = float(black76_price(forward, 55_000.0, tau, 0.6, False))
    losses = []
    for k in range(len(x) - 1):
        moved = forward * math.exp(x[k, 0] + x[k + 1, 0])
        losses.append(float(black76_price(moved, 55_000.0, tau, 0.6, False)) - base)  # short 1 put
    assert req.initial[3] == pytest.approx(_plain_var_es(losses, 0.99)[0], rel=1e-8)


@pytest.mark.parametrize("c,h", [(0.99, 2), (0.95, 10)])
def test_parametric_matches_the_normal_closed_form(ctx, c, h):
    x = _history()[0][-250:]
    params = VarParams(method="parametric", covariance="sample", confidence=c, mpor_days=h, lookback_days=250)
    var = var_requirement(ctx, HISTORY, params).initial
    es = var_requirement(ctx, HISTORY, VarParams(method="parametric", covariance="sample", confidence=c,
                                                 mpor_days=h, lookback_days=250, measure="es")).initial
    s1, s2 = statistics.stdev(x[:, 0]), statistics.stdev(x[:, 1])
    rho = statistics.correlation(list(x[:, 0]), list(x[:, 1]))
    z = NormalDist().inv_cdf(c)
    # one position: z σ √h · exposure
    sigma_long = s1 * math.sqrt(h) * Q_BTC * BTC
    assert var[0] == pytest.approx(z * sigma_long, rel=1e-7)
    assert es[0] == pytest.approx(sigma_long * NormalDist().pdf(z) / (1 - c), rel=1e-7)
    # two correlated positions: σ² = a²σ1² + b²σ2² + 2abρσ1σ2
    a, b = Q_BTC * BTC, Q_ETH * ETH
    sigma_spread = math.sqrt((a * s1) ** 2 + (b * s2) ** 2 + 2 * a * b * rho * s1 * s2) * math.sqrt(h)
    assert var[1] == pytest.approx(z * sigma_spread, rel=1e-7)
    assert var[2] == 0.0


def test_parametric_ewma_uses_the_riskmetrics_recursion(ctx):
    x = _history()[0][-200:, 0]
    var = var_requirement(ctx, HISTORY, VarParams(method="parametric", lookback_days=200, ewma_lambda=0.94)).initial
    s2 = sum(r * r for r in x[:30]) / 30  # seed: mean square of the first 30 returns
    for r in x:
        s2 = 0.94 * s2 + 0.06 * r * r
    assert var[0] == pytest.approx(NormalDist().inv_cdf(0.99) * math.sqrt(2 * s2) * Q_BTC * BTC, rel=1e-7)


def test_filtered_hs_rescales_returns_to_todays_ewma_vol(ctx):
    lookback, lam = 200, 0.94
    x = _history()[0][-lookback:]
    var = var_requirement(ctx, HISTORY, VarParams(method="filtered", lookback_days=lookback,
                                                  ewma_lambda=lam)).initial
    filtered = np.empty_like(x)
    for a in range(2):
        s2 = sum(r * r for r in x[:30, a]) / 30
        sig = []
        for r in x[:, a]:
            sig.append(math.sqrt(s2))
            s2 = lam * s2 + (1 - lam) * r * r
        now = math.sqrt(s2)
        filtered[:, a] = [r * now / s for r, s in zip(x[:, a], sig, strict=True)]
    want = _plain_var_es(_window_losses(filtered, 2, [Q_BTC * BTC, Q_ETH * ETH]), 0.99)[0]
    assert var[1] == pytest.approx(want, rel=1e-9)


def test_apc_buffer_floor_and_stressed_weight(ctx):
    x = _history()[0]
    exposure = [Q_BTC * BTC, 0.0]
    plain = var_requirement(ctx, HISTORY, VarParams(lookback_days=200)).initial[0]
    recent = _plain_var_es(_window_losses(x[-200:], 2, exposure), 0.99)[0]
    assert plain == pytest.approx(recent, rel=1e-10)
    buffered = var_requirement(ctx, HISTORY, VarParams(lookback_days=200, buffer=0.25)).initial[0]
    assert buffered == pytest.approx(1.25 * recent, rel=1e-12)
    # floor over the whole 400 days: the volatile first 100 days push it above the recent figure
    floored = var_requirement(ctx, HISTORY, VarParams(lookback_days=200, floor_lookback_days=3650)).initial[0]
    whole = _plain_var_es(_window_losses(x, 2, exposure), 0.99)[0]
    assert whole > recent
    assert floored == pytest.approx(whole, rel=1e-10)
    # stressed weight: the 80-day window with the largest mean square return, by a plain scan
    w = 80
    mean_sq = [sum((x[j + i, 0] ** 2 + x[j + i, 1] ** 2) / 2 for i in range(w)) for j in range(len(x) - w + 1)]
    j = max(range(len(mean_sq)), key=mean_sq.__getitem__)
    stressed = _plain_var_es(_window_losses(x[j:j + w], 2, exposure), 0.99)[0]
    blended = var_requirement(ctx, HISTORY, VarParams(lookback_days=200, stressed_weight=0.25,
                                                      stressed_window_days=w)).initial[0]
    assert blended == pytest.approx(0.75 * recent + 0.25 * stressed, rel=1e-9)


def test_bad_parameters_and_short_history_raise_input_errors(ctx):
    for bad in (dict(confidence=1.0), dict(method="montecarlo"), dict(mpor_days=0), dict(buffer=-0.1),
                dict(stressed_weight=1.5), dict(measure="cvar")):
        with pytest.raises(InputError):
            VarParams(**bad)
    with pytest.raises(InputError, match="at least 3 daily prices"):
        var_requirement(ctx, MarketHistory(assets=("BTC",), prices=np.array([[1.0], [1.1]])), VarParams())


@pytest.mark.parametrize("h", [1, 4])
def test_parametric_driver_is_the_loss_at_the_most_likely_var_point(ctx, h):
    """One linear position: the most likely point of the h-day VaR ellipsoid is the log return −z σ √h (against
    the position), so its driver is Q F (1 − e^{−z σ √h}) — a √h error in the point would move it."""
    x = _history()[0][-250:, 0]
    req = var_requirement(ctx, HISTORY, VarParams(method="parametric", covariance="sample", mpor_days=h,
                                                  lookback_days=250))
    move = NormalDist().inv_cdf(0.99) * statistics.stdev(x) * math.sqrt(h)
    assert req.position_driver[0] == pytest.approx(Q_BTC * BTC * (1 - math.exp(-move)), rel=1e-7)


def test_inverse_perp_var_is_the_coin_pnl_valued_at_the_moved_price():
    """Long q USD of an inverse perp: coin P&L q (1/F − 1/F') valued at F' is q (F'/F − 1) USD, so the window
    losses are q (1 − e^{Σ x}), whatever the entry price (the position is struck at today's mark)."""
    ins = [perp("BTC", inverse=True)]
    q = 120_000.0
    acc = Account(id="inv", collateral={"BTC": 1.0},
                  positions=(Position(instrument=ins[0].id, quantity=q, entry_price=30_000.0),))
    inv = engine_context(ins, [acc], {"BTC": BTC, "USDC": 1.0}, {}, AS_OF, config())
    x = _history()[0][-300:, :1]
    req = var_requirement(inv, MarketHistory(assets=("BTC",), prices=_history()[1][:, :1]),
                          VarParams(lookback_days=300))
    losses = [-q * (math.exp(x[k, 0] + x[k + 1, 0]) - 1.0) for k in range(len(x) - 1)]
    assert req.initial[0] == pytest.approx(_plain_var_es(losses, 0.99)[0], rel=1e-10)

"""Features, labels and the learned breach model: exposures against finite differences of the engine's equity,
labels against the timeline's first breaches, the pipeline end to end on a tiny synthetic set, and the
calibration scores against hand computations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ccm.analysis.breach_features import account_features, asset_exposures, dominant_asset, feature_names
from ccm.analysis.breach_labels import BreachDataset, label_windows, simulate_prices, vol_daily_path
from ccm.analysis.breach_model import BreachClassifier, calibration_report
from ccm.analysis.timeline import ContextStepEvaluator
from ccm.errors import InputError
from ccm.io.book import load_book
from ccm.io.config import load_config
from ccm.io.market import load_market
from ccm.pricing.market_state import resolve_market
from ccm.risk.context import RiskContext, account_equity
from ccm.risk.coverage import compute_coverage
from ccm.synthetic import generate_venue

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def example_ctx() -> RiskContext:
    book = load_book(ROOT / "examples" / "book.json")
    snapshot = load_market(ROOT / "examples" / "market.json")
    return RiskContext.build(book, resolve_market(snapshot, book.assets, book.instruments), load_config(None))


def test_net_delta_is_the_derivative_of_equity_under_a_uniform_move(example_ctx):
    ctx = example_ctx
    eps = 1e-5
    n = ctx.n_accounts
    up = account_equity(ctx, np.full(n, eps)).equity
    down = account_equity(ctx, np.full(n, -eps)).equity
    derivative = (up - down) / (2 * eps)
    exposure = asset_exposures(ctx)
    np.testing.assert_allclose(exposure.net_delta.sum(axis=1), derivative, rtol=1e-5, atol=1e-3)
    stable = ~ctx.moving
    assert np.all(exposure.net_delta[:, stable] == 0) and np.all(exposure.gross[:, stable] == 0)


def test_dominant_asset_of_single_asset_accounts(example_ctx):
    ctx = example_ctx
    dom = dominant_asset(asset_exposures(ctx), ctx.moving)
    ids = list(ctx.book.account_ids)
    assets = ctx.book.assets
    assert assets[dom[ids.index("trader-eth-short")]] == "ETH"
    assert assets[dom[ids.index("trader-btc-long")]] == "BTC"
    assert dom[ids.index("idle")] == -1


def test_feature_matrix_shape_and_names(example_ctx):
    ctx = example_ctx
    result = compute_coverage(ctx)
    vols = np.where(ctx.moving, 0.03, np.nan)
    x = account_features(ctx, result, vols)
    names = feature_names(ctx.book.assets, ctx.moving)
    assert x.shape == (ctx.n_accounts, len(names)) and len(set(names)) == len(names)
    np.testing.assert_array_equal(x[:, names.index("distance_down")], result.distance_down)
    assert "net_delta_BTC" in names and "net_delta_USDC" not in names


@pytest.fixture(scope="module")
def tiny():
    """A 60-account venue and a 24-day path of two sharp swings (BTC, ETH, SOL)."""
    venue = generate_venue(60, rng=np.random.default_rng(11))
    book = venue.columns.build()
    rng = np.random.default_rng(3)
    cov = np.diag([0.04, 0.05, 0.07]) ** 2
    prices = simulate_prices(np.array([50_000.0, 3_000.0, 150.0]), cov, 23, rng=rng, regime_sd=0.0)
    stamps = np.datetime64("2024-01-01", "s") + np.arange(24) * np.timedelta64(1, "D")
    return book, venue.market, load_config(None), stamps, prices


def test_labels_agree_with_the_timelines_first_breaches(tiny):
    book, market, config, stamps, prices = tiny
    assets = ("BTC", "ETH", "SOL")
    horizon = 4
    data = label_windows(book, market, config, stamps, prices, assets, vol_daily_path(prices, 1.0),
                         horizon_steps=horizon, stride_steps=5, segment_steps=10)
    assert data.n_rows > 0 and data.features.shape == (data.n_rows, len(data.feature_names))
    # Second route, plainly: price each step of the window with the context evaluator and apply the definition
    # (adjusted equity < 0, or < maintenance margin where there is a requirement).
    evaluator = ContextStepEvaluator(book, market, config)
    where = [book.assets.index(a) for a in assets]
    positives = 0
    for seg0, t0 in ((0, 0), (0, 5), (10, 10), (10, 15)):
        here = data.window_start == stamps[t0]
        rows = data.account_row[here]
        moved = np.array([market.index[a] for a in assets]) * prices[t0:t0 + horizon + 1] / prices[seg0]
        breached = []
        for step in moved:
            prices_now = evaluator.asset_prices.copy()
            prices_now[where] = step
            values = evaluator(prices_now)
            ae, mm = values.adjusted_equity, values.maintenance_margin
            breached.append((ae < 0) | ((mm > 1e-9) & (ae < mm)))
        breached = np.array(breached)
        assert not breached[0, rows].any()
        expected = breached[1:, rows].any(axis=0)
        np.testing.assert_array_equal(data.label[here], expected)
        positives += int(expected.sum())
    assert positives > 0


def test_learned_pipeline_end_to_end(tiny):
    book, market, config, stamps, prices = tiny
    assets = ("BTC", "ETH", "SOL")
    vols = vol_daily_path(prices, 1.0)
    data = label_windows(book, market, config, stamps, prices, assets, vols, horizon_steps=3, stride_steps=2,
                         segment_steps=8)
    labels = data.label.copy()
    if labels.all() or not labels.any():  # the pipeline, not the market, is under test here
        labels[: labels.size // 2] = ~labels[: labels.size // 2]
    model = BreachClassifier(max_iter=20, min_samples_leaf=5).fit(data.features, labels, data.feature_names)
    p = model.predict_proba(data.features, data.feature_names)
    assert p.shape == (data.n_rows,) and np.all((p >= 0) & (p <= 1))
    report = calibration_report(labels, p, n_bins=5)
    assert report.n == data.n_rows and 0 <= report.brier <= 1
    with pytest.raises(InputError):
        model.predict_proba(data.features, tuple(reversed(data.feature_names)))
    # a label that is a plain rule of one feature is learned: ranked almost perfectly on its training rows
    names = data.feature_names
    column = np.nan_to_num(data.features[:, names.index("coverage_ratio")], nan=np.inf)
    rule = column < np.median(column)
    learned = BreachClassifier(max_iter=50, min_samples_leaf=5).fit(data.features, rule, names)
    assert calibration_report(rule, learned.predict_proba(data.features, names)).auc > 0.95
    both = BreachDataset.concat([data, data.subset(data.label)])
    assert both.n_rows == data.n_rows + int(data.label.sum())


def test_classifier_refuses_one_class_and_unfitted_use():
    x = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(InputError):
        BreachClassifier().fit(x, np.zeros(50, dtype=bool))
    with pytest.raises(InputError):
        BreachClassifier().predict_proba(x)


def test_calibration_scores_by_hand():
    y = np.array([0, 0, 1, 1, 0, 1, 0, 0], dtype=bool)
    p = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.05, 0.6])
    report = calibration_report(y, p, n_bins=2)
    assert report.brier == pytest.approx(np.mean((p - y) ** 2))
    # AUC = share of (positive, negative) pairs ranked correctly (Mann–Whitney).
    pairs = [(a, b) for a in p[y] for b in p[~y]]
    assert report.auc == pytest.approx(sum(a > b for a, b in pairs) / len(pairs))
    assert report.base_rate == pytest.approx(3 / 8)
    assert report.brier_skill == pytest.approx(1 - report.brier / (3 / 8 * 5 / 8))
    # reliability, two quantile bins split at the median 0.375: {0.05, 0.1, 0.2, 0.35} with one positive,
    # {0.4, 0.6, 0.8, 0.9} with two
    np.testing.assert_allclose(report.prob_pred, [(0.05 + 0.1 + 0.2 + 0.35) / 4, (0.4 + 0.6 + 0.8 + 0.9) / 4])
    np.testing.assert_allclose(report.prob_true, [1 / 4, 2 / 4])


def test_vol_path_of_alternating_returns_is_exact():
    r = 0.02
    steps = np.where(np.arange(60) % 2 == 0, r, -r)
    prices = 100 * np.exp(np.concatenate([[0.0], np.cumsum(steps)]))[:, None]
    np.testing.assert_allclose(vol_daily_path(prices, 1.0), r, rtol=1e-12)
    np.testing.assert_allclose(vol_daily_path(prices, 1 / 12), r * np.sqrt(12), rtol=1e-12)


def test_simulated_paths_have_the_given_covariance():
    cov = np.array([[0.0016, 0.0012], [0.0012, 0.0025]])
    path = simulate_prices(np.array([100.0, 10.0]), cov, 40_000, rng=np.random.default_rng(1), regime_sd=0.0)
    assert path.shape == (40_001, 2) and np.all(path[0] == [100.0, 10.0])
    np.testing.assert_allclose(np.cov(np.diff(np.log(path), axis=0), rowvar=False), cov, rtol=0.06)

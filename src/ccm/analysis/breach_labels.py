"""Labelled windows for the breach models: replay price paths through the book and record, for each account
covered at a window's start, its features then and whether coverage fell below 1 within the horizon
(numpy only, no I/O).

A path (real history or simulated) is cut into *segments* of ``segment_steps``; each segment starts from the
snapshot again and applies the path as relative moves from the segment's first step (as ``ccm replay`` does
with ``--relative``), so the book never drifts years away from a realistic state. Inside a segment a window
starts every ``stride_steps``: the features (coverage, distances, exposures, the EWMA volatility forecast made
with the returns *before* the window) are taken at the market moved to the window's start, and the label is
"status liquidation or bankrupt (coverage < 1) at any of the next ``horizon_steps`` steps", exactly as
``ccm.analysis.timeline`` counts a breach. Only accounts with a requirement and coverage ≥ 1 at the start enter
a window (the others are either breached already or cannot breach).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ccm._typing import BoolArray, FloatArray, IntArray
from ccm.analysis.breach_features import account_features, feature_names
from ccm.analysis.timeline import BREACH, ContextStepEvaluator, relative_path, run_timeline
from ccm.book.book import Book
from ccm.errors import InputError
from ccm.market.snapshot import MarketSnapshot
from ccm.risk.config import RiskConfig
from ccm.risk.coverage import coverage_parts
from ccm.scenario.ewma_filter import DEFAULT_LAMBDA, ewma_variance, log_returns


@dataclass(frozen=True, slots=True, kw_only=True)
class BreachDataset:
    """N labelled (window, account) rows.

    Attributes
    ----------
    features : (N, F), columns ``feature_names`` (``breach_features.account_features``).
    label : bool (N,), coverage < 1 at some step within the horizon.
    window_start : datetime64[s] (N,), the window's first step (features are as of then).
    account_row : int (N,), row in the book.
    distance_down, distance_up, vol_daily : (N,), the analytic model's inputs (also among the features).
    """

    feature_names: tuple[str, ...]
    features: FloatArray
    label: BoolArray
    window_start: np.ndarray
    account_row: IntArray
    distance_down: FloatArray
    distance_up: FloatArray
    vol_daily: FloatArray

    @property
    def n_rows(self) -> int:
        return int(self.label.shape[0])

    def subset(self, mask: BoolArray) -> BreachDataset:
        """The rows where ``mask`` (N,) is True."""
        return BreachDataset(feature_names=self.feature_names, features=self.features[mask], label=self.label[mask],
                             window_start=self.window_start[mask], account_row=self.account_row[mask],
                             distance_down=self.distance_down[mask], distance_up=self.distance_up[mask],
                             vol_daily=self.vol_daily[mask])

    @classmethod
    def concat(cls, parts: Sequence[BreachDataset]) -> BreachDataset:
        """Rows of every part, in order (same feature names)."""
        if not parts:
            raise ValueError("nothing to concatenate")
        names = parts[0].feature_names
        if any(p.feature_names != names for p in parts):
            raise ValueError("datasets with different features")
        return cls(feature_names=names, features=np.concatenate([p.features for p in parts]),
                   label=np.concatenate([p.label for p in parts]),
                   window_start=np.concatenate([p.window_start for p in parts]),
                   account_row=np.concatenate([p.account_row for p in parts]),
                   distance_down=np.concatenate([p.distance_down for p in parts]),
                   distance_up=np.concatenate([p.distance_up for p in parts]),
                   vol_daily=np.concatenate([p.vol_daily for p in parts]))


def vol_daily_path(prices: FloatArray, step_days: float, lam: float = DEFAULT_LAMBDA) -> FloatArray:
    """EWMA volatility forecast at every step, as a daily volatility, shape (T, k) for prices (T, k).

    Row t is the forecast for the return from step t to t + 1 made with the returns before t (no look-ahead);
    per-step variance is scaled to a day by ``1 / step_days`` (square-root-of-time).
    """
    variance = ewma_variance(log_returns(prices), lam)  # (T, k): row t = forecast for return t
    return np.sqrt(variance / step_days)


def simulate_prices(start: FloatArray, cov_daily: FloatArray, n_steps: int, *, rng: np.random.Generator,
                    step_days: float = 1.0, regime_sd: float = 0.5, df: float = 4.0) -> FloatArray:
    """A simulated price path, shape (n_steps + 1, k), starting at ``start`` (k,).

    Log returns are multivariate Student-t (``df`` > 2, scaled to unit variance) with covariance
    ``cov_daily × step_days`` multiplied by one volatility regime for the whole path, exp(``regime_sd`` × N(0, 1))
    squared, so that paths range from calm to crisis. Zero drift in log price.
    """
    start = np.asarray(start, dtype=float)
    chol = np.linalg.cholesky(np.asarray(cov_daily, dtype=float) * step_days)
    scale = np.exp(regime_sd * rng.standard_normal())
    z = rng.standard_t(df, size=(n_steps, start.shape[0])) / np.sqrt(df / (df - 2.0))
    steps = scale * z @ chol.T
    return start[None, :] * np.exp(np.vstack([np.zeros((1, start.shape[0])), np.cumsum(steps, axis=0)]))


def label_windows(
    book: Book,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    timestamps: np.ndarray,
    prices: FloatArray,
    assets: Sequence[str],
    vol_daily: FloatArray,
    *,
    horizon_steps: int,
    stride_steps: int,
    segment_steps: int,
    first_step: int = 0,
    on_window: Callable[[], None] | None = None,
) -> BreachDataset:
    """Label every (window, account) of a price path (module docstring).

    Parameters
    ----------
    timestamps : datetime64[s] (T,), strictly increasing.
    prices : (T, len(assets)), USD prices of ``assets``, applied as relative moves from each segment's start.
        Every non-stable book asset must be among ``assets``.
    vol_daily : (T, len(assets)), the daily volatility forecast at each step (:func:`vol_daily_path`).
    horizon_steps, stride_steps, segment_steps : ≥ 1, in steps of the path.
    first_step : windows start at or after this step (e.g. after a simulated path's EWMA warm-up).
    on_window : called after each window (progress).
    """
    stamps = np.asarray(timestamps, dtype="datetime64[s]")
    prices = np.asarray(prices, dtype=float)
    vol_daily = np.asarray(vol_daily, dtype=float)
    if min(horizon_steps, stride_steps, segment_steps) < 1:
        raise InputError("horizon, stride and segment must be at least one step", record="windows")
    if prices.shape != (stamps.shape[0], len(assets)) or vol_daily.shape != prices.shape:
        raise InputError(f"prices {prices.shape} and vols {vol_daily.shape} do not match {stamps.shape[0]} steps × "
                         f"{len(assets)} assets", record="prices")
    evaluator = ContextStepEvaluator(book, snapshot, config)
    moving = evaluator.context.moving
    missing = [a for a, m in zip(book.assets, moving, strict=True) if m and a not in assets]
    if missing:
        raise InputError(f"no price history for {', '.join(missing)}", record="prices",
                         hint="give a history for every non-stable asset of the book")
    held = [(book.assets.index(a), j) for j, a in enumerate(assets) if a in book.assets]
    base = evaluator.asset_prices
    start_prices = np.array([snapshot.index[a] if a in snapshot.index else 1.0 for a in assets], dtype=float)
    names = feature_names(book.assets, moving)
    parts: list[BreachDataset] = []
    total = stamps.shape[0]
    for seg0 in range(first_step, total - horizon_steps, segment_steps):
        seg_end = min(seg0 + segment_steps + horizon_steps, total)
        path = relative_path(prices[seg0:seg_end], start_prices)
        for t0 in range(0, min(segment_steps, total - horizon_steps - seg0), stride_steps):
            moved = base.copy()
            for k, j in held:
                moved[k] = path[t0, j]
            ctx = evaluator.context_at(moved)
            now, _ = coverage_parts(ctx, with_distance=False)
            rows = np.flatnonzero((now.status < BREACH) & ~now.unbounded)
            if rows.size:
                window = run_timeline(book, snapshot, config, stamps[seg0 + t0:seg0 + t0 + horizon_steps + 1],
                                      path[t0:t0 + horizon_steps + 1], assets, evaluator=evaluator)
                sub = ctx.take(rows)
                result, _ = coverage_parts(sub, with_distance=True)
                vol_by_asset = np.full(book.n_assets, np.nan)
                for k, j in held:
                    vol_by_asset[k] = vol_daily[seg0 + t0, j]
                features = account_features(sub, result, vol_by_asset)
                first = window.first_breach_step[rows]
                parts.append(BreachDataset(
                    feature_names=names, features=features, label=(first >= 1) & (first <= horizon_steps),
                    window_start=np.full(rows.size, stamps[seg0 + t0]), account_row=rows,
                    distance_down=result.distance_down, distance_up=result.distance_up,
                    vol_daily=features[:, names.index("vol_daily")]))
            if on_window is not None:
                on_window()
    if not parts:
        raise InputError("the path is too short for one window (or no account is covered with a requirement)",
                         record="prices", hint="use a longer history or a shorter horizon")
    return BreachDataset.concat(parts)


__all__ = ["BreachDataset", "label_windows", "simulate_prices", "vol_daily_path"]

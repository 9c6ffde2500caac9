"""Margin-model backtesting on a price history (numpy only, no I/O).

For every margin date t of the window the book (positions held constant, as in the snapshot) is re-marked to
the index prices at t (:meth:`ccm.analysis.timeline.ContextStepEvaluator.context_at`: forwards keep their basis,
options their implied vol and expiry) and margined by the chosen model — ``standard`` / ``portfolio`` through
the engine's :func:`ccm.risk.margin.margin_requirement`, or the VaR / ES model
(:func:`ccm.risk.margin.var.var_requirement`, fed the daily history up to t, no look-ahead). The **realised
loss** L[t, i] of account i is the loss of its positions (held constant) from t's marks to t + MPOR: every
position is struck at t's mark (:func:`ccm.risk.margin.var.marked_positions`, as daily variation margin does)
and its P&L is taken in its settlement asset, valued in USD at t + MPOR — q (v_{t+h} − v_t) S_{t+h}. That is
the exposure the margin models measure (the portfolio model sums scenario P&L in settlement units); P&L accrued
before t, option premium held in coin and every collateral balance are collateral, whose USD swings are the
haircuts' job. For linear products L is the plain USD loss; for a long inverse future of q USD it is
q (1 − F_{t+h} / F_t). An **exception** is L[t, i] > IM[t, i] + 1 cent (initial margin, the CCP's reference;
the cent absorbs rounding where both are ~0).

Observations are the account-days of accounts holding at least one position (an account with no position has
no margin and no loss and is not counted). The overall figures pool them (the auth.066 / PQD 6.5 convention:
observations = account-days, coverage = 1 − exceptions ÷ observations): Kupiec POF on the pooled counts,
Christoffersen on the accounts' own day-to-day transitions summed. Accounts share the market, so pooled
exceptions are not independent across accounts: read the pooled p-values as a screen, the per-account tests
as the tests. Per account: its counts, Kupiec, the traffic-light zone of its most recent ``window``
observations, the largest exception (loss − margin) and procyclicality of its margin (margins below 1 USD count
as 0, so an account whose margin touches ~0 has no peak-to-trough); overall procyclicality is measured on the
total margin Σ_i IM[t, i] of the (fixed) book.

MPOR overlap: with h > 1, consecutive windows overlap, so exceptions cluster by construction (the independence
test then rejects more often than its nominal size); use h = 1 for a clean independence test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import chi2

from ccm._typing import BoolArray, FloatArray, IntArray
from ccm.analysis.backtest_stats import (
    TestResult,
    christoffersen,
    kupiec,
    kupiec_statistic,
    max_increase,
    peak_to_trough,
    traffic_light,
)
from ccm.analysis.timeline import ContextStepEvaluator
from ccm.book.book import Book
from ccm.enums import MarginModelName
from ccm.errors import InputError
from ccm.market.snapshot import MarketSnapshot
from ccm.risk.config import RiskConfig
from ccm.risk.context import account_equity, scenario_adjusted_equity
from ccm.risk.margin import margin_requirement
from ccm.risk.margin.var import MarketHistory, VarParams, marked_positions, var_requirement
from ccm.risk.metrics import with_model

VAR_MODEL = "var"
DAY_SECONDS = 86_400
#: An exception is a loss above the margin by more than this (USD): below a cent it is rounding (a deep
#: out-of-the-money long option whose margin and loss are both ~1e-50 USD).
EXCEPTION_TOLERANCE_USD = 0.01
#: Margins below this (USD) count as none in the procyclicality ratios (a ratio to a near-zero margin is noise).
MIN_MARGIN_USD = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestResult:
    """Margins, realised losses and statistics of a backtest (T margin dates, n accounts).

    Attributes
    ----------
    model : "standard" | "portfolio" | "var"; confidence; mpor_days; increase_days; window.
    timestamps : datetime64[s] (T,), the margin dates.
    account_ids : (n,); active : bool (n,), accounts holding a position (the ones observed).
    margin : (T, n) initial margin at t, USD. loss : (T, n) realised loss t → t + MPOR, USD (gain < 0).
    exceptions : bool (T, n), loss > margin on active accounts.
    observations, n_exceptions, coverage : pooled over active account-days (coverage NaN without observations).
    kupiec, independence, conditional : pooled tests.
    account_observations, account_exceptions : int (n,); account_coverage, account_kupiec, account_kupiec_p,
    account_largest_exception (max of loss − margin over exceptions, 0 if none), account_peak_to_trough,
    account_max_increase : (n,); account_zone : (n,) zone of the last ``window`` observations ("" if inactive).
    total_margin : (T,) Σ active IM; peak_to_trough, max_increase : of ``total_margin``.
    """

    model: str
    confidence: float
    mpor_days: int
    increase_days: int
    window: int
    timestamps: np.ndarray
    account_ids: np.ndarray
    active: BoolArray
    margin: FloatArray
    loss: FloatArray
    exceptions: BoolArray
    observations: int
    n_exceptions: int
    coverage: float
    kupiec: TestResult
    independence: TestResult
    conditional: TestResult
    account_observations: IntArray
    account_exceptions: IntArray
    account_coverage: FloatArray
    account_kupiec: FloatArray
    account_kupiec_p: FloatArray
    account_zone: np.ndarray
    account_largest_exception: FloatArray
    account_peak_to_trough: FloatArray
    account_max_increase: FloatArray
    total_margin: FloatArray
    peak_to_trough: float
    max_increase: float

    @property
    def n_days(self) -> int:
        return int(self.timestamps.shape[0])

    @property
    def zone_counts(self) -> dict[str, int]:
        """Active accounts per traffic-light zone."""
        zones = self.account_zone[self.active]
        return {z: int(np.count_nonzero(zones == z)) for z in ("green", "yellow", "red")}


def _book_prices(book: Book, snapshot: MarketSnapshot, prices: FloatArray, assets: Sequence[str]) -> FloatArray:
    """(T, n_book_assets) index prices: the path's columns where the book holds the asset, else the snapshot's."""
    base = np.array([float(snapshot.index.get(a, np.nan)) for a in book.assets])
    out = np.repeat(base[None, :], prices.shape[0], axis=0)
    column = {a: k for k, a in enumerate(assets)}
    for k, a in enumerate(book.assets):
        if a in column:
            out[:, k] = prices[:, column[a]]
    return out


def _check_histories(book: Book, moving: BoolArray, assets: Sequence[str]) -> None:
    """Every non-stable asset a position moves with (underlying or settlement asset) needs a price history: held
    at its snapshot price it would have no realised loss (while the var model proxies it), a silently optimistic
    coverage."""
    ins, cols = book.instruments, book.positions.indices
    used = np.zeros(len(book.assets), dtype=bool)
    used[ins.underlying[cols]] = True
    used[ins.settlement_asset[cols]] = True
    missing = [a for a, need in zip(book.assets, used & moving, strict=True) if need and a not in assets]
    if missing:
        raise InputError(f"no price history for {', '.join(missing)}, which the book's positions move with (the "
                         f"histories hold {', '.join(assets) or 'none'})", record="--prices",
                         hint=f"add --prices {missing[0]}=FILE for every non-stable asset of the book's positions")


def run_backtest(
    book: Book,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    timestamps: np.ndarray,
    prices: FloatArray,
    assets: Sequence[str],
    *,
    model: MarginModelName | str = MarginModelName.STANDARD,
    var_params: VarParams | None = None,
    mpor_days: int = 2,
    confidence: float = 0.99,
    start: int = 0,
    stop: int | None = None,
    increase_days: int = 30,
    window: int = 250,
    on_step: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Backtest a margin model on the book along a daily price path (see the module docstring).

    Parameters
    ----------
    timestamps : (T_all,) times of the path, one per day without gaps (an input error otherwise).
    prices : ndarray of shape (T_all, len(assets)), absolute USD index prices (rebase a history onto the
        snapshot with :func:`ccm.analysis.timeline.relative_path` first). Rows before ``start`` only feed the
        var model's lookback. Every non-stable asset a position moves with needs a column (an input error
        otherwise); other book assets (collateral only, stablecoins) keep their snapshot price.
    model : "standard", "portfolio" (every account under it) or "var".
    var_params : parameters of the var model (default ``VarParams(confidence=confidence, mpor_days=mpor_days)``);
        its confidence and MPOR are overridden by ``confidence`` and ``mpor_days``.
    mpor_days : h, the loss horizon in rows of the path.
    confidence : the coverage the model targets (expected exception rate 1 − confidence).
    start, stop : margin dates are rows start … stop − 1 that have a row h later (default: all that do).
    increase_days : n of the largest n-day margin increase. window : traffic-light window (observations).
    on_step : ``on_step(done, total)`` after each margin date (progress).
    """
    stamps = np.asarray(timestamps, dtype="datetime64[s]")
    prices = np.asarray(prices, dtype=float)
    h = int(mpor_days)
    if prices.ndim != 2 or prices.shape != (stamps.shape[0], len(assets)):
        raise InputError(f"prices of shape {prices.shape} do not match {stamps.shape[0]} timestamps × "
                         f"{len(assets)} assets", record="prices")
    if not np.all(np.isfinite(prices) & (prices > 0)):
        raise InputError("prices must be finite and > 0", record="prices")
    steps = np.diff(stamps.astype(np.int64))
    if np.any(steps <= 0):
        raise InputError("timestamps must be strictly increasing", record="prices")
    if np.any(steps != DAY_SECONDS):  # the MPOR and the var lookback count rows as days
        k = int(np.flatnonzero(steps != DAY_SECONDS)[0])
        raise InputError(f"need one price per day without gaps: {stamps[k]} is followed by {stamps[k + 1]}",
                         record="--prices", field="timestamp",
                         hint="give daily closes (the MPOR and the lookback count rows as days)")
    if h < 1:
        raise InputError(f"the margin period of risk must be ≥ 1 day, got {mpor_days}", record="backtest",
                         field="mpor_days")
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence must be in (0, 1), got {confidence}", record="backtest", field="confidence")
    if increase_days < 1 or window < 1:
        raise InputError("increase_days and window must be ≥ 1", record="backtest")
    last = min(stamps.shape[0] if stop is None else stop, stamps.shape[0] - h)
    dates = np.arange(max(0, start), max(0, last))
    if dates.size == 0:
        raise InputError(f"no margin date with a price {h} days later in the window", record="--from/--to",
                         hint="widen the window or shorten the margin period of risk")
    name = str(model)
    is_var = name == VAR_MODEL
    if not is_var:
        book = with_model(book, MarginModelName(name))
    if is_var:
        var_params = replace(var_params or VarParams(), confidence=confidence, mpor_days=h)
        if dates[0] < h:
            raise InputError(f"the var model needs at least {h} daily returns before the first margin date",
                             record="--from", hint="start later or give a longer history")

    evaluator = ContextStepEvaluator(book, snapshot, config)
    _check_histories(book, evaluator.context.moving, assets)
    book_prices = _book_prices(book, snapshot, prices, assets)
    margin = np.empty((dates.size, book.n_accounts))
    loss = np.empty((dates.size, book.n_accounts))
    for k, t in enumerate(dates):
        ctx = evaluator.context_at(book_prices[t])
        # Realised: positions struck at t's marks, revalued at t + h's prices.
        marked = marked_positions(ctx)
        moved = scenario_adjusted_equity(marked, (book_prices[t + h] / book_prices[t])[None, :])[0]
        loss[k] = account_equity(marked).position_value - moved
        if is_var:
            lo = 0 if var_params.floor_lookback_days or var_params.stressed_weight else max(
                0, t - var_params.lookback_days)
            history = MarketHistory(assets=tuple(assets), prices=prices[lo: t + 1])
            margin[k] = var_requirement(ctx, history, var_params).initial
        else:
            margin[k] = margin_requirement(ctx).initial
        if on_step is not None:
            on_step(k + 1, dates.size)
    return summarise(model=name, confidence=confidence, mpor_days=h, timestamps=stamps[dates],
                     account_ids=book.account_ids, active=np.diff(book.positions.indptr) > 0, margin=margin,
                     loss=loss, increase_days=increase_days, window=window)


def summarise(*, model: str, confidence: float, mpor_days: int, timestamps: np.ndarray, account_ids: np.ndarray,
              active: BoolArray, margin: FloatArray, loss: FloatArray, increase_days: int = 30,
              window: int = 250) -> BacktestResult:
    """Exceptions and every statistic from margins and realised losses of shape (T, n) (vectorised)."""
    exceptions = (loss > margin + EXCEPTION_TOLERANCE_USD) & active[None, :]
    n_days = margin.shape[0]
    observed = np.where(active, n_days, 0).astype(np.int64)
    per_account = exceptions.sum(axis=0).astype(np.int64)
    observations = int(observed.sum())
    n_exc = int(per_account.sum())
    recent = exceptions[-window:].sum(axis=0)
    zone = np.where(active, traffic_light(recent, min(window, n_days), confidence), "")
    lr = kupiec_statistic(observed, per_account, confidence)
    excess = np.where(exceptions, loss - margin, 0.0)
    total = margin[:, active].sum(axis=1)
    material = np.where(margin >= MIN_MARGIN_USD, margin, 0.0)
    independence, conditional = christoffersen(exceptions[:, active], confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        account_coverage = np.where(observed > 0, 1.0 - per_account / np.maximum(observed, 1), np.nan)
    return BacktestResult(
        model=model, confidence=confidence, mpor_days=mpor_days, increase_days=increase_days, window=window,
        timestamps=np.asarray(timestamps, dtype="datetime64[s]"), account_ids=np.asarray(account_ids),
        active=active, margin=margin, loss=loss, exceptions=exceptions,
        observations=observations, n_exceptions=n_exc,
        coverage=1.0 - n_exc / observations if observations else float("nan"),
        kupiec=kupiec(observations, n_exc, confidence), independence=independence, conditional=conditional,
        account_observations=observed, account_exceptions=per_account, account_coverage=account_coverage,
        account_kupiec=lr, account_kupiec_p=np.where(np.isfinite(lr), chi2.sf(np.nan_to_num(lr), 1), np.nan),
        account_zone=zone, account_largest_exception=excess.max(axis=0) if n_days else np.zeros(active.shape),
        account_peak_to_trough=np.where(active, peak_to_trough(material), np.nan),
        account_max_increase=np.where(active, max_increase(material, increase_days), np.nan),
        total_margin=total, peak_to_trough=float(peak_to_trough(total)),
        max_increase=float(max_increase(total, increase_days)),
    )


__all__ = ["EXCEPTION_TOLERANCE_USD", "MIN_MARGIN_USD", "VAR_MODEL", "BacktestResult", "run_backtest", "summarise"]

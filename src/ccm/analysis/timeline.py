"""Dynamic analysis: run a price path through the book and follow coverage over time (numpy only, no I/O).

At each step the index prices of the given assets are replaced (other assets, implied vols and option expiries
are unchanged: time is *not* advanced, so options do not decay — only prices move), every account's adjusted
equity and maintenance margin are recomputed, each account is classified, and the steps are reduced into

* a series per step: system coverage ratio, total shortfall, accounts by status, worst account coverage;
* per account: minimum coverage and when, first breach (first step with status liquidation or bankrupt,
  i.e. coverage < 1), time spent below the warning / margin-call / liquidation thresholds (hours);
* status transition events (step, account, from, to) — only where a status changes between consecutive steps.

The work is split so that the real-time ``CoverageEngine`` can be plugged in later:

* a **step evaluator** is any callable ``(asset_prices: ndarray (n_assets,)) -> StepValues`` giving the adjusted
  equity and maintenance margin of every account at those index prices. :class:`ContextStepEvaluator` is the
  default; an engine only has to expose the same call (``on_prices`` then read its arrays);
* :class:`TimelineAccumulator` consumes one :class:`StepValues` per step and knows nothing about how they were
  made; :func:`run_timeline` wires the two.

How a step moves the market (:func:`move_market`): the book's context is built once at the snapshot; per step
the resolved market is scaled by the price ratio of each asset — forwards keep their basis to the index (so a
future marked at a premium keeps that premium), options keep their implied vol (sticky strike) and time to
expiry, positions without an entry price keep the snapshot's forward as entry (so their P&L accrues as prices
move). A flat path therefore reproduces :func:`ccm.risk.metrics.evaluate` at the snapshot exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ccm._typing import FloatArray, IntArray
from ccm.book.book import Book
from ccm.book.instruments import InstrumentTable
from ccm.enums import STATUSES, MarginModelName, Status
from ccm.errors import InputError
from ccm.market.snapshot import MarketSnapshot
from ccm.pricing.contracts import unit_delta, unit_value
from ccm.pricing.market_state import MarketState, resolve_market
from ccm.risk.config import RiskConfig, Thresholds
from ccm.risk.context import RiskContext, account_equity
from ccm.risk.coverage import REQUIREMENT_FLOOR_USD, classify
from ccm.risk.margin import margin_requirement
from ccm.risk.metrics import with_model

#: Threshold levels reported by ``time_below`` (status codes at or past which an account is "below").
LEVELS = ("warning", "margin_call", "liquidation")
LEVEL_STATUS = (STATUSES.index(Status.WARNING), STATUSES.index(Status.MARGIN_CALL),
                STATUSES.index(Status.LIQUIDATION))
BREACH = STATUSES.index(Status.LIQUIDATION)  # liquidation or bankrupt: coverage < 1


@dataclass(frozen=True, slots=True, kw_only=True)
class StepValues:
    """What a step evaluator returns: per-account arrays of shape (n_accounts,), USD."""

    adjusted_equity: FloatArray
    maintenance_margin: FloatArray


StepEvaluator = Callable[[FloatArray], StepValues]


def move_market(state: MarketState, instruments: InstrumentTable, multiplier: FloatArray) -> MarketState:
    """The resolved market with each asset's USD price multiplied by ``multiplier`` (shape (n_assets,)).

    Forwards scale with their underlying (basis kept), settlement prices with their asset; vols, rates and
    times to expiry are unchanged; option unit values and deltas are repriced.
    """
    spot = state.spot * multiplier[instruments.underlying]
    terms = dict(is_option=instruments.is_option, inverse=instruments.inverse, strike=instruments.strike,
                 tau=state.tau, vol=state.vol, is_call=instruments.is_call)
    forward = spot * state.basis
    return replace(
        state,
        asset_prices=state.asset_prices * multiplier,
        spot=spot,
        settle_price=state.settle_price * multiplier[instruments.settlement_asset],
        unit_value=unit_value(forward, **terms),
        unit_delta=unit_delta(forward, **terms),
    )


class ContextStepEvaluator:
    """Default step evaluator: one RiskContext built at the snapshot, its market moved per step.

    Call it with the index prices of every book asset (shape (n_assets,), in ``book.assets`` order).
    """

    def __init__(self, book: Book, snapshot: MarketSnapshot, config: RiskConfig) -> None:
        self.state = resolve_market(snapshot, book.assets, book.instruments)
        self.context = RiskContext.build(book, self.state, config)

    @property
    def asset_prices(self) -> FloatArray:
        """The snapshot's index prices, shape (n_assets,)."""
        return self.state.asset_prices

    def context_at(self, asset_prices: FloatArray) -> RiskContext:
        """The context with the market moved to ``asset_prices`` (a fresh instrument cache)."""
        multiplier = np.asarray(asset_prices, dtype=float) / self.state.asset_prices
        if np.all(multiplier == 1.0):
            return self.context
        market = move_market(self.state, self.context.book.instruments, multiplier)
        return replace(self.context, market=market, cache={})

    def __call__(self, asset_prices: FloatArray) -> StepValues:
        ctx = self.context_at(asset_prices)
        return StepValues(adjusted_equity=account_equity(ctx).adjusted_equity,
                          maintenance_margin=margin_requirement(ctx).maintenance)


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineResult:
    """The reduced timeline (T steps, n accounts, E events).

    Attributes
    ----------
    timestamps : datetime64[s] (T,), UTC.
    step_hours : (T,), how long each step's state holds: until the next step; the last step holds for the
        median step length (0 for a single step).
    account_ids : (n,).
    system_coverage_ratio : (T,), Σ adjusted equity ÷ Σ maintenance margin (NaN when Σ margin is 0).
    total_shortfall : (T,), Σ max(0, maintenance margin − adjusted equity), USD.
    total_adjusted_equity, total_maintenance_margin : (T,), USD.
    status_counts : int (T, len(STATUSES)), accounts per status.
    worst_coverage : (T,), the lowest coverage ratio over accounts at each step (NaN if all unbounded).
    worst_covered_coverage : (T,), the same over the accounts not yet breached at the first step (those already
        under water at the start would otherwise pin the worst coverage for the whole path).
    coverage_p05 : (T,), the 5th percentile of coverage over accounts with a requirement.
    min_coverage : (n,), each account's lowest coverage ratio (NaN when its requirement was always 0).
    min_coverage_step : int (n,), step of ``min_coverage`` (first one; −1 when NaN).
    first_breach_step : int (n,), first step with status liquidation or bankrupt (−1 = never).
    time_below_hours : (n, 3), hours with status at or past warning, margin_call, liquidation (``LEVELS``).
    final_status : int8 (n,), status at the last step.
    event_step, event_account : int (E,); event_from, event_to : int8 (E,) status codes. Ordered by step,
        then account row.
    """

    timestamps: np.ndarray
    step_hours: FloatArray
    account_ids: np.ndarray
    system_coverage_ratio: FloatArray
    total_shortfall: FloatArray
    total_adjusted_equity: FloatArray
    total_maintenance_margin: FloatArray
    status_counts: IntArray
    worst_coverage: FloatArray
    worst_covered_coverage: FloatArray
    coverage_p05: FloatArray
    min_coverage: FloatArray
    min_coverage_step: IntArray
    first_breach_step: IntArray
    time_below_hours: FloatArray
    final_status: np.ndarray
    event_step: IntArray
    event_account: IntArray
    event_from: np.ndarray
    event_to: np.ndarray

    @property
    def n_steps(self) -> int:
        return int(self.timestamps.shape[0])

    @property
    def accounts_breached(self) -> int:
        return int((self.first_breach_step >= 0).sum())


def step_durations_hours(timestamps: np.ndarray) -> FloatArray:
    """Hours each step holds: until the next step; the last one for the median step (0 for one step)."""
    seconds = np.asarray(timestamps, dtype="datetime64[s]").astype(np.int64).astype(float)
    if seconds.shape[0] < 2:
        return np.zeros(seconds.shape[0])
    gaps = np.diff(seconds) / 3600.0
    return np.append(gaps, np.median(gaps))


class TimelineAccumulator:
    """Reduce per-step StepValues into a :class:`TimelineResult` without keeping the (T, n) arrays."""

    def __init__(self, account_ids: np.ndarray, thresholds: Thresholds) -> None:
        n = int(account_ids.shape[0])
        self.account_ids = account_ids
        self.thresholds = thresholds
        self.series: dict[str, list[float]] = {k: [] for k in ("scr", "short", "ae", "mm", "worst", "covered", "p05")}
        self.covered_at_start: np.ndarray | None = None
        self.counts: list[np.ndarray] = []
        self.min_coverage = np.full(n, np.inf)
        self.min_step = np.full(n, -1, dtype=np.int64)
        self.first_breach = np.full(n, -1, dtype=np.int64)
        self.status: np.ndarray | None = None
        self._below_per_step: list[np.ndarray] = []  # bool (3, n) per step; hours are known only at the end
        self.events: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.step = 0

    def add(self, values: StepValues) -> None:
        ae = np.asarray(values.adjusted_equity, dtype=float)
        mm = np.asarray(values.maintenance_margin, dtype=float)
        unbounded = ~(mm > REQUIREMENT_FLOOR_USD)
        with np.errstate(divide="ignore", invalid="ignore"):
            coverage = np.where(unbounded, np.nan, ae / np.where(unbounded, 1.0, mm))
        status = classify(ae, coverage, unbounded, self.thresholds)
        t = self.step
        total_ae, total_mm = float(ae.sum()), float(mm.sum())
        self.series["scr"].append(total_ae / total_mm if total_mm > 0 else np.nan)
        self.series["short"].append(float(np.maximum(0.0, mm - ae).sum()))
        self.series["ae"].append(total_ae)
        self.series["mm"].append(total_mm)
        self.series["worst"].append(float(np.nanmin(coverage)) if (~unbounded).any() else np.nan)
        if self.covered_at_start is None:
            self.covered_at_start = status < BREACH
        watch = self.covered_at_start & ~unbounded
        self.series["covered"].append(float(coverage[watch].min()) if watch.any() else np.nan)
        self.series["p05"].append(float(np.quantile(coverage[~unbounded], 0.05)) if (~unbounded).any() else np.nan)
        self.counts.append(np.bincount(status.astype(np.int64), minlength=len(STATUSES)))
        lower = ~unbounded & (coverage < self.min_coverage)
        self.min_coverage[lower] = coverage[lower]
        self.min_step[lower] = t
        self.first_breach[(self.first_breach < 0) & (status >= BREACH)] = t
        self._below_per_step.append(np.stack([status >= s for s in LEVEL_STATUS]))
        if self.status is not None:
            changed = np.flatnonzero(status != self.status)
            if changed.size:
                self.events.append((np.full(changed.size, t, dtype=np.int64), changed, self.status[changed],
                                    status[changed]))
        self.status = status
        self.step += 1

    def result(self, timestamps: np.ndarray) -> TimelineResult:
        stamps = np.asarray(timestamps, dtype="datetime64[s]")
        if stamps.shape[0] != self.step:
            raise ValueError(f"{stamps.shape[0]} timestamps for {self.step} steps")
        hours = step_durations_hours(stamps)
        n = self.account_ids.shape[0]
        time_below = np.zeros((n, len(LEVELS)))
        for t, below in enumerate(self._below_per_step):
            time_below += below.T * hours[t]
        if self.events:
            ev = [np.concatenate(parts) for parts in zip(*self.events, strict=True)]
        else:
            ev = [np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, np.int8),
                  np.zeros(0, np.int8)]
        min_cov = np.where(np.isinf(self.min_coverage), np.nan, self.min_coverage)
        return TimelineResult(
            timestamps=stamps,
            step_hours=hours,
            account_ids=self.account_ids,
            system_coverage_ratio=np.asarray(self.series["scr"]),
            total_shortfall=np.asarray(self.series["short"]),
            total_adjusted_equity=np.asarray(self.series["ae"]),
            total_maintenance_margin=np.asarray(self.series["mm"]),
            status_counts=np.asarray(self.counts, dtype=np.int64).reshape(self.step, len(STATUSES)),
            worst_coverage=np.asarray(self.series["worst"]),
            worst_covered_coverage=np.asarray(self.series["covered"]),
            coverage_p05=np.asarray(self.series["p05"]),
            min_coverage=min_cov,
            min_coverage_step=np.where(np.isnan(min_cov), -1, self.min_step),
            first_breach_step=self.first_breach,
            time_below_hours=time_below,
            final_status=self.status if self.status is not None else np.zeros(n, np.int8),
            event_step=ev[0],
            event_account=ev[1],
            event_from=ev[2].astype(np.int8),
            event_to=ev[3].astype(np.int8),
        )


def relative_path(prices: FloatArray, start: FloatArray) -> FloatArray:
    """Apply a history as relative moves: ``start × prices[t] ÷ prices[0]``, shapes (T, n) and (n,)."""
    prices = np.asarray(prices, dtype=float)
    return np.asarray(start, dtype=float)[None, :] * prices / prices[:1]


def resample_last(timestamps: np.ndarray, prices: FloatArray, step_seconds: int) -> tuple[np.ndarray, FloatArray]:
    """Buckets of ``step_seconds`` aligned on the epoch; each keeps the last price, labelled by its start."""
    seconds = np.asarray(timestamps, dtype="datetime64[s]").astype(np.int64)
    bucket = (seconds // step_seconds) * step_seconds
    last = np.flatnonzero(np.append(bucket[1:] != bucket[:-1], True))
    return bucket[last].astype("datetime64[s]"), np.asarray(prices)[last]


def run_timeline(
    book: Book,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    timestamps: np.ndarray,
    prices: FloatArray,
    assets: Sequence[str],
    *,
    model: MarginModelName | None = None,
    thresholds: Thresholds | None = None,
    evaluator: StepEvaluator | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> TimelineResult:
    """Run the index-price path ``prices`` (T, len(assets)) at ``timestamps`` (T,) through the book.

    Parameters
    ----------
    prices : ndarray of shape (T, n_path_assets), absolute USD index prices of ``assets`` at each step
        (see :func:`relative_path` to apply a history as moves from the snapshot). Assets of the path that the
        book does not hold are ignored; book assets not in the path keep their snapshot price.
    model : margin every account with this model (as ``evaluate``).
    thresholds : status thresholds (default: the config's).
    evaluator : a step evaluator ``(asset_prices (n_assets,)) -> StepValues`` replacing the default
        :class:`ContextStepEvaluator` (e.g. the real-time engine, ``ccm.engine.replay``); it must use
        ``book.assets`` order. If it has ``advance_to(timestamp)``, that is called before each step (fills).
    on_step : ``on_step(done, total)`` after each step (progress).
    """
    stamps = np.asarray(timestamps, dtype="datetime64[s]")
    prices = np.asarray(prices, dtype=float)
    if prices.ndim != 2 or prices.shape != (stamps.shape[0], len(assets)):
        raise InputError(f"prices of shape {prices.shape} do not match {stamps.shape[0]} timestamps × "
                         f"{len(assets)} assets", record="prices")
    if stamps.shape[0] == 0:
        raise InputError("the price path has no step", record="prices", hint="widen --from/--to")
    if np.any(np.diff(stamps.astype(np.int64)) <= 0):
        raise InputError("timestamps must be strictly increasing", record="prices")
    if not np.all(np.isfinite(prices) & (prices > 0)):
        raise InputError("prices must be finite and > 0", record="prices")
    if model is not None:
        book = with_model(book, model)
    step = evaluator if evaluator is not None else ContextStepEvaluator(book, snapshot, config)
    base = np.array([float(snapshot.index[a]) if a in snapshot.index else np.nan for a in book.assets])
    column = {a: k for k, a in enumerate(assets)}
    book_cols = np.array([k for k, a in enumerate(book.assets) if a in column], dtype=np.int64)
    path_cols = np.array([column[book.assets[k]] for k in book_cols], dtype=np.int64)
    acc = TimelineAccumulator(book.account_ids, thresholds or config.thresholds)
    total = stamps.shape[0]
    for t in range(total):
        asset_prices = base.copy()
        asset_prices[book_cols] = prices[t, path_cols]
        if hasattr(step, "advance_to"):
            step.advance_to(stamps[t])
        acc.add(step(asset_prices))
        if on_step is not None:
            on_step(t + 1, total)
    return acc.result(stamps)


def run_steps(account_ids: np.ndarray, timestamps: np.ndarray, steps: Iterable[StepValues],
              thresholds: Thresholds) -> TimelineResult:
    """Reduce already evaluated steps (e.g. emitted by an engine) into a :class:`TimelineResult`."""
    acc = TimelineAccumulator(np.asarray(account_ids), thresholds)
    for values in steps:
        acc.add(values)
    return acc.result(timestamps)


__all__ = ["LEVELS", "ContextStepEvaluator", "StepEvaluator", "StepValues", "TimelineAccumulator",
           "TimelineResult", "move_market", "relative_path", "resample_last", "run_steps", "run_timeline",
           "step_durations_hours"]

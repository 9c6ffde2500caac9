"""CoverageEngine: a book, a market and a config held live, recomputed incrementally on ticks and trades.

Incremental design
------------------
* The book is a **base CSR** (:class:`ccm.book.Book`) plus an **overlay**: a dict row → :class:`_Row` holding
  the full current content of every account changed by a trade or transfer since the last compaction
  (sorted instrument columns, quantities, entry amounts, unpriced quantities, balance columns and
  quantities). The base rows of overlaid accounts are stale and never read.
* A **trade or transfer** touches one account: its new row is built from the overlay (or the base CSR),
  a one-row Book and RiskContext are assembled around it with the current market and the tick's shared
  ``ctx.cache`` (instrument scenarios are revalued once per tick, not per trade), ``compute_coverage``
  runs on that row, and the result is written into the live per-account arrays. Nothing of size
  n_accounts is rebuilt except cheap O(n) reductions for the system totals.
* A **tick** (prices or vols) re-resolves the market once, builds the RiskContext of the base CSR (one
  revaluation of instruments × scenarios, one sparse product per model) and recomputes every account;
  the overlaid rows are then recomputed as one small batch sub-book and scattered over the base result.
  When the overlay holds more than ``compact_rows`` accounts it is merged into a new base CSR at the
  start of the next tick (O(nnz), amortised over many trades).
* The metrics after any sequence of events equal a from-scratch ``ccm.risk.metrics.evaluate`` on
  :attr:`CoverageEngine.book` and :attr:`CoverageEngine.snapshot`: every per-account metric depends only on
  that account's row and the market, and the same core functions compute it.

Validation happens before any state changes: bad input raises ``InputError`` naming the field and
leaves the engine as it was. The engine is single-threaded: callers serialise events (a feed loop).
Contributors (the ranking of requirement drivers) are skipped on the tick path and ranked on the first
access to :attr:`CoverageEngine.result` after a tick.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp

from ccm.book.book import Book, row_of_nonzeros
from ccm.book.instruments import TYPE_FUTURE, TYPE_PERPETUAL
from ccm.engine.alerts import AlertConfig, AlertMonitor, account_volatility
from ccm.engine.events import Alert, Event, MetricsChanged, StatusChanged, SystemSnapshot
from ccm.enums import STATUSES
from ccm.errors import InputError
from ccm.market.snapshot import MarketSnapshot
from ccm.market.surface import VolSurface
from ccm.pricing.market_state import MarketState, resolve_market
from ccm.risk.config import RiskConfig
from ccm.risk.context import RiskContext, settled_at_mark
from ccm.risk.coverage import (
    CoverageResult,
    SystemResult,
    compute_coverage,
    coverage_parts,
    system_metrics,
    top_contributors,
)
from ccm.risk.margin import margin_requirement

log = logging.getLogger(__name__)

#: Logical source named by the engine's InputErrors.
ENGINE = "engine"

_ROW_FIELDS = ("equity", "collateral_value", "adjusted_equity", "initial_margin", "maintenance_margin",
               "coverage_ratio", "unbounded", "initial_coverage_ratio", "margin_utilisation", "excess",
               "shortfall", "available", "status", "distance_down", "distance_up", "health_factor")


@dataclass(frozen=True, slots=True)
class _Row:
    """Current content of one account (overlay entry)."""

    cols: np.ndarray  # int32 sorted instrument columns
    qty: np.ndarray
    entry: np.ndarray
    unpriced: np.ndarray
    bal_cols: np.ndarray  # int32 sorted asset columns
    bal_qty: np.ndarray


def _finite(value: float, field: str, record: str, *, positive: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{value!r} is not a number", file=ENGINE, record=record, field=field) from None
    if not math.isfinite(number) or (positive and number <= 0):
        need = "a finite positive number" if positive else "a finite number"
        raise InputError(f"{value!r} is not {need}", file=ENGINE, record=record, field=field)
    return number


def _rows_book(base: Book, rows: np.ndarray, contents: list[_Row]) -> Book:
    """A Book of the accounts ``rows`` with the given contents (same instruments and assets)."""
    n = len(contents)
    lengths = np.array([r.cols.shape[0] for r in contents], dtype=np.int64)
    blengths = np.array([r.bal_cols.shape[0] for r in contents], dtype=np.int64)
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    bindptr = np.concatenate(([0], np.cumsum(blengths)))

    def cat(name: str, dtype) -> np.ndarray:
        parts = [getattr(r, name) for r in contents]
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    positions = sp.csr_matrix((cat("qty", float), cat("cols", np.int32), indptr), shape=(n, base.n_instruments))
    balances = sp.csr_matrix((cat("bal_qty", float), cat("bal_cols", np.int32), bindptr), shape=(n, base.n_assets))
    return Book(assets=base.assets, account_ids=base.account_ids[rows], instruments=base.instruments,
                positions=positions, entry_amount=cat("entry", float), unpriced_quantity=cat("unpriced", float),
                balances=balances, margin_model=base.margin_model[rows])


def _settled_at(book: Book, state: MarketState) -> Book:
    """The book with positions that carry no entry price settled at the opening forwards.

    The metrics contract takes such a position as settled to the mark (no P&L) at the market it is valued
    in; a live engine fixes that mark once, when it loads the book, so later ticks show the position's P&L.
    """
    if not np.any(book.unpriced_quantity):
        return book
    return replace(book, entry_amount=book.entry_amount + settled_at_mark(book, state),
                   unpriced_quantity=np.zeros_like(book.unpriced_quantity))


def _pinned_vols(snapshot: MarketSnapshot, state: MarketState, book: Book,
                 options: set[str] | None = None) -> tuple[MarketSnapshot, set[str]]:
    """The snapshot with every live option's vol written in explicitly (same values today), and the ids pinned.

    Options priced from a mark or a surface get their vol of today as an explicit vol, and option marks are
    dropped: an index tick then reprices options at fixed vols (sticky strike, as distance to liquidation and
    the replay timeline do) instead of re-implying a vol from a stale mark or re-reading the surface at the new
    moneyness. ``options`` limits the pinning to those ids (e.g. after new surfaces for some underlyings).
    """
    ins = book.instruments
    live = ins.is_option & (state.tau > 0)
    ids = ins.ids.astype(str)
    chosen = [k for k in np.flatnonzero(live) if (options is None and ids[k] not in snapshot.vols)
              or (options is not None and ids[k] in options)]
    if not chosen and not any(ids[k] in snapshot.marks for k in np.flatnonzero(ins.is_option)):
        return snapshot, set()
    pinned = {ids[k]: float(state.vol[k]) for k in chosen}
    option_ids = set(ids[ins.is_option])
    marks = {k: v for k, v in snapshot.marks.items() if k not in option_ids}
    return replace(snapshot, marks=marks, vols={**snapshot.vols, **pinned}), set(pinned)


def _moved_index(snapshot: MarketSnapshot, index: dict[str, float], underlying_of: dict[str, str], *,
                 as_of: datetime | None) -> MarketSnapshot:
    """New index prices; futures marks move with their underlying (their basis to the index is kept)."""
    ratio = {a: p / snapshot.index[a] for a, p in index.items() if snapshot.index.get(a)}
    marks = {i: m * ratio.get(underlying_of.get(i, ""), 1.0) for i, m in snapshot.marks.items()}
    return replace(snapshot, index={**snapshot.index, **index}, marks=marks, as_of=as_of or snapshot.as_of)


def _sub_context(ctx: RiskContext, book: Book, rows: np.ndarray) -> RiskContext:
    """RiskContext of a sub-book (accounts ``rows`` of ``ctx``) that shares the market, config and cache."""
    return RiskContext(book=book, market=ctx.market, config=ctx.config, haircuts=ctx.haircuts,
                       model_code=ctx.model_code[rows], moving=ctx.moving, position_row=row_of_nonzeros(book.positions),
                       entry_total=book.entry_amount + settled_at_mark(book, ctx.market), cache=ctx.cache)


class CoverageEngine:
    """Live coverage of every account of a venue.

    Parameters
    ----------
    book : the venue's accounts (the account set is fixed; trades and transfers change their rows).
    snapshot : the market; ticks replace index prices and vols in it.
    config : risk configuration.
    with_distance : also compute distance to liquidation (needed by the projected-breach rule).
    clock : ``() -> datetime`` (UTC) stamping events without an explicit ``at``; default the system clock.
    alerts : alert rules (default: coverage-threshold alerts with 2% hysteresis).
    compact_rows : merge the overlay into the base CSR at the next tick once it holds more accounts.
    """

    def __init__(
        self,
        book: Book,
        snapshot: MarketSnapshot,
        config: RiskConfig,
        *,
        with_distance: bool = False,
        clock: Callable[[], datetime] | None = None,
        alerts: AlertConfig | None = None,
        compact_rows: int = 2048,
    ) -> None:
        opening = resolve_market(snapshot, book.assets, book.instruments)  # raises before any state exists
        book = _settled_at(book, opening)
        self._base = book
        self._snapshot = snapshot
        self.config = config
        self.with_distance = with_distance
        self._clock = clock or (lambda: datetime.now(UTC))
        self.compact_rows = compact_rows
        self._overlay: dict[int, _Row] = {}
        self._base_parts: tuple[Book, RiskContext] | None = None
        self._subscribers: list[Callable[[Event], None]] = []
        self._account_index = book.account_index()
        self._instrument_index = {str(i): k for k, i in enumerate(book.instruments.ids)}
        self._mark_underlying = {str(i): book.assets[u] for i, u in zip(book.instruments.ids,
                                                                       book.instruments.underlying, strict=True)}
        self._asset_index = book.asset_index()
        ins = book.instruments
        self._is_future = (ins.type_code == TYPE_FUTURE) | (ins.type_code == TYPE_PERPETUAL)
        self.alert_config = alerts if alerts is not None else AlertConfig()
        self._monitor = AlertMonitor(self.alert_config, config, book.n_accounts)
        p = self.alert_config.projected_breach
        self._sigma = account_volatility(book, config, p.default_volatility) if p else None
        state = resolve_market(snapshot, book.assets, book.instruments)
        self._snapshot, self._pinned = _pinned_vols(snapshot, state, book)
        snapshot = self._snapshot
        self._full_recompute(state)
        at = snapshot.as_of
        self._monitor.update_accounts(at, np.arange(book.n_accounts), book.account_ids, self._result.coverage_ratio,
                                      self._result.unbounded, **self._distance_args(slice(None)), emit=False)
        self._monitor.update_system(at, self._system_snapshot(), emit=False)

    # -- public state -----------------------------------------------------------------------------
    @property
    def result(self) -> CoverageResult:
        """Current per-account metrics (live arrays: they are updated in place by later events).

        Contributors are ranked on first access after a tick (ticks skip the ranking to stay fast).
        """
        if self._contributors_stale:
            self._fill_contributors()
        return self._result

    @property
    def metrics(self) -> CoverageResult:
        """Current per-account metrics without ranking contributors (may be stale after a tick): the cheap
        accessor for dashboards and persistence on every tick; use :attr:`result` for contributors."""
        return self._result

    def _fill_contributors(self) -> None:
        ctx, req = self._ctx, self._req
        c, full = self._result.contributors, top_contributors(ctx, req, ctx.config.contributors_top)
        keep = np.ones(ctx.n_accounts, dtype=bool)
        if self._overlay:
            rows = np.array(sorted(self._overlay), dtype=np.int64)
            keep[rows] = False
            sub = _sub_context(ctx, _rows_book(self._base, rows, [self._overlay[int(r)] for r in rows]), rows)
            part = top_contributors(sub, margin_requirement(sub), ctx.config.contributors_top)
            c.label[rows], c.share[rows], c.amount[rows] = part.label, part.share, part.amount
        c.label[keep], c.share[keep], c.amount[keep] = full.label[keep], full.share[keep], full.amount[keep]
        self._contributors_stale = False

    @property
    def system(self) -> SystemResult:
        """Full venue-level metrics (quantiles, largest shortfalls…), computed on demand and cached."""
        if self._system_full is None:
            self._system_full = system_metrics(self._result)  # contributors are not needed here
        return self._system_full

    @property
    def system_snapshot(self) -> SystemSnapshot:
        return self._system_snapshot()

    @property
    def snapshot(self) -> MarketSnapshot:
        return self._snapshot

    @property
    def market(self) -> MarketState:
        return self._ctx.market

    @property
    def book(self) -> Book:
        """The current book (base CSR with the overlay merged; O(nnz) — for checks and persistence)."""
        return self._materialise()

    @property
    def overlay_rows(self) -> int:
        return len(self._overlay)

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that unsubscribes it."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    # -- events -----------------------------------------------------------------------------------
    def on_prices(self, index: Mapping[str, float], at: datetime | None = None) -> list[Event]:
        """New index prices (USD) for some assets; recomputes every account."""
        return self.on_market(index=index, at=at)

    def on_vols(self, vols: Mapping[str, float], at: datetime | None = None, *,
                surfaces: Mapping[str, VolSurface] | None = None) -> list[Event]:
        """New implied vols (decimal) per option id, optionally new surfaces per underlying."""
        return self.on_market(vols=vols, surfaces=surfaces, at=at)

    def on_market(self, *, index: Mapping[str, float] | None = None, vols: Mapping[str, float] | None = None,
                  surfaces: Mapping[str, VolSurface] | None = None, at: datetime | None = None) -> list[Event]:
        """New index prices and/or vols in one recompute. Everything is checked first: a bad vol leaves the
        prices of the same update unapplied (nothing changes)."""
        index, vols, surfaces = dict(index or {}), dict(vols or {}), dict(surfaces or {})
        for asset, price in index.items():
            if asset not in self._asset_index and asset not in self._snapshot.index:
                raise InputError(f"unknown asset {asset!r}", file=ENGINE, record="prices", field=str(asset))
            _finite(price, field=str(asset), record="prices", positive=True)
        for oid, vol in vols.items():
            k = self._instrument_index.get(str(oid))
            if k is None or not self._base.instruments.is_option[k]:
                raise InputError(f"unknown option {oid!r}", file=ENGINE, record="vols", field=str(oid))
            _finite(vol, field=str(oid), record="vols", positive=True)
        for under in surfaces:
            if under not in self._asset_index:
                raise InputError(f"unknown underlying {under!r}", file=ENGINE, record="surfaces", field=str(under))
        snapshot, pinned = self._snapshot, self._pinned
        if index:
            snapshot = _moved_index(snapshot, {a: float(p) for a, p in index.items()}, self._mark_underlying,
                                    as_of=at)
        if vols or surfaces:
            # Options pinned from an old surface of a re-quoted underlying read the new surface (then pinned again).
            ins = self._base.instruments
            requoted = {str(i) for i, u in zip(ins.ids, ins.underlying, strict=True)
                        if self._base.assets[u] in surfaces and str(i) in pinned and str(i) not in vols}
            kept = {k: v for k, v in snapshot.vols.items() if k not in requoted}
            snapshot = replace(snapshot, vols={**kept, **{k: float(v) for k, v in vols.items()}},
                               surfaces={**snapshot.surfaces, **surfaces}, as_of=at or snapshot.as_of)
            pinned = pinned - set(vols)
            if requoted:
                state = resolve_market(snapshot, self._base.assets, ins)
                snapshot, _ = _pinned_vols(snapshot, state, self._base, options=requoted)
        cause = "market" if index and (vols or surfaces) else ("prices" if index else "vols")
        events = self._tick(snapshot, at, cause)
        self._pinned = pinned
        return events

    def on_trade(self, account: str, instrument: str, quantity: float, price: float,
                 at: datetime | None = None) -> list[Event]:
        """A fill: ``quantity`` (signed) of ``instrument`` at ``price`` added to ``account``'s position.

        Futures and perpetuals add the entry side like a merged position (linear −q·price, inverse
        +q/price, settlement units); options and spot carry no entry amount (premium cash is a transfer).
        """
        row, col, q, p = self.validate_trade(account, instrument, quantity, price)
        current = self._row(row)
        entry = 0.0
        if self._is_future[col]:
            entry = q / p if self._base.instruments.inverse[col] else -q * p
        k = int(np.searchsorted(current.cols, col))
        if k < current.cols.shape[0] and current.cols[k] == col:
            qty, ent = current.qty.copy(), current.entry.copy()
            qty[k] += q
            ent[k] += entry
            new = replace(current, qty=qty, entry=ent)
            if qty[k] == 0 and ent[k] == 0 and current.unpriced[k] == 0:  # same rule as book_from_arrays
                keep = np.arange(qty.shape[0]) != k
                new = replace(current, cols=current.cols[keep], qty=qty[keep], entry=ent[keep],
                              unpriced=current.unpriced[keep])
        else:
            new = replace(current, cols=np.insert(current.cols, k, col), qty=np.insert(current.qty, k, q),
                          entry=np.insert(current.entry, k, entry), unpriced=np.insert(current.unpriced, k, 0.0))
        return self._update_row(row, new, at, "trade")

    def validate_trade(self, account: str, instrument: str, quantity: float, price: float) -> tuple[int, int, float,
                                                                                                     float]:
        """(row, instrument column, quantity, price) of a valid fill; InputError naming the field otherwise.
        Changes nothing (so a caller can persist the fill between validating and applying it)."""
        row = self._row_of(account, "trade")
        col = self._instrument_index.get(str(instrument))
        if col is None:
            raise InputError(f"unknown instrument {instrument!r}", file=ENGINE, record="trade", field="instrument")
        q = _finite(quantity, field="quantity", record="trade")
        if q == 0:
            raise InputError("a fill's quantity must be non-zero", file=ENGINE, record="trade", field="quantity")
        p = _finite(price, field="price", record="trade", positive=True)
        return row, col, q, p

    def validate_transfer(self, account: str, asset: str, quantity: float) -> tuple[int, int, float]:
        """(row, asset column, quantity) of a valid transfer; InputError naming the field otherwise."""
        row = self._row_of(account, "transfer")
        col = self._asset_index.get(str(asset))
        if col is None:
            raise InputError(f"unknown asset {asset!r}", file=ENGINE, record="transfer", field="asset")
        return row, col, _finite(quantity, field="quantity", record="transfer")

    def on_transfer(self, account: str, asset: str, quantity: float, at: datetime | None = None) -> list[Event]:
        """Collateral in (``quantity`` > 0) or out (< 0) of ``account`` in ``asset``."""
        row, col, q = self.validate_transfer(account, asset, quantity)
        current = self._row(row)
        k = int(np.searchsorted(current.bal_cols, col))
        if k < current.bal_cols.shape[0] and current.bal_cols[k] == col:
            bal = current.bal_qty.copy()
            bal[k] += q
            keep = bal != 0
            new = replace(current, bal_cols=current.bal_cols[keep], bal_qty=bal[keep])
        elif q != 0:
            new = replace(current, bal_cols=np.insert(current.bal_cols, k, col),
                          bal_qty=np.insert(current.bal_qty, k, q))
        else:
            new = current
        return self._update_row(row, new, at, "transfer")

    # -- internals --------------------------------------------------------------------------------
    def _row_of(self, account: str, record: str) -> int:
        row = self._account_index.get(str(account))
        if row is None:
            raise InputError(f"unknown account {account!r}", file=ENGINE, record=record, field="account")
        return row

    def _row(self, row: int) -> _Row:
        if row in self._overlay:
            return self._overlay[row]
        b = self._base
        lo, hi = b.positions.indptr[row], b.positions.indptr[row + 1]
        blo, bhi = b.balances.indptr[row], b.balances.indptr[row + 1]
        return _Row(cols=b.positions.indices[lo:hi].copy(), qty=b.positions.data[lo:hi].copy(),
                    entry=b.entry_amount[lo:hi].copy(), unpriced=b.unpriced_quantity[lo:hi].copy(),
                    bal_cols=b.balances.indices[blo:bhi].copy(), bal_qty=b.balances.data[blo:bhi].copy())

    def _materialise(self) -> Book:
        if not self._overlay:
            return self._base
        return self._merge_overlay()

    def _merge_overlay(self) -> Book:
        """Base CSR with the overlay rows replaced, built with whole-array operations (O(nnz))."""
        b = self._base
        n = b.n_accounts
        changed = np.zeros(n, dtype=bool)
        rows = np.array(sorted(self._overlay), dtype=np.int64)
        changed[rows] = True
        contents = [self._overlay[int(r)] for r in rows]
        sub = _rows_book(b, rows, contents)

        def merge(matrix: sp.csr_matrix, extras: list[np.ndarray], sub_matrix: sp.csr_matrix,
                  sub_extras: list[np.ndarray], width: int):
            keep_entry = ~changed[row_of_nonzeros(matrix)]
            old_rows = row_of_nonzeros(matrix)[keep_entry]
            new_rows = rows[row_of_nonzeros(sub_matrix)]
            all_rows = np.concatenate([old_rows, new_rows])
            order = np.argsort(all_rows, kind="stable")  # old entries of a row never mix with new ones
            cols = np.concatenate([matrix.indices[keep_entry], sub_matrix.indices])[order]
            data = np.concatenate([matrix.data[keep_entry], sub_matrix.data])[order]
            indptr = np.concatenate(([0], np.cumsum(np.bincount(all_rows, minlength=n)))).astype(np.int64)
            out = sp.csr_matrix((data, cols, indptr), shape=(n, width))
            merged = [np.concatenate([e[keep_entry], s])[order] for e, s in zip(extras, sub_extras, strict=True)]
            return out, merged

        positions, (entry, unpriced) = merge(b.positions, [b.entry_amount, b.unpriced_quantity], sub.positions,
                                             [sub.entry_amount, sub.unpriced_quantity], b.n_instruments)
        balances, _ = merge(b.balances, [], sub.balances, [], b.n_assets)
        return replace(b, positions=positions, entry_amount=entry, unpriced_quantity=unpriced, balances=balances)

    def _distance_args(self, rows) -> dict:
        if not self.with_distance or self._sigma is None:
            return {}
        return dict(distance_down=self._result.distance_down[rows], distance_up=self._result.distance_up[rows],
                    sigma=self._sigma[rows])

    def _base_context(self, state: MarketState) -> RiskContext:
        """RiskContext of the base CSR at ``state``; the market-independent parts are kept between ticks."""
        if self._base_parts is None or self._base_parts[0] is not self._base:
            template = RiskContext.build(self._base, state, self.config)
            self._base_parts = (self._base, template)
            return template
        template = self._base_parts[1]
        book = self._base
        return RiskContext(book=book, market=state, config=self.config, haircuts=template.haircuts,
                           model_code=template.model_code, moving=template.moving, position_row=template.position_row,
                           entry_total=book.entry_amount + settled_at_mark(book, state))

    def _full_recompute(self, state: MarketState) -> None:
        if len(self._overlay) > self.compact_rows:
            self._base = self._merge_overlay()
            self._overlay = {}
        ctx = self._base_context(state)
        result, req = coverage_parts(ctx, with_distance=self.with_distance)
        if self._overlay:
            rows = np.array(sorted(self._overlay), dtype=np.int64)
            sub = _sub_context(ctx, _rows_book(self._base, rows, [self._overlay[int(r)] for r in rows]), rows)
            _scatter(result, rows, coverage_parts(sub, with_distance=self.with_distance)[0],
                     contributors=False)
        self._ctx, self._req = ctx, req
        self._result = result
        self._contributors_stale = True
        self._system_full = None

    def _tick(self, snapshot: MarketSnapshot, at: datetime | None, cause: str) -> list[Event]:
        state = resolve_market(snapshot, self._base.assets, self._base.instruments)  # raises before any change
        at = at or self._clock()
        old = self._result
        old_status, old_cov, old_ae, old_mm = old.status, old.coverage_ratio, old.adjusted_equity, \
            old.maintenance_margin
        self._full_recompute(state)
        self._snapshot = snapshot
        new = self._result
        changed = np.flatnonzero((new.adjusted_equity != old_ae) | (new.maintenance_margin != old_mm)
                                 | ~((new.coverage_ratio == old_cov) | (np.isnan(new.coverage_ratio)
                                                                     & np.isnan(old_cov))))
        return self._emit(at, cause, changed, old_status[changed], np.arange(new.n_accounts))

    def _update_row(self, row: int, new: _Row, at: datetime | None, cause: str) -> list[Event]:
        rows = np.array([row], dtype=np.int64)
        sub = _sub_context(self._ctx, _rows_book(self._base, rows, [new]), rows)
        one = compute_coverage(sub, with_distance=self.with_distance)  # may raise: nothing changed yet
        at = at or self._clock()
        old_status = self._result.status[rows].copy()
        self._overlay[row] = new
        _scatter(self._result, rows, one, contributors=not self._contributors_stale)
        self._system_full = None
        if self._sigma is not None:
            single = account_volatility(sub.book, self.config, self.alert_config.projected_breach.default_volatility)
            self._sigma[row] = single[0]
        return self._emit(at, cause, rows, old_status, rows)

    def _system_snapshot(self) -> SystemSnapshot:
        r = self._result
        counts = np.bincount(r.status.astype(np.int64), minlength=len(STATUSES))
        ae, mm, short = float(r.adjusted_equity.sum()), float(r.maintenance_margin.sum()), float(r.shortfall.sum())
        fund = self.alert_config.system.fund_usd
        fund_cov = math.nan if fund is None else (fund / short if short > 0 else math.inf)
        return SystemSnapshot(accounts=r.n_accounts, by_status={s.value: int(c) for s, c in zip(STATUSES, counts,
                                                                                                 strict=True)},
                              total_adjusted_equity=ae, total_maintenance_margin=mm,
                              system_coverage_ratio=ae / mm if mm > 0 else math.nan, total_shortfall=short,
                              fund_usd=fund, fund_to_shortfall=fund_cov)

    def _emit(self, at: datetime, cause: str, changed: np.ndarray, old_status: np.ndarray,
              alert_rows: np.ndarray) -> list[Event]:
        r = self._result
        system = self._system_snapshot()
        events: list[Event] = [MetricsChanged(at=at, rows=changed, accounts=r.account_ids[changed], system=system,
                                              cause=cause)]
        moved = np.flatnonzero(r.status[changed] != old_status)
        for k in moved:
            row = int(changed[k])
            events.append(StatusChanged(at=at, account=str(r.account_ids[row]),
                                        from_status=STATUSES[int(old_status[k])].value,
                                        to_status=STATUSES[int(r.status[row])].value,
                                        coverage=float(r.coverage_ratio[row])))
        alerts: list[Alert] = self._monitor.update_accounts(
            at, alert_rows, r.account_ids[alert_rows], r.coverage_ratio[alert_rows], r.unbounded[alert_rows],
            **self._distance_args(alert_rows))
        alerts += self._monitor.update_system(at, system)
        events += alerts
        for event in events:
            for callback in list(self._subscribers):
                try:
                    callback(event)
                except Exception:  # a subscriber's failure must not break the engine
                    log.exception("subscriber %r failed on %s", callback, type(event).__name__)
        return events


def _scatter(result: CoverageResult, rows: np.ndarray, part: CoverageResult, *, contributors: bool = True) -> None:
    """Write the metrics of ``part`` (len(rows) accounts) into ``result`` at ``rows`` (in place)."""
    for name in _ROW_FIELDS:
        getattr(result, name)[rows] = getattr(part, name)
    if not contributors:
        return
    c, pc = result.contributors, part.contributors
    c.label[rows], c.share[rows], c.amount[rows] = pc.label, pc.share, pc.amount

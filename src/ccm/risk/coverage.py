"""Coverage metrics per account and for the whole venue (the contract of DESIGN.md §2).

All computations are element-wise array operations on the outputs of valuation and margin models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ccm._typing import FloatArray, IntArray
from ccm.book.book import row_of_nonzeros
from ccm.division import guarded_ratio
from ccm.enums import MARGIN_MODELS, STATUSES, MarginModelName, Status
from ccm.risk.config import Thresholds
from ccm.risk.context import LENDING_CODE, RiskContext, account_equity
from ccm.risk.distance import distances_to_liquidation
from ccm.risk.margin import margin_requirement
from ccm.risk.margin.base import Requirement
from ccm.risk.margin.lending import health_factor

BANKRUPT = STATUSES.index(Status.BANKRUPT)

#: Requirements below this (USD) count as none: a ratio to a denormal requirement would be +inf.
REQUIREMENT_FLOOR_USD = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class Contributors:
    """Top drivers of each account's requirement.

    label : (n_accounts, k) int index into ``labels`` (−1 = none).
    share : (n_accounts, k) share of the account's total driver amount.
    amount : (n_accounts, k) driver amount in USD (e.g. loss in the worst scenario).
    labels : ndarray of str: instrument ids, then ``asset:<ASSET>`` for collateral drivers.
    kinds : ndarray of str, "instrument" or "asset", aligned with ``labels``.
    """

    label: IntArray
    share: FloatArray
    amount: FloatArray
    labels: np.ndarray
    kinds: np.ndarray


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverageResult:
    """Per-account metrics, every array of shape (n_accounts,), USD. NaN = not defined (JSON null)."""

    account_ids: np.ndarray
    model: np.ndarray  # int8 codes into MARGIN_MODELS
    equity: FloatArray
    collateral_value: FloatArray
    adjusted_equity: FloatArray
    initial_margin: FloatArray
    maintenance_margin: FloatArray
    coverage_ratio: FloatArray  # NaN where unbounded
    unbounded: np.ndarray
    initial_coverage_ratio: FloatArray
    margin_utilisation: FloatArray
    excess: FloatArray
    shortfall: FloatArray
    available: FloatArray
    status: np.ndarray  # int8 codes into STATUSES
    distance_down: FloatArray
    distance_up: FloatArray
    health_factor: FloatArray
    contributors: Contributors

    @property
    def n_accounts(self) -> int:
        return int(self.account_ids.shape[0])


def classify(adjusted_equity: FloatArray, coverage: FloatArray, unbounded: np.ndarray, t: Thresholds) -> np.ndarray:
    """Status code per account (int8 into STATUSES) from coverage thresholds."""
    cov = np.where(unbounded, np.inf, coverage)
    status = np.select(
        [adjusted_equity < 0, cov < t.liquidation, cov < t.margin_call, cov < t.warning],
        [BANKRUPT, STATUSES.index(Status.LIQUIDATION), STATUSES.index(Status.MARGIN_CALL),
         STATUSES.index(Status.WARNING)],
        default=STATUSES.index(Status.HEALTHY),
    )
    return status.astype(np.int8)


def top_contributors(ctx: RiskContext, req: Requirement, k: int) -> Contributors:
    """The k largest drivers of each account (positions, then collateral assets for lending)."""
    book = ctx.book
    n = book.n_accounts
    labels = np.concatenate([book.instruments.ids.astype(str), np.array([f"asset:{a}" for a in book.assets])])
    kinds = np.concatenate([np.full(book.n_instruments, "instrument"), np.full(book.n_assets, "asset")])
    rows = np.concatenate([row_of_nonzeros(book.positions), row_of_nonzeros(book.balances)])
    label = np.concatenate([book.positions.indices, book.n_instruments + book.balances.indices])
    amount = np.concatenate([req.position_driver, req.balance_driver])
    keep = amount > 0
    rows, label, amount = rows[keep], label[keep], amount[keep]
    total = np.bincount(rows, weights=amount, minlength=n)
    order = np.lexsort((-amount, rows))
    rows, label, amount = rows[order], label[order], amount[order]
    first = np.searchsorted(rows, np.arange(n))
    rank = np.arange(rows.shape[0]) - first[rows]
    top = rank < k
    out_label = np.full((n, k), -1, dtype=np.int64)
    out_amount = np.zeros((n, k))
    out_label[rows[top], rank[top]] = label[top]
    out_amount[rows[top], rank[top]] = amount[top]
    share = guarded_ratio(out_amount, np.broadcast_to(total[:, None], out_amount.shape))
    return Contributors(label=out_label, share=np.nan_to_num(share), amount=out_amount, labels=labels, kinds=kinds)


def empty_contributors(ctx: RiskContext) -> Contributors:
    """Contributors with no entries (labels set), for results whose ranking is filled later."""
    book, k = ctx.book, ctx.config.contributors_top
    labels = np.concatenate([book.instruments.ids.astype(str), np.array([f"asset:{a}" for a in book.assets])])
    kinds = np.concatenate([np.full(book.n_instruments, "instrument"), np.full(book.n_assets, "asset")])
    n = ctx.n_accounts
    return Contributors(label=np.full((n, k), -1, dtype=np.int64), share=np.zeros((n, k)), amount=np.zeros((n, k)),
                        labels=labels, kinds=kinds)


def coverage_parts(
    ctx: RiskContext,
    *,
    with_distance: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> tuple[CoverageResult, Requirement]:
    """Every per-account metric except the contributors ranking (left empty), and the Requirement it came
    from (whose drivers :func:`top_contributors` ranks). The real-time engine's tick path uses this."""
    step = on_step or (lambda stage: None)
    parts = account_equity(ctx)
    step("valuation")
    req = margin_requirement(ctx)
    step("margin")
    ae = parts.adjusted_equity
    mm, im = req.maintenance, req.initial
    unbounded = ~(mm > REQUIREMENT_FLOOR_USD)
    coverage = guarded_ratio(ae, mm, floor=REQUIREMENT_FLOOR_USD)
    excess = ae - mm
    status = classify(ae, coverage, unbounded, ctx.config.thresholds)
    lending = ctx.model_code == LENDING_CODE
    hf = np.where(lending, health_factor(ctx), np.nan) if lending.any() else np.full(ctx.n_accounts, np.nan)
    hf = np.where(np.isinf(hf), np.nan, hf)
    if with_distance:
        down, up = distances_to_liquidation(ctx, excess, on_step=lambda: step("distance"))
    else:
        down = up = np.full(ctx.n_accounts, np.nan)
    result = CoverageResult(
        account_ids=ctx.book.account_ids,
        model=ctx.model_code,
        equity=parts.equity,
        collateral_value=parts.collateral_value,
        adjusted_equity=ae,
        initial_margin=im,
        maintenance_margin=mm,
        coverage_ratio=coverage,
        unbounded=unbounded,
        initial_coverage_ratio=guarded_ratio(ae, im, floor=REQUIREMENT_FLOOR_USD),
        margin_utilisation=guarded_ratio(mm, ae),
        excess=excess,
        shortfall=np.maximum(0.0, -excess),
        available=ae - im,
        status=status,
        distance_down=down,
        distance_up=up,
        health_factor=hf,
        contributors=empty_contributors(ctx),
    )
    return result, req


def compute_coverage(
    ctx: RiskContext,
    *,
    with_distance: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> CoverageResult:
    """Every per-account metric of DESIGN.md §2 for all accounts of ``ctx``.

    ``on_step(stage)`` is called after each stage (for progress bars).
    """
    result, req = coverage_parts(ctx, with_distance=with_distance, on_step=on_step)
    contributors = top_contributors(ctx, req, ctx.config.contributors_top)
    if on_step:
        on_step("contributors")
    return replace(result, contributors=contributors)


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemResult:
    """Venue-level figures (USD)."""

    accounts: int
    by_status: dict[str, int]
    by_model: dict[str, int]
    total_equity: float
    total_collateral_value: float
    total_adjusted_equity: float
    total_initial_margin: float
    total_maintenance_margin: float
    system_coverage_ratio: float  # NaN when the total requirement is 0
    total_shortfall: float
    coverage_quantiles: dict[str, float]
    largest_shortfalls: list[tuple[str, float]]
    concentration: float  # share of the top-10 accounts in the total maintenance requirement


QUANTILES = (0.01, 0.05, 0.10, 0.25, 0.50)


def system_metrics(result: CoverageResult, *, top: int = 10) -> SystemResult:
    """Aggregate a CoverageResult into venue-level figures."""
    status_counts = np.bincount(result.status.astype(np.int64), minlength=len(STATUSES))
    model_counts = np.bincount(result.model.astype(np.int64), minlength=len(MARGIN_MODELS))
    total_ae = float(result.adjusted_equity.sum())
    total_mm = float(result.maintenance_margin.sum())
    bounded = result.coverage_ratio[~result.unbounded]
    quantiles = (
        {f"p{int(round(q * 100)):02d}": float(np.quantile(bounded, q)) for q in QUANTILES}
        if bounded.size
        else {f"p{int(round(q * 100)):02d}": float("nan") for q in QUANTILES}
    )
    short_order = np.argsort(-result.shortfall, kind="stable")[:top]
    largest = [(str(result.account_ids[i]), float(result.shortfall[i])) for i in short_order
               if result.shortfall[i] > 0]
    mm_sorted = np.sort(result.maintenance_margin)[::-1]
    return SystemResult(
        accounts=result.n_accounts,
        by_status={s.value: int(c) for s, c in zip(STATUSES, status_counts, strict=True)},
        by_model={m.value: int(c) for m, c in zip(MARGIN_MODELS, model_counts, strict=True)},
        total_equity=float(result.equity.sum()),
        total_collateral_value=float(result.collateral_value.sum()),
        total_adjusted_equity=total_ae,
        total_initial_margin=float(result.initial_margin.sum()),
        total_maintenance_margin=total_mm,
        system_coverage_ratio=total_ae / total_mm if total_mm > 0 else float("nan"),
        total_shortfall=float(result.shortfall.sum()),
        coverage_quantiles=quantiles,
        largest_shortfalls=largest,
        concentration=float(mm_sorted[:top].sum() / total_mm) if total_mm > 0 else float("nan"),
    )


__all__ = ["CoverageResult", "SystemResult", "classify", "compute_coverage", "system_metrics",
           "MarginModelName"]

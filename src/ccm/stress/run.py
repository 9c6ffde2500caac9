"""Stress runs: the whole book through a ScenarioSet, streamed in chunks of scenarios.

Per scenario s and account i the engine computes the stressed adjusted equity AE[s, i]
(:func:`ccm.risk.context.scenario_adjusted_equity`: instruments revalued, haircuts re-evaluated) and

- uncovered loss U[s, i] = max(0, −AE[s, i]) (DESIGN.md §2);
- breached: AE[s, i] < MM[i], with MM the maintenance margin **today** — the requirement is held at its
  pre-stress level (stressed coverage against today's requirement < 1). An account with no requirement
  counts as breached only when its stressed adjusted equity is negative;
- per scenario: system uncovered loss Σ_i U[s, i], accounts breached, the largest losses,
  Cover-1 = max_i U[s, i] and Cover-2 = the sum of the two largest;
- per account: the worst scenario (lowest AE; the first on ties), AE, coverage AE / MM and U in it;
- system: Cover-1 / Cover-2 = the largest per-scenario Cover-1 / Cover-2, fund coverage = fund ÷ Cover-2,
  VaR and ES of the system uncovered loss across scenarios (``stress.cover.var_es``).

Mergeable: a run is an accumulation then a finalisation. :func:`stress_partial` reduces one block of the
(accounts × scenarios) grid to a :class:`StressPartial` (per scenario: Σ losses, breaches, the k largest
losses; per account: the lowest stressed equity and its scenario); :func:`combine` merges partials of
disjoint blocks that tile a rectangle (sums and top-k merges across accounts, concatenation and minima across
scenarios); :func:`finalise` derives Cover-1/2, VaR/ES, orderings and fund ratios. :func:`run_stress` is
``finalise(stress_partial(...))`` and the Dask shell (``ccm.dist.stress``) is ``finalise(combine(parts))``, so
single-process and cluster figures come from the same code.

Memory: only one chunk of (chunk, n_accounts) stressed equities lives at a time; everything kept
across chunks is (S,) or (S, k) per scenario and (n_accounts,) per account. Results are identical for
any chunk size (per-scenario figures do not mix scenarios; per-account ties go to the first scenario).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ccm._typing import FloatArray, IntArray
from ccm.division import guarded_ratio
from ccm.risk.context import RiskContext, account_equity, scenario_adjusted_equity
from ccm.risk.coverage import REQUIREMENT_FLOOR_USD
from ccm.risk.margin import margin_requirement
from ccm.scenario.base import ScenarioSet
from ccm.stress.cover import cover_n, fund_to_cover_2, largest_losses, var_es

#: Cap on scenarios × max(accounts, stored balances) per chunk. Keeps each (chunk, n) temporary of the
#: valuation below ~16 MB: larger ones are mapped fresh by the allocator and page-faulted on every chunk
#: (measured ~2× slower per account-scenario at 250 than at ≤ 20 scenarios × 132k balances) and
#: dominate peak memory (≈ 10 GB at 500 scenarios × 100k accounts).
CHUNK_CELLS = 2_000_000
#: Reduce chunks with the compiled kernel when numba is present (tests switch it off to compare).
_USE_COMPILED: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StressResult:
    """Outcome of :func:`run_stress` (USD; losses positive). S scenarios, n accounts, k top accounts.

    Attributes
    ----------
    account_ids : ndarray of str (n,).
    scenario_names : tuple of str (S,); scenario_dates : tuple of ISO date or None (S,); kind : the set's kind.
    adjusted_equity : (n,) adjusted equity today.
    maintenance_margin : (n,) maintenance margin today (the requirement held through every scenario).
    system_uncovered_loss : (S,) Σ over accounts of max(0, −stressed adjusted equity).
    accounts_breached : (S,) int64, accounts with stressed adjusted equity < today's maintenance margin.
    top_account_rows : (S, k) int64 row into ``account_ids`` of the accounts with the largest uncovered loss,
        largest first; −1 where fewer than k accounts lose anything.
    top_uncovered_loss : (S, k) their uncovered losses (0 where the row is −1).
    cover_1_by_scenario, cover_2_by_scenario : (S,) the largest / two largest uncovered losses.
    worst_scenario : (n,) int64, per account the scenario with its lowest stressed adjusted equity (−1 if S = 0).
    worst_adjusted_equity : (n,) that adjusted equity.
    worst_coverage : (n,) worst adjusted equity ÷ today's maintenance margin; NaN where the requirement is 0.
    worst_uncovered_loss : (n,) max(0, −worst adjusted equity) (the account's largest uncovered loss).
    cover_1, cover_2 : the largest Cover-1 / Cover-2 over the scenarios (0 when S = 0).
    cover_1_scenario, cover_2_scenario : the scenarios where they occur (−1 when S = 0).
    fund_usd : the insurance / default fund; fund_to_cover_2 : fund ÷ cover_2, None when cover_2 is 0.
    scenario_order : (S,) int64, scenarios by system uncovered loss, largest first (ties in scenario order).
    confidence, var, es : VaR / ES of ``system_uncovered_loss`` at ``confidence`` (see ``var_es``).
    """

    account_ids: np.ndarray
    scenario_names: tuple[str, ...]
    scenario_dates: tuple[str | None, ...]
    kind: str
    adjusted_equity: FloatArray
    maintenance_margin: FloatArray
    system_uncovered_loss: FloatArray
    accounts_breached: IntArray
    top_account_rows: IntArray
    top_uncovered_loss: FloatArray
    cover_1_by_scenario: FloatArray
    cover_2_by_scenario: FloatArray
    worst_scenario: IntArray
    worst_adjusted_equity: FloatArray
    worst_coverage: FloatArray
    worst_uncovered_loss: FloatArray
    cover_1: float
    cover_2: float
    cover_1_scenario: int
    cover_2_scenario: int
    fund_usd: float
    fund_to_cover_2: float | None
    scenario_order: IntArray
    confidence: float
    var: float
    es: float

    @property
    def n_scenarios(self) -> int:
        return len(self.scenario_names)

    @property
    def top_account_ids(self) -> np.ndarray:
        """(S, k) account ids of ``top_account_rows`` ("" where the row is −1)."""
        rows = self.top_account_rows
        ids = self.account_ids[np.maximum(rows, 0)] if self.account_ids.size else np.full(rows.shape, "")
        return np.where(rows >= 0, ids, "")

    def worst_scenarios(self, k: int = 10) -> IntArray:
        """Indices of the ``k`` scenarios with the largest system uncovered loss, largest first."""
        return self.scenario_order[:k]


try:  # numba is optional: without it the numpy reductions are used (tests compare both)
    from numba import njit

    COMPILED = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    COMPILED = False

if COMPILED:

    @njit(cache=True, nogil=True)
    def _reduce_kernel(ae, maintenance, system, breached, top_rows, top_loss, worst_ae, worst_index,
                       offset):  # pragma: no cover - compiled
        """One pass over ae (c, n): per scenario Σ losses, breaches and the k largest losses (ties: first
        account); per account the lowest AE over the chunk if below ``worst_ae`` (ties: first scenario)."""
        c, n = ae.shape
        k = top_rows.shape[1]
        for i in range(n):
            mm = maintenance[i]
            for s in range(c):
                x = ae[s, i]
                if x < mm:
                    breached[s] += 1
                if x < worst_ae[i]:
                    worst_ae[i] = x
                    worst_index[i] = offset + s
                if x < 0.0:
                    loss = -x
                    system[s] += loss
                    if k > 0 and loss > top_loss[s, k - 1]:
                        j = k - 1
                        while j > 0 and loss > top_loss[s, j - 1]:
                            top_loss[s, j] = top_loss[s, j - 1]
                            top_rows[s, j] = top_rows[s, j - 1]
                            j -= 1
                        top_loss[s, j] = loss
                        top_rows[s, j] = i


class _Accumulator:
    """Running reductions over chunks of stressed adjusted equity (chunk, n_accounts).

    ``compiled`` (default: when numba is present) reduces each chunk in one compiled pass; otherwise a few
    numpy passes. Both give the same figures (sums up to rounding order).
    """

    def __init__(self, n_scenarios: int, n_accounts: int, k: int, maintenance: FloatArray,
                 compiled: bool | None = None) -> None:
        self.maintenance = np.ascontiguousarray(maintenance, dtype=float)
        self.system = np.zeros(n_scenarios)
        self.breached = np.zeros(n_scenarios, dtype=np.int64)
        self.top_rows = np.full((n_scenarios, k), -1, dtype=np.int64)
        self.top_loss = np.zeros((n_scenarios, k))
        self.worst_ae = np.full(n_accounts, np.inf)
        self.worst_scenario = np.full(n_accounts, -1, dtype=np.int64)
        self.compiled = COMPILED if compiled is None else compiled and COMPILED

    def add(self, start: int, ae: FloatArray) -> None:
        if self.compiled:
            stop = start + ae.shape[0]
            system = np.zeros(ae.shape[0])
            breached = np.zeros(ae.shape[0], dtype=np.int64)
            top_rows = np.full((ae.shape[0], self.top_rows.shape[1]), -1, dtype=np.int64)
            top_loss = np.zeros((ae.shape[0], self.top_rows.shape[1]))
            _reduce_kernel(np.asarray(ae, dtype=float), self.maintenance, system, breached, top_rows, top_loss,
                           self.worst_ae, self.worst_scenario, start)
            self.system[start:stop], self.breached[start:stop] = system, breached
            self.top_rows[start:stop], self.top_loss[start:stop] = top_rows, top_loss
            return
        self._add_numpy(start, ae)

    def _add_numpy(self, start: int, ae: FloatArray) -> None:
        stop = start + ae.shape[0]
        loss = np.empty(ae.shape)  # C order whatever the layout of ae: row-wise reductions run contiguous
        np.minimum(ae, 0.0, out=loss)
        np.negative(loss, out=loss)
        self.system[start:stop] = loss.sum(axis=1)
        self.breached[start:stop] = np.count_nonzero(ae < self.maintenance[None, :], axis=1)
        rows, amounts = largest_losses(loss, self.top_rows.shape[1], overwrite_input=True)
        self.top_rows[start:stop] = rows
        self.top_loss[start:stop] = amounts
        chunk_worst = ae.argmin(axis=0)
        chunk_ae = ae[chunk_worst, np.arange(ae.shape[1])]
        better = chunk_ae < self.worst_ae  # strict: the earliest scenario wins ties across chunks
        self.worst_ae[better] = chunk_ae[better]
        self.worst_scenario[better] = start + chunk_worst[better]


@dataclass(frozen=True, slots=True, kw_only=True)
class StressPartial:
    """Reductions of one block of the stress grid: accounts ``account_start`` … + n of the whole book ×
    scenarios ``scenario_start`` … + S_b of the whole (asset-aligned) scenario set.

    Attributes
    ----------
    account_start, scenario_start : offsets of the block in the whole book and scenario set.
    account_ids : (n,) str; adjusted_equity, maintenance_margin : (n,) today (USD).
    system_uncovered_loss : (S_b,); accounts_breached : (S_b,) int64.
    top_account_rows : (S_b, k) int64 rows into the **whole** book, largest loss first, −1 where fewer lose;
        top_uncovered_loss : (S_b, k).
    worst_adjusted_equity : (n,) lowest stressed adjusted equity over the block's scenarios (+inf if S_b = 0);
        worst_scenario : (n,) int64 index of that scenario in the **whole** set (−1 if none; first on ties).
    """

    account_start: int
    scenario_start: int
    account_ids: np.ndarray
    adjusted_equity: FloatArray
    maintenance_margin: FloatArray
    system_uncovered_loss: FloatArray
    accounts_breached: IntArray
    top_account_rows: IntArray
    top_uncovered_loss: FloatArray
    worst_adjusted_equity: FloatArray
    worst_scenario: IntArray

    @property
    def n_accounts(self) -> int:
        return int(self.account_ids.shape[0])

    @property
    def n_scenarios(self) -> int:
        return int(self.system_uncovered_loss.shape[0])


def effective_chunk(ctx: RiskContext, chunk_size: int) -> int:
    """Scenarios per chunk: ``chunk_size``, capped at CHUNK_CELLS ÷ max(n_accounts, stored balances)."""
    width = max(ctx.n_accounts, ctx.book.balances.nnz, 1)
    return max(1, min(chunk_size, CHUNK_CELLS // width))


def _neutral_as_none(**multipliers: FloatArray) -> dict[str, FloatArray | None]:
    """The multipliers, with None for those equal to 1 everywhere (the core then skips them)."""
    return {k: None if np.all(v == 1.0) else v for k, v in multipliers.items()}


def stress_partial(
    ctx: RiskContext,
    scenarios: ScenarioSet,
    *,
    account_start: int = 0,
    scenario_start: int = 0,
    chunk_size: int = 500,
    top_accounts: int = 5,
    on_chunk: Callable[[int, int], None] | None = None,
) -> StressPartial:
    """Accumulate every scenario of ``scenarios`` over the accounts of ``ctx`` into a :class:`StressPartial`.

    ``ctx`` may be a shard (accounts ``account_start`` … of the whole book) and ``scenarios`` a chunk
    (scenarios ``scenario_start`` … of the whole set); the offsets only label rows and scenario indices.
    ``scenarios`` is realigned to the book's assets (``ScenarioSet.for_assets``). ``top_accounts`` accounts
    are kept per scenario (at least 2, for Cover-2); ``chunk_size`` as in :func:`run_stress`.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be ≥ 1")
    if top_accounts < 0:
        raise ValueError("top_accounts must be ≥ 0")
    aligned = scenarios.for_assets(ctx.book.assets, stable=ctx.haircuts.stable)
    n_s, n = len(aligned), ctx.n_accounts
    maintenance = np.asarray(margin_requirement(ctx).maintenance, dtype=float)
    acc = _Accumulator(n_s, n, max(top_accounts, 2), maintenance, compiled=_USE_COMPILED)
    step = effective_chunk(ctx, chunk_size)
    for start in range(0, n_s, step):
        stop = min(n_s, start + step)
        part = slice(start, stop)
        ae = scenario_adjusted_equity(ctx, 1.0 + aligned.price_returns[part], **_neutral_as_none(
            vol_multiplier=1.0 + aligned.vol_shifts[part],
            haircut_multiplier=aligned.haircut_multipliers[part],
            liquidity_multiplier=aligned.liquidity_multipliers[part],
        ))
        acc.add(start, ae)
        del ae
        if on_chunk is not None:
            on_chunk(stop, n_s)
    return StressPartial(
        account_start=int(account_start), scenario_start=int(scenario_start), account_ids=ctx.book.account_ids,
        adjusted_equity=account_equity(ctx).adjusted_equity, maintenance_margin=maintenance,
        system_uncovered_loss=acc.system, accounts_breached=acc.breached,
        top_account_rows=np.where(acc.top_rows >= 0, acc.top_rows + account_start, -1) if account_start
        else acc.top_rows,
        top_uncovered_loss=acc.top_loss, worst_adjusted_equity=acc.worst_ae,
        worst_scenario=np.where(acc.worst_scenario >= 0, acc.worst_scenario + scenario_start, -1) if scenario_start
        else acc.worst_scenario)


def _combine_accounts(parts: list[StressPartial]) -> StressPartial:
    """Partials of the same scenarios over consecutive account ranges → one over their union.

    Per scenario the sums add and the k largest losses are the k largest of the parts' own (candidates laid
    out part by part, each part's largest first, so equal losses keep account order as in one process)."""
    first = parts[0]
    k = first.top_account_rows.shape[1]
    column, amount = largest_losses(np.concatenate([p.top_uncovered_loss for p in parts], axis=1), k)
    rows = np.concatenate([p.top_account_rows for p in parts], axis=1)
    merged = np.take_along_axis(rows, np.maximum(column, 0), axis=1)
    return StressPartial(
        account_start=first.account_start, scenario_start=first.scenario_start,
        account_ids=np.concatenate([p.account_ids for p in parts]),
        adjusted_equity=np.concatenate([p.adjusted_equity for p in parts]),
        maintenance_margin=np.concatenate([p.maintenance_margin for p in parts]),
        system_uncovered_loss=np.sum([p.system_uncovered_loss for p in parts], axis=0),
        accounts_breached=np.sum([p.accounts_breached for p in parts], axis=0, dtype=np.int64),
        top_account_rows=np.where(column >= 0, merged, -1), top_uncovered_loss=amount,
        worst_adjusted_equity=np.concatenate([p.worst_adjusted_equity for p in parts]),
        worst_scenario=np.concatenate([p.worst_scenario for p in parts]))


def _combine_scenarios(parts: list[StressPartial]) -> StressPartial:
    """Partials of the same accounts over consecutive scenario ranges → one over their union: per-scenario
    arrays concatenate; per account the lowest stressed equity wins (the earliest scenario on ties)."""
    first = parts[0]
    worst = np.stack([p.worst_adjusted_equity for p in parts])
    pick = np.argmin(worst, axis=0)[None, :]  # first part on ties, hence the earliest scenario
    return StressPartial(
        account_start=first.account_start, scenario_start=first.scenario_start, account_ids=first.account_ids,
        adjusted_equity=first.adjusted_equity, maintenance_margin=first.maintenance_margin,
        system_uncovered_loss=np.concatenate([p.system_uncovered_loss for p in parts]),
        accounts_breached=np.concatenate([p.accounts_breached for p in parts]).astype(np.int64),
        top_account_rows=np.concatenate([p.top_account_rows for p in parts]),
        top_uncovered_loss=np.concatenate([p.top_uncovered_loss for p in parts]),
        worst_adjusted_equity=np.take_along_axis(worst, pick, axis=0)[0],
        worst_scenario=np.take_along_axis(np.stack([p.worst_scenario for p in parts]), pick, axis=0)[0])


def _contiguous(parts: list[StressPartial], start: str, size: str, what: str) -> None:
    for a, b in zip(parts, parts[1:], strict=False):
        if getattr(a, start) + getattr(a, size) != getattr(b, start):
            raise ValueError(f"partials do not tile the {what}: a block ends at {getattr(a, start) + getattr(a, size)}"
                             f" and the next starts at {getattr(b, start)}")


def combine(parts: list[StressPartial]) -> StressPartial:
    """One partial from partials of disjoint blocks that tile a rectangle of (accounts × scenarios), in any
    order: each row of blocks (same scenarios) is merged across accounts, then the rows across scenarios."""
    if not parts:
        raise ValueError("combine needs at least one partial")
    if len({p.top_account_rows.shape[1] for p in parts}) != 1:
        raise ValueError("partials keep different numbers of top accounts")
    by_scenarios: dict[tuple[int, int], list[StressPartial]] = {}
    for p in parts:
        by_scenarios.setdefault((p.scenario_start, p.n_scenarios), []).append(p)
    rows = []
    for key in sorted(by_scenarios):
        row = sorted(by_scenarios[key], key=lambda p: p.account_start)
        _contiguous(row, "account_start", "n_accounts", "accounts")
        rows.append(row[0] if len(row) == 1 else _combine_accounts(row))
    spans = {(r.account_start, r.n_accounts) for r in rows}
    if len(spans) != 1:
        raise ValueError(f"partials do not tile a rectangle: scenario blocks cover different accounts {sorted(spans)}")
    _contiguous(rows, "scenario_start", "n_scenarios", "scenarios")
    return rows[0] if len(rows) == 1 else _combine_scenarios(rows)


def finalise(partial: StressPartial, scenarios: ScenarioSet, *, fund_usd: float = 0.0, top_accounts: int = 5,
             confidence: float = 0.99) -> StressResult:
    """The :class:`StressResult` of a partial covering the whole book and every scenario of ``scenarios``
    (names, dates and kind are read from it): Cover-1/2 per scenario and overall, VaR / ES of the system
    uncovered loss, the scenario order, each account's worst coverage and the fund ratio."""
    if not fund_usd >= 0:
        raise ValueError("fund_usd must be ≥ 0")
    if top_accounts > partial.top_account_rows.shape[1]:
        raise ValueError(f"the partial keeps {partial.top_account_rows.shape[1]} accounts per scenario, fewer than "
                         f"top_accounts={top_accounts}")
    n_s = partial.n_scenarios
    if n_s != len(scenarios):
        raise ValueError(f"the partial holds {n_s} scenarios, the set {len(scenarios)}")
    cover_1_s = cover_n(partial.top_uncovered_loss, 1)
    cover_2_s = cover_n(partial.top_uncovered_loss, 2)
    c1 = int(np.argmax(cover_1_s)) if n_s else -1
    c2 = int(np.argmax(cover_2_s)) if n_s else -1
    cover_2 = float(cover_2_s[c2]) if n_s else 0.0
    maintenance = partial.maintenance_margin
    worst_ae = np.where(partial.worst_scenario >= 0, partial.worst_adjusted_equity, np.nan)
    var, es = var_es(partial.system_uncovered_loss, confidence) if n_s else (float("nan"), float("nan"))
    return StressResult(
        account_ids=partial.account_ids,
        scenario_names=scenarios.names,
        scenario_dates=scenarios.dates,
        kind=scenarios.kind,
        adjusted_equity=partial.adjusted_equity,
        maintenance_margin=maintenance,
        system_uncovered_loss=partial.system_uncovered_loss,
        accounts_breached=partial.accounts_breached,
        top_account_rows=partial.top_account_rows[:, :top_accounts],
        top_uncovered_loss=partial.top_uncovered_loss[:, :top_accounts],
        cover_1_by_scenario=cover_1_s,
        cover_2_by_scenario=cover_2_s,
        worst_scenario=partial.worst_scenario,
        worst_adjusted_equity=worst_ae,
        worst_coverage=guarded_ratio(worst_ae, maintenance, floor=REQUIREMENT_FLOOR_USD),
        worst_uncovered_loss=np.maximum(0.0, -np.nan_to_num(worst_ae, nan=0.0)),
        cover_1=float(cover_1_s[c1]) if n_s else 0.0,
        cover_2=cover_2,
        cover_1_scenario=c1,
        cover_2_scenario=c2,
        fund_usd=float(fund_usd),
        fund_to_cover_2=fund_to_cover_2(fund_usd, cover_2),
        scenario_order=np.argsort(-partial.system_uncovered_loss, kind="stable").astype(np.int64),
        confidence=confidence,
        var=var,
        es=es,
    )


def run_stress(
    ctx: RiskContext,
    scenarios: ScenarioSet,
    *,
    fund_usd: float = 0.0,
    chunk_size: int = 500,
    top_accounts: int = 5,
    confidence: float = 0.99,
    on_chunk: Callable[[int, int], None] | None = None,
) -> StressResult:
    """Run every scenario of ``scenarios`` over the whole book of ``ctx`` (see the module docstring):
    ``finalise(stress_partial(ctx, scenarios))``.

    Parameters
    ----------
    ctx : the book, its market and config.
    scenarios : any assets; realigned to the book's with ``ScenarioSet.for_assets`` (a missing stablecoin
        does not move, a missing other asset follows BTC).
    fund_usd : the insurance / default fund (≥ 0) for ``fund_to_cover_2``.
    chunk_size : at most this many scenarios evaluated at once (also capped by :data:`CHUNK_CELLS`, see
        :func:`effective_chunk`); peak memory grows with the chunk × n_accounts. Results do not depend on it.
    top_accounts : accounts kept per scenario (the largest uncovered losses).
    confidence : of VaR / ES of the system uncovered loss, in (0, 1).
    on_chunk : optional callback ``on_chunk(done, total)`` after each chunk (progress).
    """
    if not fund_usd >= 0:
        raise ValueError("fund_usd must be ≥ 0")
    partial = stress_partial(ctx, scenarios, chunk_size=chunk_size, top_accounts=top_accounts, on_chunk=on_chunk)
    aligned = scenarios.for_assets(ctx.book.assets, stable=ctx.haircuts.stable)
    return finalise(partial, aligned, fund_usd=fund_usd, top_accounts=top_accounts, confidence=confidence)


__all__ = ["CHUNK_CELLS", "StressPartial", "StressResult", "combine", "effective_chunk", "finalise", "run_stress",
           "stress_partial"]

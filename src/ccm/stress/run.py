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

Memory: only one chunk of (chunk, n_accounts) stressed equities lives at a time; everything kept
across chunks is (S,) or (S, k) per scenario and (n_accounts,) per account. Results are identical for
any chunk size (per-scenario figures do not mix scenarios; per-account ties go to the first scenario).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ccm._typing import FloatArray, IntArray
from ccm.risk.context import RiskContext, account_equity, scenario_adjusted_equity
from ccm.risk.coverage import REQUIREMENT_FLOOR_USD
from ccm.risk.margin import margin_requirement
from ccm.scenario.base import ScenarioSet
from ccm.stress.cover import cover_n, fund_coverage, largest_losses, var_es

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
    fund_usd : the insurance / default fund; fund_coverage : fund ÷ cover_2, None when cover_2 is 0.
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
    fund_coverage: float | None
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


def effective_chunk(ctx: RiskContext, chunk_size: int) -> int:
    """Scenarios per chunk: ``chunk_size``, capped at CHUNK_CELLS ÷ max(n_accounts, stored balances)."""
    width = max(ctx.n_accounts, ctx.book.balances.nnz, 1)
    return max(1, min(chunk_size, CHUNK_CELLS // width))


def _neutral_as_none(**multipliers: FloatArray) -> dict[str, FloatArray | None]:
    """The multipliers, with None for those equal to 1 everywhere (the core then skips them)."""
    return {k: None if np.all(v == 1.0) else v for k, v in multipliers.items()}


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
    """Run every scenario of ``scenarios`` over the whole book of ``ctx`` (see the module docstring).

    Parameters
    ----------
    ctx : the book, its market and config.
    scenarios : any assets; realigned to the book's with ``ScenarioSet.for_assets`` (a missing stablecoin
        does not move, a missing other asset follows BTC).
    fund_usd : the insurance / default fund (≥ 0) for ``fund_coverage``.
    chunk_size : at most this many scenarios evaluated at once (also capped by :data:`CHUNK_CELLS`, see
        :func:`effective_chunk`); peak memory grows with the chunk × n_accounts. Results do not depend on it.
    top_accounts : accounts kept per scenario (the largest uncovered losses).
    confidence : of VaR / ES of the system uncovered loss, in (0, 1).
    on_chunk : optional callback ``on_chunk(done, total)`` after each chunk (progress).
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be ≥ 1")
    if top_accounts < 0:
        raise ValueError("top_accounts must be ≥ 0")
    if not fund_usd >= 0:
        raise ValueError("fund_usd must be ≥ 0")
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

    cover_1_s = cover_n(acc.top_loss, 1)
    cover_2_s = cover_n(acc.top_loss, 2)
    c1 = int(np.argmax(cover_1_s)) if n_s else -1
    c2 = int(np.argmax(cover_2_s)) if n_s else -1
    cover_1 = float(cover_1_s[c1]) if n_s else 0.0
    cover_2 = float(cover_2_s[c2]) if n_s else 0.0
    worst_ae = np.where(acc.worst_scenario >= 0, acc.worst_ae, np.nan)
    bounded = maintenance > REQUIREMENT_FLOOR_USD
    with np.errstate(divide="ignore", invalid="ignore"):
        worst_cov = np.where(bounded, worst_ae / np.where(bounded, maintenance, 1.0), np.nan)
    var, es = var_es(acc.system, confidence) if n_s else (float("nan"), float("nan"))
    return StressResult(
        account_ids=ctx.book.account_ids,
        scenario_names=aligned.names,
        scenario_dates=aligned.dates,
        kind=aligned.kind,
        adjusted_equity=account_equity(ctx).adjusted_equity,
        maintenance_margin=maintenance,
        system_uncovered_loss=acc.system,
        accounts_breached=acc.breached,
        top_account_rows=acc.top_rows[:, :top_accounts],
        top_uncovered_loss=acc.top_loss[:, :top_accounts],
        cover_1_by_scenario=cover_1_s,
        cover_2_by_scenario=cover_2_s,
        worst_scenario=acc.worst_scenario,
        worst_adjusted_equity=worst_ae,
        worst_coverage=worst_cov,
        worst_uncovered_loss=np.maximum(0.0, -np.nan_to_num(worst_ae, nan=0.0)),
        cover_1=cover_1,
        cover_2=cover_2,
        cover_1_scenario=c1,
        cover_2_scenario=c2,
        fund_usd=float(fund_usd),
        fund_coverage=fund_coverage(fund_usd, cover_2),
        scenario_order=np.argsort(-acc.system, kind="stable").astype(np.int64),
        confidence=confidence,
        var=var,
        es=es,
    )


__all__ = ["CHUNK_CELLS", "StressResult", "effective_chunk", "run_stress"]

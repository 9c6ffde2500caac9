"""Benchmark: full recompute of every per-account metric on a synthetic venue, per margin model.

    .venv/bin/python benchmarks/bench_metrics.py [--accounts N] [--reference-accounts 1000] [--no-reference]

Generates a venue of N accounts (default 100,000) over ~2,000 instruments (~10 positions per account),
builds the Book and resolves the market; then for each margin model (portfolio, standard) sets every
account to that model and times one full recompute: ``RiskContext.build`` + ``compute_coverage`` (with
distance to liquidation both ways and contributors) + ``system_metrics``, with the peak RSS of that
recompute. In the same process it times the plain-Python reference implementation
(``tests/reference/models.py``: ``reference_metrics``) on a slice of the first accounts, checks that both
agree on that slice, and reports

    speedup = (reference seconds per account) / (vectorised seconds per account).

The reference computes the metrics without distance to liquidation and contributors, so the headline
speedup is conservative; the table also shows it against the vectorised time without the distance stage.

Output: a table of stages, then exactly one line per model:

    metrics model=portfolio accounts=N seconds=S accounts_per_s=A peak_rss_mb=M speedup_vs_reference=R
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import math
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT), str(ROOT / "src")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from benchmarks.memory import peak_rss_mb, reset_peak_rss  # noqa: E402
from ccm.book import Account, Book, BookColumns, Instrument, Position  # noqa: E402
from ccm.enums import MARGIN_MODELS, STATUSES, InstrumentType, MarginModelName, OptionRight, Settlement  # noqa: E402
from ccm.pricing.market_state import MarketState, resolve_market  # noqa: E402
from ccm.risk.config import RiskConfig  # noqa: E402
from ccm.risk.context import RiskContext  # noqa: E402
from ccm.risk.coverage import CoverageResult, compute_coverage, system_metrics  # noqa: E402
from ccm.synthetic import SyntheticVenue, generate_venue  # noqa: E402

MODELS = (MarginModelName.PORTFOLIO, MarginModelName.STANDARD)
COMPUTE_STAGES = ("context", "valuation", "margin", "distance", "contributors", "system")


# -- measurement helpers --------------------------------------------------------------------------





class StageClock:
    """Accumulates wall time per stage from ``on_step(stage)`` callbacks (time since the last mark)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._last = time.perf_counter()

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self.calls[stage] = self.calls.get(stage, 0) + 1
        self._last = now


def load_risk_config() -> RiskConfig:
    """The packaged default config (``ccm.io.config``); a minimal inline one if the io layer is absent."""
    try:
        from ccm.io.config import load_config
    except ImportError:
        from ccm.lending.rules import LendingParams
        from ccm.risk.config import AssetRisk, PortfolioParams, StandardParams

        return RiskConfig(
            assets={"USDC": AssetRisk(stable=True), "USDT": AssetRisk(stable=True, haircut=0.01),
                    "BTC": AssetRisk(haircut=0.05), "ETH": AssetRisk(haircut=0.1),
                    "SOL": AssetRisk(haircut=0.15)},
            standard={"default": StandardParams()},
            portfolio={"default": PortfolioParams()},
            lending={"ETH": LendingParams(ltv=0.8, liquidation_threshold=0.825),
                     "BTC": LendingParams(ltv=0.73, liquidation_threshold=0.78),
                     "SOL": LendingParams(ltv=0.6, liquidation_threshold=0.7)},
        )
    return load_config(None)


# -- the reference slice --------------------------------------------------------------------------

def _import_reference():
    try:
        from tests.reference.models import reference_metrics
    except ImportError as exc:
        return None, f"{exc}"
    return reference_metrics, ""


def reference_instruments(columns: BookColumns) -> list[Instrument]:
    ic = columns.instruments
    out = []
    for k in range(ic.ids.shape[0]):
        expiry = datetime.fromtimestamp(float(ic.expiry_s[k]), tz=UTC) if np.isfinite(ic.expiry_s[k]) else None
        is_option = str(ic.type[k]) == InstrumentType.OPTION.value
        out.append(Instrument(
            id=str(ic.ids[k]), type=InstrumentType(str(ic.type[k])), underlying=str(ic.underlying[k]),
            settlement=Settlement(str(ic.settlement[k])), settlement_asset=str(ic.settlement_asset[k]),
            expiry=expiry, strike=float(ic.strike[k]) if is_option else None,
            right=OptionRight(str(ic.right[k])) if is_option else None,
        ))
    return out


def reference_accounts(columns: BookColumns, n: int, model: MarginModelName) -> list[Account]:
    """The first ``n`` accounts of the columns as value objects, every one under ``model``.

    Account ids are fixed-width and increasing, so the slice is the rows with id ≤ the n-th id (one
    vectorised string comparison, no scan per account).
    """
    ids = columns.account_ids[:n]
    last = ids[-1]
    pos, col = columns.positions, columns.collateral
    p_rows = np.flatnonzero(pos.account <= last)
    c_rows = np.flatnonzero(col.account <= last)
    positions: dict[str, list[Position]] = {str(a): [] for a in ids}
    collateral: dict[str, dict[str, float]] = {str(a): {} for a in ids}
    for r in p_rows:
        e = float(pos.entry_price[r])
        positions[str(pos.account[r])].append(Position(
            instrument=str(pos.instrument[r]), quantity=float(pos.quantity[r]),
            entry_price=None if math.isnan(e) else e))
    for r in c_rows:
        held = collateral[str(col.account[r])]
        held[str(col.asset[r])] = held.get(str(col.asset[r]), 0.0) + float(col.quantity[r])
    return [Account(id=str(a), collateral=collateral[str(a)], positions=tuple(positions[str(a)]),
                    margin_model=model) for a in ids]


def reference_market(venue: SyntheticVenue, book: Book, market: MarketState) -> dict:
    """Inputs of ``reference_metrics``: index prices, the resolved vol of every live option, rates, marks."""
    ins = book.instruments
    live = ins.is_option & (market.tau > 0)
    vols = {str(i): float(v) for i, v in zip(ins.ids[live], market.vol[live], strict=True)}
    return {"market_prices": dict(venue.market.index), "vols": vols, "as_of": venue.market.as_of,
            "rates": dict(venue.market.rates), "marks": dict(venue.market.marks)}


def agreement(reference_rows: list[dict], result: CoverageResult) -> dict[str, float]:
    """How closely the engine's first accounts match the reference: status matches, worst relative gaps."""
    n = len(reference_rows)
    status = np.array([STATUSES[int(s)].value for s in result.status[:n]])
    ref_status = np.array([r["status"] for r in reference_rows])
    out = {"status_match": float(np.mean(status == ref_status)) if n else float("nan")}
    for field in ("adjusted_equity", "maintenance_margin", "initial_margin"):
        ref = np.array([r[field] for r in reference_rows], dtype=float)
        eng = np.asarray(getattr(result, field)[:n], dtype=float)
        scale = np.maximum(np.abs(ref), 1.0)
        out[field] = float(np.max(np.abs(eng - ref) / scale)) if n else float("nan")
    mismatch = np.flatnonzero(status != ref_status)
    out["first_mismatch"] = str(result.account_ids[mismatch[0]]) if mismatch.size else ""
    return out


# -- one model ------------------------------------------------------------------------------------

def run_model(book: Book, market: MarketState, config: RiskConfig, model: MarginModelName,
              profile: cProfile.Profile | None) -> dict:
    code = MARGIN_MODELS.index(model)
    book_m = replace(book, margin_model=np.full(book.n_accounts, code, dtype=np.int8))
    gc.collect()
    reset = reset_peak_rss()
    clock = StageClock()
    if profile is not None:
        profile.enable()
    start = time.perf_counter()
    clock._last = start
    ctx = RiskContext.build(book_m, market, config)
    clock.mark("context")
    result = compute_coverage(ctx, on_step=clock.mark)
    system = system_metrics(result)
    clock.mark("system")
    seconds = time.perf_counter() - start
    if profile is not None:
        profile.disable()
    return {"seconds": seconds, "stages": clock.seconds, "calls": clock.calls,
            "peak_rss_mb": peak_rss_mb(reset), "result": result, "system": system}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--instruments", type=int, default=2_000, help="instrument target (strike density)")
    parser.add_argument("--reference-accounts", type=int, default=1_000)
    parser.add_argument("--no-reference", action="store_true", help="skip the plain-Python reference")
    parser.add_argument("--models", default=",".join(m.value for m in MODELS),
                        help="comma-separated margin models to time (default: portfolio,standard)")
    parser.add_argument("--seed", type=int, default=20250210)
    parser.add_argument("--profile", metavar="PATH", help="write cProfile stats of the timed recomputes")
    args = parser.parse_args(argv)
    models = [MarginModelName(m.strip()) for m in args.models.split(",") if m.strip()]

    shared: dict[str, float] = {}
    t = time.perf_counter()
    venue = generate_venue(args.accounts, rng=np.random.default_rng(args.seed),
                           n_instruments_target=args.instruments)
    shared["generation"] = time.perf_counter() - t
    t = time.perf_counter()
    book = venue.columns.build()
    shared["build"] = time.perf_counter() - t
    t = time.perf_counter()
    market = resolve_market(venue.market, book.assets, book.instruments)
    shared["market"] = time.perf_counter() - t
    config = load_risk_config()
    n = book.n_accounts
    setup_rss = peak_rss_mb(False)

    print(f"venue: {n:,} accounts, {book.n_instruments:,} instruments, {book.positions.nnz:,} positions "
          f"({book.positions.nnz / max(n, 1):.2f} per account), {book.balances.nnz:,} balances")
    mix = ", ".join(f"{k}={v:,}" for k, v in venue.description.items()
                    if k not in ("accounts", "instruments", "positions", "collateral"))
    print(f"archetypes: {mix}")
    print(f"setup peak RSS {setup_rss:,.0f} MB")
    print()
    print(f"{'stage':<28}{'seconds':>10}{'µs/account':>12}")
    for stage, sec in shared.items():
        print(f"{stage:<28}{sec:>10.3f}{1e6 * sec / max(n, 1):>12.2f}")

    reference_metrics, why_missing = (None, "--no-reference") if args.no_reference else _import_reference()
    ref_inputs = ref_instruments = None
    k_ref = min(args.reference_accounts, n)
    if reference_metrics is not None and k_ref > 0:
        ref_inputs = reference_market(venue, book, market)
        ref_instruments = reference_instruments(venue.columns)

    profile = cProfile.Profile() if args.profile else None
    lines = []
    for model in models:
        run = run_model(book, market, config, model, profile)
        print()
        print(f"model={model.value}: full recompute")
        for stage in COMPUTE_STAGES:
            sec = run["stages"].get(stage, 0.0)
            calls = run["calls"].get(stage, 0)
            note = f"  ({calls} grid/refine passes)" if stage == "distance" else ""
            print(f"  {stage:<26}{sec:>10.3f}{1e6 * sec / max(n, 1):>12.2f}{note}")
        print(f"  {'total':<26}{run['seconds']:>10.3f}{1e6 * run['seconds'] / max(n, 1):>12.2f}")
        by_status = ", ".join(f"{s}={c:,}" for s, c in run["system"].by_status.items())
        print(f"  status: {by_status}")

        speedup = "n/a"
        if reference_metrics is not None and k_ref > 0:
            accounts = reference_accounts(venue.columns, k_ref, model)
            t = time.perf_counter()
            rows = reference_metrics(
                ref_instruments, accounts, ref_inputs["market_prices"], ref_inputs["vols"],
                ref_inputs["as_of"], config, rates=ref_inputs["rates"], marks=ref_inputs["marks"],
            )
            ref_seconds = time.perf_counter() - t
            ref_per_account = ref_seconds / k_ref
            vec_per_account = run["seconds"] / max(n, 1)
            no_distance = run["seconds"] - run["stages"].get("distance", 0.0)
            speedup = f"{ref_per_account / vec_per_account:.1f}"
            agree = agreement(rows, run["result"])
            print(f"  reference: {k_ref:,} accounts in {ref_seconds:.3f} s ({1e6 * ref_per_account:,.0f} µs/account); "
                  f"speedup {speedup}× (full recompute), "
                  f"{ref_per_account / (no_distance / max(n, 1)):.1f}× (without distance, like for like)")
            print(f"  agreement on the slice: status {agree['status_match']:.1%}, max rel. gap "
                  f"adjusted_equity {agree['adjusted_equity']:.1e}, maintenance {agree['maintenance_margin']:.1e}, "
                  f"initial {agree['initial_margin']:.1e}"
                  + (f", first status mismatch {agree['first_mismatch']}" if agree["first_mismatch"] else ""))
        else:
            print(f"  reference: not run ({why_missing or 'no accounts'})")
        lines.append(
            f"metrics model={model.value} accounts={n} seconds={run['seconds']:.3f} "
            f"accounts_per_s={n / run['seconds']:.0f} peak_rss_mb={run['peak_rss_mb']:.0f} "
            f"speedup_vs_reference={speedup}"
        )
        del run
        gc.collect()

    if profile is not None:
        profile.dump_stats(args.profile)
        print(f"\nprofile written to {args.profile}")
    print()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

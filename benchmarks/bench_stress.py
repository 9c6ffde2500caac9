"""Benchmark: a Monte Carlo stress run over a synthetic venue on the portfolio margin model.

    .venv/bin/python benchmarks/bench_stress.py [--accounts 100000] [--scenarios 10000] [--chunk 500]
                                                [--profile PATH]

Generates a venue of N accounts (``ccm.synthetic.generate_venue``, ~2,000 instruments, ~10 positions per
account), puts every account on the portfolio model (``ccm.risk.metrics.with_model``), loads the packaged
config (``ccm.io.config.load_config(None)``), builds S Monte Carlo scenarios and times
``ccm.stress.run_stress`` (today's requirement, then the scenarios streamed in chunks) with the peak RSS.

Scenarios: ``ccm.scenario.montecarlo`` (normal, 2-day horizon, EWMA covariance, vols shifted against the
price move) on the daily closes of the book's assets in ``$CCM_DATA_DIR/budydeveloper_crypto-dataset``
(default ``../shared/data``) when that module, ``ccm.io.prices`` and the files exist; otherwise multivariate
normal 2-day log-returns with a fixed covariance written below. The output says which.

Output: a table of stages, then exactly one line:

    stress scenarios=S accounts=N seconds=T account_scenarios_per_s=A peak_rss_mb=M
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT), str(ROOT / "src")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from benchmarks.memory import peak_rss_mb, reset_peak_rss  # noqa: E402
from ccm.enums import MarginModelName  # noqa: E402
from ccm.io.config import load_config  # noqa: E402
from ccm.pricing.market_state import resolve_market  # noqa: E402
from ccm.risk.context import RiskContext  # noqa: E402
from ccm.risk.metrics import with_model  # noqa: E402
from ccm.scenario.base import ScenarioSet  # noqa: E402
from ccm.stress import run_stress  # noqa: E402
from ccm.stress.run import effective_chunk  # noqa: E402
from ccm.synthetic import generate_venue  # noqa: E402

#: Daily log-return vols of the fallback Monte Carlo (rough 2021–2024 crypto levels; stablecoins ~5 bp).
DAILY_VOL = {"BTC": 0.035, "ETH": 0.045, "SOL": 0.065}
STABLE_DAILY_VOL = 0.0005
CORRELATION = 0.8
HORIZON_DAYS = 2.0
#: Implied vols move against the price: vol shift = −VOL_BETA × return, clipped to [−0.5, 3].
VOL_BETA = 2.5






def fallback_scenarios(assets: tuple[str, ...], stable: np.ndarray, n: int, rng: np.random.Generator) -> ScenarioSet:
    """Multivariate normal 2-day log-returns with the fixed covariance above, as a ScenarioSet."""
    vols = np.array([STABLE_DAILY_VOL if s else DAILY_VOL.get(a, 0.08) for a, s in zip(assets, stable, strict=True)])
    corr = np.where(np.outer(~stable, ~stable), CORRELATION, 0.0)
    np.fill_diagonal(corr, 1.0)
    cov = np.outer(vols, vols) * corr * HORIZON_DAYS
    log_returns = rng.multivariate_normal(np.zeros(len(assets)), cov, size=n, method="cholesky")
    returns = np.expm1(log_returns)
    vol_shifts = np.clip(-VOL_BETA * returns, -0.5, 3.0)
    vol_shifts[:, stable] = 0.0
    return ScenarioSet(assets=assets, names=tuple(f"mc-{k:05d}" for k in range(n)), price_returns=returns,
                       vol_shifts=vol_shifts, kind="montecarlo")


def montecarlo_scenarios(assets, stable, n, rng) -> tuple[ScenarioSet, str]:
    """The project's Monte Carlo on the shared daily price history when available, else
    :func:`fallback_scenarios`; with a description of what was used."""
    why = ""
    try:
        from ccm.io.prices import read_asset_files
        from ccm.scenario.montecarlo import monte_carlo_from_prices
    except ImportError as exc:
        why = f"ccm.scenario.montecarlo / ccm.io.prices absent ({exc})"
    if not why:
        data = Path(os.environ.get("CCM_DATA_DIR", ROOT.parent / "shared" / "data")) / "budydeveloper_crypto-dataset"
        files = {a: data / f"{a}-USD_1d.csv" for a in assets}
        missing = [str(f) for f in files.values() if not f.exists()]
        if missing:
            why = f"price history missing: {', '.join(missing)}"
        else:
            history = read_asset_files(files)
            scenarios = monte_carlo_from_prices(
                history.prices, history.assets, paths=n, rng=rng, horizon_days=HORIZON_DAYS, covariance="ewma",
                vol_beta=VOL_BETA)
            first, last = (str(history.timestamps[k])[:10] for k in (0, -1))
            return scenarios, (f"ccm.scenario.montecarlo: normal {HORIZON_DAYS:g}-day log-returns, EWMA covariance "
                               f"of daily {'/'.join(history.assets)} closes {first}..{last} ({data.name}), "
                               f"vol_beta {VOL_BETA:g}")
    note = (f"fallback: normal {HORIZON_DAYS:g}-day log-returns, fixed covariance (daily vols {DAILY_VOL}, "
            f"correlation {CORRELATION}); {why}")
    return fallback_scenarios(assets, stable, n, rng), note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--instruments", type=int, default=2_000)
    parser.add_argument("--chunk", type=int, default=500, help="scenarios per chunk")
    parser.add_argument("--fund", type=float, default=50e6, help="insurance fund, USD")
    parser.add_argument("--seed", type=int, default=20250210)
    parser.add_argument("--profile", metavar="PATH", help="write cProfile stats of the timed run")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    stages: dict[str, float] = {}
    t = time.perf_counter()
    venue = generate_venue(args.accounts, rng=rng, n_instruments_target=args.instruments)
    stages["generation"] = time.perf_counter() - t
    t = time.perf_counter()
    book = with_model(venue.columns.build(), MarginModelName.PORTFOLIO)
    stages["build"] = time.perf_counter() - t
    t = time.perf_counter()
    market = resolve_market(venue.market, book.assets, book.instruments)
    config = load_config(None)
    ctx = RiskContext.build(book, market, config)
    stages["market + context"] = time.perf_counter() - t
    t = time.perf_counter()
    scenarios, note = montecarlo_scenarios(book.assets, ctx.haircuts.stable, args.scenarios, rng)
    stages["scenarios"] = time.perf_counter() - t
    n, s = book.n_accounts, len(scenarios)
    setup_rss = peak_rss_mb(False)

    print(f"venue: {n:,} accounts (portfolio model), {book.n_instruments:,} instruments, "
          f"{book.positions.nnz:,} positions, {book.balances.nnz:,} balances; assets {', '.join(book.assets)}")
    print(f"scenarios: {s:,} Monte Carlo — {note}")
    print(f"setup peak RSS {setup_rss:,.0f} MB")

    chunk_times: list[float] = []
    last = [0.0]

    def on_chunk(done: int, total: int) -> None:
        now = time.perf_counter()
        chunk_times.append(now - last[0])
        last[0] = now

    gc.collect()
    reset = reset_peak_rss()
    profile = cProfile.Profile() if args.profile else None
    if profile is not None:
        profile.enable()
    start = time.perf_counter()
    last[0] = start
    result = run_stress(ctx, scenarios, fund_usd=args.fund, chunk_size=args.chunk, on_chunk=on_chunk)
    seconds = time.perf_counter() - start
    if profile is not None:
        profile.disable()
        profile.dump_stats(args.profile)
    run_rss = peak_rss_mb(reset)
    peak = max(run_rss, setup_rss) if not reset else run_rss
    process_peak = peak_rss_mb(False)

    first = chunk_times[0] if chunk_times else 0.0  # includes today's requirement and realignment
    rest = sum(chunk_times[1:])
    stages["run_stress: requirement + chunk 1"] = first
    stages[f"run_stress: chunks 2..{len(chunk_times)}"] = rest
    stages["run_stress: final reductions"] = seconds - first - rest
    print()
    print(f"{'stage':<40}{'seconds':>10}")
    for stage, sec in stages.items():
        print(f"{stage:<40}{sec:>10.3f}")
    print(f"{'run_stress total':<40}{seconds:>10.3f}")
    chunk = effective_chunk(ctx, args.chunk)
    if len(chunk_times) > 1:
        print(f"per chunk of {chunk} scenarios (--chunk {args.chunk}, capped by CHUNK_CELLS): "
              f"{rest / (len(chunk_times) - 1):.4f} s "
              f"({1e9 * rest / max(1, (s - chunk) * n):.2f} ns per account-scenario)")
    print(f"peak RSS during run_stress {peak:,.0f} MB; process lifetime {process_peak:,.0f} MB")
    print()
    worst = result.worst_scenarios(3)
    print(f"cover_1={result.cover_1:,.0f} cover_2={result.cover_2:,.0f} fund={result.fund_usd:,.0f} "
          f"fund_to_cover_2={None if result.fund_to_cover_2 is None else round(result.fund_to_cover_2, 3)}")
    print(f"VaR{result.confidence:.0%}={result.var:,.0f} ES={result.es:,.0f} of system uncovered loss; "
          f"max accounts breached {int(result.accounts_breached.max()) if s else 0:,}; worst scenarios "
          + ", ".join(f"{result.scenario_names[k]} ({result.system_uncovered_loss[k]:,.0f})" for k in worst))
    print()
    print(f"stress scenarios={s} accounts={n} seconds={seconds:.3f} "
          f"account_scenarios_per_s={s * n / seconds:.0f} peak_rss_mb={max(peak, process_peak):.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

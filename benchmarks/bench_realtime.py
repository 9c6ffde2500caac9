"""Real-time engine latency on a synthetic venue: tick-to-metrics, trade-to-metrics, sustained ticks/s.

    python benchmarks/bench_realtime.py [--accounts 100000] [--ticks 50] [--trades 200] [--seed 7]

A tick is a small random move of BTC/ETH/SOL index prices (``CoverageEngine.on_prices``: market resolved,
every account recomputed, events and alerts emitted); a trade is a random fill on a random account and
instrument (``on_trade``: one account recomputed). Latencies are wall-clock around the engine call, which
returns once the metrics and events are ready. Persistence is not included (another component; it is
meant to run off the tick path): these figures are the engine alone. Distance to liquidation is off.

Last line: ``realtime tick_p50_ms=… tick_p99_ms=… trade_p99_ms=… ticks_per_s=…``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ccm.engine import CoverageEngine
from ccm.io.config import load_config
from ccm.risk.metrics import evaluate
from ccm.synthetic import generate_venue


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--ticks", type=int, default=50)
    parser.add_argument("--trades", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    venue = generate_venue(args.accounts, rng=rng, n_instruments_target=2000)
    book = venue.columns.build()
    config = load_config(None)
    t1 = time.perf_counter()
    engine = CoverageEngine(book, venue.market, config, with_distance=False)
    t2 = time.perf_counter()
    print(f"venue: {book.n_accounts} accounts, {book.n_instruments} instruments, {book.positions.nnz} positions "
          f"(built in {t1 - t0:.1f} s); engine start (full evaluation) {1e3 * (t2 - t1):.0f} ms")

    moving = [a for a in ("BTC", "ETH", "SOL") if a in venue.market.index]
    base = {a: float(venue.market.index[a]) for a in moving}
    prices = dict(base)

    def tick() -> float:
        for a in moving:
            prices[a] *= float(np.exp(rng.normal(0.0, 0.002)))
        start = time.perf_counter()
        engine.on_prices(dict(prices))
        return time.perf_counter() - start

    tick()  # warm-up (compiled kernels, caches)
    tick_s = np.array([tick() for _ in range(args.ticks)])

    accounts = book.account_ids
    ins = book.instruments
    tradable = np.flatnonzero(np.isfinite(ins.expiry_s) | ins.is_future | ins.is_spot)
    market = engine.market

    def trade() -> float:
        account = str(accounts[int(rng.integers(accounts.shape[0]))])
        k = int(tradable[int(rng.integers(tradable.shape[0]))])
        if ins.is_option[k]:
            price = max(float(market.unit_value[k]), 1e-6)
            qty = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 2.0))
        else:
            price = float(market.forward[k])
            qty = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.01, 1.0))
            if ins.inverse[k]:
                qty *= price  # inverse contracts are quantified in USD
        start = time.perf_counter()
        engine.on_trade(account, str(ins.ids[k]), qty, price)
        return time.perf_counter() - start

    trade()
    trade_s = np.array([trade() for _ in range(args.trades)])

    # Sustained: back-to-back ticks with trades in between (the overlay is merged at a tick when large).
    start = time.perf_counter()
    n_sustained = max(10, args.ticks // 2)
    for _ in range(n_sustained):
        tick()
    ticks_per_s = n_sustained / (time.perf_counter() - start)

    # Sustained with persistence: every tick offers its snapshot to a background writer (SQLite, WAL, full
    # sync) that writes the newest one each second — the tick path only swaps a reference.
    import tempfile
    from datetime import timedelta

    from ccm.store import open_store
    from ccm.store.background import BackgroundWriter, MetricsSnapshot

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "bench.sqlite"))
        writer = BackgroundWriter(store, interval_s=1.0)
        start = time.perf_counter()
        for k in range(n_sustained):
            tick()
            r = engine.metrics
            writer.offer(MetricsSnapshot(
                at=engine.snapshot.as_of + timedelta(seconds=k), account=r.account_ids,
                adjusted_equity=r.adjusted_equity, maintenance_margin=r.maintenance_margin,
                initial_margin=r.initial_margin, coverage_ratio=r.coverage_ratio, status=r.status,
                system={"total_adjusted_equity": float(r.adjusted_equity.sum()),
                        "total_maintenance_margin": float(r.maintenance_margin.sum()),
                        "total_shortfall": float(r.shortfall.sum()),
                        "accounts_by_status": {}}))
        persisted_ticks_per_s = n_sustained / (time.perf_counter() - start)
        writer.close()
        written, errors = writer.snapshots_written, writer.errors
        store.close()

    # Baseline in the same process: a from-scratch evaluation of the current book and market.
    current = engine.book
    baseline = []
    for _ in range(3):
        start = time.perf_counter()
        evaluate(current, engine.snapshot, config, with_distance=False)
        baseline.append(time.perf_counter() - start)
    base_s = float(np.median(baseline))

    ms = 1e3
    print(f"baseline: from-scratch evaluate (no distance) {ms * base_s:.1f} ms; "
          f"tick p50 / baseline {np.median(tick_s) / base_s:.2f}, trade p50 / baseline "
          f"{np.median(trade_s) / base_s:.4f}")
    print(f"tick  (on_prices, {book.n_accounts} accounts): p50 {ms * np.median(tick_s):.1f} ms, "
          f"p99 {ms * np.quantile(tick_s, 0.99):.1f} ms, max {ms * tick_s.max():.1f} ms (goal p99 ≤ 250 ms)")
    print(f"trade (on_trade, one account): p50 {ms * np.median(trade_s):.2f} ms, "
          f"p99 {ms * np.quantile(trade_s, 0.99):.2f} ms (goal ≤ 5 ms); overlay rows {engine.overlay_rows}")
    print(f"sustained: {ticks_per_s:.1f} ticks/s without persistence, {persisted_ticks_per_s:.1f} ticks/s while "
          f"a background writer persisted {written} snapshots of {book.n_accounts} accounts ({errors} errors)")
    print(f"realtime tick_p50_ms={ms * np.median(tick_s):.1f} tick_p99_ms={ms * np.quantile(tick_s, 0.99):.1f} "
          f"trade_p99_ms={ms * np.quantile(trade_s, 0.99):.2f} ticks_per_s={persisted_ticks_per_s:.1f}")


if __name__ == "__main__":
    main()

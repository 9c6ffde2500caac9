"""Benchmark: a Monte Carlo stress run in one process against the same run on a local Dask cluster.

    .venv/bin/python benchmarks/bench_dist.py [--accounts 1000000] [--scenarios 1000] [--workers 2]
                                              [--shards N] [--chunks 1] [--model portfolio]

Generates a synthetic venue (``ccm.synthetic.generate_venue``; each account on its own margin model unless
--model), the Monte Carlo scenarios of ``benchmarks/bench_stress.py`` (shared daily closes when present),
then times

1. ``ccm.stress.run_stress`` in this process (the baseline), with its peak RSS;
2. ``ccm.dist.stress.stress_on_client`` on ``LocalCluster(n_workers=W, threads_per_worker=1)``: the book
   split into shards on the client, each shard shipped inside its task, market / config / scenarios
   broadcast once, partial results merged here. Reported: wall time, the compute time of every task
   (Dask task stream), the time not spent computing (client-side sharding and serialisation, transfers,
   merge: the overhead of distribution), each worker's peak RSS and the client's.

Both results are compared (every figure within 1e-9 relative) before any time is printed.

Projection to more workers (printed): T(W) ≈ t_client + a × n / W + t_ship(W), with a = measured compute
seconds per account (all scenarios, including the shard's requirement today), t_client = measured
client-side time (sharding + merge), and t_ship the measured shipping of the shards (serial from the
client: it does not shrink with W). It assumes shards ≥ W, a balanced load and one core per worker.

Output ends with exactly one line:

    dist accounts=N scenarios=S single_s=T1 cluster_s=T2 workers=W
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import pickle
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT), str(ROOT / "src")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from benchmarks.bench_stress import montecarlo_scenarios  # noqa: E402
from benchmarks.memory import peak_rss_mb, reset_peak_rss  # noqa: E402
from ccm.dist.cluster import local_cluster  # noqa: E402
from ccm.dist.shards import default_shards, ranges, shard_book  # noqa: E402
from ccm.dist.stress import stress_on_client  # noqa: E402
from ccm.enums import MarginModelName  # noqa: E402
from ccm.io.config import load_config  # noqa: E402
from ccm.pricing.market_state import resolve_market  # noqa: E402
from ccm.risk.context import RiskContext  # noqa: E402
from ccm.risk.metrics import with_model  # noqa: E402
from ccm.stress import run_stress  # noqa: E402
from ccm.synthetic import generate_venue  # noqa: E402

RTOL = 1e-9


def same(a, b) -> bool:
    """Every field of two StressResults equal (floats within RTOL, the rest exactly)."""
    from dataclasses import fields

    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        x_arr, y_arr = np.asarray(x), np.asarray(y)
        if x_arr.dtype.kind == "f":
            if not np.allclose(x_arr, y_arr, rtol=RTOL, atol=0, equal_nan=True):
                print(f"MISMATCH {f.name}")
                return False
        elif x_arr.shape != y_arr.shape or not np.array_equal(x_arr, y_arr):
            print(f"MISMATCH {f.name}")
            return False
    return True


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (run on each worker with ``client.run``)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def task_seconds(stream: list[dict]) -> list[tuple[str, float, float]]:
    """(worker, compute seconds, transfer + deserialise seconds) of each task of the stress run."""
    out = []
    for task in stream:
        if "ccm-stress" not in str(task.get("key", "")):  # also skips the broadcasts
            continue
        compute = sum(s["stop"] - s["start"] for s in task["startstops"] if s["action"] == "compute")
        other = sum(s["stop"] - s["start"] for s in task["startstops"] if s["action"] != "compute")
        out.append((task["worker"], compute, other))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--scenarios", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shards", type=int, default=None, help="default: ccm.dist.shards.default_shards")
    parser.add_argument("--chunks", type=int, default=1, help="scenario chunks per shard")
    parser.add_argument("--model", choices=[m.value for m in MarginModelName], default=None)
    parser.add_argument("--fund", type=float, default=50e6)
    parser.add_argument("--seed", type=int, default=20250210)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    t = time.perf_counter()
    venue = generate_venue(args.accounts, rng=rng)
    book = venue.columns.build()
    if args.model:
        book = with_model(book, MarginModelName(args.model))
    market = venue.market
    del venue  # the flat columns: only the Book is needed from here
    config = load_config(None)
    ctx = RiskContext.build(book, resolve_market(market, book.assets, book.instruments), config)
    scenarios, note = montecarlo_scenarios(book.assets, ctx.haircuts.stable, args.scenarios, rng)
    n, s = book.n_accounts, len(scenarios)
    print(f"venue: {n:,} accounts, {book.n_instruments:,} instruments, {book.positions.nnz:,} positions, "
          f"{book.balances.nnz:,} balances ({time.perf_counter() - t:.1f} s to generate); models "
          f"{args.model or 'own'}")
    print(f"scenarios: {s:,} — {note}")

    gc.collect()
    reset = reset_peak_rss()
    load_before = os.getloadavg()[0]
    t, cpu = time.perf_counter(), time.process_time()
    single = run_stress(ctx, scenarios, fund_usd=args.fund)
    single_s, single_cpu = time.perf_counter() - t, time.process_time() - cpu
    single_rss = peak_rss_mb(reset)
    print(f"single process: {single_s:.2f} s wall, {single_cpu:.2f} s CPU, peak RSS {single_rss:,.0f} MB "
          f"({1e9 * single_cpu / max(1, n * s):.2f} ns CPU per account-scenario); load average "
          f"{load_before:.1f} → {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    del ctx
    gc.collect()

    from distributed import Client, get_task_stream

    shards = args.shards or default_shards(n, args.workers)
    parts = ranges(n, shards)
    t = time.perf_counter()
    shard_bytes = sum(len(pickle.dumps(b, protocol=5)) for b in shard_book(book, parts))
    pickle_s = time.perf_counter() - t
    with local_cluster(args.workers) as cluster, Client(cluster) as client:
        t = time.perf_counter()  # warm-up: imports and numba kernels loaded in every worker (a fresh process)
        warm = book.take(np.arange(min(n, 200)))
        stress_on_client(client, warm, market, config, scenarios.take(np.arange(min(s, 4))), shards=args.workers)
        warm_s = time.perf_counter() - t
        client.run(gc.collect)
        client.run(reset_peak_rss)
        reset = reset_peak_rss()
        cpu_before = client.run(cpu_seconds)
        load_before = os.getloadavg()[0]
        t, cpu = time.perf_counter(), time.process_time()
        with get_task_stream(client) as stream:
            result = stress_on_client(client, book, market, config, scenarios, fund_usd=args.fund,
                                      shards=shards, chunks=args.chunks)
        cluster_s, client_cpu = time.perf_counter() - t, time.process_time() - cpu
        cpu_after = client.run(cpu_seconds)
        worker_cpu = {w: cpu_after[w] - cpu_before[w] for w in cpu_after}
        client_rss = peak_rss_mb(reset)
        worker_rss = client.run(peak_rss_mb, True)
        tasks = task_seconds(stream.data)
    if not same(single, result):
        print("cluster result differs from the single-process result")
        return 1

    compute = [c for _, c, _ in tasks]
    busy: dict[str, float] = {}
    for worker, c, o in tasks:
        busy[worker] = busy.get(worker, 0.0) + c + o
    per_account = sum(worker_cpu.values()) / n  # CPU: the work, whatever the machine's contention
    critical = max(busy.values())
    overhead = cluster_s - critical
    print(f"cluster: {args.workers} workers, {len(parts)} shards × {args.chunks} chunk(s) = {len(tasks)} tasks: "
          f"{cluster_s:.2f} s wall (after a {warm_s:.1f} s warm-up of the workers on 200 accounts, not counted)")
    print(f"  task compute: sum {sum(compute):.2f} s, per task {min(compute):.2f}–{max(compute):.2f} s; "
          f"busiest worker {critical:.2f} s (incl. transfers / deserialising)")
    print(f"  overhead of distribution (wall − busiest worker): {overhead:.2f} s "
          f"({100 * overhead / cluster_s:.0f}% of the wall time); shards pickled: {shard_bytes / 1e6:,.0f} MB "
          f"({pickle_s:.2f} s to pickle once)")
    cpus = ", ".join(f"{v:.1f} s" for v in worker_cpu.values())
    print(f"  CPU: workers {cpus} (sum {sum(worker_cpu.values()):.1f} s "
          f"= {1e6 * per_account:.1f} µs per account for all {s:,} scenarios, incl. each shard's requirement "
          f"today; one process: {1e6 * single_cpu / n:.1f} µs); client {client_cpu:.1f} s; load average "
          f"{load_before:.1f} → {os.getloadavg()[0]:.1f}")
    print(f"  peak RSS per worker: {', '.join(f'{v:,.0f} MB' for v in worker_rss.values())}; "
          f"client (book, shards, scheduler, merge): {client_rss:,.0f} MB")
    print(f"  speed-up {single_s / cluster_s:.2f}× on {args.workers} workers (ideal {args.workers}×)")
    print()
    print("projection (one uncontended core per worker, CPU per account as measured, shards ≥ workers, the "
          "overhead measured here kept; one process uncontended = its CPU time):")
    for workers in (8, 32):
        n_shards = max(shards, workers)
        t_compute = per_account * n / workers * math.ceil(n_shards / workers) * workers / n_shards
        t_w = overhead + t_compute
        print(f"  {workers:>2} workers: ≈ {t_w:,.1f} s  (= overhead {overhead:.1f} s + compute "
              f"{t_compute:,.1f} s; speed-up vs one process {single_cpu / t_w:.1f}×)")
    print()
    print(f"dist accounts={n} scenarios={s} single_s={single_s:.3f} cluster_s={cluster_s:.3f} "
          f"workers={args.workers}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

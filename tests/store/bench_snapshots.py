"""Time ``Store.write_snapshots`` for 100,000 accounts (not a test: run it by hand).

    .venv/bin/python tests/store/bench_snapshots.py [URL ...]

Without URLs it times a temporary SQLite file and, when ``CCM_TEST_POSTGRES_URL`` is set, PostgreSQL (in a
throw-away schema). Prints one line per backend: ``snapshots backend=… accounts=… write_s=… rows_per_s=…``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ccm.store import open_store

N = 100_000
REPEATS = 3


def _arrays(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    mm = rng.lognormal(8, 2, n)
    ae = mm * rng.lognormal(0.5, 0.6, n)
    ratio = ae / mm
    return {"account": np.char.add("acc-", np.arange(n).astype(str)), "adjusted_equity": ae,
            "maintenance_margin": mm, "initial_margin": 1.5 * mm, "coverage_ratio": ratio,
            "status": np.digitize(-ratio, [-1.5, -1.2, -1.0]).astype(np.int64)}


def bench(url: str, label: str) -> None:
    rng = np.random.default_rng(7)
    arrays = _arrays(rng, N)
    system = {"total_adjusted_equity": float(arrays["adjusted_equity"].sum()),
              "total_maintenance_margin": float(arrays["maintenance_margin"].sum()), "system_coverage_ratio": 2.0,
              "total_shortfall": 0.0, "accounts_by_status": {"healthy": N}}
    store = open_store(url)
    try:
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        times = []
        for k in range(REPEATS):
            start = time.perf_counter()
            store.write_snapshots(t0 + timedelta(minutes=k), system=system, **arrays)
            times.append(time.perf_counter() - start)
        best = min(times)
        print(f"snapshots backend={label} accounts={N} write_s={best:.3f} rows_per_s={N / best:,.0f} "
              f"(runs: {', '.join(f'{t:.3f}' for t in times)})")
    finally:
        store.close()


def main(urls: list[str]) -> None:
    if urls:
        for url in urls:
            bench(url, make_url(url).get_backend_name() if "://" in url else "sqlite")
        return
    with tempfile.TemporaryDirectory() as tmp:
        bench(str(Path(tmp) / "bench.sqlite"), "sqlite")
    pg = os.environ.get("CCM_TEST_POSTGRES_URL")
    if pg:
        schema = f"ccm_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(pg)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            bench(make_url(pg).update_query_dict({"options": f"-csearch_path={schema}"})
                  .render_as_string(hide_password=False), "postgresql")
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main(sys.argv[1:])

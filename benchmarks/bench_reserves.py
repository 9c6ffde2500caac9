"""Benchmark: proof of reserves and backing ratios for a synthetic exchange.

    .venv/bin/python benchmarks/bench_reserves.py [--customers 100000] [--seed 7] [--write DIR]
                                                  [--baseline-customers 20000]

Generates N customers over BTC/ETH/SOL/USDC/USDT (``ccm.synthetic.exchange_liabilities``), writes the
liabilities CSV and reserves JSON (into ``--write DIR``, default a temporary directory), then times

* reading the CSV (``ccm.io.liabilities.read_liabilities``, exact base units),
* building the Merkle sum tree (``ccm.reserves.merkle_sum.build_tree``, salts from ``os.urandom``),
* the inclusion paths of every customer at once (``proof_paths``) and of one (``prove``),
* verifying one proof (``verify_proof``, mean over 1,000 customers),
* backing ratios now and under the historical + hypothetical scenarios.

Baseline in the same process: a plain-Python build (one bytes concatenation and one SHA-256 per node, lists
of tuples, as a textbook implementation would do) on ``--baseline-customers`` customers; its root must equal
the vectorised build's on the same inputs, and the per-customer cost ratio is printed.

Output: a table of stages, then exactly one line:

    reserves customers=N build_s=B prove_s=P verify_ms=V
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT), str(ROOT / "src")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from ccm.io.config import load_config  # noqa: E402
from ccm.io.liabilities import read_liabilities, write_liabilities_csv, write_reserves_json  # noqa: E402
from ccm.reserves.backing import backing_ratios, backing_under_scenarios  # noqa: E402
from ccm.reserves.merkle_sum import (  # noqa: E402
    LEAF_TAG,
    NODE_TAG,
    PAD_HASH,
    build_tree,
    proof_paths,
    prove,
    verify_proof,
)
from ccm.risk.haircut import compile_haircuts  # noqa: E402
from ccm.scenario import ScenarioSet, historical_events, standard_hypotheticals  # noqa: E402
from ccm.synthetic.exchange_liabilities import generate_exchange  # noqa: E402

SALT_BYTES = 16


def plain_root(ids, balances, salts) -> bytes:
    """Textbook build: Python lists, one concatenation and hash per node."""
    k = len(balances[0])

    def enc(sums) -> bytes:
        return b"".join(int(s).to_bytes(8, "big", signed=True) for s in sums)

    level = []
    for cid, bal, salt in zip(ids, balances, salts, strict=True):
        b = cid.encode()
        level.append((hashlib.sha256(LEAF_TAG + len(b).to_bytes(2, "big") + b + salt + enc(bal)).digest(),
                      list(bal)))
    while len(level) > 1:
        if len(level) % 2:
            level.append((PAD_HASH, [0] * k))
        level = [(hashlib.sha256(NODE_TAG + lh + enc(ls) + rh + enc(rs)).digest(),
                  [a + b for a, b in zip(ls, rs, strict=True)])
                 for (lh, ls), (rh, rs) in zip(level[0::2], level[1::2], strict=True)]
    return level[0][0]


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write", type=Path, default=None, help="Keep liabilities.csv and reserves.json here.")
    parser.add_argument("--baseline-customers", type=int, default=20_000)
    args = parser.parse_args()

    rows: list[tuple[str, str]] = []
    exchange, t_gen = timed(generate_exchange, args.customers, rng=np.random.default_rng(args.seed))
    rows.append(("generate", f"{t_gen:.2f} s"))
    with tempfile.TemporaryDirectory(prefix="bench_reserves.") as scratch:
        where = args.write or Path(scratch)
        csv_path = where / "liabilities.csv"
        _, t_write = timed(write_liabilities_csv, csv_path, exchange.customer_ids, exchange.assets,
                           exchange.balances)
        write_reserves_json(where / "reserves.json", dict(zip(exchange.assets, exchange.reserves.tolist(),
                                                              strict=True)))
        rows.append(("write CSV", f"{t_write:.2f} s  ({csv_path.stat().st_size / 1e6:.1f} MB)"))
        table, t_read = timed(read_liabilities, csv_path)
    n, k = table.units.shape
    rows.append(("read CSV", f"{t_read:.2f} s  ({n:,} customers with a balance, {k} assets)"))

    salts = np.frombuffer(os.urandom(SALT_BYTES * n), dtype=np.uint8).reshape(n, SALT_BYTES)
    tree, t_build = timed(build_tree, table.customer_ids, table.assets, table.units, salts)
    rows.append(("build tree", f"{t_build:.3f} s  (depth {tree.depth}, {sum(len(h) for h in tree.hashes):,} nodes)"))

    _, t_paths = timed(proof_paths, tree, np.arange(n))
    rows.append(("prove all", f"{t_paths:.3f} s  (every customer's path, vectorised)"))
    one, t_one = timed(prove, tree, n // 2)
    rows.append(("prove one", f"{1e3 * t_one:.3f} ms"))

    sample = np.random.default_rng(args.seed).choice(n, size=min(1_000, n), replace=False)
    proofs = [prove(tree, int(i)) for i in sample]
    root = tree.root
    start = time.perf_counter()
    valid = all(verify_proof(p, root).valid for p in proofs)
    t_verify = (time.perf_counter() - start) / len(proofs)
    if not valid:
        raise SystemExit("a proof failed to verify")
    rows.append(("verify one", f"{1e3 * t_verify:.3f} ms  (mean of {len(proofs):,})"))

    m = min(args.baseline_customers, n)
    ids_m, units_m, salts_m = table.customer_ids[:m], table.units[:m], salts[:m]
    small, t_vec_m = timed(build_tree, ids_m, table.assets, units_m, salts_m)
    plain, t_plain_m = timed(plain_root, ids_m, units_m.tolist(), [s.tobytes() for s in salts_m])
    if plain != small.root.hash:
        raise SystemExit("baseline root differs from the vectorised build")
    rows.append((f"baseline {m:,}", f"plain {t_plain_m:.3f} s vs vectorised {t_vec_m:.3f} s: "
                                    f"×{t_plain_m / t_vec_m:.1f} faster (same root)"))

    config = load_config(None)
    haircuts = compile_haircuts(exchange.assets, config)
    stable = {a for a, s in zip(exchange.assets, haircuts.stable, strict=True) if s}
    scenarios = ScenarioSet.concat([historical_events(exchange.assets, stable=stable),
                                    standard_hypotheticals(exchange.assets, stable)])
    totals = table.totals
    now, t_now = timed(backing_ratios, exchange.assets, totals, exchange.reserves, exchange.prices, haircuts)
    under, t_scen = timed(backing_under_scenarios, exchange.assets, totals, exchange.reserves, exchange.prices,
                          haircuts, scenarios)
    rows.append(("backing now", f"{1e3 * t_now:.3f} ms  (total ratio {now.total_reserve_ratio:.4f}, "
                                f"haircut {now.total_haircut_reserve_ratio:.4f})"))
    worst = under.worst_total
    rows.append((f"backing {len(scenarios)} scen.", f"{1e3 * t_scen:.3f} ms  (worst haircut ratio "
                                                   f"{under.backing.total_haircut_reserve_ratio[worst]:.4f} in "
                                                   f"{under.names[worst]})"))

    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"root {root.hash.hex()}")
    print(f"reserves customers={n} build_s={t_build:.3f} prove_s={t_paths:.3f} verify_ms={1e3 * t_verify:.3f}")


if __name__ == "__main__":
    main()

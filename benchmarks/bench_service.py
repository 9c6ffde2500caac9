"""Load on the risk service over loopback: concurrent single-account reads while the feed ticks, and many
WebSocket subscribers that must each receive every system update. Bounded: it stops by itself.

    .venv/bin/python benchmarks/bench_service.py [--accounts 10000] [--clients 50] [--ws 200] [--seconds 10]

It starts ``ccm serve --demo`` in a subprocess on a free port (SQLite store in a temporary directory, rate
limit off, feed every --interval s), creates an admin key in that store, then in this process runs ``--clients``
asyncio readers (httpx, one keep-alive connection each) of ``GET /api/v1/accounts/{id}`` for random accounts,
and ``--ws`` WebSocket subscribers counting the system updates they receive. A subscriber "missed" an update
when another subscriber received a system update (by its ``at``) during the common window that it did not.

Last line: ``service reads_per_s=… p99_ms=… errors=… ws_clients=… ws_missed=…``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import websockets

ROOT = Path(__file__).resolve().parent.parent
CCM = str(Path(sys.executable).with_name("ccm"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_ready(base: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{base}/api/v1/health", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit("the service did not become ready")


async def _reader(base: str, key: str, ids: list[str], stop: float, latencies: list[float], errors: list[int]):
    rng = random.Random(hash((base, id(latencies))))
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=10) as client:
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                response = await client.get(f"/api/v1/accounts/{rng.choice(ids)}")
                if response.status_code != 200:
                    errors[0] += 1
            except httpx.HTTPError:
                errors[0] += 1
            latencies.append(time.perf_counter() - started)


async def _subscriber(url: str, window: tuple[float, float], seen: set[str], ready: asyncio.Event,
                      connected: list[int]) -> None:
    async with websockets.connect(url, max_size=None, open_timeout=60) as ws:
        connected[0] += 1
        if connected[0] == connected[1]:
            ready.set()
        while time.monotonic() < window[1]:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=max(0.1, window[1] - time.monotonic()))
            except TimeoutError:
                break
            message = json.loads(raw)
            if message.get("type") == "system" and window[0] <= time.monotonic() <= window[1]:
                seen.add(str(message.get("at")))


async def _run(args, base: str, key: str) -> None:
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=30) as client:
        listing = (await client.get("/api/v1/accounts", params={"limit": 500})).json()
    ids = [item["account"] for item in listing["items"]]
    # WebSocket subscribers first: all connected, then a common window.
    ws_url = base.replace("http", "ws") + f"/ws/metrics?api_key={key}"
    ready = asyncio.Event()
    connected = [0, args.ws]
    seen = [set() for _ in range(args.ws)]
    start = time.monotonic() + 60.0  # provisional; fixed once everyone is connected
    window = [start, start + args.seconds]
    subs = [asyncio.create_task(_subscriber(ws_url, window, seen[k], ready, connected)) for k in range(args.ws)]
    if args.ws:
        await asyncio.wait_for(ready.wait(), timeout=120)
    window[0] = time.monotonic() + 1.0
    window[1] = window[0] + args.seconds
    latencies: list[float] = []
    errors = [0]
    await asyncio.sleep(max(0.0, window[0] - time.monotonic()))
    readers = [asyncio.create_task(_reader(base, key, ids, window[1], latencies, errors)) for _ in range(args.clients)]
    await asyncio.gather(*readers)
    await asyncio.gather(*subs, return_exceptions=True)
    elapsed = args.seconds
    lat = np.array(latencies) * 1e3
    union = set().union(*seen) if seen else set()
    # the last update of the window may still be in flight for some subscribers: compare up to the
    # second-to-last update everyone could have received
    reference = sorted(union)[:-1] if len(union) > 1 else sorted(union)
    missed = sum(len(set(reference) - s) for s in seen)
    print(f"reads: {len(lat):,} in {elapsed:.0f} s by {args.clients} clients; p50 {np.median(lat):.1f} ms, "
          f"p99 {np.quantile(lat, 0.99):.1f} ms; errors {errors[0]}")
    print(f"websocket: {args.ws} subscribers, {len(reference)} system updates in the window, missed {missed}")
    print(f"service reads_per_s={len(lat) / elapsed:.0f} p99_ms={np.quantile(lat, 0.99):.1f} errors={errors[0]} "
          f"ws_clients={args.ws} ws_missed={missed}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--ws", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=1.0, help="demo feed step (s)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    from ccm.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        store_path = str(Path(tmp) / "bench.sqlite")
        store = open_store(store_path)
        _, key = store.create_api_key("bench", "admin")
        store.close()
        port = _free_port()
        env = {**os.environ, "CCM_SERVICE_RATE_LIMIT": "0"}
        server = subprocess.Popen([CCM, "serve", "--demo", "--store", store_path, "--port", str(port), "--accounts",
                                   str(args.accounts), "--interval", str(args.interval)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(_wait_ready(base))
            asyncio.run(_run(args, base, key))
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()

"""Load on the risk service over loopback: concurrent single-account reads while the feed ticks, and many
WebSocket subscribers that must each receive every system update. Bounded: it stops by itself.

    .venv/bin/python benchmarks/bench_service.py [--accounts 10000] [--clients 50] [--rate 600] [--ws 200]
        [--seconds 10] [--saturation-seconds 5]

It starts ``ccm serve --demo`` in a subprocess on a free port (SQLite store in a temporary directory, rate
limit off, feed every --interval s), creates an admin key in that store, then in this process runs ``--clients``
asyncio readers (httpx, one keep-alive connection each) of ``GET /api/v1/accounts/{id}`` for random accounts,
and ``--ws`` WebSocket subscribers counting the system updates they receive. A subscriber "missed" an update
when another subscriber received a system update (by its ``at``) during the common window that it did not.

Two phases, both while the feed ticks and the subscribers listen:
1. saturation (closed loop): every reader sends its next request as soon as the last one answers — the most
   reads per second the service gives; latency there is queueing (50 clients ÷ throughput), not service time;
2. paced (open loop, the figure of the last line): the readers together offer ``--rate`` reads per second on a
   fixed schedule, and each latency counts from the request's *scheduled* time, so a stall delays every request
   scheduled during it (no coordinated omission).

Last line: ``service reads_per_s=… p99_ms=… errors=… ws_clients=… ws_missed=…``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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


async def _reader(client: httpx.AsyncClient, ids: list[str], stop: float, latencies: list[float],
                  errors: list[int], period: float | None = None) -> None:
    """Read random accounts until ``stop``: back to back (``period`` None), or one request every ``period`` s
    from a random phase, latency measured from the scheduled time."""
    rng = random.Random(hash((id(client), id(latencies))))
    scheduled = time.monotonic() + (rng.random() * period if period else 0.0)
    while scheduled < stop:
        if period:
            await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
        else:
            scheduled = time.monotonic()
        try:
            response = await client.get(f"/api/v1/accounts/{rng.choice(ids)}")
            if response.status_code != 200:
                errors[0] += 1
        except httpx.HTTPError:
            errors[0] += 1
        latencies.append(time.monotonic() - scheduled)
        if period:
            scheduled += period


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

    # The readers' clients are made and connected before any phase: creating an httpx client costs ~20 ms of
    # this process's CPU (its TLS context), and 50 of them inside a phase would stall every reader for a second.
    readers = [httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=10) for _ in range(args.clients)]
    await asyncio.gather(*(r.get("/api/v1/health") for r in readers))

    async def phase(seconds: float, period: float | None) -> tuple[np.ndarray, int]:
        latencies: list[float] = []
        errors = [0]
        stop = time.monotonic() + seconds
        await asyncio.gather(*(_reader(r, ids, stop, latencies, errors, period) for r in readers))
        return np.array(latencies) * 1e3, errors[0]

    # The load generator's own full garbage collections (its 50 clients and 200 sockets are ~100k objects) stalled
    # every reader for ~120 ms: freeze what exists now, as the server does, so that latency is the service's.
    gc.freeze()
    window[0] = time.monotonic() + 1.0
    window[1] = window[0] + args.saturation_seconds + args.seconds
    await asyncio.sleep(max(0.0, window[0] - time.monotonic()))
    most, most_errors = await phase(args.saturation_seconds, None)
    lat, errors = await phase(args.seconds, args.clients / args.rate)
    await asyncio.gather(*subs, return_exceptions=True)
    await asyncio.gather(*(r.aclose() for r in readers))
    union = set().union(*seen) if seen else set()
    # the last update of the window may still be in flight for some subscribers: compare up to the
    # second-to-last update everyone could have received
    reference = sorted(union)[:-1] if len(union) > 1 else sorted(union)
    missed = sum(len(set(reference) - s) for s in seen)
    if len(most):
        print(f"saturation: {len(most) / args.saturation_seconds:,.0f} reads/s by {args.clients} clients back to "
              f"back; p50 {np.median(most):.1f} ms, p99 {np.quantile(most, 0.99):.1f} ms; errors {most_errors}")
    print(f"paced: {len(lat):,} reads in {args.seconds:.0f} s at {args.rate:.0f}/s offered by {args.clients} clients; "
          f"p50 {np.median(lat):.1f} ms, p99 {np.quantile(lat, 0.99):.1f} ms, max {lat.max():.1f} ms; errors {errors}")
    print(f"websocket: {args.ws} subscribers, {len(reference)} system updates in the window, missed {missed}")
    print(f"service reads_per_s={len(lat) / args.seconds:.0f} p99_ms={np.quantile(lat, 0.99):.1f} "
          f"errors={errors + most_errors} ws_clients={args.ws} ws_missed={missed}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--ws", type=int, default=200)
    parser.add_argument("--server-log", help="write the server's log here (default: discarded)")
    parser.add_argument("--rate", type=float, default=600.0, help="reads per second offered in the paced phase")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the paced phase")
    parser.add_argument("--saturation-seconds", type=float, default=5.0, help="length of the back-to-back phase "
                        "(0 skips it)")
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
                                  stdout=subprocess.DEVNULL,
                                  stderr=open(args.server_log, "w") if args.server_log else subprocess.DEVNULL)
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

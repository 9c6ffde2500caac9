"""A real service process for the security tests: uvicorn serving ``ccm.service.app:create_app`` on a port the OS
chooses (loopback), settings from ``CCM_SERVICE_*``, its whole log captured in a file; and the ``ccm`` CLI."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "examples" / "book.json"
MARKET = ROOT / "examples" / "market.json"
CCM = [str(Path(sys.executable).with_name("ccm"))]
STARTED = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@dataclass
class Served:
    url: str
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def ccm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the installed ``ccm`` entry point in its own process."""
    done = subprocess.run([*CCM, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
    if check and done.returncode != 0:
        raise AssertionError(f"ccm {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done


def service_env(store: str, **settings: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCM_SERVICE_")}
    values = {"store": store, "book": str(BOOK), "market": str(MARKET), "rate_limit": 0, "writer_interval": 0.2,
              **settings}
    env.update({f"CCM_SERVICE_{k.upper()}": str(v) for k, v in values.items()})
    return env


@contextmanager
def served(log: Path, store: str, *, ready: bool = True, **settings: object) -> Iterator[Served]:
    """Start the service; yields once ``/api/v1/health`` answers (or at once with ``ready=False``); SIGINT at
    the end, SIGKILL if it has not stopped 20 s later."""
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "ccm.service.app:create_app", "--host", "127.0.0.1",
             "--port", "0", "--log-level", "info"],
            stdout=sink, stderr=subprocess.STDOUT, env=service_env(store, **settings), cwd=ROOT)
    try:
        url = ""
        deadline = time.monotonic() + 90
        while ready and not url:
            found = STARTED.search(log.read_text(errors="replace"))
            if found:
                url = f"http://127.0.0.1:{found.group(1)}"
            elif process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the service did not start:\n{log.read_text(errors='replace')[-3000:]}")
            else:
                time.sleep(0.1)
        if ready:
            assert httpx.get(f"{url}/api/v1/health", timeout=10).status_code == 200
        yield Served(url=url, process=process, log=log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

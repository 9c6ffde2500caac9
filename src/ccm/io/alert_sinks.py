"""Alert sinks: a JSON-lines file and a webhook (thin shells over the standard library only).

They touch files and the network, so they live in the shell layer, not in ``ccm.engine``; they use nothing
beyond the standard library (``json``, ``urllib``, ``threading``) and are subscribers, never called by the core.
Subscribe one with ``engine.subscribe(sink)``; by default each takes only :class:`Alert` events.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ccm.engine.events import Alert, Event, event_to_dict

log = logging.getLogger(__name__)


def _alerts_only(event: Event) -> bool:
    return isinstance(event, Alert)


class JsonLinesSink:
    """Appends one JSON object per event to ``path`` and flushes after each (a crash loses nothing written)."""

    def __init__(self, path: str | Path, *, accept: Callable[[Event], bool] = _alerts_only) -> None:
        self.path = Path(path)
        self.accept = accept
        self._file = self.path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if not self.accept(event):
            return
        line = json.dumps(event_to_dict(event), separators=(",", ":"), allow_nan=False)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


class WebhookSink:
    """POSTs each event's JSON to ``url`` from a background thread, with retries and exponential backoff.

    Attempt ``k`` (0-based) that fails (connection error or a status outside 2xx) is retried after
    ``base_delay_s × 2**k`` seconds, up to ``attempts`` attempts in all; then the event is dropped, counted
    in ``failed`` and logged. Nothing raises into the engine: ``__call__`` only enqueues.

    Counters: ``delivered`` (events), ``failed`` (events given up), ``attempts_made`` (HTTP requests).
    """

    def __init__(self, url: str, *, attempts: int = 5, base_delay_s: float = 0.5, timeout_s: float = 5.0,
                 accept: Callable[[Event], bool] = _alerts_only, sleep: Callable[[float], None] = time.sleep) -> None:
        if attempts < 1:
            raise ValueError("attempts must be ≥ 1")
        self.url = url
        self.attempts = attempts
        self.base_delay_s = base_delay_s
        self.timeout_s = timeout_s
        self.accept = accept
        self._sleep = sleep
        self.delivered = 0
        self.failed = 0
        self.attempts_made = 0
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ccm-webhook", daemon=True)
        self._thread.start()

    def __call__(self, event: Event) -> None:
        if self.accept(event):
            self._queue.put(event_to_dict(event))

    def deliver(self, payload: dict) -> bool:
        """POST ``payload`` with retries (blocking); True when delivered. Never raises."""
        try:
            body = json.dumps(payload, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError):
            log.exception("webhook payload is not JSON-serialisable")
            self.failed += 1
            return False
        for attempt in range(self.attempts):
            self.attempts_made += 1
            try:
                request = urllib.request.Request(self.url, data=body, method="POST",
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    if 200 <= response.status < 300:
                        self.delivered += 1
                        return True
                    reason = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                reason = f"HTTP {exc.code}"
            except Exception as exc:  # noqa: BLE001 — any network failure is retried, never raised
                reason = repr(exc)
            log.warning("webhook %s attempt %d/%d failed: %s", self.url, attempt + 1, self.attempts, reason)
            if attempt + 1 < self.attempts:
                self._sleep(self.base_delay_s * 2**attempt)
        self.failed += 1
        log.error("webhook %s: gave up after %d attempts", self.url, self.attempts)
        return False

    def _run(self) -> None:
        while True:
            payload = self._queue.get()
            try:
                if payload is None:
                    return
                self.deliver(payload)
            finally:
                self._queue.task_done()

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every queued event is delivered or given up; False on timeout."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self, timeout_s: float | None = 10.0) -> None:
        self.flush(timeout_s)
        self._queue.put(None)
        self._thread.join(timeout_s)

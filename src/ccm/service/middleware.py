"""Pure ASGI middleware: request body size limit (413) and a per-key token-bucket rate limiter (429)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

Scope = dict[str, Any]


async def _reply(send: Any, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses request bodies larger than ``max_bytes`` with 413 (declared length or streamed bytes)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await _reply(send, 400, "bad Content-Length")
                return
            if too_big:
                await _reply(send, 413, f"request body larger than {self.max_bytes} bytes")
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _reply(send, 413, f"request body larger than {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class RateLimit:
    """Token bucket per API key (per client address without one): ``rate`` tokens/s, ``burst`` at most.

    ``/api/v1/health`` and static files are not limited; ``rate`` 0 turns the limiter off.
    """

    MAX_BUCKETS = 10_000

    def __init__(self, app: Any, rate: float, burst: float) -> None:
        self.app = app
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, who: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(who, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            ok = tokens >= 1.0
            if ok:
                tokens -= 1.0
            if len(self._buckets) >= self.MAX_BUCKETS and who not in self._buckets:
                self._buckets.clear()  # bounded memory under a flood of made-up keys
            self._buckets[who] = (tokens, now)
            return ok

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or self.rate <= 0 or not path.startswith("/api/") or path == "/api/v1/health":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        key = headers.get(b"x-api-key")
        who = "key:" + key.decode("latin-1") if key else "ip:" + str((scope.get("client") or ("?",))[0])
        if not self.allow(who):
            await _reply(send, 429, "rate limit exceeded", [(b"retry-after", b"1")])
            return
        await self.app(scope, receive, send)

"""Typed dependencies: the service state, the key store, the current API key and role checks.

Tests override :func:`get_key_store` (or :func:`get_state`) through ``app.dependency_overrides``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Annotated, Any, Protocol

from fastapi import Depends, Header, HTTPException
from fastapi.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from ccm.service.state import ServiceState

ROLES = ("admin", "risk", "account")


class ApiKey(Protocol):
    id: Any
    name: str
    role: str
    accounts: tuple[str, ...]


class KeyStore(Protocol):
    def authenticate(self, secret: str) -> ApiKey | None: ...


def get_state(request: HTTPConnection) -> ServiceState:
    return request.app.state.service


def get_key_store(request: HTTPConnection) -> KeyStore:
    return request.app.state.service.key_store


State = Annotated[ServiceState, Depends(get_state)]


def authenticate(key_store: Any, secret: str | None) -> ApiKey | None:
    if not secret or len(secret) > 512 or not hasattr(key_store, "authenticate"):
        return None
    key = key_store.authenticate(secret)
    if key is None or getattr(key, "role", None) not in ROLES:
        return None
    return key


#: Seconds an authenticated key is trusted without asking the store again (a revocation takes effect within it).
KEY_CACHE_SECONDS = 2.0
_key_cache: dict[tuple[int, str], tuple[float, ApiKey]] = {}


async def current_key(key_store: Annotated[Any, Depends(get_key_store)],
                      x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None) -> ApiKey:
    """The request's key. Recently verified keys are served from a short in-memory cache (no thread hop, no
    database read); others are checked against the store on a worker thread."""
    key = None
    if x_api_key and len(x_api_key) <= 512:
        slot = (id(key_store), hashlib.sha256(x_api_key.encode()).hexdigest())
        cached = _key_cache.get(slot)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            key = cached[1]
        else:
            key = await run_in_threadpool(authenticate, key_store, x_api_key)
            if key is not None:
                if len(_key_cache) > 10_000:
                    _key_cache.clear()
                _key_cache[slot] = (now + KEY_CACHE_SECONDS, key)
    if key is None:
        raise HTTPException(status_code=401, detail="missing or invalid API key",
                            headers={"WWW-Authenticate": "X-API-Key"})
    return key


Key = Annotated[ApiKey, Depends(current_key)]


def require(*roles: str) -> Callable[[ApiKey], ApiKey]:
    """A dependency admitting only keys with one of ``roles`` (403 otherwise)."""

    def check(key: Key) -> ApiKey:
        if key.role not in roles:
            raise HTTPException(status_code=403, detail=f"the {key.role} role may not do this")
        return key

    return check


Admin = Annotated[ApiKey, Depends(require("admin"))]
RiskReader = Annotated[ApiKey, Depends(require("admin", "risk"))]


def visible_accounts(key: ApiKey) -> frozenset[str] | None:
    """The accounts ``key`` may see; None = all of them."""
    return frozenset(str(a) for a in key.accounts) if key.role == "account" else None

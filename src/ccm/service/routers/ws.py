"""``/ws/metrics``: system updates, subscribed accounts and alerts, pushed as the engine recomputes."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, WebSocket, WebSocketDisconnect

from ccm.service.deps import KEY_CACHE_SECONDS, authenticate, get_key_store, visible_accounts
from ccm.service.state import Client

router = APIRouter(tags=["live"])

MAX_SUBSCRIPTIONS = 1000
QUEUE_SIZE = 1000


@router.websocket("/ws/metrics")
async def ws_metrics(websocket: WebSocket, key_store: Annotated[Any, Depends(get_key_store)],
                     api_key: Annotated[str | None, Query()] = None) -> None:
    """After connecting: ``{"type": "hello", "role"}``; send ``{"subscribe": [ids]}`` to follow accounts.

    The key is checked again every ``KEY_CACHE_SECONDS``: a connection whose key was revoked (by any process, in
    the store) is closed with code 1008 within that time. Role ``account`` gets its accounts and their alerts,
    not the venue-wide ``system`` messages (as ``GET /system`` answers it 403).
    """
    key = await asyncio.to_thread(authenticate, key_store, api_key)
    if key is None:
        await websocket.close(code=1008, reason="missing or invalid API key")
        return
    state = websocket.app.state.service
    await websocket.accept()
    client = Client(role=key.role, allowed=visible_accounts(key), queue=asyncio.Queue(maxsize=QUEUE_SIZE))
    state.clients.add(client)

    async def pump() -> None:
        while True:
            await websocket.send_text(await client.queue.get())  # JSON encoded once for all clients

    async def watch() -> None:
        while True:
            await asyncio.sleep(KEY_CACHE_SECONDS)
            if await asyncio.to_thread(authenticate, key_store, api_key) is None:
                await websocket.close(code=1008, reason="API key revoked")
                return

    sender = asyncio.create_task(pump())
    watcher = asyncio.create_task(watch())
    try:
        await websocket.send_json({"type": "hello", "role": key.role})
        while True:
            message = await websocket.receive_json()
            ids = message.get("subscribe") if isinstance(message, dict) else None
            if isinstance(ids, list):
                wanted = {str(a) for a in ids if isinstance(a, str | int)}
                if client.allowed is not None:
                    wanted &= client.allowed  # others are dropped without a word (ids cannot be probed)
                client.subscribed = set(sorted(wanted)[:MAX_SUBSCRIPTIONS])
                await websocket.send_json({"type": "subscribed", "accounts": sorted(client.subscribed)})
    except (WebSocketDisconnect, RuntimeError, ValueError):
        pass
    finally:
        state.clients.discard(client)
        for task in (sender, watcher):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

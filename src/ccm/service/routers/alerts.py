from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from ccm.service.deps import Key, State, visible_accounts
from ccm.service.schemas import Items

router = APIRouter(tags=["alerts"])


@router.get("/alerts", response_model=Items)
async def list_alerts(state: State, key: Key, since: AwareDatetime | None = None,
                      account: Annotated[str | None, Query(max_length=200)] = None,
                      limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> Items:
    """Stored alerts, newest first (at most ``limit``); role ``account`` sees only its own accounts' alerts."""
    allowed = visible_accounts(key)
    if allowed is not None and account is not None and account not in allowed:
        return Items(items=[])

    def read() -> list[dict[str, Any]]:
        out = []
        for a in reversed(state.store.alerts(since=since, account=account)):
            if allowed is not None and a.account not in allowed:
                continue
            out.append({"id": a.id, "at": a.at.isoformat().replace("+00:00", "Z"), "account": a.account,
                        "rule": a.rule, "values": a.values})
            if len(out) >= limit:
                break
        return out

    return Items(items=await asyncio.to_thread(read))

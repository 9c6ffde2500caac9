"""Account metrics: the filtered, sorted, paginated list, one account with its positions, its history."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime

from ccm.enums import MARGIN_MODELS, STATUSES
from ccm.service.deps import Key, State, visible_accounts
from ccm.service.schemas import Items, Page
from ccm.service.state import PublishedView, records_of

router = APIRouter(tags=["accounts"])

StatusName = Literal[tuple(s.value for s in STATUSES)]  # type: ignore[valid-type]
ModelName = Literal[tuple(m.value for m in MARGIN_MODELS)]  # type: ignore[valid-type]


def _not_found(account: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no account {account!r}")


@router.get("/accounts", response_model=Page)
async def list_accounts(
    state: State,
    key: Key,
    status: StatusName | None = None,
    model: ModelName | None = None,
    q: Annotated[str | None, Query(max_length=200, description="substring of the account id")] = None,
    sort: Literal["coverage_ratio", "shortfall", "adjusted_equity", "account"] = "coverage_ratio",
    order: Literal["asc", "desc"] = "asc",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page:
    """Account records (as ``ccm metrics``); role ``account`` sees only its own accounts.

    ``coverage_ratio`` sorts unbounded accounts (no requirement) as +infinity; ties break on the account id.
    """
    allowed = visible_accounts(key)

    def page() -> Page:
        r = state.view.result
        ids = r.account_ids.astype(str)
        mask = np.ones(ids.shape[0], dtype=bool)
        if allowed is not None:
            mask &= np.isin(ids, np.array(sorted(allowed), dtype=str))
        if status is not None:
            mask &= r.status == [s.value for s in STATUSES].index(status)
        if model is not None:
            mask &= r.model == [m.value for m in MARGIN_MODELS].index(model)
        if q:
            mask &= np.char.find(np.char.lower(ids), q.lower()) >= 0
        rows = np.flatnonzero(mask)
        if sort == "account":
            order_rows = rows[np.argsort(ids[rows], kind="stable")]
            if order == "desc":
                order_rows = order_rows[::-1]
        else:
            values = getattr(r, sort)[rows].astype(float)
            values = np.where(np.isnan(values), math.inf, values)
            order_rows = rows[np.lexsort((ids[rows], values if order == "asc" else -values))]
        chosen = order_rows[offset:offset + limit]
        return Page(total=int(rows.shape[0]), items=records_of(r, chosen))

    return await asyncio.to_thread(page)  # off the event loop (O(accounts)), and off the engine thread


def _row(view: PublishedView, allowed: frozenset[str] | None, account: str) -> int:
    if allowed is not None and account not in allowed:
        raise _not_found(account)
    row = view.account_index.get(account)
    if row is None:
        raise _not_found(account)
    return row


@router.get("/accounts/{account}")
async def get_account(account: str, state: State, key: Key) -> dict[str, Any]:
    """One account's record plus its positions and collateral (404 for another account's id, role account)."""
    allowed = visible_accounts(key)
    view = state.view
    row = _row(view, allowed, account)
    if view.book is None:  # the first account page after a trade: materialise the book once, on the engine thread
        view = await state.run(state.view_with_book)
        row = _row(view, allowed, account)
    record = records_of(view.result, np.array([row]))[0]
    book = view.book
    lo, hi = book.positions.indptr[row], book.positions.indptr[row + 1]
    ids = book.instruments.ids
    record["positions"] = [{"instrument": str(ids[c]), "quantity": float(q)}
                           for c, q in zip(book.positions.indices[lo:hi], book.positions.data[lo:hi], strict=True)]
    blo, bhi = book.balances.indptr[row], book.balances.indptr[row + 1]
    record["collateral"] = {book.assets[c]: float(q) for c, q in zip(book.balances.indices[blo:bhi],
                                                                    book.balances.data[blo:bhi], strict=True)}
    return record


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@router.get("/accounts/{account}/history", response_model=Items)
async def account_history(account: str, state: State, key: Key, start: AwareDatetime | None = None,
                          end: AwareDatetime | None = None) -> Items:
    """The account's stored metric snapshots with ``start <= at <= end``, oldest first."""
    allowed = visible_accounts(key)
    _row(state.view, allowed, account)

    def read() -> list[dict[str, Any]]:
        return [{"at": _iso(s.at), "adjusted_equity": s.adjusted_equity, "maintenance_margin": s.maintenance_margin,
                 "coverage_ratio": s.coverage_ratio, "status": s.status}
                for s in state.store.account_history(account, start, end)]

    return Items(items=await asyncio.to_thread(read))

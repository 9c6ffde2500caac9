"""Trades, transfers and market updates: the inputs that move the engine (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ccm.service.deps import Admin, State
from ccm.service.routers.system import system_document
from ccm.service.schemas import MarketIn, Seq, SystemOut, TradeIn, TransferIn

router = APIRouter(tags=["events"])


@router.post("/trades", response_model=Seq)
async def post_trade(body: TradeIn, state: State, _key: Admin) -> Seq:
    """A fill, committed to the audit log and then applied; answers with its audit seq."""
    seq = await state.run(lambda: state.live.trade(body.account, body.instrument, body.quantity, body.price,
                                                   at=body.at))
    return Seq(seq=seq)


@router.post("/transfers", response_model=Seq)
async def post_transfer(body: TransferIn, state: State, _key: Admin) -> Seq:
    """A collateral transfer (quantity > 0 in, < 0 out), committed then applied."""
    seq = await state.run(lambda: state.live.transfer(body.account, body.asset, body.quantity, at=body.at))
    return Seq(seq=seq)


@router.post("/market", response_model=SystemOut)
async def post_market(body: MarketIn, state: State, _key: Admin) -> SystemOut:
    """New index prices (USD) and optionally option vols, applied together in one recompute of every account:
    if any value is refused (422), nothing is applied."""

    def apply() -> dict[str, Any]:
        if body.index or body.vols:
            state.engine.on_market(index=body.index, vols=body.vols, at=body.at)
        return system_document(state)

    return SystemOut(system=await state.run(apply))

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter

from ccm.io.results import system_record
from ccm.service.deps import RiskReader, State

router = APIRouter(tags=["system"])


def system_document(state: Any) -> dict[str, Any]:
    """``system_record`` of the engine, with ``fund_coverage`` (fund ÷ total shortfall) when a fund is set."""
    engine = state.engine
    record = system_record(engine.system)
    snap = engine.system_snapshot
    if snap.fund_usd is not None:
        record["fund_usd"] = snap.fund_usd
        record["fund_coverage"] = snap.fund_to_shortfall if math.isfinite(snap.fund_to_shortfall) else None
    record["as_of"] = engine.snapshot.as_of.isoformat().replace("+00:00", "Z")
    return record


@router.get("/system")
async def get_system(state: State, _key: RiskReader) -> dict[str, Any]:
    """Venue-level metrics (admin, risk)."""
    return await state.run(system_document, state)

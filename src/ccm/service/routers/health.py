from __future__ import annotations

from fastapi import APIRouter

from ccm.service.deps import State
from ccm.service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
async def health(state: State) -> Health:
    """Liveness: the number of accounts and the market time (no authentication)."""
    engine = state.engine
    return Health(status="ok", accounts=engine.metrics.n_accounts,
                  as_of=engine.snapshot.as_of.isoformat().replace("+00:00", "Z"))

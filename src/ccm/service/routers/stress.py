"""Stress runs: synchronous for small books, a background job (thread pool) with a status for large ones."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse

from ccm.errors import CcmError
from ccm.service.deps import RiskReader, State
from ccm.service.schemas import JobOut, JobStatus, StressIn

router = APIRouter(tags=["stress"])
log = logging.getLogger(__name__)


def _prepare(state: Any, body: StressIn) -> tuple[Any, Any, Any]:
    """(RiskContext, ScenarioSet, as_of) of the engine's current book and market (engine thread)."""
    from ccm.app.scenarios import build_scenarios
    from ccm.pricing.market_state import resolve_market
    from ccm.risk.context import RiskContext

    engine = state.engine
    book, snapshot = state.current_book(), engine.snapshot
    ctx = RiskContext.build(book, resolve_market(snapshot, book.assets, book.instruments), state.config)
    scenarios = build_scenarios(body.scenarios, ctx, prices=None, paths=body.paths, seed=body.seed,
                                horizon_days=1.0, distribution="t")
    return ctx, scenarios, snapshot.as_of


def _run(state: Any, body: StressIn, ctx: Any, scenarios: Any, as_of: Any) -> dict[str, Any]:
    from ccm.io.stress_results import stress_document
    from ccm.stress import run_stress

    fund = body.fund if body.fund is not None else (state.settings.fund_usd or 0.0)
    result = run_stress(ctx, scenarios, fund_usd=fund)
    return stress_document(result, as_of=as_of, currency=state.config.currency, source=body.scenarios)


@router.post("/stress", responses={202: {"model": JobOut, "description": "a background job was started"}})
async def post_stress(body: StressIn, state: State, _key: RiskReader) -> Any:
    """Stress the current book (admin, risk): 200 with the stress document when accounts × scenarios is at most
    the configured threshold, else 202 with a job id to poll at ``GET /api/v1/stress/{job_id}``."""
    ctx, scenarios, as_of = await state.run(_prepare, state, body)
    size = ctx.n_accounts * len(scenarios)
    loop = asyncio.get_running_loop()
    if size <= state.settings.stress_sync_max:
        return await loop.run_in_executor(state.stress_pool, _run, state, body, ctx, scenarios, as_of)
    job = state.new_job()

    def work() -> None:
        try:
            job.result = _run(state, body, ctx, scenarios, as_of)
            job.status = "done"
        except CcmError as err:
            job.error, job.status = str(err), "failed"
        except Exception:  # recorded, never raised into the pool
            log.exception("stress job %s failed", job.id)
            job.error, job.status = "internal error", "failed"

    state.stress_pool.submit(work)
    return JSONResponse(status_code=202, content={"job_id": job.id, "status": "running"})


@router.get("/stress/{job_id}", response_model=JobStatus, response_model_exclude_none=True)
async def get_stress(job_id: str, state: State, _key: RiskReader) -> JobStatus:
    """A stress job's status, with the document once done."""
    job = state.jobs.get(job_id)
    if job is None:
        raise HTTPException(status_code=404, detail="no such job")
    return JobStatus(status=job.status, result=job.result, error=job.error)

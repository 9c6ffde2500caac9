"""``create_app(settings)``: the FastAPI application. Nothing is created at import time: the store, the engine,
the background writer and (with ``demo``) the simulated feed are created in the lifespan and kept in
``app.state.service``."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from ccm import __version__
from ccm.errors import CcmError, InputError
from ccm.service import redact
from ccm.service.middleware import BodyLimit, RateLimit
from ccm.service.settings import ServiceSettings
from ccm.service.state import ServiceState

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
DEMO_STORE = "ccm-demo.sqlite"


def build_state(settings: ServiceSettings, *, key_store: Any = None) -> ServiceState:
    """Open the store, load config and market, rebuild the live book (blocking; called from the lifespan)."""
    from ccm.io.alerts_config import load_alert_config
    from ccm.io.config import load_config
    from ccm.store import open_store
    from ccm.store.live import LiveBook

    config = load_config(settings.config)
    alerts = load_alert_config(settings.config)
    if settings.fund_usd is not None:
        alerts = replace(alerts, system=replace(alerts.system, fund_usd=settings.fund_usd))
    store = open_store(settings.store or (DEMO_STORE if settings.demo else None))
    try:
        if settings.demo:
            from ccm.synthetic import generate_venue

            venue = generate_venue(settings.demo_accounts, rng=np.random.default_rng(settings.demo_seed))
            market = venue.market
            if not store.books():
                store.save_book(venue.columns, f"demo-{settings.demo_accounts}")
        else:
            from ccm.io.book import load_book_columns
            from ccm.io.market import load_market

            if settings.market is None:
                raise InputError("the service needs a market snapshot", field="market",
                                 hint="pass --market market.json (or --demo)")
            market = load_market(settings.market)
            if settings.book is not None:
                store.save_book(load_book_columns(settings.book), Path(settings.book).name)
        live = LiveBook.open(store, market, config, alerts=alerts, with_distance=settings.distance)
        return ServiceState(settings, store, live, market, config, alerts, key_store=key_store)
    except BaseException:
        store.close()
        raise


async def _run_feed(state: ServiceState) -> None:
    """The simulated feed moving the engine's index prices (relative moves from the market's ``as_of``)."""
    from ccm.feeds import SimulatedFeed

    engine = state.engine
    assets = set(engine.book.assets)
    stable = {a for a in assets if state.config.asset(a).stable}
    start = {a: p for a, p in state.market.index.items() if a in assets}
    feed = SimulatedFeed(start, rng=np.random.default_rng(state.settings.demo_seed),
                         interval_s=state.settings.feed_interval, stable=stable, jump_intensity_per_day=4.0)
    first_at = None
    first: dict[str, float] = {}
    try:
        async for update in feed.updates():
            if first_at is None:
                first_at = update.at
            index = {}
            for a, p in update.index.items():
                if a in assets:
                    first.setdefault(a, float(p))
                    index[a] = state.market.index[a] * float(p) / first[a]
            at = state.market.as_of + (update.at - first_at)
            if index:
                try:
                    await state.run(state.engine.on_prices, index, at)
                except CcmError as err:  # e.g. a book replaced with other assets: skip the tick
                    log.warning("feed tick skipped: %s", err)
    finally:
        await feed.close()


#: engine record names → the request body's field names
_RECORDS = {"trade": None, "transfer": None, "prices": "index"}


def _loc(err: InputError) -> list[str]:
    record = _RECORDS.get(err.record, err.record) if err.record else None
    return ["body", *[part for part in (record, err.field) if part]]


def create_app(settings: ServiceSettings | None = None, *, key_store: Any = None) -> FastAPI:
    """The service application for ``settings`` (default: from the environment).

    ``key_store``: an object with ``authenticate(secret)`` (default: the store's API keys).
    """
    settings = settings or ServiceSettings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redact.install()  # no API key or URL password in a log line (uvicorn has configured logging by now)
        state = await asyncio.to_thread(build_state, settings, key_store=key_store)
        state.loop = asyncio.get_running_loop()
        app.state.service = state
        if settings.gc_freeze:  # the long-lived objects (libraries, the book) leave the collector: full collections
            gc.freeze()  # no longer walk them, which otherwise stalled the event loop ~130 ms every few seconds
        if settings.demo:
            state.feed_task = asyncio.create_task(_run_feed(state), name="ccm-feed")
        try:
            yield
        finally:
            await state.close()
            state.store.close()

    app = FastAPI(title="ccm risk service", version=__version__, lifespan=lifespan,
                  description="Collateral coverage of a venue's accounts: metrics, stress, alerts, live updates. "
                              "Authenticate with the X-API-Key header (WebSocket: ?api_key=).")

    @app.exception_handler(InputError)
    async def input_error(_request: Request, err: InputError) -> JSONResponse:
        item: dict[str, Any] = {"loc": _loc(err), "msg": err.message, "type": "input_error"}
        if err.hint:
            item["hint"] = err.hint
        return JSONResponse(status_code=422, content={"detail": [item]})

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, err: RequestValidationError) -> JSONResponse:
        detail = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "invalid")),
                   "type": str(e.get("type", "value_error"))} for e in err.errors()]
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, err: Exception) -> JSONResponse:
        log.error("internal error", exc_info=err)
        return JSONResponse(status_code=500, content={"detail": "internal error"})

    from ccm.service.routers import accounts, alerts, book, health, market, stress, system, ws

    for module in (health, book, market, accounts, system, stress, alerts):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(ws.router)

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimit, rate=settings.rate_limit, burst=settings.rate_burst)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT"], allow_headers=["X-API-Key", "Content-Type"])
    if STATIC.is_dir():
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="static")
    return app

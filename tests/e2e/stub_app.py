"""A tiny stand-in for the risk service with the same endpoints and canned data.

Used only while ``ccm.service.app`` does not exist yet, so the dashboard can be developed and tested without it.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Header, HTTPException, WebSocket
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parents[2] / "src" / "ccm" / "service" / "static"
STATUSES = ["healthy", "warning", "margin_call", "liquidation", "bankrupt"]


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _accounts(n: int = 300) -> list[dict[str, Any]]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        cov = rng.choice([rng.uniform(1.3, 6), rng.uniform(1.3, 6), rng.uniform(1.1, 1.3), rng.uniform(1.0, 1.1),
                          rng.uniform(0.2, 1.0)])
        mm = rng.uniform(1e3, 1e6)
        adj = cov * mm
        status = ("healthy" if cov >= 1.5 else "warning" if cov >= 1.2 else "margin_call" if cov >= 1.0
                  else "liquidation" if adj > 0.5 * mm else "bankrupt")
        out.append({"account": f"A{i:05d}", "model": rng.choice(["standard", "portfolio", "lending"]),
                    "equity": adj * 1.05, "collateral_value": adj * 1.1, "adjusted_equity": adj,
                    "initial_margin": mm * 1.5, "maintenance_margin": mm, "coverage_ratio": cov, "unbounded": False,
                    "status": status, "shortfall": max(0.0, mm - adj),
                    "distance_to_liquidation": {"down": max(0.0, 1 - 1 / cov) * 0.5, "up": 0.4},
                    "health_factor": None,
                    "contributors": [{"instrument": "BTC-PERP", "share": 0.7, "amount": 0.7 * mm},
                                     {"asset": "ETH", "share": 0.3, "amount": 0.3 * mm}],
                    "positions": [{"instrument": "BTC-PERP", "quantity": rng.uniform(-5, 5)}],
                    "collateral": {"USDT": round(adj, 2), "ETH": 1.5}})
    return out


def create_stub_app(api_key: str, interval: float = 0.5) -> FastAPI:
    app = FastAPI()
    accounts = _accounts()
    by_id = {a["account"]: a for a in accounts}

    def auth(key: str | None) -> None:
        if key != api_key:
            raise HTTPException(401, "invalid API key")

    def system() -> dict[str, Any]:
        counts = {s: sum(1 for a in accounts if a["status"] == s) for s in STATUSES}
        adj = sum(a["adjusted_equity"] for a in accounts)
        mm = sum(a["maintenance_margin"] for a in accounts)
        return {"accounts": len(accounts), "by_status": counts, "total_adjusted_equity": adj,
                "total_maintenance_margin": mm, "system_coverage_ratio": adj / mm,
                "total_shortfall": sum(a["shortfall"] for a in accounts), "fund_coverage": 1.4, "at": _now()}

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/system")
    def get_system(x_api_key: str | None = Header(None)) -> dict[str, Any]:
        auth(x_api_key)
        return system()

    @app.get("/api/v1/accounts")
    def list_accounts(x_api_key: str | None = Header(None), status: str | None = None, q: str | None = None,
                      sort: str = "coverage_ratio", order: str = "asc", limit: int = 50, offset: int = 0):
        auth(x_api_key)
        rows = [a for a in accounts if (not status or a["status"] == status) and (not q or q in a["account"])]
        rows.sort(key=lambda a: a[sort], reverse=order == "desc")
        return {"total": len(rows), "items": [{k: v for k, v in a.items() if k not in ("positions", "collateral")}
                                              for a in rows[offset:offset + limit]]}

    @app.get("/api/v1/accounts/{account}")
    def get_account(account: str, x_api_key: str | None = Header(None)):
        auth(x_api_key)
        if account not in by_id:
            raise HTTPException(404, "unknown account")
        return by_id[account]

    @app.get("/api/v1/accounts/{account}/history")
    def history(account: str, x_api_key: str | None = Header(None)):
        auth(x_api_key)
        a = by_id[account]
        t0 = datetime.now(UTC) - timedelta(minutes=30)
        return {"items": [{"at": (t0 + timedelta(minutes=i)).isoformat(), "adjusted_equity": a["adjusted_equity"],
                           "maintenance_margin": a["maintenance_margin"],
                           "coverage_ratio": a["coverage_ratio"] * (1 + 0.05 * ((i % 7) - 3) / 3),
                           "status": a["status"]} for i in range(30)]}

    @app.post("/api/v1/stress")
    def stress(x_api_key: str | None = Header(None)):
        auth(x_api_key)
        return {"scenarios": [{"name": "covid_crash_2020", "date": "2020-03-12", "system_uncovered_loss": 2.5e6,
                               "accounts_breached": 41, "worst_accounts": [{"account": "A00001",
                                                                            "uncovered_loss": 4e5}]},
                              {"name": "ftx_2022", "date": "2022-11-09", "system_uncovered_loss": 1.1e6,
                               "accounts_breached": 17, "worst_accounts": []}],
                "cover_1": 2.5e6, "cover_1_scenario": "covid_crash_2020", "cover_2": 3.6e6,
                "cover_2_scenario": "covid_crash_2020", "fund_coverage": 1.4, "var": 2e6, "es": 2.4e6,
                "confidence": 0.99}

    @app.get("/api/v1/alerts")
    def alerts(x_api_key: str | None = Header(None)):
        auth(x_api_key)
        return {"items": [{"at": _now(), "account": "A00003", "rule": "status_change",
                           "values": {"from": "warning", "status": "margin_call"}}]}

    @app.websocket("/ws/metrics")
    async def ws(websocket: WebSocket, api_key: str | None = None):
        if api_key != api_key_expected:
            await websocket.close(code=4401)
            return
        await websocket.accept()
        await websocket.send_json({"type": "hello"})
        subscribed: set[str] = set()

        async def reader() -> None:
            while True:
                msg = await websocket.receive_json()
                subscribed.update(msg.get("subscribe", []))

        task = asyncio.create_task(reader())
        try:
            tick = 0
            while not task.done():
                await asyncio.sleep(interval)
                tick += 1
                s = system()
                await websocket.send_json({"type": "system", "at": s["at"],
                                           "system_coverage_ratio": s["system_coverage_ratio"] * (1 + 0.01 * tick),
                                           "total_shortfall": s["total_shortfall"],
                                           "accounts_by_status": s["by_status"], "fund_coverage": 1.4})
                for acc in list(subscribed):
                    if acc in by_id:
                        await websocket.send_json({"type": "account", **by_id[acc], "at": _now()})
                if tick % 4 == 0:
                    await websocket.send_json({"type": "alert", "at": _now(), "account": "A00002",
                                               "rule": "coverage_below", "values": {"coverage_ratio": 0.98}})
        except Exception:  # noqa: BLE001 - client went away
            pass
        finally:
            task.cancel()

    api_key_expected = api_key
    app.mount("/", StaticFiles(directory=STATIC, html=True), name="static")
    return app

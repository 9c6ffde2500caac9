"""An account-role key never sees another account: every HTTP operation of the app (enumerated from its OpenAPI
document, so a new route is covered, or fails here until it is described) and the WebSocket.

The rule, as the API implements it: a route the role may not use answers 403 whatever it names; on the routes it
may use, another account's id is answered exactly as an id that does not exist (404 on a path, an empty list for a
filter, a subscription silently dropped) — so a key cannot even learn which other accounts exist.
"""

from __future__ import annotations

import json
from typing import Any

from tests.service.conftest import BOOK, OTHER, OWN, Service

NOBODY = "no-such-account-7f3a"
ALL_IDS = {a["id"] for a in json.loads(BOOK.read_text())["accounts"]}
VISIBLE = {OWN, "mm-options-1-standard"}  # the account key of conftest.make_keys
HIDDEN = ALL_IDS - VISIBLE
ACCOUNT = "{account}"

#: Bodies of the operations that take one, with ACCOUNT where an account id goes.
BODIES: dict[tuple[str, str], Any] = {
    ("post", "/api/v1/trades"): {"account": ACCOUNT, "instrument": "BTC-PERPETUAL", "quantity": 1, "price": 97000},
    ("post", "/api/v1/transfers"): {"account": ACCOUNT, "asset": "BTC", "quantity": 1},
    ("post", "/api/v1/market"): {"index": {"BTC": 97000}},
    ("post", "/api/v1/stress"): {"scenarios": "hypothetical"},
    ("put", "/api/v1/book"): json.loads(BOOK.read_text()),
}


def _fill(value: Any, account: str) -> Any:
    if isinstance(value, str):
        return value.replace(ACCOUNT, account)
    if isinstance(value, dict):
        return {k: _fill(v, account) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, account) for v in value]
    return value


def _operations(service: Service) -> list[tuple[str, str, dict]]:
    spec = service.client.app.openapi()
    return [(method, path, op) for path, item in spec["paths"].items() for method, op in item.items()]


def _request(service: Service, method: str, path: str, op: dict, account: str, job_id: str):
    values = {"account": account, "job_id": job_id}
    params: dict[str, str] = {}
    for p in op.get("parameters", []):
        if p["in"] == "path":
            assert p["name"] in values, f"{method.upper()} {path}: say what an account key passes as {p['name']}"
            path = path.replace("{" + p["name"] + "}", values[p["name"]])
        elif p["in"] == "query" and p["name"] == "account":
            params["account"] = account
    body = None
    if "requestBody" in op:
        assert (method, path.replace(account, ACCOUNT)) in BODIES or (method, path) in BODIES, \
            f"{method.upper()} {path}: add an example body to BODIES"
        body = _fill(BODIES.get((method, path), BODIES.get((method, path.replace(account, ACCOUNT)))), account)
    return service.client.request(method, path, params=params, json=body, headers=service.headers("account"))


def _hidden_ids_in(text: str) -> set[str]:
    return {a for a in HIDDEN if json.dumps(a) in text}


def test_every_http_operation_answers_another_account_as_a_missing_one(make_service) -> None:
    service = make_service(stress_sync_max=0)
    started = service.post("/api/v1/stress", "risk", json={"scenarios": "hypothetical"})
    assert started.status_code == 202
    job_id = started.json()["job_id"]
    operations = _operations(service)
    assert len(operations) >= 12
    seen: dict[int, int] = {}
    for method, path, op in operations:
        other = _request(service, method, path, op, OTHER, job_id)
        missing = _request(service, method, path, op, NOBODY, job_id)
        own = _request(service, method, path, op, OWN, job_id)
        what = f"{method.upper()} {path}"
        assert other.status_code == missing.status_code, what
        assert other.text.replace(OTHER, "X") == missing.text.replace(NOBODY, "X"), what
        assert other.status_code in (200, 403, 404), (what, other.status_code, other.text[:200])
        for response in (other, missing, own):
            assert not _hidden_ids_in(response.text), (what, _hidden_ids_in(response.text))
        seen[other.status_code] = seen.get(other.status_code, 0) + 1
    # not vacuous: the key works where it may, and an admin sees what the account key does not
    assert service.get(f"/api/v1/accounts/{OWN}", "account").status_code == 200
    assert service.get(f"/api/v1/accounts/{OTHER}", "account").status_code == 404
    assert service.get(f"/api/v1/accounts/{OTHER}").status_code == 200
    assert service.get(f"/api/v1/accounts/{OTHER}/history", "account").status_code == 404
    assert service.get(f"/api/v1/stress/{job_id}", "account").status_code == 403  # the role, whatever it names
    assert service.get(f"/api/v1/stress/{job_id}", "risk").status_code == 200
    assert {200, 403, 404} <= seen.keys()


def _websocket_paths(app) -> set[str]:
    """Paths of every WebSocket route, however the routers are nested."""
    from fastapi.routing import APIWebSocketRoute
    from starlette.routing import WebSocketRoute

    found, stack = set(), list(app.routes)
    while stack:
        route = stack.pop()
        if isinstance(route, APIWebSocketRoute | WebSocketRoute):
            found.add(route.path)
        stack.extend(getattr(getattr(route, "original_router", None), "routes", []))  # included routers
        stack.extend(getattr(route, "routes", None) or [])  # mounts
    return found


def test_the_websocket_never_carries_another_account(service: Service) -> None:
    assert _websocket_paths(service.client.app) == {"/ws/metrics"}, "a new WebSocket route: cover it here"
    with service.client.websocket_connect(f"/ws/metrics?api_key={service.keys['account']}") as ws:
        assert ws.receive_json() == {"type": "hello", "role": "account"}
        ws.send_json({"subscribe": [OTHER, OWN, NOBODY, *sorted(HIDDEN)]})
        assert ws.receive_json() == {"type": "subscribed", "accounts": [OWN]}
        assert service.post("/api/v1/trades", json={"account": OTHER, "instrument": "BTC-PERPETUAL",
                                                    "quantity": 1000, "price": 97000}).status_code == 200
        assert service.post("/api/v1/market", json={"index": {"BTC": 90000}}).status_code == 200  # alerts too
        messages = [ws.receive_json()]
        while not (messages[-1]["type"] == "account" and messages[-1]["account"] == OWN):
            messages.append(ws.receive_json())
    text = json.dumps(messages)
    assert not _hidden_ids_in(text), _hidden_ids_in(text)
    assert all(m.get("account") in VISIBLE for m in messages)
    assert not any(m["type"] == "system" for m in messages)

"""WebSocket /ws/metrics: hello, subscriptions filtered by role, system/account/alert pushes after a recompute."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.service.conftest import OTHER, OWN, Service


def _until_second_system(ws, limit: int = 200) -> list[dict]:
    """Messages up to and including the second ``system`` message."""
    out, systems = [], 0
    for _ in range(limit):
        m = ws.receive_json()
        out.append(m)
        systems += m.get("type") == "system"
        if systems == 2:
            return out
    raise AssertionError("no second system message")


def test_admin_gets_system_and_subscribed_accounts(service: Service) -> None:
    with service.client.websocket_connect(f"/ws/metrics?api_key={service.keys['admin']}") as ws:
        assert ws.receive_json() == {"type": "hello", "role": "admin"}
        ws.send_json({"subscribe": [OWN, OTHER]})
        assert ws.receive_json() == {"type": "subscribed", "accounts": sorted([OWN, OTHER])}
        assert service.post("/api/v1/market", json={"index": {"BTC": 90000}}).status_code == 200
        service.post("/api/v1/market", json={"index": {"BTC": 90500}})
        messages = _until_second_system(ws)
    system = messages[0]
    assert system["type"] == "system"
    assert set(system) == {"type", "at", "system_coverage_ratio", "total_shortfall", "accounts_by_status",
                           "fund_coverage"}
    assert sum(system["accounts_by_status"].values()) == 12
    accounts = {m["account"] for m in messages if m["type"] == "account"}
    assert accounts == {OWN, OTHER}
    record = next(m for m in messages if m["type"] == "account")
    assert {"coverage_ratio", "status", "adjusted_equity", "at"} <= record.keys()
    assert any(m["type"] == "alert" for m in messages)  # a 7% fall trips coverage alerts


def test_trade_pushes_only_the_changed_account(service: Service) -> None:
    with service.client.websocket_connect(f"/ws/metrics?api_key={service.keys['risk']}") as ws:
        ws.receive_json()
        ws.send_json({"subscribe": [OWN, OTHER]})
        ws.receive_json()
        service.post("/api/v1/trades", json={"account": OWN, "instrument": "BTC-PERPETUAL", "quantity": 100,
                                             "price": 97000})
        service.post("/api/v1/market", json={"index": {"BTC": 97001}})
        messages = _until_second_system(ws)
    first = messages[:messages.index(next(m for m in messages[1:] if m["type"] == "system"))]
    assert [m["account"] for m in first if m["type"] == "account"] == [OWN]


def test_account_role_subscription_and_alerts_filtered(service: Service) -> None:
    with service.client.websocket_connect(f"/ws/metrics?api_key={service.keys['account']}") as ws:
        assert ws.receive_json() == {"type": "hello", "role": "account"}
        ws.send_json({"subscribe": [OWN, OTHER, "nobody"]})
        assert ws.receive_json() == {"type": "subscribed", "accounts": [OWN]}
        service.post("/api/v1/market", json={"index": {"BTC": 70000, "ETH": 1500, "SOL": 100}})
        service.post("/api/v1/market", json={"index": {"BTC": 70001}})
        messages = [ws.receive_json()]
        while sum(m["type"] == "account" for m in messages) < 2:  # OWN after each of the two moves
            messages.append(ws.receive_json())
    assert {m["account"] for m in messages if m["type"] == "account"} == {OWN}
    assert not any(m["type"] == "system" for m in messages)  # venue figures are not the account role's
    alerts = [m for m in messages if m["type"] == "alert"]
    assert all(a["account"] in (OWN, "mm-options-1-standard") for a in alerts)


@pytest.mark.parametrize("query", ["", "?api_key=wrong"])
def test_ws_needs_a_valid_key(service: Service, query: str) -> None:
    with pytest.raises(WebSocketDisconnect) as err, service.client.websocket_connect(f"/ws/metrics{query}") as ws:
        ws.receive_json()
    assert err.value.code == 1008


def test_account_push_carries_the_contributors_of_the_account_page(service: Service) -> None:
    with service.client.websocket_connect(f"/ws/metrics?api_key={service.keys['admin']}") as ws:
        ws.receive_json()
        ws.send_json({"subscribe": [OWN]})
        ws.receive_json()
        service.post("/api/v1/market", json={"index": {"BTC": 93000}})
        page = service.get(f"/api/v1/accounts/{OWN}").json()
        service.post("/api/v1/market", json={"index": {"BTC": 93001}})
        pushed = next(m for m in _until_second_system(ws) if m["type"] == "account")
    assert pushed["contributors"], "an options market maker's requirement has drivers"
    assert pushed["contributors"] == page["contributors"]
    assert pushed["maintenance_margin"] == page["maintenance_margin"]

"""The REST API: every endpoint, every role boundary, the error paths."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from ccm.service.app import create_app
from ccm.service.deps import get_key_store
from ccm.service.settings import ServiceSettings
from tests.service.conftest import BOOK, OTHER, OWN, Service

TRACE_WORDS = ("Traceback", "File \"", "line ", ".py")


def no_trace(response) -> None:
    text = response.text
    assert not any(w in text for w in TRACE_WORDS), text


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


# --- health, auth --------------------------------------------------------------------------------------------

def test_health_needs_no_key(service: Service) -> None:
    r = service.client.get("/api/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["accounts"] == 12 and body["as_of"].startswith("2025-02-10")


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "nonsense"}, {"X-API-Key": "ccm_" + "x" * 40}])
def test_missing_or_bad_key_is_401(service: Service, headers) -> None:
    for url in ("/api/v1/accounts", "/api/v1/system", f"/api/v1/accounts/{OWN}", "/api/v1/alerts"):
        r = service.client.get(url, headers=headers)
        assert r.status_code == 401, url
        no_trace(r)


def test_revoked_key_is_401_once_the_key_cache_expires(service: Service, monkeypatch) -> None:
    import time

    from ccm.service import deps
    from ccm.store import open_store

    monkeypatch.setattr(deps, "KEY_CACHE_SECONDS", 0.2)
    with open_store(service.store_url) as store:
        record, secret = store.create_api_key("short-lived", "risk")
        assert service.client.get("/api/v1/system", headers={"X-API-Key": secret}).status_code == 200
        store.revoke_api_key(record.id)
    time.sleep(0.3)  # a revocation made elsewhere (e.g. ccm keys revoke) applies within KEY_CACHE_SECONDS
    assert service.client.get("/api/v1/system", headers={"X-API-Key": secret}).status_code == 401


def test_fake_key_store_by_dependency_override(service: Service) -> None:
    @dataclass(frozen=True)
    class Key:
        id: int
        name: str
        role: str
        accounts: tuple[str, ...] = ()

    class Keys:
        def authenticate(self, secret: str):
            return {"fake-risk": Key(1, "f", "risk")}.get(secret)

    app = service.client.app
    app.dependency_overrides[get_key_store] = lambda: Keys()
    try:
        assert service.client.get("/api/v1/system", headers={"X-API-Key": "fake-risk"}).status_code == 200
        assert service.get("/api/v1/system").status_code == 401  # the real admin key is unknown to the fake
    finally:
        app.dependency_overrides.clear()


# --- accounts ------------------------------------------------------------------------------------------------

def test_list_sort_filter_paginate(service: Service) -> None:
    r = service.get("/api/v1/accounts", params={"sort": "coverage_ratio", "order": "asc", "limit": 50})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 12 and len(body["items"]) == 12
    covs = [i["coverage_ratio"] for i in body["items"] if i["coverage_ratio"] is not None]
    assert covs == sorted(covs)
    assert {"account", "status", "coverage_ratio", "contributors", "distance_to_liquidation"} <= body["items"][0].keys()
    desc = service.get("/api/v1/accounts", params={"sort": "shortfall", "order": "desc"}).json()["items"]
    assert desc[0]["account"] == "underwater"
    page = service.get("/api/v1/accounts", params={"sort": "account", "limit": 5, "offset": 5}).json()
    names = [i["account"] for i in service.get("/api/v1/accounts", params={"sort": "account"}).json()["items"]]
    assert page["total"] == 12 and [i["account"] for i in page["items"]] == names[5:10] == sorted(names)[5:10]
    healthy = service.get("/api/v1/accounts", params={"status": "healthy"}).json()
    assert healthy["total"] > 0 and all(i["status"] == "healthy" for i in healthy["items"])
    lending = service.get("/api/v1/accounts", params={"model": "lending"}).json()
    assert lending["total"] == 2 and all(i["model"] == "lending" for i in lending["items"])
    found = service.get("/api/v1/accounts", params={"q": "BORROWER"}).json()
    assert sorted(i["account"] for i in found["items"]) == ["borrower-eth", "borrower-sol"]


@pytest.mark.parametrize("params", [{"sort": "nope"}, {"order": "up"}, {"limit": 0}, {"limit": 5000},
                                    {"offset": -1}, {"status": "fine"}, {"model": "x"}])
def test_list_validation_is_422_with_loc(service: Service, params) -> None:
    r = service.get("/api/v1/accounts", params=params)
    assert r.status_code == 422
    (name,) = params
    assert any(d["loc"] == ["query", name] for d in r.json()["detail"])
    no_trace(r)


def test_account_detail_and_unknown(service: Service) -> None:
    r = service.get(f"/api/v1/accounts/{OWN}")
    assert r.status_code == 200
    body = r.json()
    assert body["account"] == OWN
    assert {"instrument": "BTC-PERPETUAL", "quantity": 250000.0} in body["positions"]
    assert body["collateral"] == {"BTC": 25.0}
    assert service.get("/api/v1/accounts/nobody").status_code == 404


def test_account_role_sees_only_its_accounts(service: Service) -> None:
    assert service.get(f"/api/v1/accounts/{OWN}", "account").status_code == 200
    other = service.get(f"/api/v1/accounts/{OTHER}", "account")
    unknown = service.get("/api/v1/accounts/nobody", "account")
    assert other.status_code == unknown.status_code == 404
    assert other.json()["detail"].replace(OTHER, "X") == unknown.json()["detail"].replace("nobody", "X")
    assert service.get(f"/api/v1/accounts/{OTHER}/history", "account").status_code == 404
    listed = service.get("/api/v1/accounts", "account").json()
    assert listed["total"] == 2
    assert {i["account"] for i in listed["items"]} == {OWN, "mm-options-1-standard"}
    assert service.get("/api/v1/accounts", "account", params={"q": "trader"}).json()["total"] == 0
    assert service.get("/api/v1/system", "account").status_code == 403
    assert service.post("/api/v1/stress", "account", json={"scenarios": "hypothetical"}).status_code == 403
    for url, body in (("/api/v1/trades", {"account": OWN, "instrument": "BTC-PERPETUAL", "quantity": 1, "price": 1}),
                      ("/api/v1/transfers", {"account": OWN, "asset": "BTC", "quantity": 1}),
                      ("/api/v1/market", {"index": {"BTC": 1}})):
        assert service.post(url, "account", json=body).status_code == 403
    assert service.put("/api/v1/book", "account", json=json.loads(BOOK.read_text())).status_code == 403


def test_risk_role_reads_and_stresses_but_does_not_write(service: Service) -> None:
    assert service.get("/api/v1/system", "risk").status_code == 200
    assert service.get(f"/api/v1/accounts/{OTHER}", "risk").status_code == 200
    assert service.post("/api/v1/stress", "risk", json={"scenarios": "hypothetical"}).status_code == 200
    r = service.post("/api/v1/trades", "risk", json={"account": OWN, "instrument": "BTC-PERPETUAL", "quantity": 1,
                                                     "price": 97000})
    assert r.status_code == 403
    assert service.put("/api/v1/book", "risk", json=json.loads(BOOK.read_text())).status_code == 403


def test_history_from_store_snapshots(service: Service) -> None:
    # the writer keeps only the newest unwritten snapshot: let the opening one be stored before the update
    wait_for(lambda: service.get(f"/api/v1/accounts/{OWN}/history").json()["items"])
    service.post("/api/v1/market", json={"index": {"BTC": 95000}, "at": "2025-02-10T09:00:00Z"})
    items = wait_for(lambda: len(service.get(f"/api/v1/accounts/{OWN}/history").json()["items"]) >= 2 and
                     service.get(f"/api/v1/accounts/{OWN}/history").json()["items"])
    assert set(items[0]) == {"at", "adjusted_equity", "maintenance_margin", "coverage_ratio", "status"}
    assert [i["at"] for i in items] == sorted(i["at"] for i in items)
    later = service.get(f"/api/v1/accounts/{OWN}/history", params={"start": "2025-02-10T08:30:00Z"}).json()["items"]
    assert [i["at"] for i in later] == ["2025-02-10T09:00:00Z"]
    assert service.get(f"/api/v1/accounts/{OWN}/history", "account").status_code == 200
    bad = service.get(f"/api/v1/accounts/{OWN}/history", params={"start": "yesterday"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "start"]


# --- system, inputs ---------------------------------------------------------------------------------------------

def test_system(service: Service) -> None:
    body = service.get("/api/v1/system").json()
    assert body["accounts"] == 12 and "system_coverage_ratio" in body and "by_status" in body
    assert body["fund_usd"] == 1e6
    assert body["fund_coverage"] == pytest.approx(1e6 / body["total_shortfall"])


def test_trade_transfer_market_move_the_engine(service: Service) -> None:
    before = service.get(f"/api/v1/accounts/{OWN}").json()
    r = service.post("/api/v1/trades", json={"account": OWN, "instrument": "BTC-PERPETUAL", "quantity": 10000,
                                             "price": 97000, "at": "2025-02-10T08:01:00Z"})
    assert r.status_code == 200 and r.json() == {"seq": 1}
    r = service.post("/api/v1/transfers", json={"account": OWN, "asset": "BTC", "quantity": 5})
    assert r.json() == {"seq": 2}
    after = service.get(f"/api/v1/accounts/{OWN}").json()
    assert after["collateral"]["BTC"] == 30.0
    assert {"instrument": "BTC-PERPETUAL", "quantity": 260000.0} in after["positions"]
    assert after["adjusted_equity"] != before["adjusted_equity"]
    from ccm.store import open_store

    with open_store(service.store_url) as store:  # committed to the audit log
        assert [(a.seq, a.kind) for a in store.audit()] == [(1, "trade"), (2, "transfer")]
    r = service.post("/api/v1/market", json={"index": {"BTC": 80000}, "vols": {"ETH-28MAR25-3000-C": 0.9}})
    assert r.status_code == 200
    system = r.json()["system"]
    assert system["total_adjusted_equity"] != service.get("/api/v1/system").json().get("never", 0)
    assert service.get(f"/api/v1/accounts/{OWN}").json()["coverage_ratio"] != after["coverage_ratio"]


@pytest.mark.parametrize(("url", "body", "loc"), [
    ("/api/v1/trades", {"account": "nobody", "instrument": "BTC-PERPETUAL", "quantity": 1, "price": 1},
     ["body", "account"]),
    ("/api/v1/trades", {"account": OWN, "instrument": "NOPE", "quantity": 1, "price": 1}, ["body", "instrument"]),
    ("/api/v1/trades", {"account": OWN, "instrument": "BTC-PERPETUAL", "quantity": 0, "price": 1},
     ["body", "quantity"]),
    ("/api/v1/trades", {"account": OWN, "instrument": "BTC-PERPETUAL", "quantity": 1, "price": -5},
     ["body", "price"]),
    ("/api/v1/trades", {"account": OWN, "instrument": "BTC-PERPETUAL", "quantity": "lots", "price": 1},
     ["body", "quantity"]),
    ("/api/v1/trades", {"account": OWN, "instrument": "BTC-PERPETUAL", "quantity": 1, "price": 1,
                        "at": "2025-02-10T08:00:00"}, ["body", "at"]),
    ("/api/v1/transfers", {"account": OWN, "asset": "DOGE", "quantity": 1}, ["body", "asset"]),
    ("/api/v1/transfers", {"account": OWN, "quantity": 1}, ["body", "asset"]),
    ("/api/v1/market", {"index": {"BTC": -1}}, ["body", "index", "BTC"]),
    ("/api/v1/market", {"index": {"XYZ": 5}}, ["body", "index", "XYZ"]),
    ("/api/v1/market", {"index": {}, "vols": {"BTC-PERPETUAL": 0.5}}, ["body", "vols", "BTC-PERPETUAL"]),
    ("/api/v1/stress", {"scenarios": "dreams"}, ["body", "scenarios"]),
])
def test_bad_input_is_422_with_field_path(service: Service, url, body, loc) -> None:
    r = service.post(url, json=body)
    assert r.status_code == 422, r.text
    assert loc in [d["loc"] for d in r.json()["detail"]], r.json()
    no_trace(r)
    from ccm.store import open_store

    with open_store(service.store_url) as store:
        assert store.audit() == []  # refused before anything was written


def test_market_update_with_one_bad_vol_applies_no_price(service: Service) -> None:
    before = service.get("/api/v1/system").json()
    r = service.post("/api/v1/market", json={"index": {"BTC": 50000}, "vols": {"BTC-PERPETUAL": 0.5}})
    assert r.status_code == 422
    after = service.get("/api/v1/system").json()
    assert after["total_adjusted_equity"] == before["total_adjusted_equity"]
    assert after["as_of"] == before["as_of"]


def test_malformed_json_is_422(service: Service) -> None:
    r = service.client.post("/api/v1/trades", content=b"{not json", headers={**service.headers("admin"),
                                                                            "content-type": "application/json"})
    assert r.status_code == 422
    no_trace(r)


# --- book upload ------------------------------------------------------------------------------------------------

def test_put_book_json_body(service: Service) -> None:
    doc = json.loads(BOOK.read_text())
    doc["accounts"] = doc["accounts"][:3]
    r = service.put("/api/v1/book", json=doc)
    assert r.status_code == 200 and r.json()["accounts"] == 3
    assert service.client.get("/api/v1/health").json()["accounts"] == 3
    assert service.get("/api/v1/accounts").json()["total"] == 3


def test_put_book_multipart_json_and_csv(service: Service, tmp_path) -> None:
    r = service.put("/api/v1/book", files={"file": ("book.json", BOOK.read_bytes(), "application/json")})
    assert r.status_code == 200 and r.json()["accounts"] == 12
    from ccm.io.book import load_book_columns, write_book_csv

    write_book_csv(load_book_columns(BOOK), tmp_path / "bundle")
    files = {name: (f"{name}.csv", (tmp_path / "bundle" / f"{name}.csv").read_bytes(), "text/csv")
             for name in ("instruments", "positions", "collateral")}
    r = service.put("/api/v1/book", files=files)
    assert r.status_code == 200, r.text
    assert r.json()["accounts"] == 12
    from ccm.io.book import write_book_parquet

    write_book_parquet(load_book_columns(BOOK), tmp_path / "pq")
    parquet = {name: (f"{name}.parquet", (tmp_path / "pq" / f"{name}.parquet").read_bytes(),
                      "application/octet-stream") for name in ("instruments", "positions", "collateral")}
    r = service.put("/api/v1/book", files=parquet)
    assert r.status_code == 200, r.text
    mixed = service.put("/api/v1/book", files={**files, "collateral": parquet["collateral"]})
    assert mixed.status_code == 422
    partial = service.put("/api/v1/book", files={"instruments": files["instruments"]})
    assert partial.status_code == 422 and partial.json()["detail"][0]["loc"][-1] in ("positions", "collateral")


@pytest.mark.parametrize("doc", [{"instruments": [], "accounts": []}, {"accounts": [{"id": 5}]}, [1, 2],
                                 {"instruments": [{"id": "X", "type": "spaceship"}], "accounts": [{"id": "a"}]}])
def test_put_bad_book_is_422_and_keeps_the_old_one(service: Service, doc) -> None:
    r = service.put("/api/v1/book", json=doc)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][0] == "body"
    no_trace(r)
    assert "/tmp" not in r.text
    assert service.client.get("/api/v1/health").json()["accounts"] == 12


# --- stress ---------------------------------------------------------------------------------------------------

def test_stress_sync(service: Service) -> None:
    r = service.post("/api/v1/stress", json={"scenarios": "hypothetical", "fund": 1e6})
    assert r.status_code == 200
    doc = r.json()
    assert doc["accounts"] == 12 and doc["scenario_source"] == "hypothetical" and doc["fund"] == 1e6
    assert len(doc["scenarios"]) > 0 and "cover_2" in doc


def test_stress_async_job(make_service) -> None:
    service = make_service(stress_sync_max=0)
    r = service.post("/api/v1/stress", "risk", json={"scenarios": "historical"})
    assert r.status_code == 202
    job = r.json()
    assert job["status"] == "running" and job["job_id"]
    done = wait_for(lambda: (s := service.get(f"/api/v1/stress/{job['job_id']}", "risk").json())["status"] != "running"
                    and s, timeout=30)
    assert done["status"] == "done" and done["result"]["accounts"] == 12
    assert service.get("/api/v1/stress/nope").status_code == 404
    assert service.get(f"/api/v1/stress/{job['job_id']}", "account").status_code == 403


# --- alerts -------------------------------------------------------------------------------------------------

def test_alerts_filtered_by_role(service: Service) -> None:
    from ccm.store import open_store

    with open_store(service.store_url) as store:
        store.append_alert("coverage_below_warning", {"coverage": 1.2}, account=OWN)
        store.append_alert("coverage_below_warning", {"coverage": 1.1}, account=OTHER)
        store.append_alert("system_coverage_below", {"coverage": 0.9})
    everything = service.get("/api/v1/alerts").json()["items"]
    assert {OWN, OTHER, None} <= {a["account"] for a in everything}
    assert {"id", "at", "account", "rule", "values"} <= everything[0].keys()
    own = service.get("/api/v1/alerts", "account").json()["items"]
    assert own and {a["account"] for a in own} == {OWN}
    assert service.get("/api/v1/alerts", "account", params={"account": OTHER}).json()["items"] == []
    assert {a["account"] for a in service.get("/api/v1/alerts", params={"account": OTHER}).json()["items"]} == {OTHER}
    assert len(service.get("/api/v1/alerts", params={"limit": 1}).json()["items"]) == 1
    assert service.get("/api/v1/alerts", params={"since": "2999-01-01T00:00:00Z"}).json()["items"] == []
    assert service.get("/api/v1/alerts", params={"since": "2999-01-01"}).status_code == 422


# --- limits -----------------------------------------------------------------------------------------------------

def test_body_too_large_is_413(make_service) -> None:
    service = make_service(max_body_bytes=2000)
    r = service.put("/api/v1/book", content=BOOK.read_bytes(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    no_trace(r)

    def chunks():
        yield b"{" + b" " * 1500
        yield b" " * 1500 + b"}"

    r = service.client.put("/api/v1/book", content=chunks(), headers={**service.headers("admin"),
                                                                     "content-type": "application/json"})
    assert r.status_code == 413
    assert service.post("/api/v1/transfers", json={"account": OWN, "asset": "BTC", "quantity": 1}).status_code == 200


def test_rate_limit_is_429_per_key(make_service) -> None:
    service = make_service(rate_limit=1.0, rate_burst=3)
    codes = [service.get("/api/v1/accounts", "risk").status_code for _ in range(6)]
    assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
    assert service.get("/api/v1/accounts", "admin").status_code == 200  # another key has its own bucket
    assert service.client.get("/api/v1/health").status_code == 200


def test_internal_errors_hide_the_trace(service: Service, monkeypatch) -> None:
    state = service.client.app.state.service

    def broken(*_a, **_k):
        raise RuntimeError("secret internals at /srv/x.py line 3")

    monkeypatch.setattr(state.store, "alerts", broken)
    r = service.get("/api/v1/alerts")
    assert r.status_code == 500 and r.json() == {"detail": "internal error"}


def test_cors_closed_by_default_open_when_configured(make_service) -> None:
    closed = make_service()
    r = closed.client.get("/api/v1/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    open_ = make_service(cors_origins=("https://desk.example",))
    r = open_.client.get("/api/v1/health", headers={"Origin": "https://desk.example"})
    assert r.headers["access-control-allow-origin"] == "https://desk.example"
    r = open_.client.get("/api/v1/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_dashboard_is_served(service: Service) -> None:
    r = service.client.get("/")
    assert r.status_code == 200 and "<html" in r.text.lower()


def test_no_state_at_import_and_settings_from_env(tmp_path) -> None:
    settings = ServiceSettings.from_env({"CCM_SERVICE_RATE_LIMIT": "5", "CCM_SERVICE_CORS_ORIGINS": "a, b",
                                         "CCM_SERVICE_DEMO": "true"}, demo_accounts=10)
    assert settings.rate_limit == 5 and settings.cors_origins == ("a", "b") and settings.demo
    assert settings.demo_accounts == 10 and settings.max_body_bytes == 20 * 1024 * 1024
    from ccm.errors import InputError

    with pytest.raises(InputError):
        ServiceSettings.from_env({"CCM_SERVICE_RATE_LIMIT": "fast"})
    app = create_app(ServiceSettings(store=str(tmp_path / "s.sqlite"), market=str(BOOK.parent / "market.json")))
    assert not hasattr(app.state, "service")  # nothing until the lifespan runs
    with pytest.raises(InputError, match="no book"), TestClient(app):  # no book in the store, none given
        pass


def test_reads_do_not_wait_for_the_engine_thread(service: Service) -> None:
    """Account reads are served from the published view: a busy engine thread does not delay them."""
    import threading

    busy = threading.Event()
    blocked = service.client.app.state.service.engine_thread.submit(busy.wait, 30)
    try:
        one = service.get(f"/api/v1/accounts/{OWN}")
        listing = service.get("/api/v1/accounts", params={"limit": 3})
        assert not blocked.done()
    finally:
        busy.set()
    assert one.status_code == 200 and one.json()["account"] == OWN
    assert listing.status_code == 200 and len(listing.json()["items"]) == 3

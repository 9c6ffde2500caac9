"""No secret in any log line: a run that creates keys, authenticates, fails authentication, opens WebSockets with
the key in the query string, revokes a key and opens a PostgreSQL store whose URL carries a password — every line
the CLI and the service wrote is searched for each secret."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from ccm.service.redact import redact
from tests.security.served import ccm, served
from tests.store.conftest import _postgres_schema_url


@pytest.fixture
def postgres_url_with_password() -> tuple[str, str]:
    """A fresh schema on the test server, its URL carrying a password (the test server trusts loopback)."""
    password = "pw-" + secrets.token_hex(12)
    for url in _postgres_schema_url():
        yield make_url(url).set(password=password).render_as_string(hide_password=False), password


def test_no_secret_appears_in_any_log_line(tmp_path: Path, postgres_url_with_password) -> None:
    store, password = postgres_url_with_password
    assert password in store
    logs: list[str] = []

    def run(*args: str, check: bool = True) -> str:
        done = ccm(*args, check=check)
        logs.append(done.stderr)  # stdout of `keys create` is the key itself, by design: not a log line
        return done.stdout

    admin = run("keys", "create", "--role", "admin", "--store", store).strip()
    account = run("keys", "create", "--role", "account", "--account", "mm-options-1", "--store", store).strip()
    logs.append(run("keys", "list", "--all", "--store", store))
    fake = "ccm_" + secrets.token_urlsafe(24)[:32]  # well formed, never issued
    with served(tmp_path / "server.log", store) as service:
        with httpx.Client(base_url=service.url, timeout=10) as client:
            assert client.get("/api/v1/system", headers={"X-API-Key": admin}).status_code == 200
            assert client.get("/api/v1/accounts/mm-options-1", headers={"X-API-Key": account}).status_code == 200
            assert client.get("/api/v1/system", headers={"X-API-Key": fake}).status_code == 401
            assert client.get("/api/v1/system", params={"api_key": admin}).status_code == 401  # key in a URL
            assert client.post("/api/v1/trades", headers={"X-API-Key": admin}, json={"account": 1}).status_code == 422
        ws_url = service.url.replace("http", "ws")
        with connect(f"{ws_url}/ws/metrics?api_key={account}", open_timeout=10) as ws:
            ws.recv(timeout=10)
        with pytest.raises((InvalidStatus, ConnectionClosed)), connect(f"{ws_url}/ws/metrics?api_key={fake}") as ws:
            ws.recv(timeout=10)
        key_id = next(k["id"] for k in json.loads(run("keys", "list", "--store", store, "--format", "json"))
                      if k["role"] == "account")
        run("keys", "revoke", str(key_id), "--store", store)
        with httpx.Client(base_url=service.url, timeout=10) as client:
            client.get("/api/v1/accounts/mm-options-1", headers={"X-API-Key": account})
    logs.append(service.log_text())
    # an unreachable server at a URL with a password: the error names the URL, not the password
    unreachable = make_url(store).set(port=1).render_as_string(hide_password=False)
    failed = ccm("keys", "list", "--store", unreachable, check=False)
    assert failed.returncode == 2
    logs.append(failed.stdout + failed.stderr)
    with served(tmp_path / "failed.log", unreachable, ready=False) as broken:
        broken.process.wait(timeout=60)
    logs.append(broken.log_text())

    text = "\n".join(logs)
    assert "WebSocket /ws/metrics?api_key=***" in text  # the handshake lines were logged, with the key hidden
    assert '"GET /api/v1/system HTTP/1.1" 401' in text and "cannot open the store" in text
    for name, secret in (("admin key", admin), ("account key", account), ("unissued key", fake),
                         ("database password", password)):
        lines = [line for line in text.splitlines() if secret in line]
        assert not lines, f"the {name} appears in a log line: {lines[0][:200]}"
    print(f"logs: {len(text.splitlines())} lines searched, 0 with a secret")


def test_redact_hides_keys_and_url_passwords_and_nothing_else() -> None:
    key = "ccm_" + "A" * 32
    assert redact(f'"WebSocket /ws/metrics?api_key={key}&x=1" [accepted]') == \
        '"WebSocket /ws/metrics?api_key=***&x=1" [accepted]'
    assert redact(f"key {key} seen") == "key *** seen"
    assert redact("postgresql+psycopg://ccm:p%40ss@db:5432/ccm") == "postgresql+psycopg://ccm:***@db:5432/ccm"
    plain = '127.0.0.1:5000 - "GET /api/v1/accounts?limit=5 HTTP/1.1" 200 sqlite:///ccm.sqlite postgresql://u@h/d'
    assert redact(plain) == plain

"""A service on examples/book.json + examples/market.json with a temporary SQLite store and real API keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ccm.service.app import create_app
from ccm.service.settings import ServiceSettings
from ccm.store import open_store

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "examples" / "book.json"
MARKET = ROOT / "examples" / "market.json"
OWN = "mm-options-1"
OTHER = "trader-btc-long"


@dataclass
class Service:
    client: TestClient
    keys: dict[str, str]
    store_url: str

    def headers(self, role: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}

    def get(self, url: str, role: str = "admin", **kw):
        return self.client.get(url, headers={**self.headers(role), **kw.pop("headers", {})}, **kw)

    def post(self, url: str, role: str = "admin", **kw):
        return self.client.post(url, headers={**self.headers(role), **kw.pop("headers", {})}, **kw)

    def put(self, url: str, role: str = "admin", **kw):
        return self.client.put(url, headers={**self.headers(role), **kw.pop("headers", {})}, **kw)


def make_keys(url: str) -> dict[str, str]:
    with open_store(url) as store:
        return {"admin": store.create_api_key("t-admin", "admin")[1],
                "risk": store.create_api_key("t-risk", "risk")[1],
                "account": store.create_api_key("t-account", "account", [OWN, "mm-options-1-standard"])[1]}


@pytest.fixture
def make_service(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    opened: list[TestClient] = []

    def make(**overrides) -> Service:
        url = f"sqlite:///{tmp_path / f'ccm-{len(opened)}.sqlite'}"
        keys = make_keys(url)
        values = dict(store=url, book=str(BOOK), market=str(MARKET), writer_interval=0.05, rate_limit=0,
                      fund_usd=1e6)
        values.update(overrides)
        client = TestClient(create_app(ServiceSettings(**values)), raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return Service(client=client, keys=keys, store_url=url)

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def service(make_service) -> Service:
    return make_service()

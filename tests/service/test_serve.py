"""Demo mode (synthetic venue, simulated feed) and the ``ccm serve`` command's key bootstrap."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ccm.cli.main import app as cli
from ccm.cli.serve import bootstrap_keys
from ccm.service.app import create_app
from ccm.service.settings import ServiceSettings
from ccm.store import open_store
from tests.service.conftest import make_keys


def test_demo_feed_moves_the_numbers(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    key = make_keys(url)["risk"]
    settings = ServiceSettings(store=url, demo=True, demo_accounts=60, feed_interval=0.05, writer_interval=0.05,
                               rate_limit=0)
    with TestClient(create_app(settings)) as client:
        first = client.get("/api/v1/health").json()
        assert first["accounts"] == 60
        deadline = time.monotonic() + 20
        while client.get("/api/v1/health").json()["as_of"] == first["as_of"]:
            assert time.monotonic() < deadline, "the simulated feed did not tick"
            time.sleep(0.05)
        assert client.get("/api/v1/system", headers={"X-API-Key": key}).json()["accounts"] == 60


def test_bootstrap_keys_once(tmp_path) -> None:
    lines: list[str] = []
    with open_store(str(tmp_path / "k.sqlite")) as store:
        bootstrap_keys(store, echo=lines.append)
        admin = next(line.split()[-1] for line in lines if "admin key" in line)
        risk = next(line.split()[-1] for line in lines if "risk key" in line)
        assert store.authenticate(admin).role == "admin" and store.authenticate(risk).role == "risk"
        bootstrap_keys(store, echo=lines.append)
        assert len(store.list_api_keys()) == 2


def test_serve_needs_a_market_without_demo() -> None:
    result = CliRunner().invoke(cli, ["serve", "--book", "examples/book.json"])
    assert result.exit_code == 2
    assert "market" in result.output

"""Property-based run of the OpenAPI schema (schemathesis): no generated request gets a 5xx, none a trace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings

from ccm.service.app import create_app
from ccm.service.settings import ServiceSettings
from tests.service.conftest import BOOK, MARKET, make_keys

KEY: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory) -> Iterator[schemathesis.BaseSchema]:
    url = f"sqlite:///{tmp_path_factory.mktemp('schema') / 'ccm.sqlite'}"
    KEY["admin"] = make_keys(url)["admin"]
    app = create_app(ServiceSettings(store=url, book=str(BOOK), market=str(MARKET), rate_limit=0,
                                     writer_interval=0.1, stress_sync_max=10_000, max_body_bytes=200_000))
    with TestClient(app):  # runs the lifespan: the state the generated requests hit
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors(api_schema) -> None:
    """Every operation, a bounded number of generated requests each, with an admin key: no 5xx, no trace."""
    failures: list[tuple] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
                  phases=[Phase.explicit, Phase.generate])
        def check(case) -> None:
            response = case.call(headers={"X-API-Key": KEY["admin"]})
            if response.status_code >= 500 or "Traceback" in response.text:
                failures.append((case.method, case.formatted_path, response.status_code, response.text[:300]))

        check()
    assert not failures, failures[:5]

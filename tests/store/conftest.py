"""Store fixtures: every test runs against a fresh SQLite file and a fresh PostgreSQL schema.

PostgreSQL comes from ``CCM_TEST_POSTGRES_URL``. Without it the PostgreSQL cases skip — unless
``CCM_REQUIRE_POSTGRES=1`` (CI), where a missing or unreachable server fails them instead. Each PostgreSQL
test gets its own schema (``search_path`` set through the URL's libpq ``options``), dropped afterwards, so
parallel or repeated runs never collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ccm.book import BookColumns, CollateralColumns, InstrumentColumns, PositionColumns
from ccm.store import Store, open_store

BACKENDS = ["sqlite", "postgresql"]


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("CCM_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (CCM_REQUIRE_POSTGRES=1) but {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL store tests skipped: {reason}")


def _postgres_schema_url() -> Iterator[str]:
    base = os.environ.get("CCM_TEST_POSTGRES_URL")
    if not base:
        _postgres_unavailable("CCM_TEST_POSTGRES_URL is not set")
    admin = create_engine(base, connect_args={"connect_timeout": 5})
    schema = f"ccm_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as err:
        admin.dispose()
        _postgres_unavailable(f"the server at {make_url(base).render_as_string()} is unreachable: {err.orig}")
    try:
        yield make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A URL of an empty store database: a SQLite file or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


def _text(*values: str) -> np.ndarray:
    return np.array(values, dtype=str)


@pytest.fixture
def columns() -> BookColumns:
    """A small book: an inverse perpetual, a dated future, an option and a spot pair; three accounts, one of
    them empty, two with an explicit margin model."""
    nan = np.nan
    return BookColumns(
        instruments=InstrumentColumns(
            ids=_text("BTC-PERPETUAL", "BTC-28MAR25", "BTC-28MAR25-90000-C", "SOL_USDC"),
            type=_text("perpetual", "future", "option", "spot"),
            underlying=_text("BTC", "BTC", "BTC", "SOL"),
            settlement=_text("inverse", "inverse", "inverse", "linear"),
            settlement_asset=_text("BTC", "BTC", "BTC", "USDC"),
            expiry_s=np.array([nan, 1743148800.0, 1743148800.0, nan]),
            strike=np.array([nan, nan, 90000.0, nan]),
            right=_text("", "", "call", ""),
        ),
        positions=PositionColumns(
            account=_text("mm-1", "mm-1", "dir-2"),
            instrument=_text("BTC-28MAR25-90000-C", "BTC-PERPETUAL", "BTC-28MAR25"),
            quantity=np.array([-12.5, 3.0, 100000.0]),
            entry_price=np.array([nan, 64123.5, 61000.0]),
        ),
        collateral=CollateralColumns(
            account=_text("mm-1", "mm-1", "dir-2"),
            asset=_text("BTC", "USDC", "SOL"),
            quantity=np.array([4.25, 150000.0, -3.5]),
        ),
        account_ids=_text("mm-1", "dir-2", "idle-3"),
        account_models=_text("portfolio", "", "standard"),
    )

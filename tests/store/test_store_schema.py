"""Migrations create the schema; the connection settings are in effect; URLs resolve as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from ccm.store import alembic_config, open_store, store_url
from ccm.store.tables import metadata

TABLES = {"books", "audit_log", "account_snapshots", "system_snapshots", "alerts"}


def test_migrations_create_the_tables_and_indices(store):
    insp = inspect(store.engine)
    assert TABLES | {"alembic_version"} <= set(insp.get_table_names())
    columns = {t: {c["name"] for c in insp.get_columns(t)} for t in TABLES}
    assert columns["books"] == {"id", "name", "created_at", "through_seq", "document"}
    assert columns["audit_log"] == {"seq", "at", "kind", "account", "instrument", "asset", "quantity", "price",
                                    "book_id"}
    assert columns["account_snapshots"] == {"at", "account", "adjusted_equity", "maintenance_margin",
                                            "initial_margin", "coverage_ratio", "status"}
    assert columns["system_snapshots"] == {"at", "total_adjusted_equity", "total_maintenance_margin",
                                           "system_coverage_ratio", "total_shortfall", "accounts_by_status"}
    assert columns["alerts"] == {"id", "at", "account", "rule", "values"}
    nullable = {c["name"]: c["nullable"] for c in insp.get_columns("account_snapshots")}
    assert nullable["coverage_ratio"] and not nullable["adjusted_equity"]
    assert insp.get_pk_constraint("audit_log")["constrained_columns"] == ["seq"]
    indexed = {tuple(ix["column_names"]) for t in TABLES for ix in insp.get_indexes(t)}
    assert {("account", "at"), ("at",)} <= indexed


def test_database_is_at_the_head_revision_and_matches_the_tables(store):
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == head == "0002"
        # the migration scripts and the live table definitions describe the same schema
        assert compare_metadata(context, metadata) == []


def test_reopening_is_idempotent_and_keeps_data(store_url):
    with open_store(store_url) as first:
        seq = first.append_transfer("a", "USDC", 10.0)
    with open_store(store_url) as second:
        assert [r.seq for r in second.audit()] == [seq]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_sqlite_pragmas_on_every_connection(store):
    engine = store.engine
    conns = [engine.connect() for _ in range(3)]  # distinct pooled connections
    try:
        for conn in conns:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        for conn in conns:
            conn.close()


def test_default_path_from_environment(tmp_path, monkeypatch):
    target = tmp_path / "env" / "venue.sqlite"
    monkeypatch.setenv("CCM_STORE", str(target))
    with open_store() as s:
        s.append_transfer("a", "USDC", 1.0)
    assert target.is_file()


def test_default_path_is_ccm_sqlite_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("CCM_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    with open_store():
        pass
    assert (tmp_path / "ccm.sqlite").is_file()


def test_url_resolution(tmp_path):
    assert store_url(str(tmp_path / "x.sqlite")).database == str(Path(tmp_path / "x.sqlite").resolve())
    assert store_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert store_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert store_url("sqlite:///rel.sqlite").get_backend_name() == "sqlite"


def test_simultaneous_first_opens_migrate_once(store_url):
    """Several processes starting on an empty database at once: one migrates, the others wait and find it done."""
    from concurrent.futures import ThreadPoolExecutor

    def open_and_close(_: int) -> str:
        with open_store(store_url) as s:
            return s.dialect

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert len(list(pool.map(open_and_close, range(4)))) == 4


def test_unreachable_store_is_an_input_error(tmp_path):
    from ccm.errors import InputError

    with pytest.raises(InputError, match="cannot open the store") as info:
        open_store("postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    assert "secret" not in str(info.value) and info.value.field == "store"
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="cannot open the store"):
        open_store(str(blocker / "x.sqlite"))  # parent is a file

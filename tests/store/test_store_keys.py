"""API keys in the store: only salted hashes are kept; authenticate, list and revoke on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect, select, update

from ccm.errors import InputError
from ccm.store import ApiKeyRecord, alembic_config, open_store
from ccm.store.tables import api_keys

SECRET = re.compile(r"^ccm_[A-Za-z0-9_-]{32}$")


def _all_stored_text(store) -> str:
    """Every value of every row of every table, as text."""
    parts = []
    with store.engine.connect() as conn:
        for name in inspect(conn).get_table_names():
            for row in conn.exec_driver_sql(f'SELECT * FROM "{name}"'):
                parts.extend(str(v) for v in row)
    return "\n".join(parts)


def test_create_returns_the_secret_once_and_stores_only_a_hash(store):
    key, secret = store.create_api_key("desk", "risk")
    assert SECRET.match(secret)
    assert isinstance(key, ApiKeyRecord)
    assert (key.name, key.role, key.accounts, key.revoked_at, key.last_used_at) == ("desk", "risk", (), None, None)
    assert key.created_at.tzinfo is not None
    assert secret.startswith(key.prefix) and len(key.prefix) < len(secret) // 2
    stored = _all_stored_text(store)
    assert secret not in stored
    assert secret[len(key.prefix):] not in stored  # no part past the non-secret prefix either
    assert secret[-12:] not in stored
    with store.engine.connect() as conn:
        row = conn.execute(select(api_keys)).one()
    assert len(bytes.fromhex(row.salt)) >= 16 and len(bytes.fromhex(row.hash)) >= 32
    assert row.prefix == key.prefix


def test_every_key_gets_its_own_secret_and_salt(store):
    secrets = {store.create_api_key(f"k{i}", "admin")[1] for i in range(3)}
    assert len(secrets) == 3
    with store.engine.connect() as conn:
        salts = conn.execute(select(api_keys.c.salt)).scalars().all()
    assert len(set(salts)) == 3


def test_authenticate_accepts_the_right_key_only(store):
    admin, admin_secret = store.create_api_key("ops", "admin")
    holder, holder_secret = store.create_api_key("fund A", "account", ["acc-1", "acc-2", "acc-1"])
    assert holder.accounts == ("acc-1", "acc-2")
    assert store.authenticate(admin_secret).id == admin.id
    got = store.authenticate(holder_secret)
    assert (got.id, got.role, got.accounts) == (holder.id, "account", ("acc-1", "acc-2"))
    # wrong keys: right prefix with another tail, unknown, malformed, not a string
    tail = "A" if admin_secret[-1] != "A" else "B"
    for wrong in (admin_secret[:-1] + tail, "ccm_" + "x" * 32, admin_secret[:-1], "", "Bearer " + admin_secret,
                  None, 12, admin_secret + " "):
        assert store.authenticate(wrong) is None, wrong
    # same prefix, wrong secret, on a fresh handle (no cached verification)
    with open_store(store.engine.url.render_as_string(hide_password=False)) as other:
        assert other.authenticate(admin_secret[:-1] + tail) is None
        assert other.authenticate(admin_secret).id == admin.id


def test_authenticate_records_use_at_most_once_a_minute(store):
    key, secret = store.create_api_key("desk", "risk")
    first = store.authenticate(secret)
    assert first.last_used_at is not None
    again = store.authenticate(secret)
    assert again.last_used_at == first.last_used_at
    stored = store.list_api_keys()[0].last_used_at
    assert abs((stored - first.last_used_at).total_seconds()) < 1e-3
    # two minutes later (pretend): the next use moves it
    old = datetime.now(UTC) - timedelta(minutes=2)
    with store.engine.begin() as conn:
        conn.execute(update(api_keys).where(api_keys.c.id == key.id).values(last_used_at=old))
    later = store.authenticate(secret)
    assert later.last_used_at > old + timedelta(minutes=1)


def test_revoke_stops_authentication_at_once(store):
    key, secret = store.create_api_key("desk", "risk")
    keep, keep_secret = store.create_api_key("ops", "admin")
    assert store.authenticate(secret) is not None  # verified and remembered by this handle
    assert store.revoke_api_key(key.id) is True
    assert store.authenticate(secret) is None
    assert store.revoke_api_key(key.id) is False  # already revoked
    assert store.revoke_api_key(999_999) is False  # unknown
    assert store.authenticate(keep_secret).id == keep.id
    assert [k.id for k in store.list_api_keys()] == [keep.id]
    listed = store.list_api_keys(include_revoked=True)
    assert [k.id for k in listed] == [key.id, keep.id]
    assert listed[0].revoked_at is not None and listed[0].revoked
    assert store.get_api_key(key.id).revoked and store.get_api_key(123_456) is None


def test_list_gives_no_secret(store):
    _, secret = store.create_api_key("fund", "account", ["acc-9"])
    (key,) = store.list_api_keys()
    assert secret not in repr(key)
    assert key.accounts == ("acc-9",) and key.role == "account"
    with pytest.raises(AttributeError):
        key.role = "admin"  # frozen


@pytest.mark.parametrize(("name", "role", "accounts", "field"), [
    ("k", "root", (), "role"),
    ("k", "", (), "role"),
    ("k", None, (), "role"),
    ("k", "account", (), "accounts"),
    ("k", "account", None, "accounts"),
    ("k", "admin", ["acc-1"], "accounts"),
    ("k", "risk", ["acc-1"], "accounts"),
    ("k", "account", "acc-1", "accounts"),
    ("k", "account", ["acc-1", ""], "accounts[1]"),
    ("k", "account", [7], "accounts[0]"),
    ("", "admin", (), "name"),
    ("   ", "admin", (), "name"),
    (None, "admin", (), "name"),
])
def test_bad_input_names_the_field(store, name, role, accounts, field):
    with pytest.raises(InputError) as err:
        store.create_api_key(name, role, accounts)
    assert err.value.field == field
    assert store.list_api_keys(include_revoked=True) == []


def test_bad_key_id_is_an_input_error(store):
    with pytest.raises(InputError) as err:
        store.revoke_api_key("1")
    assert err.value.field == "key_id"


def test_downgrade_drops_the_table_and_upgrade_restores_it(store):
    store.create_api_key("desk", "risk")
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
    assert "api_keys" not in inspect(store.engine).get_table_names()
    assert {"books", "audit_log"} <= set(inspect(store.engine).get_table_names())
    with store.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert store.list_api_keys() == []

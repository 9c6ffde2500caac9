"""``ccm keys create|list|revoke`` round trip on a temporary SQLite store, and bad input exiting 2."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from ccm.cli.main import app
from ccm.store import open_store

runner = CliRunner()
SECRET = re.compile(r"ccm_[A-Za-z0-9_-]{32}")


@pytest.fixture
def store_path(tmp_path) -> str:
    return str(tmp_path / "keys.sqlite")


def _create(store_path: str, *args: str) -> str:
    result = runner.invoke(app, ["keys", "create", *args, "--store", store_path])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert SECRET.fullmatch(secret)
    assert "cannot be shown again" in result.stderr
    return secret


def _list(store_path: str, *args: str) -> list[dict]:
    result = runner.invoke(app, ["keys", "list", "--store", store_path, "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_create_list_authenticate_revoke_round_trip(store_path):
    admin = _create(store_path, "--role", "admin", "--name", "ops")
    holder = _create(store_path, "--role", "account", "--account", "acc-1", "--account", "acc-2")
    listed = _list(store_path)
    assert [(k["name"], k["role"], k["accounts"]) for k in listed] == [
        ("ops", "admin", []), ("account", "account", ["acc-1", "acc-2"])]
    assert admin not in json.dumps(listed) and holder not in json.dumps(listed)
    assert admin.startswith(listed[0]["prefix"])
    with open_store(store_path) as store:
        assert store.authenticate(admin).role == "admin"
        assert store.authenticate(holder).accounts == ("acc-1", "acc-2")
    table = runner.invoke(app, ["keys", "list", "--store", store_path])
    assert table.exit_code == 0 and "ops" in table.stdout and admin not in table.stdout

    revoked = runner.invoke(app, ["keys", "revoke", str(listed[0]["id"]), "--store", store_path])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked key" in revoked.stdout
    with open_store(store_path) as store:
        assert store.authenticate(admin) is None
        assert store.authenticate(holder) is not None
    assert [k["name"] for k in _list(store_path)] == ["account"]
    everything = _list(store_path, "--all")
    assert everything[0]["revoked_at"] is not None
    again = runner.invoke(app, ["keys", "revoke", str(listed[0]["id"]), "--store", store_path])
    assert again.exit_code == 0 and "already revoked" in again.stdout


def test_create_json_carries_the_key_once(store_path):
    result = runner.invoke(app, ["keys", "create", "--role", "risk", "--format", "json", "--store", store_path])
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert SECRET.fullmatch(created["key"]) and created["role"] == "risk"
    assert "key" not in _list(store_path)[0]


def test_store_defaults_to_the_environment(tmp_path, monkeypatch):
    target = tmp_path / "env.sqlite"
    monkeypatch.setenv("CCM_STORE", str(target))
    result = runner.invoke(app, ["keys", "create", "--role", "risk"])
    assert result.exit_code == 0, result.output
    assert target.is_file()
    assert len(_list(str(target))) == 1


@pytest.mark.parametrize("args", [
    ["keys", "create", "--role", "account"],
    ["keys", "create", "--role", "admin", "--account", "acc-1"],
    ["keys", "create", "--role", "root"],
    ["keys", "create"],
    ["keys", "create", "--role", "risk", "--name", "  "],
    ["keys", "revoke", "42"],
    ["keys", "revoke", "one"],
    ["keys", "list", "--format", "xml"],
])
def test_bad_input_exits_2(store_path, args):
    result = runner.invoke(app, [*args, "--store", store_path])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not SECRET.search(result.output)


def test_bad_store_exits_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(app, ["keys", "list", "--store", str(blocker / "sub" / "x.sqlite")])
    assert result.exit_code == 2, result.output

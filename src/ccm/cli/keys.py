"""``ccm keys``: create, list and revoke the API keys of the risk service (stored hashed in the store)."""

from __future__ import annotations

import json
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from ccm.cli.output import err_console, exit_on_error
from ccm.errors import InputError

keys_app = typer.Typer(
    help="API keys of the risk service: [bold]admin[/bold] (everything), [bold]risk[/bold] (read everything, run "
    "stress) and [bold]account[/bold] (only its own accounts). The store keeps only salted hashes of the keys.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

STORE_HELP = "The store: a SQLite path or a PostgreSQL URL (default: $CCM_STORE, else ./ccm.sqlite)."


class Role(StrEnum):
    ADMIN = "admin"
    RISK = "risk"
    ACCOUNT = "account"


class KeyFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class ListFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def _time(value) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds").replace("+00:00", "Z")


def _as_dict(key) -> dict:
    return {"id": key.id, "name": key.name, "role": key.role, "accounts": list(key.accounts), "prefix": key.prefix,
            "created_at": _time(key.created_at), "last_used_at": _time(key.last_used_at),
            "revoked_at": _time(key.revoked_at)}


@keys_app.command("create")
def create(
    role: Role = typer.Option(..., "--role", help="admin, risk or account.", case_sensitive=False),
    account: list[str] | None = typer.Option(None, "--account", "-a", help="An account id the key may see "
                                             "(role account only; repeat the option for several)."),
    name: str | None = typer.Option(None, "--name", "-n", help="A label for the key (default: the role)."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
    fmt: KeyFormat = typer.Option(KeyFormat.TEXT, "--format", "-f", help="text: the key alone on stdout; json: "
                                  "the key and its record."),
) -> None:
    """Create an API key and print it — once: only its hash is stored, it cannot be shown again.

    Example: [bold]ccm keys create --role account --account acc-1 --name "fund A"[/bold]
    """
    with exit_on_error():
        from ccm.store import open_store

        with open_store(store) as opened:
            key, secret = opened.create_api_key(role.value if name is None else name, role.value, account or ())
    if fmt is KeyFormat.JSON:
        typer.echo(json.dumps({**_as_dict(key), "key": secret}, indent=2))
    else:
        typer.echo(secret)
    scope = f" for {', '.join(key.accounts)}" if key.accounts else ""
    err_console.print(f"created key {key.id} ({key.name!r}, role {key.role}{scope}).\n"
                      "[bold yellow]warning:[/] copy the key now — it is not stored and cannot be shown again.",
                      highlight=False, soft_wrap=True)


@keys_app.command("list")
def list_keys(
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
    fmt: ListFormat = typer.Option(ListFormat.TABLE, "--format", "-f", help="table or json."),
    include_revoked: bool = typer.Option(False, "--all", help="Include revoked keys."),
) -> None:
    """List the API keys (never their secrets: only the first characters, to tell them apart)."""
    with exit_on_error():
        from ccm.store import open_store

        with open_store(store) as opened:
            found = opened.list_api_keys(include_revoked=include_revoked)
    if fmt is ListFormat.JSON:
        typer.echo(json.dumps([_as_dict(k) for k in found], indent=2))
        return
    table = Table(title=f"{len(found)} API key{'s' * (len(found) != 1)}", title_justify="left")
    for column in ("id", "name", "role", "accounts", "prefix", "created", "last used", "revoked"):
        table.add_column(column, justify="right" if column == "id" else "left")
    for k in found:
        table.add_row(str(k.id), k.name, k.role, ", ".join(k.accounts) or "all", k.prefix + "…",
                      _time(k.created_at), _time(k.last_used_at) or "never", _time(k.revoked_at) or "")
    Console().print(table, highlight=False)


@keys_app.command("revoke")
def revoke(
    key_id: int = typer.Argument(..., help="The key's id (see ccm keys list)."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Revoke an API key: requests with it are refused from now on."""
    with exit_on_error():
        from ccm.store import open_store

        with open_store(store) as opened:
            key = opened.get_api_key(key_id)
            if key is None:
                raise InputError(f"no API key with id {key_id}", file=opened.url, field="key_id",
                                 hint="see ccm keys list --all")
            if opened.revoke_api_key(key_id):
                typer.echo(f"revoked key {key_id} ({key.name!r})")
            else:
                typer.echo(f"key {key_id} ({key.name!r}) was already revoked")

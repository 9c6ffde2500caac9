"""``ccm serve``: the risk service (REST + WebSocket + dashboard) under uvicorn."""

from __future__ import annotations

from pathlib import Path

import typer

from ccm.cli.output import exit_on_error


def bootstrap_keys(store, echo=typer.echo) -> None:
    """On a store without API keys: create an admin and a risk key and print their secrets (once)."""
    if store.list_api_keys():
        return
    _, admin = store.create_api_key("admin (created by ccm serve)", "admin")
    _, risk = store.create_api_key("risk (created by ccm serve)", "risk")
    echo("No API keys in the store: created two (shown only now; manage them with ccm keys).")
    echo(f"  admin key: {admin}")
    echo(f"  risk key:  {risk}")


#: Insurance fund of the demo venue when --fund is not given, so the dashboard's fund gauge has a figure.
DEMO_FUND_USD = 25_000_000.0


def serve(
    demo: bool = typer.Option(False, "--demo", help="Synthetic venue, simulated feed and a SQLite store "
                              "(./ccm-demo.sqlite unless --store)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    store: str | None = typer.Option(None, "--store", help="Store: a SQLite path or a PostgreSQL URL (default "
                                     "$CCM_STORE or ./ccm.sqlite; ./ccm-demo.sqlite with --demo)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Risk configuration YAML (alert rules too)."),
    book: Path | None = typer.Option(None, "--book", help="Book to load into the store at start (default: the "
                                     "store's latest book)."),
    market: Path | None = typer.Option(None, "--market", "-m", help="Market snapshot JSON (required without "
                                       "--demo)."),
    accounts: int | None = typer.Option(None, "--accounts", "-n", min=1, help="Demo accounts (default 2000)."),
    fund: float | None = typer.Option(None, "--fund", min=0.0, help="Insurance / default fund in USD (demo default "
                                      "25,000,000)."),
    interval: float | None = typer.Option(None, "--interval", min=0.01, help="Demo feed step (seconds)."),
) -> None:
    """Serve the REST/WebSocket API and the live dashboard at http://HOST:PORT/.

    Example: [bold]ccm serve --demo[/bold] then open http://127.0.0.1:8000/ and log in with the printed key.
    Settings can also come from CCM_SERVICE_* environment variables (e.g. CCM_SERVICE_CORS_ORIGINS).
    """
    from ccm.errors import InputError

    with exit_on_error():
        import uvicorn

        from ccm.service.app import DEMO_STORE, create_app
        from ccm.service.settings import ServiceSettings
        from ccm.store import open_store

        if not demo and market is None:
            raise InputError("the service needs a market snapshot", record="--market",
                             hint="pass --market market.json, or --demo for a synthetic venue")
        settings = ServiceSettings.from_env(
            demo=demo or None, store=store, config=str(config) if config else None,
            book=str(book) if book else None, market=str(market) if market else None, demo_accounts=accounts,
            fund_usd=fund if fund is not None or not demo else DEMO_FUND_USD, feed_interval=interval, gc_freeze=True)
        with open_store(settings.store or (DEMO_STORE if settings.demo else None)) as opened:
            bootstrap_keys(opened)
            typer.echo(f"store: {opened.url}")
        typer.echo(f"dashboard: http://{host}:{port}/   API docs: http://{host}:{port}/docs")
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")

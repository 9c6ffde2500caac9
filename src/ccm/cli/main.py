"""The ``ccm`` command: the registry of every subcommand (each lives in its own module of ``ccm.cli``).

Thin shells: parse arguments, read files through ``ccm.io``, call the core (or a use case of ``ccm.app``),
render. Bad input prints one clear error naming file, record and field, and exits with code 2.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="ccm — Collateral Coverage Metrics: how well posted collateral covers each account's exposure.\n\n"
    "Start with [bold]ccm demo[/bold] to see a synthetic venue, then [bold]ccm metrics BOOK --market M[/bold] "
    "on your own book. Formats are described in the README.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)


def version() -> None:
    """Print the ccm version."""
    from ccm import __version__

    typer.echo(__version__)


def _register() -> None:
    """Commands in the order ``ccm --help`` lists them: now, under stress, over time, ahead of time, DeFi and
    reserves, the service."""
    from ccm.cli.backtest import backtest
    from ccm.cli.breach import breach
    from ccm.cli.config import config_app
    from ccm.cli.demo import demo
    from ccm.cli.forecast import forecast
    from ccm.cli.keys import keys_app
    from ccm.cli.liquidations import liquidations
    from ccm.cli.metrics import metrics
    from ccm.cli.monitor import monitor
    from ccm.cli.recommend import recommend
    from ccm.cli.replay import replay
    from ccm.cli.reserves import por_app, reserves
    from ccm.cli.serve import serve
    from ccm.cli.stress import stress

    for command in (metrics, demo, version, stress, replay, monitor, forecast, breach, backtest, recommend, liquidations,
                    reserves):
        app.command()(command)
    app.add_typer(por_app, name="por")
    app.command()(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(config_app, name="config")


_register()

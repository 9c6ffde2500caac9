"""Writing command output: to stdout, or atomically to a file (nothing half-written on failure); on stderr, the
progress bars and the one red line of an input error."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ccm.errors import CcmError, MissingExtraError
from ccm.io.files import write_text_atomic

FILE_WIDTH = 170  # columns of a table written to a file or a pipe (a terminal uses its own width)
err_console = Console(stderr=True)


class Format(StrEnum):
    """``--format`` of a command whose result is a table for people or JSON for machines."""

    TABLE = "table"
    JSON = "json"


def write_text(text: str, out: Path | None) -> None:
    """Write ``text`` to ``out`` atomically (see ``ccm.io.files``), or to stdout when ``out`` is None."""
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    write_text_atomic(Path(out), text)


def emit(fmt: str, out: Path | None, *, doc: object, table: Callable[[Console], None],
         html: Callable[[], str] | None = None, width: int = FILE_WIDTH, wide_when_piped: bool = True) -> None:
    """Render a command's result in ``fmt`` ("json", "table" or "html") to stdout, or atomically to ``out``.

    json: ``doc`` as indented JSON (NaN/infinity refused: documents hold None for them). html: the text ``html()``
    returns. table: ``table(console)`` prints rich tables on a console ``width`` columns wide when writing to
    ``out`` (exported as plain text) or, with ``wide_when_piped``, to a pipe; on a terminal the terminal's width.
    """
    if fmt == "json":
        write_text(json.dumps(doc, indent=1, allow_nan=False), out)
    elif fmt == "html":
        if html is None:
            raise ValueError("this command has no html format")
        write_text(html(), out)
    else:
        wide = out is not None or (wide_when_piped and not sys.stdout.isatty())
        console = Console(record=out is not None, width=width if wide else None)
        table(console)
        if out is not None:
            write_text(console.export_text(), out)


def fail(error: CcmError) -> typer.Exit:
    """Print ``error`` as one red line on stderr; the ``typer.Exit`` (code 2) to raise."""
    err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Run the block; a ``CcmError`` in it, or a missing optional package (``ccm[service]``, ``ccm[dist]``,
    ``ccm[ml]``), becomes one red line on stderr and exit code 2 (no traceback)."""
    try:
        yield
    except CcmError as error:
        raise fail(error) from None
    except ModuleNotFoundError as error:
        missing = MissingExtraError.from_import_error(error)
        if missing is None:
            raise
        raise fail(missing) from None


def progress(enabled: bool) -> Progress:
    """A transient progress bar on stderr (description, bar, percent, elapsed); a no-op when not ``enabled``."""
    return Progress(
        TextColumn("[bold]{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not enabled,
    )


def evaluate_with_progress(book, snapshot, config, *, model, with_distance: bool, show_progress: bool, history=None):
    """:func:`ccm.app.evaluate.evaluate_book` with one bar step per stage on stderr (``ccm metrics``, ``ccm demo``,
    ``ccm breach``)."""
    from ccm.app.evaluate import evaluate_book
    from ccm.risk.metrics import progress_steps

    total = progress_steps(config, with_distance)
    with progress(show_progress) as bar:
        task = bar.add_task("valuation", total=total)
        run = evaluate_book(book, snapshot, config, model=model, with_distance=with_distance, history=history,
                            on_progress=lambda stage, done, _: bar.update(task, completed=done, description=stage))
        bar.update(task, completed=total)
    return run

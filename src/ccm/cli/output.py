"""Writing command output: to stdout, or atomically to a file (nothing half-written on failure)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from rich.console import Console

from ccm.io.files import write_text_atomic

FILE_WIDTH = 170  # columns of a table written to a file or a pipe (a terminal uses its own width)


class Format(StrEnum):
    """``--format`` of a command whose result is a table for people or JSON for machines."""

    TABLE = "table"
    JSON = "json"


def json_number(x: float) -> float | None:
    """``x`` as a JSON number: a Python float, None for NaN or infinity (documents never hold NaN)."""
    x = float(x)
    return x if math.isfinite(x) else None


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

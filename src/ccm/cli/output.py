"""Writing command output: to stdout, or atomically to a file (nothing half-written on failure)."""

from __future__ import annotations

import sys
from pathlib import Path

from ccm.io.files import write_text_atomic


def write_text(text: str, out: Path | None) -> None:
    """Write ``text`` to ``out`` atomically (see ``ccm.io.files``), or to stdout when ``out`` is None."""
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    write_text_atomic(Path(out), text)

"""Writing command output: to stdout, or atomically to a file (nothing half-written on failure)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def write_text(text: str, out: Path | None) -> None:
    """Write ``text`` to ``out`` via a temporary file and an atomic rename, or to stdout."""
    if out is None:
        sys.stdout.write(text)
        if not text.endswith("\n"):
            sys.stdout.write("\n")
        return
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

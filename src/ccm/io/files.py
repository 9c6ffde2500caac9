"""Reading documents and writing files safely: located parse errors, atomic replacement."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ccm.errors import InputError

DOCUMENT_SUFFIXES = (".json", ".yaml", ".yml")


def require_file(path: Path, *, what: str) -> None:
    """Raise InputError unless ``path`` is an existing regular file."""
    if not path.exists():
        raise InputError(f"{what} file not found", file=str(path), hint="check the path")
    if not path.is_file():
        raise InputError(f"{what} path is not a file", file=str(path))


def parse_document(text: str, *, file: str, yaml_syntax: bool) -> Any:
    """Parse JSON or YAML text; syntax errors become InputError with line and column (1-based)."""
    if yaml_syntax:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or str(err)
            raise InputError(f"not valid YAML{where}: {problem}", file=file) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        where = f"line {err.lineno}, column {err.colno}"
        raise InputError(f"not valid JSON at {where}: {err.msg}", file=file) from None


def read_document(path: Path, *, what: str) -> Any:
    """Read a ``.json``, ``.yaml`` or ``.yml`` file into Python objects."""
    require_file(path, what=what)
    suffix = path.suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        raise InputError(
            f"cannot read a {what} from a {suffix or 'suffix-less'} file", file=str(path),
            hint="use a .json, .yaml or .yml file",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the file: {err}", file=str(path)) from None
    return parse_document(text, file=str(path), yaml_syntax=suffix != ".json")


def require_mapping(data: Any, *, file: str, what: str) -> Mapping[str, Any]:
    """The top level of a document must be a mapping (JSON object)."""
    if not isinstance(data, Mapping):
        raise InputError(
            f"a {what} file must hold a mapping at the top level, got {type(data).__name__}", file=file
        )
    return data


def write_atomic(files: Mapping[Path, Callable[[Path], None]]) -> None:
    """Write several files: every writer fills a temporary file first; only when all succeeded are the
    temporaries moved over their targets, so an error leaves no file half-written."""
    temps: dict[Path, Path] = {}
    try:
        for target, writer in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            os.close(fd)
            temps[target] = Path(name)
            writer(temps[target])
        mode = _default_file_mode()
        for target, tmp in temps.items():
            os.chmod(tmp, mode)  # mkstemp creates 0600; give the file the user's usual permissions
            os.replace(tmp, target)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)


def _default_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_atomic({path: lambda tmp: tmp.write_text(text, encoding="utf-8")})

"""Where every value of an effective (merged) risk configuration came from: the user's file and line, a DeFi
preset, the packaged default, or the built-in default of a setting no file gives.

Sources are per leaf: a scalar, or a whole list (lists replace, they do not merge). The line is that of the key in
its YAML (or JSON) file, 1-based.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from ccm.io.validation import Loc, path_text

Origin = Literal["user", "preset", "default", "built-in"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ValueSource:
    """One value's origin: ``file`` and ``line`` of the key (None for a built-in default)."""

    origin: Origin
    file: str | None = None
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"origin": self.origin, "file": self.file, "line": self.line}

    def __str__(self) -> str:
        if self.file is None:
            return "built-in default (no file sets it)"
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return {"user": f"your file {where}", "preset": f"preset {where}", "default": f"default {where}"}.get(
            self.origin, where)


@dataclass(frozen=True, slots=True, kw_only=True)
class Layer:
    """One document of the merge, lowest first: the packaged default, a preset, the user's file."""

    origin: Origin
    file: str
    document: Mapping[str, Any]
    lines: Mapping[Loc, int]


def key_lines(text: str) -> dict[Loc, int]:
    """Key path → 1-based line of the key in YAML/JSON ``text`` (empty when the text cannot be composed)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    out: dict[Loc, int] = {}

    def walk(node: Any, loc: Loc) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                part = key.value
                out[loc + (part,)] = key.start_mark.line + 1
                walk(value, loc + (part,))

    walk(root, ())
    return out


def has_key(data: Any, loc: Loc) -> bool:
    """Whether ``data`` (a parsed document) has a value, possibly null, at the key path ``loc``."""
    for part in loc:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return False
    return True


def leaves(data: Mapping[str, Any], loc: Loc = ()) -> list[Loc]:
    """Key paths of the scalars and lists of ``data`` (an empty mapping is a leaf too)."""
    out: list[Loc] = []
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            out.extend(leaves(value, loc + (key,)))
        else:
            out.append(loc + (key,))
    return out


def source_of(loc: Loc, layers: tuple[Layer, ...]) -> ValueSource:
    """The highest layer that sets ``loc`` (a key set to null counts: it removed the value), else built-in."""
    for layer in reversed(layers):
        if has_key(layer.document, loc):
            # a YAML key is text: numeric-looking keys are looked up by their text form too
            line = layer.lines.get(loc) or layer.lines.get(tuple(str(p) for p in loc))
            return ValueSource(origin=layer.origin, file=layer.file, line=line)
    return ValueSource(origin="built-in")


def trace(effective: Mapping[str, Any], layers: tuple[Layer, ...]) -> dict[str, ValueSource]:
    """``path_text`` of every leaf of ``effective`` → its source."""
    return {path_text(loc): source_of(loc, layers) for loc in leaves(effective)}

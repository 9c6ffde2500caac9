"""The layers of docs/architecture.md, enforced: a top-level package imports only from itself and the layers
above it, counting every import in a module (also those inside functions and ``TYPE_CHECKING`` blocks).

The numerical core (everything down to ``synthetic``) imports none of pandas, pydantic, FastAPI, SQLAlchemy,
Dask or the other shells' libraries. No CLI command module imports another command module: shared code lives
in ``ccm.app`` (use cases) or ``ccm.cli.output`` / ``ccm.cli.render`` (terminal output).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "ccm"

#: Top-level packages and modules, top layer first (docs/architecture.md). Same tuple = same layer, which may not
#: import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "_typing", "errors", "enums"),
    ("division",),
    ("book",),
    ("market",),
    ("pricing",),
    ("scenario",),
    ("lending",),
    ("risk",),
    ("reserves", "stress"),
    ("analysis",),
    ("engine",),
    ("synthetic",),
    ("io",),
    ("store", "feeds"),
    ("app",),
    ("dist",),
    ("service",),
    ("cli",),
)
CORE = {name for layer in LAYERS[:LAYERS.index(("synthetic",)) + 1] for name in layer}
#: Third-party packages the numerical core must never import (DESIGN.md §3).
SHELL_ONLY = {"pandas", "pydantic", "pydantic_core", "fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic",
              "psycopg", "dask", "distributed", "typer", "rich", "yaml", "pyarrow", "websockets", "matplotlib"}
#: Shared modules of the CLI that commands may import (they define no command).
CLI_SHARED = {"output", "render", "render_lending", "main", "__init__"}


def _layer_of(top: str) -> int:
    for k, layer in enumerate(LAYERS):
        if top in layer:
            return k
    raise AssertionError(f"ccm.{top} is in no layer of docs/architecture.md: add it to LAYERS and the document")


def _top(module: Path) -> str:
    parts = module.relative_to(SRC).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    package = ".".join(("ccm", *path.relative_to(SRC).parent.parts))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
            elif node.module:
                found.append((node.lineno, node.module))
                if node.module == "ccm":
                    found += [(node.lineno, f"ccm.{a.name}") for a in node.names]
    return found


MODULES = sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def test_every_top_level_package_has_a_layer():
    tops = {_top(p) for p in MODULES}
    for top in tops:
        _layer_of(top)


def _violations(own: str, imports: list[tuple[int, str]]) -> list[str]:
    level = _layer_of(own)
    wrong = []
    for line, module in imports:
        parts = module.split(".")
        if parts[0] == "ccm" and len(parts) > 1 and parts[1] != own:
            if parts[1] == "__version__":
                continue
            other = _layer_of(parts[1])
            if other >= level:
                wrong.append(f"line {line}: imports {module} (layer {other}, not above {own}'s {level})")
        if own in CORE and parts[0] in SHELL_ONLY:
            wrong.append(f"line {line}: the numerical core imports {parts[0]}")
    return wrong


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layers(path: Path):
    wrong = _violations(_top(path), _imports(path))
    assert not wrong, f"{path.relative_to(SRC)}:\n" + "\n".join(wrong)


def test_no_cli_command_imports_another():
    wrong = []
    for path in sorted((SRC / "cli").glob("*.py")):
        if path.stem in ("main", "__init__"):
            continue  # main registers the commands
        for line, module in _imports(path):
            parts = module.split(".")
            if parts[:2] == ["ccm", "cli"] and len(parts) > 2 and parts[2] not in CLI_SHARED and parts[2] != path.stem:
                wrong.append(f"cli/{path.name} line {line}: imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_checker_catches_what_it_should():
    """Upward and same-layer imports and a shell library in the core are reported; the parser sees imports inside
    functions (the checks above would pass on a checker that saw nothing)."""
    assert _violations("risk", [(1, "ccm.stress.run")])
    assert _violations("stress", [(1, "ccm.reserves.backing")])  # same layer
    assert _violations("risk", [(1, "pandas")]) and not _violations("io", [(1, "pandas")])
    assert not _violations("stress", [(1, "ccm.risk.context"), (2, "ccm.stress.cover")])
    sample = SRC / "risk" / "margin" / "standard.py"
    found = {m for _, m in _imports(sample)}
    assert "ccm.risk.context" in found and "numpy" in found
    lazy = SRC / "cli" / "main.py"
    assert any(m.startswith("ccm.cli.") for _, m in _imports(lazy))  # the registry's imports are inside a function

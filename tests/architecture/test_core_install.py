"""``pip install ccm`` is the numerical core and the CLI: every module outside the service, store and Dask shells
imports with only the core's dependencies, and none of them pulls in pandas.

The extras are hidden from a fresh interpreter by a meta-path finder that refuses them (as if they were not
installed), so the test needs no second virtual environment; the list of what it hides is read from
pyproject.toml's extras, so a new extra is hidden too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "ccm"
#: Packages that need an extra, by design (their own tests cover them with the extras installed).
EXTRA_PACKAGES = ("ccm.service", "ccm.store", "ccm.dist")
#: Top-level modules of the extras' distributions (distribution names differ from import names).
IMPORT_NAMES = {"scikit-learn": ["sklearn"], "dask": ["dask", "distributed"], "psycopg": ["psycopg"],
                "python-multipart": ["multipart", "python_multipart"], "uvicorn": ["uvicorn"],
                "fastapi": ["fastapi", "starlette"], "sqlalchemy": ["sqlalchemy"], "alembic": ["alembic"],
                "arch": ["arch"]}


def _extras() -> tuple[list[str], list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = [d.split(">")[0].split("<")[0].split("[")[0].split("=")[0].strip().lower() for d in project["dependencies"]]
    extra = []
    for name, deps in project["optional-dependencies"].items():
        if name in ("dev", "all"):
            continue
        for d in deps:
            dist = d.split(">")[0].split("<")[0].split("[")[0].split("=")[0].strip().lower()
            extra += IMPORT_NAMES.get(dist, [dist.replace("-", "_")])
    return core, sorted(set(extra))


def _core_modules() -> list[str]:
    names = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if "migrations" in parts or name.startswith(EXTRA_PACKAGES):
            continue
        names.append(name)
    return names


PROBE = r"""
import importlib, importlib.abc, json, sys
blocked = set(json.loads(sys.argv[1]))
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Refuse())
failed = {}
for module in json.loads(sys.argv[2]):
    try:
        importlib.import_module(module)
    except Exception as error:
        failed[module] = f"{type(error).__name__}: {error}"
print(json.dumps({"failed": failed, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_extras_are_not_core_dependencies():
    core, extra = _extras()
    for name in ("fastapi", "sqlalchemy", "dask", "arch", "uvicorn", "alembic"):
        assert name not in core, f"{name} is a core dependency; it belongs to an extra"
    assert {"fastapi", "sqlalchemy", "distributed", "arch"} <= set(extra)


def test_every_core_module_imports_without_the_extras_and_without_pandas():
    _, extra = _extras()
    blocked = [*extra, "pandas"]
    modules = _core_modules()
    assert "ccm.cli.main" in modules and "ccm.risk.metrics" in modules and len(modules) > 100
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(blocked), json.dumps(modules)], capture_output=True,
                         text=True, timeout=300, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}
    assert not set(report["loaded"]) & set(blocked)


def test_a_command_that_needs_an_extra_says_which_to_install():
    """``ccm keys list`` needs the store (sqlalchemy, extra ``service``): without it, one line and exit 2."""
    _, extra = _extras()
    script = PROBE.split("failed = {}")[0] + (
        "sys.argv = ['ccm', 'keys', 'list', '--store', 'sqlite:///nowhere.sqlite']\n"
        "from ccm.cli.main import app\napp()\n")
    out = subprocess.run([sys.executable, "-c", script, json.dumps(extra)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2, out.stderr
    assert "pip install 'ccm[service]'" in out.stderr and "Traceback" not in out.stderr

"""Put the project root on sys.path so tests can import the ``tests.reference`` package."""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


import os  # noqa: E402

import pytest  # noqa: E402

DATA_DIR = Path(os.environ.get("CCM_DATA_DIR", Path(_ROOT).parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real market data (``CCM_DATA_DIR``); tests that need it skip when it is absent."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"market data directory {DATA_DIR} not present (set CCM_DATA_DIR)")
    return DATA_DIR

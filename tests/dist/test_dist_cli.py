"""``ccm metrics`` and ``ccm stress`` with --scheduler / --workers print the same JSON as without."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ccm.cli.main import app
from ccm.io.book import write_book_json
from ccm.io.market import write_market_json
from ccm.synthetic import generate_venue
from tests.dist.same import RTOL

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[str, str]:
    """A small demo venue on disk (the dist tests compare the big one through the API)."""
    generated = generate_venue(300, rng=np.random.default_rng(3))
    folder = tmp_path_factory.mktemp("dist-cli")
    write_book_json(generated.columns, folder / "book.json")
    write_market_json(generated.market, folder / "market.json")
    return str(folder / "book.json"), str(folder / "market.json")


def run_json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "-f", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_same_json(expected, actual, path: str = "") -> int:
    """Recursive equality, numbers within RTOL; returns the number of numbers compared."""
    if isinstance(expected, dict):
        assert expected.keys() == actual.keys(), path
        return sum(assert_same_json(expected[k], actual[k], f"{path}.{k}") for k in expected)
    if isinstance(expected, list):
        assert len(expected) == len(actual), path
        return sum(assert_same_json(e, a, f"{path}[{i}]") for i, (e, a) in enumerate(zip(expected, actual,
                                                                                         strict=True)))
    if isinstance(expected, float) and isinstance(actual, float):
        assert math.isclose(expected, actual, rel_tol=RTOL, abs_tol=0.0), (path, expected, actual)
        return 1
    assert expected == actual, path
    return int(isinstance(expected, int | float))


def test_metrics_on_a_scheduler_prints_the_same_json(client, files):
    book, market = files
    single = run_json("metrics", book, "-m", market, "--no-distance")  # distances: compared in test_dist_metrics
    cluster = run_json("metrics", book, "-m", market, "--no-distance", "--scheduler", client.scheduler.address)
    assert len(single["accounts"]) == 300
    assert assert_same_json(single, cluster) > 300 * 10


def test_stress_on_a_scheduler_prints_the_same_json(client, files):
    book, market = files
    args = ("stress", book, "-m", market, "--scenarios", "historical", "--fund", "2e6")
    single = run_json(*args)
    cluster = run_json(*args, "--scheduler", client.scheduler.address)
    assert single["cover_2"] > 0 and len(single["scenarios"]) >= 7
    assert assert_same_json(single, cluster) > 50


@pytest.mark.parametrize(("options", "message"), [
    (("--scheduler", "tcp://127.0.0.1:1", "--workers", "2"), "not both"),
    (("--scheduler", "127.0.0.1:8786"), "has no protocol"),
])
def test_bad_cluster_options_fail_in_one_line(options, message):
    book, market = str(ROOT / "examples" / "book.json"), str(ROOT / "examples" / "market.json")
    for command in ("metrics", "stress"):
        result = runner.invoke(app, [command, book, "-m", market, *options])
        assert result.exit_code == 2
        assert message in result.output and "--scheduler" in result.output
        assert "Traceback" not in result.output

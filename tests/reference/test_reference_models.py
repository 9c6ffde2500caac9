"""Checks of the reference implementation itself: independence, textbook values, scale."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from tests.reference.models import black76, black76_delta, norm_cdf


def test_reference_does_not_import_the_code_under_test():
    tree = ast.parse(Path(__file__).with_name("models.py").read_text())
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    ccm = {m for m in modules if m and m.startswith("ccm")}
    assert ccm <= {"ccm.book.instruments", "ccm.enums", "ccm.risk.config", "ccm.lending.rules"}  # value objects only
    assert "numpy" not in modules and "scipy" not in modules


def test_reference_black76_textbook_values():
    # Hull: Black's model put F = K = 20, r = 9%, T = 4/12, σ = 25% → 1.12; BS S = 42, K = 40, r = 10%,
    # σ = 20%, T = 0.5 → call 4.76, put 0.81.
    t = 4 / 12
    assert black76(20.0, 20.0, t, 0.25, False, math.exp(-0.09 * t)) == pytest.approx(1.12, abs=0.005)
    f, d = 42 * math.exp(0.05), math.exp(-0.05)
    assert black76(f, 40.0, 0.5, 0.2, True, d) == pytest.approx(4.76, abs=0.005)
    assert black76(f, 40.0, 0.5, 0.2, False, d) == pytest.approx(0.81, abs=0.005)


def test_reference_normal_cdf_and_delta():
    assert norm_cdf(0.0) == 0.5
    assert norm_cdf(1.959963984540054) == pytest.approx(0.975, abs=1e-15)
    assert norm_cdf(-30.0) == pytest.approx(4.906713927148187e-198, rel=1e-11)  # erfc keeps the far tail
    h = 1e-4
    fd = (black76(100 + h, 95, 0.3, 0.4, True) - black76(100 - h, 95, 0.3, 0.4, True)) / (2 * h)
    assert black76_delta(100, 95, 0.3, 0.4, True) == pytest.approx(fd, rel=1e-8)

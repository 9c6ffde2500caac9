"""Field-by-field comparison of two result dataclasses (the cluster's against the single process's)."""

from __future__ import annotations

from dataclasses import fields, is_dataclass

import numpy as np

#: Relative tolerance of the issue: sums over accounts differ only by the order of floating-point addition.
RTOL = 1e-9


def assert_same(expected, actual, *, path: str = "") -> list[str]:
    """Assert every field of ``actual`` equals ``expected``'s (floats within RTOL, the rest exactly);
    return the names of the fields compared."""
    compared = []
    if is_dataclass(expected):
        assert type(expected) is type(actual), path
        for f in fields(expected):
            compared += assert_same(getattr(expected, f.name), getattr(actual, f.name), path=f"{path}.{f.name}")
        return compared
    if isinstance(expected, dict):
        assert expected.keys() == actual.keys(), path
        for key in expected:
            compared += assert_same(expected[key], actual[key], path=f"{path}[{key}]")
        return compared
    if isinstance(expected, list | tuple) and expected and isinstance(expected[0], tuple):
        assert len(expected) == len(actual), path
        for k, (e, a) in enumerate(zip(expected, actual, strict=True)):
            compared += assert_same(e, a, path=f"{path}[{k}]")
        return compared
    e, a = np.asarray(expected), np.asarray(actual)
    assert e.shape == a.shape, path
    if e.dtype.kind == "f":
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=0, equal_nan=True, err_msg=path)
    else:
        assert np.array_equal(a, e), path
    return [path]

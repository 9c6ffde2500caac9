"""Numbers as people and machines read them: one home for the small format helpers of the shells.

``json_number`` for documents (JSON never holds NaN or infinity); ``usd``, ``pct`` and ``ratio`` for tables and
reports (a dash where there is no number).
"""

from __future__ import annotations

import math
from typing import Any

DASH = "—"


def json_number(x: Any) -> float | None:
    """``x`` as a JSON number: a Python float, None for None, NaN or infinity (documents never hold NaN)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _finite(x: Any) -> bool:
    return x is not None and math.isfinite(float(x))


def usd(x: Any) -> str:
    """USD amount, whole dollars with thousands separators; — for None, NaN or infinity."""
    return f"{float(x):,.0f}" if _finite(x) else DASH


def pct(x: Any, digits: int = 1) -> str:
    """Fraction as a percentage (0.123 → 12.3%, thousands separated); — for None, NaN or infinity."""
    return f"{100 * float(x):,.{digits}f}%" if _finite(x) else DASH


def ratio(x: Any, unbounded: bool = False, digits: int = 3) -> str:
    """Ratio to ``digits`` decimals; ∞ when ``unbounded``; — for None, NaN or infinity."""
    if unbounded:
        return "∞"
    return f"{float(x):,.{digits}f}" if _finite(x) else DASH


__all__ = ["DASH", "json_number", "pct", "ratio", "usd"]

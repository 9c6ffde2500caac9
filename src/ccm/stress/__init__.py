"""Stress testing over the whole book: stress runs with Cover-1/Cover-2, VaR/ES of uncovered loss, and
reverse stress (how far along a direction before coverage reaches 1 or the fund is exhausted)."""

from ccm.stress.cover import cover_n, fund_coverage, largest_losses, uncovered_loss, var_es
from ccm.stress.reverse import ReverseResult, reverse_stress
from ccm.stress.run import StressResult, run_stress

__all__ = [
    "ReverseResult",
    "StressResult",
    "cover_n",
    "fund_coverage",
    "largest_losses",
    "reverse_stress",
    "run_stress",
    "uncovered_loss",
    "var_es",
]

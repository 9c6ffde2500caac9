"""Stress testing over the whole book: stress runs with Cover-1/Cover-2, VaR/ES of uncovered loss, and
reverse stress (how far along a direction before coverage reaches 1 or the fund is exhausted)."""

from ccm.stress.cover import cover_n, fund_to_cover_2, largest_losses, uncovered_loss, var_es
from ccm.stress.reverse import ReverseResult, reverse_stress
from ccm.stress.run import StressPartial, StressResult, combine, finalise, run_stress, stress_partial

__all__ = [
    "ReverseResult",
    "StressPartial",
    "StressResult",
    "cover_n",
    "combine",
    "finalise",
    "fund_to_cover_2",
    "largest_losses",
    "reverse_stress",
    "run_stress",
    "stress_partial",
    "uncovered_loss",
    "var_es",
]

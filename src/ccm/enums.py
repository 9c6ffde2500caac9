"""String enums whose values are the JSON strings of the public formats (1:1)."""

from __future__ import annotations

from enum import StrEnum


class InstrumentType(StrEnum):
    SPOT = "spot"
    FUTURE = "future"
    PERPETUAL = "perpetual"
    OPTION = "option"


class Settlement(StrEnum):
    LINEAR = "linear"
    INVERSE = "inverse"


class OptionRight(StrEnum):
    CALL = "call"
    PUT = "put"


class MarginModelName(StrEnum):
    STANDARD = "standard"
    PORTFOLIO = "portfolio"
    LENDING = "lending"
    VAR = "var"  # appended: array codes of the others are unchanged
    DERIVE_PMRM = "derive-pmrm"  # Derive (Lyra v2) portfolio margin, ccm.risk.margin.derive_pmrm


class Status(StrEnum):
    """Account status from coverage thresholds, best first."""

    HEALTHY = "healthy"
    WARNING = "warning"
    MARGIN_CALL = "margin_call"
    LIQUIDATION = "liquidation"
    BANKRUPT = "bankrupt"


# Integer codes used in arrays; index into these tuples to get the enum back.
INSTRUMENT_TYPES: tuple[InstrumentType, ...] = tuple(InstrumentType)
MARGIN_MODELS: tuple[MarginModelName, ...] = tuple(MarginModelName)
STATUSES: tuple[Status, ...] = tuple(Status)

"""The ``alerts:`` section of the risk configuration → ``ccm.engine.AlertConfig``.

    alerts:
      thresholds: {hysteresis: 0.02, levels: [warning, margin_call, liquidation]}   # null: off
      decline: {drop: 0.2, window_s: 3600, buffer: 16, rearm_fraction: 0.5}          # null: off
      projected_breach: {k: 2.0, horizon_hours: 24, default_volatility: 0.8, hysteresis: 0.02}
      system: {min_system_coverage: 1.2, max_total_shortfall_usd: 1.0e+7, fund_usd: 5.0e+7,
               min_fund_coverage: 1.0, hysteresis: 0.02}

A section left out keeps the engine's default (coverage-threshold alerts on, the others off).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ccm.engine.alerts import AlertConfig, DeclineRule, ProjectedBreachRule, SystemRules, ThresholdRule
from ccm.errors import InputError
from ccm.io.files import read_document
from ccm.io.validation import validate

_STRICT = ConfigDict(extra="forbid")
Positive = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]


class _Thresholds(BaseModel):
    model_config = _STRICT
    hysteresis: Fraction = 0.02
    levels: list[Literal["warning", "margin_call", "liquidation"]] = ["warning", "margin_call", "liquidation"]


class _Decline(BaseModel):
    model_config = _STRICT
    drop: Annotated[float, Field(gt=0, lt=1)] = 0.2
    window_s: Positive = 3600.0
    buffer: Annotated[int, Field(ge=2)] = 16
    rearm_fraction: Fraction = 0.5


class _Projected(BaseModel):
    model_config = _STRICT
    k: Positive = 2.0
    horizon_hours: Positive = 24.0
    default_volatility: Positive = 0.8
    hysteresis: Fraction = 0.02


class _System(BaseModel):
    model_config = _STRICT
    min_system_coverage: Positive | None = None
    max_total_shortfall_usd: Positive | None = None
    fund_usd: Annotated[float, Field(ge=0)] | None = None
    min_fund_coverage: Positive | None = None
    hysteresis: Fraction = 0.02


class _Alerts(BaseModel):
    model_config = _STRICT
    thresholds: _Thresholds | None = _Thresholds()
    decline: _Decline | None = None
    projected_breach: _Projected | None = None
    system: _System = _System()


class _Document(BaseModel):
    model_config = ConfigDict(extra="ignore")  # the risk sections are validated by ccm.io.config
    alerts: _Alerts = _Alerts()


def alert_config_from_dict(data: dict, *, file: str = "config") -> AlertConfig:
    parsed = validate(_Document, data or {}, file=file).alerts
    return AlertConfig(
        thresholds=None if parsed.thresholds is None else ThresholdRule(
            hysteresis=parsed.thresholds.hysteresis, levels=tuple(parsed.thresholds.levels)),
        decline=None if parsed.decline is None else DeclineRule(**parsed.decline.model_dump()),
        projected_breach=None if parsed.projected_breach is None else ProjectedBreachRule(
            **parsed.projected_breach.model_dump()),
        system=SystemRules(**parsed.system.model_dump()),
    )


def load_alert_config(path: str | Path | None = None) -> AlertConfig:
    """The alert rules of a config file (its ``alerts:`` section); the engine's defaults without a file."""
    if path is None:
        return AlertConfig()
    path = Path(path)
    data = read_document(path, what="config")
    if data is not None and not isinstance(data, dict):
        raise InputError("a config file must hold a mapping at the top level", file=str(path))
    return alert_config_from_dict(data or {}, file=str(path))

"""The forecasters by name (the names the CLI and :func:`forecast_volatility` accept)."""

from __future__ import annotations

from ccm.analysis.forecast.ewma import EwmaForecaster
from ccm.analysis.forecast.garch import GarchForecaster
from ccm.analysis.forecast.gbm import GbmForecaster
from ccm.errors import InputError

MODEL_NAMES = ("ewma", "garch", "gjr", "gbm")
BASELINE = "ewma"


def make_forecaster(name: str, *, horizon_days: int = 1):
    """An unfitted forecaster: ``ewma`` (RiskMetrics λ = 0.94), ``garch`` (GARCH(1,1)), ``gjr`` (GJR-GARCH(1,1,1)),
    ``gbm`` (gradient boosting on HAR features)."""
    if name == "ewma":
        return EwmaForecaster(horizon_days=horizon_days)
    if name == "garch":
        return GarchForecaster(horizon_days=horizon_days)
    if name == "gjr":
        return GarchForecaster(horizon_days=horizon_days, asymmetric=True)
    if name == "gbm":
        return GbmForecaster(horizon_days=horizon_days)
    raise InputError(f"unknown volatility model {name!r}", field="model", hint=f"one of {', '.join(MODEL_NAMES)}")

"""Scenario sources: each produces a ScenarioSet (price returns, vol shifts, haircut and liquidity
multipliers per asset, with a leading scenario axis)."""

from ccm.scenario.base import ScenarioSet
from ccm.scenario.ewma_filter import ewma_covariance, ewma_variance, log_returns
from ccm.scenario.historical import HISTORICAL_ASSETS, HISTORICAL_EVENTS, HistoricalEvent, historical_events
from ccm.scenario.historical_simulation import filter_returns, historical_simulation
from ccm.scenario.hypothetical import (
    DEFAULT_STABLECOINS,
    alt_beta,
    combine,
    correlation_breakdown,
    exchange_token_collapse,
    liquidity_crunch,
    stablecoin_depeg,
    standard_hypotheticals,
    uniform_moves,
    vol_spikes,
)
from ccm.scenario.montecarlo import estimate_covariance, monte_carlo, monte_carlo_from_prices

__all__ = [
    "DEFAULT_STABLECOINS",
    "HISTORICAL_ASSETS",
    "HISTORICAL_EVENTS",
    "HistoricalEvent",
    "ScenarioSet",
    "alt_beta",
    "combine",
    "correlation_breakdown",
    "estimate_covariance",
    "ewma_covariance",
    "ewma_variance",
    "exchange_token_collapse",
    "filter_returns",
    "historical_events",
    "historical_simulation",
    "liquidity_crunch",
    "log_returns",
    "monte_carlo",
    "monte_carlo_from_prices",
    "stablecoin_depeg",
    "standard_hypotheticals",
    "uniform_moves",
    "vol_spikes",
]

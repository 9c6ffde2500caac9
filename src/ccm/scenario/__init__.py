"""Scenario sources: each produces a ScenarioSet (price returns, vol shifts, haircut and liquidity
multipliers per asset, with a leading scenario axis)."""

from ccm.scenario.base import ScenarioSet

__all__ = ["ScenarioSet"]

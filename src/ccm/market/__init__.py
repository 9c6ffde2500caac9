"""Market snapshot at one instant: index prices, marks, implied vols and surfaces, rates (value objects).
Resolving a snapshot onto a book's instruments is :mod:`ccm.pricing.market_state`."""

from ccm.market.snapshot import MarketSnapshot
from ccm.market.surface import VolSurface

__all__ = ["MarketSnapshot", "VolSurface"]

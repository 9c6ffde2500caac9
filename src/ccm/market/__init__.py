"""Market snapshot at one instant and its resolution onto a book's instruments."""

from ccm.market.resolve import MarketState, resolve_market
from ccm.market.snapshot import MarketSnapshot
from ccm.market.surface import VolSurface

__all__ = ["MarketSnapshot", "MarketState", "VolSurface", "resolve_market"]

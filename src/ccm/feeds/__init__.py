"""Market-data feeds behind one async interface (shell layer: may do network I/O).

``async for update in feed.updates(): ...``; ``await feed.close()``. Feeds: :class:`SimulatedFeed` (synthetic,
the embedded default), :class:`ReplayFeed` (recorded history, CSV/Parquet) and :class:`DeribitFeed` (live).
"""

from ccm.feeds.base import AsyncioClock, Clock, Feed, MarketUpdate, VirtualClock
from ccm.feeds.deribit import DeribitFeed, FeedStats, parse_notification
from ccm.feeds.replay import ReplayFeed, read_parquet_prices
from ccm.feeds.simulated import SimulatedFeed

__all__ = [
    "AsyncioClock",
    "Clock",
    "DeribitFeed",
    "Feed",
    "FeedStats",
    "MarketUpdate",
    "ReplayFeed",
    "SimulatedFeed",
    "VirtualClock",
    "parse_notification",
    "read_parquet_prices",
]

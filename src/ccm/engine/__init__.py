"""Real-time coverage: a live engine over a book and a market, incremental recompute, events and alerts."""

from ccm.engine.alerts import AlertConfig, AlertMonitor, DeclineRule, ProjectedBreachRule, SystemRules, ThresholdRule
from ccm.engine.engine import CoverageEngine
from ccm.engine.events import Alert, Event, MetricsChanged, StatusChanged, SystemSnapshot, event_to_dict

__all__ = [
    "Alert",
    "AlertConfig",
    "AlertMonitor",
    "CoverageEngine",
    "DeclineRule",
    "Event",
    "MetricsChanged",
    "ProjectedBreachRule",
    "StatusChanged",
    "SystemRules",
    "SystemSnapshot",
    "ThresholdRule",
    "event_to_dict",
]

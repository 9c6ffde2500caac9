"""MarketSnapshot: index prices, marks, implied vols and rates at one instant (value object)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from ccm.market.surface import VolSurface


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketSnapshot:
    """Market data at ``as_of`` (UTC).

    Attributes
    ----------
    as_of : valuation time, timezone-aware UTC.
    index : USD index price per asset (stablecoins included, e.g. ``USDC: 1.0``).
    marks : optional price per instrument id: futures and perpetuals in USD per unit of underlying;
        options in settlement-asset units per unit of underlying (coin for inverse, USD for linear).
    vols : optional implied vol (decimal) per option id; takes precedence over a vol implied from a mark.
    surfaces : per-underlying fallback surfaces for options with neither a vol nor a mark.
    rates : optional continuously compounded rate per underlying, used for forwards S·e^{rτ} of
        futures without a mark and of options (default 0, as Deribit prices options on a 0% rate).
    forwards : optional forward price (USD) per option id, overriding S·e^{rτ} for that option (venues such as
        Derive publish one forward per expiry; give it to each option of the expiry).
    confidences : optional feed confidence in [0, 1] per asset (its index feed) or instrument id (a perpetual's
        price feed; an option's forward, rate and vol feeds, the lowest of them); default 1. Only margin models
        with confidence contingencies read them (``derive-pmrm``).
    """

    as_of: datetime
    index: Mapping[str, float]
    marks: Mapping[str, float] = field(default_factory=dict)
    vols: Mapping[str, float] = field(default_factory=dict)
    surfaces: Mapping[str, VolSurface] = field(default_factory=dict)
    rates: Mapping[str, float] = field(default_factory=dict)
    forwards: Mapping[str, float] = field(default_factory=dict)
    confidences: Mapping[str, float] = field(default_factory=dict)

    def with_index(self, index: Mapping[str, float], as_of: datetime | None = None) -> MarketSnapshot:
        """A copy with some index prices replaced (and optionally a new time)."""
        return replace(self, index={**self.index, **index}, as_of=as_of or self.as_of)

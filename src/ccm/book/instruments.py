"""Instrument and account value objects, and the columnar instrument table.

Quantity conventions (the public book format): linear instruments and all options are quantified in units
of the underlying; inverse futures and perpetuals in USD notional (Deribit convention).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from ccm._typing import BoolArray, FloatArray, IntArray
from ccm.enums import INSTRUMENT_TYPES, InstrumentType, MarginModelName, OptionRight, Settlement

TYPE_SPOT = INSTRUMENT_TYPES.index(InstrumentType.SPOT)
TYPE_FUTURE = INSTRUMENT_TYPES.index(InstrumentType.FUTURE)
TYPE_PERPETUAL = INSTRUMENT_TYPES.index(InstrumentType.PERPETUAL)
TYPE_OPTION = INSTRUMENT_TYPES.index(InstrumentType.OPTION)


@dataclass(frozen=True, slots=True, kw_only=True)
class Instrument:
    """Contract terms of one tradable instrument (no market data)."""

    id: str
    type: InstrumentType
    underlying: str
    settlement: Settlement = Settlement.LINEAR
    settlement_asset: str = "USDC"
    expiry: datetime | None = None
    strike: float | None = None
    right: OptionRight | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """A holding of ``quantity`` of an instrument; ``entry_price`` None means settled to mark."""

    instrument: str
    quantity: float
    entry_price: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """One account: collateral balances (negative = borrowed) and positions."""

    id: str
    collateral: Mapping[str, float] = field(default_factory=dict)
    positions: tuple[Position, ...] = ()
    margin_model: MarginModelName | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InstrumentTable:
    """Columnar instrument terms, one entry per instrument (length n_instruments).

    Attributes
    ----------
    ids : ndarray of str, instrument ids.
    type_code : int8 codes into ``ccm.enums.INSTRUMENT_TYPES``.
    underlying : int64 index into ``Book.assets``.
    settlement_asset : int64 index into ``Book.assets``.
    inverse : bool, coin-settled (inverse) contract.
    expiry_s : float64 expiry as POSIX seconds UTC; NaN for spot and perpetuals.
    strike : float64 strike in USD; NaN for non-options.
    is_call : bool; False for puts and non-options.
    """

    ids: np.ndarray
    type_code: np.ndarray
    underlying: IntArray
    settlement_asset: IntArray
    inverse: BoolArray
    expiry_s: FloatArray
    strike: FloatArray
    is_call: BoolArray

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def is_option(self) -> BoolArray:
        return self.type_code == TYPE_OPTION

    @property
    def is_future(self) -> BoolArray:
        """Dated futures and perpetuals."""
        return (self.type_code == TYPE_FUTURE) | (self.type_code == TYPE_PERPETUAL)

    @property
    def is_spot(self) -> BoolArray:
        return self.type_code == TYPE_SPOT

    def index_of(self) -> dict[str, int]:
        return {str(i): k for k, i in enumerate(self.ids)}

    def instrument(self, k: int, assets: tuple[str, ...]) -> Instrument:
        """The value object of instrument ``k`` (for display and the reference implementation)."""
        kind = INSTRUMENT_TYPES[int(self.type_code[k])]
        expiry = None
        if np.isfinite(self.expiry_s[k]):
            from datetime import UTC

            expiry = datetime.fromtimestamp(float(self.expiry_s[k]), tz=UTC)
        return Instrument(
            id=str(self.ids[k]),
            type=kind,
            underlying=assets[int(self.underlying[k])],
            settlement=Settlement.INVERSE if self.inverse[k] else Settlement.LINEAR,
            settlement_asset=assets[int(self.settlement_asset[k])],
            expiry=expiry,
            strike=float(self.strike[k]) if kind is InstrumentType.OPTION else None,
            right=(OptionRight.CALL if self.is_call[k] else OptionRight.PUT)
            if kind is InstrumentType.OPTION
            else None,
        )

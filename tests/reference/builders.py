"""Small factories for instruments and configs used across the risk tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ccm.book import Instrument
from ccm.enums import InstrumentType, OptionRight, Settlement
from ccm.risk.config import AssetRisk, PortfolioParams, RiskConfig, StandardParams

AS_OF = datetime(2025, 1, 1, 8, tzinfo=UTC)


def expiry_in(days: float) -> datetime:
    return AS_OF + timedelta(days=days)


def perp(under: str = "BTC", *, inverse: bool = False, settle: str | None = None, id: str | None = None) -> Instrument:
    settle = settle or (under if inverse else "USDC")
    return Instrument(id=id or f"{under}-{'INV' if inverse else settle}-PERP", type=InstrumentType.PERPETUAL,
                      underlying=under, settlement=Settlement.INVERSE if inverse else Settlement.LINEAR,
                      settlement_asset=settle)


def future(under: str = "BTC", days: float = 90, *, inverse: bool = False, id: str | None = None) -> Instrument:
    settle = under if inverse else "USDC"
    return Instrument(id=id or f"{under}-{'INV' if inverse else 'LIN'}-F{days:g}", type=InstrumentType.FUTURE,
                      underlying=under, settlement=Settlement.INVERSE if inverse else Settlement.LINEAR,
                      settlement_asset=settle, expiry=expiry_in(days))


def option(under: str, days: float, strike: float, call: bool, *, inverse: bool = False,
           id: str | None = None) -> Instrument:
    settle = under if inverse else "USDC"
    right = OptionRight.CALL if call else OptionRight.PUT
    return Instrument(
        id=id or f"{under}-{'INV' if inverse else 'LIN'}-{days:g}D-{strike:g}-{'C' if call else 'P'}",
        type=InstrumentType.OPTION, underlying=under,
        settlement=Settlement.INVERSE if inverse else Settlement.LINEAR, settlement_asset=settle,
        expiry=expiry_in(days), strike=strike, right=right)


def spot(under: str = "BTC", id: str | None = None) -> Instrument:
    return Instrument(id=id or f"{under}-SPOT", type=InstrumentType.SPOT, underlying=under,
                      settlement=Settlement.LINEAR, settlement_asset="USDC")


def config(**kwargs) -> RiskConfig:
    """A config with USDC stable, no haircuts and Deribit default standard/portfolio parameters."""
    base = dict(assets={"USDC": AssetRisk(stable=True)}, standard={"default": StandardParams()},
                portfolio={"default": PortfolioParams()})
    base.update(kwargs)
    return RiskConfig(**base)

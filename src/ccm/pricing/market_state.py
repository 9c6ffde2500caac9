"""Resolve a MarketSnapshot onto a book's instruments: one array per quantity, aligned with instruments."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ccm._typing import FloatArray
from ccm.book.instruments import TYPE_FUTURE, TYPE_PERPETUAL, InstrumentTable
from ccm.errors import InputError
from ccm.market.snapshot import MarketSnapshot
from ccm.pricing.black76 import implied_vol
from ccm.pricing.contracts import unit_delta, unit_value

SECONDS_PER_YEAR = 365.0 * 86400.0

#: Logical file name of market errors; shells replace it with the real path (``InputError.relocated``).
MARKET = "market"


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketState:
    """Market arrays aligned with a book (assets and instruments).

    Attributes
    ----------
    as_of_s : valuation time, POSIX seconds.
    asset_prices : ndarray of shape (n_assets,), USD index prices.
    spot : ndarray of shape (n_instruments,), USD index of each instrument's underlying.
    basis : ndarray (n_instruments,), forward ÷ spot (1 for spot and perpetuals without a mark).
    tau : ndarray (n_instruments,), years to expiry (0 for spot/perpetuals; ≤ 0 for expired).
    vol : ndarray (n_instruments,), implied vol of options (0 for other instruments).
    settle_price : ndarray (n_instruments,), USD price of the settlement asset.
    unit_value : ndarray (n_instruments,), value of one unit in settlement units (``pricing.contracts``).
    unit_delta : ndarray (n_instruments,), delta of one unit in coins of the underlying.
    rate : ndarray (n_instruments,), the snapshot's rate of each instrument's underlying (0 where none).
    asset_confidence : ndarray (n_assets,), feed confidence of each index price in [0, 1] (1 where none).
    confidence : ndarray (n_instruments,), feed confidence of each instrument's own price inputs (1 where none).
    """

    as_of_s: float
    asset_prices: FloatArray
    spot: FloatArray
    basis: FloatArray
    tau: FloatArray
    vol: FloatArray
    settle_price: FloatArray
    unit_value: FloatArray
    unit_delta: FloatArray
    rate: FloatArray
    asset_confidence: FloatArray
    confidence: FloatArray

    @property
    def forward(self) -> FloatArray:
        return self.spot * self.basis

    @property
    def unit_value_usd(self) -> FloatArray:
        return self.unit_value * self.settle_price


def _check_number(value: float, *, record: str, field: str, allow_zero: bool = False) -> None:
    ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        need = "a finite number ≥ 0" if allow_zero else "a finite positive number"
        raise InputError(f"{value!r} is not {need}", file=MARKET, record=record, field=field)


def resolve_market(
    snapshot: MarketSnapshot, assets: tuple[str, ...], instruments: InstrumentTable
) -> MarketState:
    """Align the snapshot with ``assets`` and ``instruments``; raise InputError for missing or bad data."""
    prices = np.empty(len(assets))
    for k, asset in enumerate(assets):
        if asset not in snapshot.index:
            raise InputError(
                f"no index price for asset {asset!r}, which the book uses",
                file=MARKET,
                record="index",
                field=asset,
                hint=f"add \"{asset}\": <USD price> to the market's index",
            )
        _check_number(snapshot.index[asset], record="index", field=asset)
        prices[k] = float(snapshot.index[asset])
    for field_name, mapping, allow_zero in (("marks", snapshot.marks, True), ("vols", snapshot.vols, True)):
        for key, value in mapping.items():
            _check_number(value, record=field_name, field=key, allow_zero=allow_zero)
    for key, value in snapshot.rates.items():
        if not np.isfinite(value):
            raise InputError(f"{value!r} is not a finite rate", file=MARKET, record="rates", field=key)
    for key, value in snapshot.forwards.items():
        _check_number(value, record="forwards", field=key)
    for key, value in snapshot.confidences.items():
        if not (np.isfinite(value) and 0.0 <= value <= 1.0):
            raise InputError(f"{value!r} is not a confidence in [0, 1]", file=MARKET, record="confidences", field=key)

    as_of_s = snapshot.as_of.timestamp()
    n = len(instruments)
    spot = prices[instruments.underlying]
    settle_price = prices[instruments.settlement_asset]
    tau = np.where(np.isfinite(instruments.expiry_s), (instruments.expiry_s - as_of_s) / SECONDS_PER_YEAR, 0.0)
    rate = np.array([snapshot.rates.get(assets[u], 0.0) for u in instruments.underlying], dtype=float)
    basis = np.exp(rate * np.maximum(tau, 0.0))
    ids = instruments.ids
    is_future = (instruments.type_code == TYPE_FUTURE) | (instruments.type_code == TYPE_PERPETUAL)
    is_option = instruments.is_option

    marks = np.full(n, np.nan)
    if snapshot.marks:
        marks = np.array([snapshot.marks.get(str(i), np.nan) for i in ids], dtype=float)
    future_mark = is_future & np.isfinite(marks)
    if (future_mark & (marks <= 0)).any():
        k = int(np.flatnonzero(future_mark & (marks <= 0))[0])
        raise InputError("a future's mark must be positive", file=MARKET, record="marks", field=str(ids[k]))
    basis = np.where(future_mark, marks / spot, basis)
    if snapshot.forwards:
        given_forward = np.array([snapshot.forwards.get(str(i), np.nan) for i in ids], dtype=float)
        stray = np.isfinite(given_forward) & ~is_option
        if stray.any():
            k = int(np.flatnonzero(stray)[0])
            raise InputError("forwards are given for options only (mark a future or perpetual instead)",
                             file=MARKET, record="forwards", field=str(ids[k]))
        basis = np.where(np.isfinite(given_forward), given_forward / spot, basis)
    asset_confidence = np.array([float(snapshot.confidences.get(a, 1.0)) for a in assets], dtype=float)
    confidence = np.array([float(snapshot.confidences.get(str(i), 1.0)) for i in ids], dtype=float)

    vol = np.zeros(n)
    if is_option.any():
        live = is_option & (tau > 0)
        given = np.array([snapshot.vols.get(str(i), np.nan) for i in ids], dtype=float)
        forward = spot * basis
        mark_usd = np.where(instruments.inverse, marks * forward, marks)
        from_mark = implied_vol(mark_usd, forward, np.where(is_option, instruments.strike, 1.0), tau,
                                instruments.is_call)
        need_mark = live & np.isnan(given) & np.isfinite(marks)
        bad = need_mark & np.isnan(from_mark)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"option mark {marks[k]!r} is outside the no-arbitrage bounds, no vol can reproduce it",
                file=MARKET,
                record="marks",
                field=str(ids[k]),
                hint="options are marked in settlement units: coin for inverse, USD for linear",
            )
        vol = np.where(np.isnan(given), from_mark, given)
        missing = live & np.isnan(vol)
        for u in np.unique(instruments.underlying[missing]):
            surface = snapshot.surfaces.get(assets[u])
            sel = missing & (instruments.underlying == u)
            if surface is None:
                k = int(np.flatnonzero(sel)[0])
                raise InputError(
                    f"no implied vol for option {str(ids[k])!r}",
                    file=MARKET,
                    record="vols",
                    field=str(ids[k]),
                    hint=f"give vols.{ids[k]}, marks.{ids[k]} or a vol surface for {assets[u]}",
                )
            vol[sel] = surface.vol(tau[sel], instruments.strike[sel] / forward[sel])
        vol = np.where(live, vol, 0.0)
        vol = np.where(np.isnan(vol), 0.0, vol)

    terms = dict(
        is_option=is_option,
        inverse=instruments.inverse,
        strike=instruments.strike,
        tau=tau,
        vol=vol,
        is_call=instruments.is_call,
    )
    forward = spot * basis
    return MarketState(
        as_of_s=as_of_s,
        asset_prices=prices,
        spot=spot,
        basis=basis,
        tau=tau,
        vol=vol,
        settle_price=settle_price,
        unit_value=unit_value(forward, **terms),
        unit_delta=unit_delta(forward, **terms),
        rate=rate,
        asset_confidence=asset_confidence,
        confidence=confidence,
    )

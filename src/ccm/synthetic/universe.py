"""Synthetic instrument universe and market: BTC, ETH, SOL derivatives in Deribit style.

Per underlying: inverse (coin-settled) and linear (USDC) perpetuals; dated futures at Deribit expiries
(08:00 UTC: weekly Fridays, month-end and quarter-end last Fridays); options on daily, weekly, monthly
and quarterly expiries × strikes around the forward × call/put (inverse for BTC and ETH, linear for
all three); and spot pairs against USDC and USDT. The market carries index prices, futures marks
(the forward with a small basis), a smile/term-structure vol surface per underlying, rates that
reproduce the options' forwards, and explicit vols for a fraction of the options.

Everything here is array code over the instrument list (a few thousand entries at most); the only
loops are over underlyings, series and expiries.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from ccm.market.snapshot import MarketSnapshot
from ccm.market.surface import VolSurface
from ccm.pricing.black76 import black76_greeks, black76_price

SECONDS_PER_YEAR = 365.0 * 86400.0
EXPIRY_HOUR_UTC = 8  # Deribit settles at 08:00 UTC

# Instrument kind codes used inside the generator (strings are written to the columns).
SPOT, FUTURE, PERPETUAL, OPTION = 0, 1, 2, 3
KIND_NAMES = np.array(["spot", "future", "perpetual", "option"])

STABLES: tuple[str, ...] = ("USDC", "USDT")


@dataclass(frozen=True, slots=True, kw_only=True)
class UnderlyingSpec:
    """Market and contract conventions of one underlying.

    basis_rate : annualised contango of the futures curve (also the options' forward rate).
    coin_settled : whether coin-settled (inverse) options and dated futures are listed.
    linear_lot, option_lot : minimum quantity (coins) of linear contracts and options.
    min_strike_step : smallest strike spacing listed (USD).
    skew, curvature : smile shape, vol × (1 + skew·x + curvature·x²) with x = ln(K/F)/√τ.
    """

    name: str
    price: float
    atm_vol: float
    basis_rate: float
    coin_settled: bool
    linear_lot: float
    option_lot: float
    min_strike_step: float
    skew: float
    curvature: float


UNDERLYINGS: tuple[UnderlyingSpec, ...] = (
    UnderlyingSpec(name="BTC", price=97_000.0, atm_vol=0.55, basis_rate=0.08, coin_settled=True,
                   linear_lot=0.0001, option_lot=0.1, min_strike_step=250.0, skew=-0.06, curvature=0.22),
    UnderlyingSpec(name="ETH", price=2_700.0, atm_vol=0.70, basis_rate=0.09, coin_settled=True,
                   linear_lot=0.001, option_lot=1.0, min_strike_step=10.0, skew=-0.10, curvature=0.22),
    UnderlyingSpec(name="SOL", price=200.0, atm_vol=0.90, basis_rate=0.10, coin_settled=False,
                   linear_lot=0.01, option_lot=1.0, min_strike_step=1.0, skew=-0.14, curvature=0.25),
)

#: Assets of the venue; collateral codes index into this tuple.
ASSETS: tuple[str, ...] = tuple(u.name for u in UNDERLYINGS) + STABLES
USDC = ASSETS.index("USDC")
USDT = ASSETS.index("USDT")
ASSET_PRICES = np.array([u.price for u in UNDERLYINGS] + [1.0] * len(STABLES))

INVERSE_FUTURE_LOT_USD = 10.0  # Deribit inverse contracts trade in multiples of 10 USD


@dataclass(frozen=True, slots=True, kw_only=True)
class Universe:
    """The listed instruments with what the account generators need to size positions.

    Every array has shape (n_instruments,). ``series`` numbers the (underlying, settlement) pairs of
    options: 2·underlying + (0 inverse | 1 linear); −1 for non-options.
    """

    ids: np.ndarray
    kind: np.ndarray  # int8, SPOT | FUTURE | PERPETUAL | OPTION
    underlying: np.ndarray  # int64 index into UNDERLYINGS (and ASSETS)
    inverse: np.ndarray  # bool
    settlement: np.ndarray  # int64 index into ASSETS
    expiry_s: np.ndarray  # float, NaN for spot and perpetuals
    strike: np.ndarray  # float, NaN for non-options
    is_call: np.ndarray  # bool
    tau: np.ndarray  # years to expiry, 0 for spot and perpetuals
    forward: np.ndarray  # USD per coin: the futures mark, the options' forward, spot = index
    vol: np.ndarray  # implied vol the market resolves to (options), 0 otherwise
    value_usd: np.ndarray  # USD value of one coin of underlying (option premium; forward otherwise)
    delta: np.ndarray  # coin delta of one coin of underlying (Black-76 for options, 1 otherwise)
    lot: np.ndarray  # quantity step in book units (USD for inverse futures, coins otherwise)
    series: np.ndarray  # int64, option series (see above), −1 otherwise

    def __len__(self) -> int:
        return int(self.ids.shape[0])


# -- calendar -------------------------------------------------------------------------------------

def _at_expiry_hour(day: datetime) -> datetime:
    return datetime(day.year, day.month, day.day, EXPIRY_HOUR_UTC, tzinfo=UTC)


def _last_friday(year: int, month: int) -> datetime:
    last = calendar.monthrange(year, month)[1]
    day = datetime(year, month, last, EXPIRY_HOUR_UTC, tzinfo=UTC)
    return day - timedelta(days=(day.weekday() - calendar.FRIDAY) % 7)


def _month_ends(as_of: datetime, count: int, months: tuple[int, ...] | None = None) -> list[datetime]:
    """The next ``count`` last-Friday expiries after ``as_of`` (optionally only in ``months``)."""
    out, year, month = [], as_of.year, as_of.month
    while len(out) < count:
        if months is None or month in months:
            day = _last_friday(year, month)
            if day > as_of + timedelta(days=1):
                out.append(day)
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def option_expiries(as_of: datetime) -> list[datetime]:
    """Two dailies, two weeklies, three monthlies and two further quarterlies (≈1d … 6-9m)."""
    first = _at_expiry_hour(as_of)
    if first <= as_of:
        first += timedelta(days=1)
    dailies = [first, first + timedelta(days=1)]
    friday = first + timedelta(days=(calendar.FRIDAY - first.weekday()) % 7)
    fridays = [friday + timedelta(days=7 * k) for k in range(3)]
    weeklies = [d for d in fridays if d > dailies[-1]][:2]
    monthlies = _month_ends(as_of, 3)
    quarterlies = _month_ends(as_of, 3, months=(3, 6, 9, 12))
    return sorted(set(dailies + weeklies + monthlies + quarterlies))


def future_expiries(as_of: datetime) -> list[datetime]:
    """Next weekly Friday, the month end, and the next three quarter ends."""
    first = _at_expiry_hour(as_of) + timedelta(days=1)
    friday = first + timedelta(days=(calendar.FRIDAY - first.weekday()) % 7)
    monthly = _month_ends(as_of, 1)
    quarterlies = _month_ends(as_of, 3, months=(3, 6, 9, 12))
    return sorted(set([friday] + monthly + quarterlies))


def expiry_code(day: datetime) -> str:
    """Deribit date code: day without leading zero, upper-case month, two-digit year (7MAR25)."""
    return f"{day.day}{day.strftime('%b').upper()}{day.strftime('%y')}"


# -- vol surface ----------------------------------------------------------------------------------

SURFACE_EXPIRIES = np.array([1.0, 7.0, 30.0, 90.0, 180.0, 365.0, 730.0]) / 365.0
SURFACE_MONEYNESS = np.array([0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2, 1.3,
                              1.4, 1.6, 1.8, 2.0, 2.5, 3.0])


def smile_surface(spec: UnderlyingSpec) -> VolSurface:
    """A grid surface with an ATM term structure (short end bid) and a skewed smile."""
    t = SURFACE_EXPIRIES[:, None]
    atm = spec.atm_vol * (1.0 + 0.10 * np.exp(-t * 365.0 / 10.0) + 0.03 * np.minimum(t, 1.0))
    x = np.log(SURFACE_MONEYNESS)[None, :] / np.sqrt(np.maximum(t, 1.0 / 52.0))
    x = np.clip(x, -3.0, 3.0)
    vols = np.clip(atm * (1.0 + spec.skew * x + spec.curvature * x * x), 0.15, 3.0)
    return VolSurface(expiries_years=SURFACE_EXPIRIES.copy(), moneyness=SURFACE_MONEYNESS.copy(), vols=vols)


# -- strikes --------------------------------------------------------------------------------------

_NICE = np.array([1.0, 2.0, 2.5, 5.0, 10.0])


def _nice_floor(x: float) -> float:
    """Largest 1/2/2.5/5 × 10^k not above x."""
    exponent = np.floor(np.log10(x))
    mantissa = x / 10.0**exponent
    return float(_NICE[np.searchsorted(_NICE, mantissa + 1e-12, side="right") - 1] * 10.0**exponent)


def strikes_for(spec: UnderlyingSpec, forward: float, tau: float, n_strikes: int) -> np.ndarray:
    """About ``n_strikes`` listed strikes around the forward, wider for longer expiries.

    Moneyness spans ±3.5 standard deviations, clipped to 0.5–2.0; strikes are rounded to a 1/2/2.5/5
    step fine enough to keep them distinct (never below the underlying's minimum step).
    """
    width = 3.5 * spec.atm_vol * np.sqrt(max(tau, 1.0 / 365.0))
    lo, hi = max(0.5, np.exp(-width)), min(2.0, np.exp(width))
    n = max(2, int(n_strikes))
    raw = forward * np.exp(np.linspace(np.log(lo), np.log(hi), n))
    step = max(spec.min_strike_step, _nice_floor(float(np.min(np.diff(raw)))))
    return np.unique(np.maximum(np.round(raw / step) * step, step))


def _strike_text(strikes: np.ndarray) -> np.ndarray:
    whole = np.round(strikes).astype(np.int64)
    return whole.astype(str)


# -- the universe ---------------------------------------------------------------------------------

_FIELDS = ("ids", "kind", "underlying", "inverse", "settlement", "expiry_s", "strike", "is_call")


def _prefix(spec: UnderlyingSpec, inverse: bool) -> str:
    return spec.name if inverse else f"{spec.name}_USDC"


def build_universe(
    as_of: datetime, *, n_instruments_target: int | None, rng: np.random.Generator
) -> tuple[Universe, MarketSnapshot]:
    """List the instruments and their market; ``n_instruments_target`` sets the strike density."""
    opt_exp = option_expiries(as_of)
    fut_exp = future_expiries(as_of)
    as_of_s = as_of.timestamp()
    series_specs = [(u, inv) for u, spec in enumerate(UNDERLYINGS) for inv in (True, False)
                    if spec.coin_settled or not inv]

    blocks: dict[str, list] = {k: [] for k in _FIELDS}

    def add(ids, kind, underlying, inverse, settlement, expiry_s=np.nan, strike=np.nan, is_call=False):
        n = len(ids)
        blocks["ids"].append(np.asarray(ids, dtype=str))
        blocks["kind"].append(np.full(n, kind, dtype=np.int8))
        blocks["underlying"].append(np.full(n, underlying, dtype=np.int64))
        blocks["inverse"].append(np.full(n, inverse, dtype=bool))
        blocks["settlement"].append(np.full(n, settlement, dtype=np.int64))
        blocks["expiry_s"].append(np.broadcast_to(np.asarray(expiry_s, dtype=float), (n,)).copy())
        blocks["strike"].append(np.broadcast_to(np.asarray(strike, dtype=float), (n,)).copy())
        blocks["is_call"].append(np.broadcast_to(np.asarray(is_call, dtype=bool), (n,)).copy())

    # Spot pairs, perpetuals and dated futures.
    for u, spec in enumerate(UNDERLYINGS):
        add([f"{spec.name}_USDC"], SPOT, u, False, USDC)
        if spec.name != "SOL":
            add([f"{spec.name}_USDT"], SPOT, u, False, USDT)
        add([f"{spec.name}-PERPETUAL"], PERPETUAL, u, True, u)
        add([f"{spec.name}_USDC-PERPETUAL"], PERPETUAL, u, False, USDC)
        for inverse in (True, False) if spec.coin_settled else (False,):
            for day in fut_exp:
                add([f"{_prefix(spec, inverse)}-{expiry_code(day)}"], FUTURE, u, inverse,
                    u if inverse else USDC, expiry_s=day.timestamp())
    n_non_option = sum(len(b) for b in blocks["ids"])

    # Options: strike density from the instrument budget.
    target = 400 if n_instruments_target is None else int(n_instruments_target)
    option_budget = max(target - n_non_option, 4 * len(series_specs) * len(opt_exp))
    n_strikes = max(2, int(round(option_budget / (2 * len(series_specs) * len(opt_exp)))))
    strike_grid = {}
    for u, spec in enumerate(UNDERLYINGS):
        for day in opt_exp:
            tau = (day.timestamp() - as_of_s) / SECONDS_PER_YEAR
            fwd = spec.price * np.exp(spec.basis_rate * tau)
            strike_grid[u, day] = strikes_for(spec, fwd, tau, n_strikes)
    for u, inverse in series_specs:
        spec = UNDERLYINGS[u]
        for day in opt_exp:
            strikes = strike_grid[u, day]
            stem = f"{_prefix(spec, inverse)}-{expiry_code(day)}-"
            text = np.char.add(stem, _strike_text(strikes))
            for right, is_call in (("C", True), ("P", False)):
                add(np.char.add(text, f"-{right}"), OPTION, u, inverse, u if inverse else USDC,
                    expiry_s=day.timestamp(), strike=strikes, is_call=is_call)

    cat = {k: np.concatenate(v) for k, v in blocks.items()}
    cat["ids"] = cat["ids"].astype(f"U{max(1, max(len(i) for i in cat['ids']))}")  # no padding beyond
    kind, under, inverse = cat["kind"], cat["underlying"], cat["inverse"]
    is_option = kind == OPTION
    dated = (kind == FUTURE) | is_option
    tau = np.where(dated, (cat["expiry_s"] - as_of_s) / SECONDS_PER_YEAR, 0.0)
    spot = ASSET_PRICES[under]
    basis_rate = np.array([s.basis_rate for s in UNDERLYINGS])[under]
    n = kind.shape[0]

    # Marks: perpetuals a hair above index (positive funding), futures on the curve with noise.
    noise = rng.normal(0.0, 1.0, n)
    perp_mark = spot * (1.0 + 0.0002 + 0.0003 * noise)
    future_mark = spot * np.exp(basis_rate * tau) * (1.0 + 0.0005 * noise)
    option_forward = spot * np.exp(basis_rate * tau)
    forward = np.select([kind == PERPETUAL, kind == FUTURE, is_option],
                        [perp_mark, future_mark, option_forward], default=spot)

    surfaces = {spec.name: smile_surface(spec) for spec in UNDERLYINGS}
    strike = cat["strike"]
    vol = np.zeros(n)
    for u, spec in enumerate(UNDERLYINGS):
        sel = is_option & (under == u)
        vol[sel] = surfaces[spec.name].vol(tau[sel], strike[sel] / forward[sel])
    # About 15 % of the options carry their own quoted vol, a little off the surface.
    quoted = is_option & (rng.random(n) < 0.15)
    vol = np.where(quoted, vol * np.exp(rng.normal(0.0, 0.03, n)), vol)

    is_call = cat["is_call"]
    safe_strike = np.where(is_option, strike, 1.0)
    premium = black76_price(forward, safe_strike, tau, vol, is_call)
    greeks = black76_greeks(forward, safe_strike, tau, vol, is_call)
    value_usd = np.where(is_option, premium, forward)
    delta = np.where(is_option, greeks["delta"], 1.0)

    linear_lot = np.array([s.linear_lot for s in UNDERLYINGS])[under]
    option_lot = np.array([s.option_lot for s in UNDERLYINGS])[under]
    lot = np.where(is_option, option_lot, np.where(inverse, INVERSE_FUTURE_LOT_USD, linear_lot))
    series = np.where(is_option, 2 * under + (~inverse).astype(np.int64), -1)

    universe = Universe(
        ids=cat["ids"], kind=kind, underlying=under, inverse=inverse, settlement=cat["settlement"],
        expiry_s=np.where(dated, cat["expiry_s"], np.nan), strike=np.where(is_option, strike, np.nan),
        is_call=is_call & is_option, tau=tau, forward=forward, vol=np.where(is_option, vol, 0.0),
        value_usd=value_usd, delta=delta, lot=lot, series=series,
    )
    ids = universe.ids
    delta_one = (kind == PERPETUAL) | (kind == FUTURE)
    market = MarketSnapshot(
        as_of=as_of,
        index={a: float(p) for a, p in zip(ASSETS, ASSET_PRICES, strict=True)},
        marks={str(i): float(m) for i, m in zip(ids[delta_one], forward[delta_one], strict=True)},
        vols={str(i): float(v) for i, v in zip(ids[quoted], vol[quoted], strict=True)},
        surfaces=surfaces,
        rates={spec.name: spec.basis_rate for spec in UNDERLYINGS},
    )
    return universe, market

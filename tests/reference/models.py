"""Plain-Python, per-account and per-position reference implementation of ccm's metrics.

This module is a *second implementation* of the contract in DESIGN.md §2 and of the formulas stated in
the docstrings of ``ccm.risk.haircut``, ``ccm.risk.margin.{standard,portfolio,lending}``,
``ccm.risk.coverage`` and ``ccm.risk.distance``. It is written the slow, obvious way — scalar ``math``
code, one account and one position at a time, its own Black-76 on ``math.erfc`` — so that the
vectorised engine can be checked against it. It deliberately imports nothing from ``ccm.pricing`` or
``ccm.risk`` except the configuration dataclasses of ``ccm.risk.config`` (data, not code under test);
instruments and accounts are the ``ccm.book`` value objects.

Used by
-------
- the tests under ``tests/pricing`` and ``tests/risk`` (hand-worked examples run against both the engine
  and this reference; the property-based cross-check in ``tests/risk/test_risk_property.py``);
- ``benchmarks/bench_metrics.py``, which times the engine against :func:`reference_metrics`
  (``reference_metrics(instruments, accounts, market_prices, vols, as_of, config) -> list[dict]``, one
  dict per account with keys ``equity``, ``collateral_value``, ``adjusted_equity``, ``initial_margin``,
  ``maintenance_margin``, ``coverage_ratio`` (NaN when the requirement is 0, JSON null) and ``status``
  (the :class:`ccm.enums.Status` string)). It handles ~2,000 instruments × 1,000 accounts in seconds:
  per-instrument values and risk-matrix vectors are cached, everything else is per-account arithmetic.

Conventions mirrored from the engine (each is documented in the module named):

- quantities: linear instruments and all options in units of the underlying; inverse futures and
  perpetuals in USD notional (``ccm.book.instruments``); positions of one account in the same
  instrument are netted;
- forwards: a future's or perpetual's mark when given, else S·e^{rτ} (r = 0 unless given); options are
  valued with undiscounted Black-76 on that forward, inverse options in coin (÷F); expired options
  (τ ≤ 0) at intrinsic value (``ccm.pricing.market_state``, ``ccm.pricing.contracts``);
- futures P&L: linear q·(F − entry), inverse q·(1/entry − 1/F) coin; without an entry price the position
  is settled at the current forward (P&L 0 now, but it moves under a price move) (``ccm.risk.context``);
- a "move" m multiplies every non-stable asset price and every forward on a non-stable underlying by
  (1 + m); vols stay fixed (``ccm.risk.distance``);
- lending accounts value collateral without haircut (``ccm.risk.context.account_equity``);
- roll shock: spot positions carry none and are not netted with perpetuals (the ``_roll_rate`` of
  ``ccm.risk.margin.portfolio`` gives spot rate 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ccm.book.instruments import Account, Instrument
from ccm.enums import InstrumentType, MarginModelName, OptionRight, Settlement, Status
from ccm.lending.rules import LendingParams
from ccm.risk.config import AssetRisk, PortfolioParams, RiskConfig, StandardParams

SECONDS_PER_YEAR = 365.0 * 86400.0
_SQRT2 = math.sqrt(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)

__all__ = [
    "ReferenceMarket",
    "ReferenceModel",
    "black76",
    "black76_delta",
    "haircut_value",
    "norm_cdf",
    "reference_metrics",
    "tiered_value",
]


# --------------------------------------------------------------------------------------------------
# Scalar Black-76
# --------------------------------------------------------------------------------------------------
#: The contract's floor (DESIGN.md §2 via ccm.risk.coverage): requirements below 1e-9 USD count as none.
REQUIREMENT_FLOOR_USD = 1e-9


def norm_cdf(x: float) -> float:
    """Standard normal CDF via erfc (accurate in both tails)."""
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / _SQRT_2PI


def black76(forward: float, strike: float, tau: float, vol: float, is_call: bool, discount: float = 1.0) -> float:
    """Black-76 value of a European option on a forward; intrinsic on the forward when τ ≤ 0 or σ ≤ 0."""
    if tau <= 0.0 or vol <= 0.0:
        intrinsic = forward - strike if is_call else strike - forward
        return discount * max(intrinsic, 0.0)
    s = vol * math.sqrt(tau)
    d1 = (math.log(forward / strike) + 0.5 * s * s) / s
    d2 = d1 - s
    if is_call:
        return discount * (forward * norm_cdf(d1) - strike * norm_cdf(d2))
    return discount * (strike * norm_cdf(-d2) - forward * norm_cdf(-d1))


def black76_delta(forward: float, strike: float, tau: float, vol: float, is_call: bool) -> float:
    """∂V/∂F (undiscounted); the intrinsic payoff's delta (±1 in the money, else 0) when expired."""
    if tau <= 0.0 or vol <= 0.0:
        if is_call:
            return 1.0 if forward > strike else 0.0
        return -1.0 if forward < strike else 0.0
    s = vol * math.sqrt(tau)
    d1 = (math.log(forward / strike) + 0.5 * s * s) / s
    return norm_cdf(d1) if is_call else norm_cdf(d1) - 1.0


# --------------------------------------------------------------------------------------------------
# Haircuts
# --------------------------------------------------------------------------------------------------
def tiered_value(value: float, tiers: Sequence) -> float:
    """Σ_k rate_k · |[lower_k, upper_k] ∩ [0, value]|; value above the last finite bound counts at 0."""
    total = 0.0
    lower = 0.0
    for tier in tiers:
        upper = float(tier.up_to_usd)
        if value > lower:
            total += tier.rate * (min(value, upper) - lower)
        lower = upper
    return total


def haircut_value(quantity: float, price: float, risk: AssetRisk, z: float) -> float:
    """USD value of one balance after haircut (``ccm.risk.haircut`` docstring); borrowings at full value."""
    value = quantity * price
    if value <= 0.0:
        return value
    h_vol = z * risk.volatility * math.sqrt(risk.liquidation_days / 365.0) if risk.volatility is not None else 0.0
    h = min(1.0, max(risk.haircut, h_vol))
    if risk.adv_usd and risk.volatility is not None:
        h += risk.impact_coefficient * (risk.volatility / math.sqrt(365.0)) * math.sqrt(value / risk.adv_usd)
    h = min(1.0, h)
    after = value * (1.0 - h)
    if risk.tiers:
        after *= tiered_value(value, risk.tiers) / value
    return after


# --------------------------------------------------------------------------------------------------
# Market and contracts
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReferenceMarket:
    """Index prices (USD per asset), per-option vols, the valuation time; optional rates and marks.

    ``marks`` holds futures/perpetual marks (USD per unit of underlying) only.
    """

    prices: Mapping[str, float]
    vols: Mapping[str, float]
    as_of: datetime
    rates: Mapping[str, float] = field(default_factory=dict)
    marks: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Contract:
    id: str
    kind: InstrumentType
    underlying: str
    settle: str
    inverse: bool
    strike: float
    is_call: bool
    expiry_s: float | None
    tau: float
    vol: float
    forward: float  # base forward, USD per unit of underlying

    @property
    def is_option(self) -> bool:
        return self.kind is InstrumentType.OPTION

    @property
    def is_delta_one_future(self) -> bool:
        return self.kind in (InstrumentType.FUTURE, InstrumentType.PERPETUAL)

    def value(self, forward: float, vol: float) -> float:
        """One unit's value in settlement units at ``forward`` (``ccm.pricing.contracts`` docstring)."""
        if self.is_option:
            usd = black76(forward, self.strike, self.tau, vol, self.is_call)
            return usd / forward if self.inverse else usd
        return -1.0 / forward if self.inverse else forward

    def delta(self, forward: float) -> float:
        """Coin delta of one unit: 1 linear, 1/F inverse future, BS delta (− coin mark if inverse) options."""
        if self.is_option:
            d = black76_delta(forward, self.strike, self.tau, self.vol, self.is_call)
            if self.inverse:
                d -= black76(forward, self.strike, self.tau, self.vol, self.is_call) / forward
            return d
        return 1.0 / forward if self.inverse else 1.0


@dataclass
class _Holding:
    contract: _Contract
    quantity: float = 0.0
    entry_amount: float = 0.0  # priced trades: linear −q·entry, inverse +q/entry (settlement units)
    unpriced: float = 0.0  # quantity without entry price (settled at the current forward)

    @property
    def entry_total(self) -> float:
        c = self.contract
        if not c.is_delta_one_future:
            return 0.0
        settle_at_mark = self.unpriced / c.forward if c.inverse else -self.unpriced * c.forward
        return self.entry_amount + settle_at_mark


def _lookup(table: Mapping, key: str, default=None):
    if key in table:
        return table[key]
    if "default" in table:
        return table["default"]
    if default is not None:
        return default
    raise KeyError(f"no parameters for {key!r}")


# --------------------------------------------------------------------------------------------------
# The reference model
# --------------------------------------------------------------------------------------------------
class ReferenceModel:
    """Per-account metrics, scalar and loop-based. Build once per (instruments, market, config)."""

    def __init__(self, instruments: Sequence[Instrument], market: ReferenceMarket, config: RiskConfig) -> None:
        self.market = market
        self.config = config
        self.contracts: dict[str, _Contract] = {}
        as_of_s = market.as_of.timestamp()
        for ins in instruments:
            expiry_s = ins.expiry.timestamp() if ins.expiry is not None else None
            tau = (expiry_s - as_of_s) / SECONDS_PER_YEAR if expiry_s is not None else 0.0
            spot = float(market.prices[ins.underlying])
            kind = InstrumentType(ins.type)
            if kind in (InstrumentType.FUTURE, InstrumentType.PERPETUAL) and ins.id in market.marks:
                forward = float(market.marks[ins.id])
            else:
                forward = spot * math.exp(market.rates.get(ins.underlying, 0.0) * max(tau, 0.0))
            is_option = kind is InstrumentType.OPTION
            vol = float(market.vols[ins.id]) if is_option and tau > 0 else 0.0
            self.contracts[ins.id] = _Contract(
                id=ins.id,
                kind=kind,
                underlying=ins.underlying,
                settle=ins.settlement_asset,
                inverse=Settlement(ins.settlement) is Settlement.INVERSE,
                strike=float(ins.strike) if is_option else 0.0,
                is_call=is_option and OptionRight(ins.right) is OptionRight.CALL,
                expiry_s=expiry_s,
                tau=tau,
                vol=vol,
                forward=forward,
            )
        self._pnl_cache: dict[tuple[str, float], list[float]] = {}

    # -- parameters -----------------------------------------------------------------------------
    def asset_risk(self, asset: str) -> AssetRisk:
        return _lookup(self.config.assets, asset, AssetRisk())

    def standard_params(self, underlying: str) -> StandardParams:
        return _lookup(self.config.standard, underlying)

    def portfolio_params(self, underlying: str) -> PortfolioParams:
        return _lookup(self.config.portfolio, underlying)

    def lending_params(self, asset: str) -> LendingParams:
        return _lookup(self.config.lending, asset, LendingParams())

    def model_of(self, account: Account) -> MarginModelName:
        return MarginModelName(account.margin_model or self.config.default_model)

    # -- moved market ---------------------------------------------------------------------------
    def moves_with_market(self, asset: str) -> bool:
        return not self.asset_risk(asset).stable

    def price(self, asset: str, move: float) -> float:
        p = float(self.market.prices[asset])
        return p * (1.0 + move) if self.moves_with_market(asset) else p

    def forward(self, c: _Contract, move: float) -> float:
        return c.forward * (1.0 + move) if self.moves_with_market(c.underlying) else c.forward

    # -- holdings -------------------------------------------------------------------------------
    def holdings(self, account: Account) -> list[_Holding]:
        """The account's positions netted per instrument (order of first appearance)."""
        out: dict[str, _Holding] = {}
        for p in account.positions:
            c = self.contracts[p.instrument]
            h = out.setdefault(p.instrument, _Holding(contract=c))
            h.quantity += p.quantity
            if c.is_delta_one_future:
                if p.entry_price is None:
                    h.unpriced += p.quantity
                else:
                    h.entry_amount += p.quantity / p.entry_price if c.inverse else -p.quantity * p.entry_price
        return list(out.values())

    # -- equity ---------------------------------------------------------------------------------
    def equity_parts(self, account: Account, move: float = 0.0) -> dict[str, float]:
        """collateral_raw, collateral_value (after haircut; raw for lending accounts), position_value."""
        lending = self.model_of(account) is MarginModelName.LENDING
        z = self.config.haircut_confidence_z
        raw = cut = 0.0
        for asset, qty in account.collateral.items():
            if qty == 0:
                continue
            p = self.price(asset, move)
            raw += qty * p
            cut += qty * p if lending else haircut_value(qty, p, self.asset_risk(asset), z)
        positions = 0.0
        for h in self.holdings(account):
            c = h.contract
            value = c.value(self.forward(c, move), c.vol)
            positions += (h.quantity * value + h.entry_total) * self.price(c.settle, move)
        return {"collateral_raw": raw, "collateral_value": cut, "position_value": positions}

    # -- standard margin ------------------------------------------------------------------------
    def standard_margin_of(self, h: _Holding, move: float = 0.0) -> tuple[float, float]:
        """(IM, MM) in USD of one netted position under the standard model."""
        c, q = h.contract, h.quantity
        if q == 0.0:
            return 0.0, 0.0
        prm = self.standard_params(c.underlying)
        spot = self.price(c.underlying, move)
        fwd = self.forward(c, move)
        settle = self.price(c.settle, move)
        if c.is_delta_one_future or (c.kind is InstrumentType.SPOT and q < 0):
            size = abs(q) / fwd if c.inverse else abs(q)
            notional = abs(q) / fwd if c.inverse else abs(q) * fwd
            im = notional * (prm.future_im_base + size * prm.future_size_slope)
            mm = notional * (prm.future_mm_base + size * prm.future_size_slope)
        elif c.is_option:
            mark = c.value(fwd, c.vol)
            if q > 0:
                im, mm = q * mark, 0.0
            else:
                otm = max(c.strike - spot, 0.0) if c.is_call else max(spot - c.strike, 0.0)
                if c.inverse:
                    base_im = max(prm.option_im_max - otm / spot, prm.option_im_min) + mark
                    call_mm = prm.option_mm + mark
                    put_mm = max(prm.option_mm, prm.option_mm * mark) + mark
                else:
                    base_im = max(prm.option_im_max * spot - otm, prm.option_im_min * spot) + mark
                    call_mm = prm.option_mm * spot + mark
                    put_mm = max(prm.option_mm * spot, prm.option_mm * mark) + mark
                unit_im = base_im if c.is_call else max(base_im, put_mm)
                unit_mm = call_mm if c.is_call else put_mm
                im, mm = -q * unit_im, -q * unit_mm
        else:  # long spot
            im = mm = 0.0
        return im * settle, mm * settle

    def standard_margin(self, account: Account, move: float = 0.0) -> tuple[float, float]:
        im = mm = 0.0
        for h in self.holdings(account):
            a, b = self.standard_margin_of(h, move)
            im += a
            mm += b
        return im, mm

    # -- portfolio margin -----------------------------------------------------------------------
    @staticmethod
    def scenarios(prm: PortfolioParams) -> list[tuple[float, int, float, bool]]:
        """(move, vol kind +1/0/−1, P&L weight, extended?) for the 27 + 8 risk-matrix cells."""
        out = []
        for k in range(-prm.buckets, prm.buckets + 1):
            m = prm.price_range * k / prm.buckets
            for kind in (1, 0, -1):
                out.append((m, kind, 1.0, False))
        for m in prm.extended_moves:
            sign = 1.0 if m > 0 else -1.0
            w = prm.extended_table_factor * prm.price_range / abs(m) * (1.0 + m) / (1.0 + sign * prm.price_range)
            out.append((m, 1, w, True))
        return out

    @staticmethod
    def shocked_vol(vol: float, tau: float, kind: int, prm: PortfolioParams) -> float:
        if kind == 0:
            return vol
        dte = max(tau * 365.0, prm.min_dte_days)
        power = prm.vega_power_short if dte < 30.0 else prm.vega_power_long
        term = (30.0 / dte) ** power
        if kind > 0:
            return max(vol * (1.0 + prm.vol_up * term), prm.min_vol_up)
        return max(vol * (1.0 - prm.vol_down * term), 0.0)

    def unit_scenario_pnl(self, c: _Contract, move: float) -> list[float]:
        """Unweighted P&L of one unit in every cell, settlement units, around the moved base forward."""
        key = (c.id, move)
        cached = self._pnl_cache.get(key)
        if cached is not None:
            return cached
        if len(self._pnl_cache) > 500_000:
            self._pnl_cache.clear()
        prm = self.portfolio_params(c.underlying)
        fwd = self.forward(c, move)
        base = c.value(fwd, c.vol)
        out = []
        for m, kind, _w, _ext in self.scenarios(prm):
            out.append(c.value(fwd * (1.0 + m), self.shocked_vol(c.vol, c.tau, kind, prm)) - base)
        self._pnl_cache[key] = out
        return out

    def risk_vectors(self, account: Account, move: float = 0.0) -> dict[tuple[str, str], list[float]]:
        """Per (underlying, settlement asset): the aggregated, weighted, damped and offset cell P&L."""
        groups: dict[tuple[str, str], list[_Holding]] = {}
        for h in self.holdings(account):
            groups.setdefault((h.contract.underlying, h.contract.settle), []).append(h)
        out = {}
        for (under, settle), hs in groups.items():
            prm = self.portfolio_params(under)
            cells = self.scenarios(prm)
            settle_price = self.price(settle, move)
            vector = []
            for j, (m, _kind, w, ext) in enumerate(cells):
                total = 0.0
                for h in hs:
                    total += h.quantity * self.unit_scenario_pnl(h.contract, move)[j]
                total *= w
                if ext:
                    excess = max(abs(m) / prm.price_range, 1.0) - 1.0
                    edge = 1.0 + math.copysign(prm.price_range, m) if settle == under else 1.0
                    damp = prm.extended_dampener * excess / (settle_price * edge)
                    total = math.copysign(max(0.0, abs(total) - damp), total) if total != 0.0 else 0.0
                if total > 0.0:
                    total *= prm.pnl_offset
                vector.append(total)
            out[(under, settle)] = vector
        return out

    def roll_shock_coin(self, account: Account, move: float = 0.0) -> dict[tuple[str, str], float]:
        """Roll shock per (underlying, settlement asset) in coins: Σ_expiry rate × |net coin delta|."""
        buckets: dict[tuple[str, str, float | None], list[float]] = {}
        for h in self.holdings(account):
            c = h.contract
            if c.kind is InstrumentType.SPOT:
                continue
            prm = self.portfolio_params(c.underlying)
            if c.kind is InstrumentType.PERPETUAL:
                rate = prm.min_annualised_move
            else:
                rate = max(prm.min_annualised_move, prm.annualised_move_risk * max(c.tau, 0.0))
            b = buckets.setdefault((c.underlying, c.settle, c.expiry_s), [0.0, rate])
            b[0] += h.quantity * c.delta(self.forward(c, move))
        out: dict[tuple[str, str], float] = {}
        for (under, settle, _exp), (net, rate) in buckets.items():
            out[(under, settle)] = out.get((under, settle), 0.0) + abs(net) * rate
        return out

    def portfolio_margin(self, account: Account, move: float = 0.0) -> tuple[float, float]:
        """Worst case per underlying (groups added scenario by scenario in USD under cross_settlement,
        else per group), plus the roll shock of every group; MM = mm_factor × each part."""
        vectors = self.risk_vectors(account, move)
        roll = self.roll_shock_coin(account, move)
        combined: dict[tuple[str, str], list[float]] = {}
        for (under, settle), vector in vectors.items():
            prm = self.portfolio_params(under)
            key = (under, "*") if prm.cross_settlement else (under, settle)
            usd = [x * self.price(settle, move) for x in vector]
            if key in combined:
                combined[key] = [a + b for a, b in zip(combined[key], usd, strict=True)]
            else:
                combined[key] = usd
        im = mm = 0.0
        for (under, _), vector in combined.items():
            worst = max(0.0, -min(vector))
            im += worst
            mm += self.portfolio_params(under).mm_factor * worst
        for (under, _settle), coins in roll.items():
            shock = coins * self.price(under, move)
            im += shock
            mm += self.portfolio_params(under).mm_factor * shock
        return im, mm

    # -- lending --------------------------------------------------------------------------------
    def lending_balances(self, account: Account, move: float = 0.0) -> tuple[float, float, float]:
        """(Σ collateral × LT, Σ collateral × LTV, debt), USD."""
        weighted_lt = weighted_ltv = debt = 0.0
        for asset, qty in account.collateral.items():
            v = qty * self.price(asset, move)
            if v > 0:
                prm = self.lending_params(asset)
                weighted_lt += v * prm.liquidation_threshold
                weighted_ltv += v * prm.ltv
            else:
                debt -= v
        return weighted_lt, weighted_ltv, debt

    def health_factor(self, account: Account, move: float = 0.0) -> float:
        lt, _, debt = self.lending_balances(account, move)
        return lt / debt if debt > 0 else math.inf

    def lending_margin(self, account: Account, move: float = 0.0) -> tuple[float, float]:
        im = mm = 0.0
        debt = self.lending_balances(account, move)[2]
        if debt > 0:
            for asset, qty in account.collateral.items():
                v = qty * self.price(asset, move)
                if v > 0:
                    prm = self.lending_params(asset)
                    im += v * (1.0 - prm.ltv)
                    mm += v * (1.0 - prm.liquidation_threshold)
        d_im, d_mm = self.standard_margin(account, move)
        return im + d_im, mm + d_mm

    # -- requirement, coverage ------------------------------------------------------------------
    def margin(self, account: Account, move: float = 0.0) -> tuple[float, float]:
        model = self.model_of(account)
        if model is MarginModelName.PORTFOLIO:
            return self.portfolio_margin(account, move)
        if model is MarginModelName.LENDING:
            return self.lending_margin(account, move)
        return self.standard_margin(account, move)

    def excess(self, account: Account, move: float = 0.0) -> float:
        parts = self.equity_parts(account, move)
        return parts["collateral_value"] + parts["position_value"] - self.margin(account, move)[1]

    def status(self, adjusted_equity: float, coverage: float) -> Status:
        t = self.config.thresholds
        cov = math.inf if math.isnan(coverage) else coverage
        if adjusted_equity < 0:
            return Status.BANKRUPT
        if cov < t.liquidation:
            return Status.LIQUIDATION
        if cov < t.margin_call:
            return Status.MARGIN_CALL
        if cov < t.warning:
            return Status.WARNING
        return Status.HEALTHY

    def metrics(self, account: Account) -> dict:
        parts = self.equity_parts(account)
        im, mm = self.margin(account)
        ae = parts["collateral_value"] + parts["position_value"]
        coverage = ae / mm if mm > REQUIREMENT_FLOOR_USD else math.nan
        hf = self.health_factor(account) if self.model_of(account) is MarginModelName.LENDING else math.nan
        return {
            "account": account.id,
            "equity": parts["collateral_raw"] + parts["position_value"],
            "collateral_value": parts["collateral_value"],
            "adjusted_equity": ae,
            "initial_margin": im,
            "maintenance_margin": mm,
            "coverage_ratio": coverage,
            "initial_coverage_ratio": ae / im if im > REQUIREMENT_FLOOR_USD else math.nan,
            "excess": ae - mm,
            "available": ae - im,
            "status": self.status(ae, coverage).value,
            "health_factor": hf if math.isfinite(hf) else math.nan,
        }

    # -- distance to liquidation ----------------------------------------------------------------
    def distance(self, account: Account, direction: int, *, step: float = 0.005, tol: float = 1e-9) -> float:
        """Smallest |m| (m = direction·|m|) with adjusted equity − MM < 0: a fine scan, then bisection.

        0 when already below coverage 1; NaN when coverage stays ≥ 1 up to ``config.distance.max_move``.
        """
        max_move = self.config.distance.max_move
        if self.excess(account, 0.0) < 0:
            return 0.0
        n = max(1, math.ceil(max_move / step - 1e-12))
        lo = 0.0
        for i in range(1, n + 1):
            hi = min(i * step, max_move)
            if self.excess(account, direction * hi) < 0:
                while hi - lo > tol:
                    mid = 0.5 * (lo + hi)
                    if self.excess(account, direction * mid) < 0:
                        hi = mid
                    else:
                        lo = mid
                return 0.5 * (lo + hi)
            lo = hi
        return math.nan


def reference_metrics(
    instruments: Sequence[Instrument],
    accounts: Sequence[Account],
    market_prices: Mapping[str, float],
    vols: Mapping[str, float],
    as_of: datetime,
    config: RiskConfig,
    *,
    rates: Mapping[str, float] | None = None,
    marks: Mapping[str, float] | None = None,
) -> list[dict]:
    """Per-account metrics (one dict per account, in order): equity, collateral_value, adjusted_equity,
    initial_margin, maintenance_margin, coverage_ratio (NaN when unbounded), status (string), plus
    account, initial_coverage_ratio, excess, available and health_factor (NaN unless lending).

    ``market_prices``: USD index per asset; ``vols``: implied vol per live option id; ``rates`` (per
    underlying) and ``marks`` (futures/perpetuals, USD) are optional.
    """
    market = ReferenceMarket(prices=market_prices, vols=vols, as_of=as_of, rates=rates or {}, marks=marks or {})
    model = ReferenceModel(instruments, market, config)
    return [model.metrics(account) for account in accounts]

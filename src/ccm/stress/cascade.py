"""Liquidation cascade with square-root market impact (reference/defi.md §4, ccp.md §7).

A shock moves the market; every account whose adjusted equity is below its maintenance margin
(coverage < 1) is liquidated entirely; the liquidations of a round are sold into the market, which moves
prices by a square-root impact law and may breach more accounts. Rounds repeat to a fixed point.

Model, per round k (prices ``p`` = the prices after round k − 1; round 0 = right after the shock):

1. **Breach.** Adjusted equity and maintenance margin of every account are recomputed on the market
   moved to ``p`` (:func:`moved_context`); accounts not yet liquidated with ``adjusted_equity <
   maintenance`` are liquidated in this round.
2. **What is sold.** Liquidating an account takes its whole exposure to zero. Its exposure to asset a, in
   coins, is the sensitivity of its USD value to the price of a (``∂V/∂p_a``):
   collateral balance of a (negative = borrowed, bought back)
   + Σ over positions on underlying a of q × unit_delta × basis × settle_price (÷ F for inverse contracts)
   + Σ over positions settled in a of (q × unit_value + entry side) (the realised coin P&L of inverse
   contracts). So a long linear perp sells q coins; a long inverse perp on coin collateral sells the coin
   collateral plus its entry-side coins q/F_entry (Deribit delta q/F plus the realised coin P&L).
   ``x_ia = exposure × p_a`` is the USD notional account i sells (> 0) or buys (< 0) at the pre-sale
   price. Stablecoins are cash: they are not sold and not moved.
3. **Impact.** The liquidations of a round are crossed against each other first; only the net notional
   ``N_a = Σ_i x_ia`` hits the order book and moves the price:

       Δp/p = −sign(N_a) × Y_a × σ_a/√365 × √(|N_a| / (ADV_a × liquidity_multiplier_a))

   with Y_a = ``impact_coefficient``, σ_a = ``volatility``, ADV_a = ``adv_usd`` of ``config.assets.<a>``
   (the same law as the haircut's liquidity add-on). Assets without ``adv_usd`` or ``volatility``, and
   stablecoins, do not move. The move is clipped to [−MAX_FALL, +MAX_RISE] (:mod:`ccm.market.impact`) so
   prices stay positive.
4. **Impact cost.** The net is executed by walking a linear order book from p to p(1 + Δ), so its
   average price is p(1 + Δ/2): the impact cost of the round is ``|N_a| × |Δ_a| / 2``. It is borne by the
   accounts on the net side, pro rata to their notional on that side; the crossed part trades at p.
   Value conservation: Σ_a N_a (collateral sold at the pre-sale marks) = proceeds + impact cost.
5. **After the sale.** A liquidated account ends with its adjusted equity at the pre-sale prices minus its
   share of the impact cost. The haircut is kept as the venue's recovery assumption (what DESIGN.md §2
   counts on recovering), so with no impact the cascade's bad debt equals the static uncovered loss
   ``Σ max(0, −adjusted equity)`` after the shock; the size add-on of the haircut and the explicit impact
   overlap (conservative).

Stop when a round liquidates no one (fixed point), when a round's price move revalues the gross exposure
of the surviving accounts by less than ``tolerance_usd`` (Σ_a |Δp_a| × Σ_alive |exposure_ia|), or after
``max_rounds`` rounds.

Moved markets: :func:`moved_market` scales the resolved :class:`MarketState` (index, spot, settlement
prices; basis, expiries kept; implied vols × (1 + vol shift)) and re-prices unit values and deltas;
:func:`moved_context` swaps it into the RiskContext with ``dataclasses.replace``, keeping ``entry_total``
(so positions without an entry price keep their P&L against the base mark, as in
``scenario_adjusted_equity``; ``RiskContext.build`` on a moved snapshot would reset it to 0) and giving it
haircuts with the shock's haircut and liquidity multipliers and an empty cache. Every risk function
(valuation, every margin model) then runs unchanged at the moved prices.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ccm._typing import FloatArray, IntArray
from ccm.book.instruments import InstrumentTable
from ccm.market.impact import impact_move
from ccm.pricing.contracts import unit_delta, unit_value
from ccm.pricing.market_state import MarketState
from ccm.risk.context import RiskContext, account_equity
from ccm.risk.haircut import HaircutTable
from ccm.risk.margin import margin_requirement
from ccm.scenario.base import ScenarioSet

FIXED_POINT = "fixed-point"
TOLERANCE = "tolerance"
MAX_ROUNDS = "max-rounds"


@dataclass(frozen=True, slots=True, kw_only=True)
class CascadeResult:
    """Outcome of a liquidation cascade (USD; n_rounds = ``rounds``).

    Attributes
    ----------
    assets : tuple of str, the columns of the per-asset arrays (the book's assets).
    account_ids : ndarray of str (n_accounts,).
    rounds : rounds in which accounts were liquidated.
    liquidated : per round, int64 rows of the accounts liquidated in it.
    liquidated_round : int64 (n_accounts,), the round (1-based) an account was liquidated in; 0 = never.
    price_path : (n_rounds + 1, n_assets) USD prices; row 0 right after the shock, row k after round k.
    sold_usd : (n_rounds, n_assets) net notional put to the market per round at the pre-sale price
        (> 0 sold, < 0 bought; 0 for stablecoins).
    gross_sold_usd : (n_rounds, n_assets) Σ over liquidated accounts of |notional| (before crossing).
    proceeds_usd : (n_rounds, n_assets) what the net was executed for (sold_usd − impact cost).
    impact_cost_by_round : (n_rounds, n_assets) |net| × |Δp/p| / 2.
    final_equity : (n_accounts,) liquidated accounts: adjusted equity at the pre-sale prices minus their
        impact cost; others: adjusted equity at the final prices.
    bad_debt_usd : Σ max(0, −final equity) over liquidated accounts.
    no_cascade_bad_debt_usd : Σ max(0, −adjusted equity) over all accounts right after the shock.
    pending : accounts breached at the final prices but not liquidated (stopped by tolerance or rounds).
    stop_reason : "fixed-point" | "tolerance" | "max-rounds".
    """

    assets: tuple[str, ...]
    account_ids: np.ndarray
    rounds: int
    liquidated: tuple[IntArray, ...]
    liquidated_round: IntArray
    price_path: FloatArray
    sold_usd: FloatArray
    gross_sold_usd: FloatArray
    proceeds_usd: FloatArray
    impact_cost_by_round: FloatArray
    final_equity: FloatArray
    bad_debt_usd: float
    no_cascade_bad_debt_usd: float
    pending: int
    stop_reason: str

    @property
    def converged(self) -> bool:
        return self.stop_reason != MAX_ROUNDS

    @property
    def liquidated_notional_usd(self) -> float:
        """Σ over rounds, accounts and non-stable assets of |notional sold or bought| (before crossing)."""
        return float(self.gross_sold_usd.sum())

    @property
    def impact_cost_usd(self) -> float:
        return float(self.impact_cost_by_round.sum())

    @property
    def accounts_liquidated(self) -> int:
        return int(np.count_nonzero(self.liquidated_round))

    @property
    def additional_bad_debt_usd(self) -> float:
        """Bad debt the cascade adds to the static (no-cascade) figure."""
        return self.bad_debt_usd - self.no_cascade_bad_debt_usd


# -- moved markets ------------------------------------------------------------------------------------

def moved_market(
    market: MarketState,
    instruments: InstrumentTable,
    price_multiplier: FloatArray,
    vol_multiplier: FloatArray | None = None,
) -> MarketState:
    """``market`` with every asset price × ``price_multiplier`` (n_assets,) and option vols × ``vol_multiplier``
    of their underlying; forwards keep their basis, unit values and deltas are re-priced."""
    pm = np.asarray(price_multiplier, dtype=float)
    spot = market.spot * pm[instruments.underlying]
    vol = market.vol if vol_multiplier is None else market.vol * np.asarray(vol_multiplier)[instruments.underlying]
    terms = dict(is_option=instruments.is_option, inverse=instruments.inverse, strike=instruments.strike,
                 tau=market.tau, vol=vol, is_call=instruments.is_call)
    forward = spot * market.basis
    return MarketState(
        as_of_s=market.as_of_s,
        asset_prices=market.asset_prices * pm,
        spot=spot,
        basis=market.basis,
        tau=market.tau,
        vol=vol,
        settle_price=market.settle_price * pm[instruments.settlement_asset],
        unit_value=unit_value(forward, **terms),
        unit_delta=unit_delta(forward, **terms),
        rate=market.rate,
        asset_confidence=market.asset_confidence,
        confidence=market.confidence,
    )


def stressed_haircuts(
    table: HaircutTable, haircut_multiplier: FloatArray | None = None, liquidity_multiplier: FloatArray | None = None
) -> HaircutTable:
    """The haircut table with base haircuts × ``haircut_multiplier`` and ADV × ``liquidity_multiplier`` (n_assets,),
    as ``risk.haircut.haircut_values`` applies them."""
    base = table.base if haircut_multiplier is None else table.base * haircut_multiplier
    liquidity = table.liquidity_scale
    if liquidity_multiplier is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            liquidity = np.where(liquidity > 0, liquidity / np.sqrt(liquidity_multiplier), 0.0)
    return replace(table, base=base, liquidity_scale=liquidity)


def moved_context(
    ctx: RiskContext,
    price_multiplier: FloatArray,
    *,
    vol_multiplier: FloatArray | None = None,
    haircuts: HaircutTable | None = None,
) -> RiskContext:
    """``ctx`` on the market moved by ``price_multiplier`` / ``vol_multiplier`` (n_assets,), optionally with
    other haircuts; positions keep their entry side (``entry_total``), the cache starts empty."""
    market = moved_market(ctx.market, ctx.book.instruments, price_multiplier, vol_multiplier)
    return replace(ctx, market=market, haircuts=ctx.haircuts if haircuts is None else haircuts, cache={})


# -- exposures and impact -----------------------------------------------------------------------------

def coin_exposure(ctx: RiskContext) -> sp.csr_matrix:
    """∂(account USD value)/∂(asset USD price) in coins, csr_matrix (n_accounts, n_assets), at ``ctx.market``.

    Collateral balances, plus per position q × unit_delta × basis × settle_price (÷ forward for inverse
    contracts) on the underlying and q × unit_value + entry side on the settlement asset.
    """
    book, mkt = ctx.book, ctx.market
    ins = book.instruments
    cols = book.positions.indices
    q = book.positions.data
    inverse = ins.inverse[cols]
    under_coins = q * mkt.unit_delta[cols] * mkt.basis[cols] * mkt.settle_price[cols] / np.where(
        inverse, mkt.forward[cols], 1.0)
    settle_coins = q * mkt.unit_value[cols] + ctx.entry_total
    bal = book.balances
    bal_rows = np.repeat(np.arange(book.n_accounts, dtype=np.int64), np.diff(bal.indptr))
    rows = np.concatenate([ctx.position_row, ctx.position_row, bal_rows])
    assets = np.concatenate([ins.underlying[cols], ins.settlement_asset[cols], bal.indices])
    data = np.concatenate([under_coins, settle_coins, bal.data])
    out = sp.csr_matrix((data, (rows, assets)), shape=(book.n_accounts, book.n_assets))
    out.sum_duplicates()
    return out


def impact_scale(ctx: RiskContext, liquidity_multiplier: FloatArray | None = None) -> FloatArray:
    """Y_a × σ_a/√365 / √(ADV_a × liquidity multiplier) per asset (n_assets,); 0 = the asset does not move
    (stablecoin, no ``adv_usd`` or no ``volatility``); +inf where the liquidity multiplier is 0."""
    lm = np.ones(ctx.book.n_assets) if liquidity_multiplier is None else np.asarray(liquidity_multiplier, float)
    out = np.zeros(ctx.book.n_assets)
    for k, asset in enumerate(ctx.book.assets):  # config lookup per asset, not per account
        s = ctx.config.asset(asset)
        if ctx.haircuts.stable[k] or not s.adv_usd or s.volatility is None:
            continue
        adv = s.adv_usd * lm[k]
        out[k] = s.impact_coefficient * s.volatility / np.sqrt(365.0) / np.sqrt(adv) if adv > 0 else np.inf
    return out


def _impact_cost_shares(notional: FloatArray, net: FloatArray, cost: FloatArray) -> FloatArray:
    """Each liquidated account's share of the round's impact cost, (n_liquidated, n_assets): accounts on the
    net side of asset a share ``cost[a]`` pro rata to their notional; the crossed side trades at the mark."""
    same = (np.sign(notional) == np.sign(net)[None, :]) & (net != 0)[None, :]
    side = np.where(same, np.abs(notional), 0.0)
    total = side.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(total > 0, side / np.where(total > 0, total, 1.0), 0.0)
    return weight * cost[None, :]


# -- the cascade ----------------------------------------------------------------------------------------

def _shock_arrays(ctx: RiskContext, shock: ScenarioSet | None) -> tuple[FloatArray, ...]:
    n = ctx.book.n_assets
    if shock is None:
        return np.ones(n), np.ones(n), np.ones(n), np.ones(n)
    if len(shock) != 1:
        raise ValueError(f"run_cascade takes one scenario, got {len(shock)}: pass shock.take([k])")
    s = shock.for_assets(ctx.book.assets, stable=ctx.haircuts.stable)
    return (1.0 + s.price_returns[0], 1.0 + s.vol_shifts[0], s.haircut_multipliers[0],
            s.liquidity_multipliers[0])


def run_cascade(
    ctx: RiskContext,
    shock: ScenarioSet | None = None,
    *,
    max_rounds: int = 50,
    tolerance_usd: float = 1.0,
) -> CascadeResult:
    """Liquidate breached accounts in rounds, moving prices by square-root impact, to a fixed point.

    Parameters
    ----------
    ctx : the book, its market before the shock, and the config (``assets.<A>.adv_usd``,
        ``impact_coefficient``, ``volatility`` set the impact).
    shock : one scenario (prices × (1 + return), vols × (1 + shift), haircut and ADV multipliers), realigned
        to the book's assets with ``for_assets``; None = no shock (the cascade from today's breaches).
    max_rounds : at most this many liquidation rounds.
    tolerance_usd : stop when a round's price move revalues the surviving accounts' gross exposure by less.

    See the module docstring for the model. Loops over rounds only; each round is whole-array work.
    """
    if max_rounds < 1:
        raise ValueError("max_rounds must be ≥ 1")
    book = ctx.book
    n, n_assets = book.n_accounts, book.n_assets
    price_mult, vol_mult, haircut_mult, liquidity_mult = _shock_arrays(ctx, shock)
    haircuts = stressed_haircuts(ctx.haircuts, haircut_mult, liquidity_mult)
    scale = impact_scale(ctx, liquidity_mult)
    cash = ~ctx.moving  # stablecoins: not sold, not moved
    base_prices = ctx.market.asset_prices

    mult = price_mult.copy()
    path = [base_prices * mult]
    liquidated: list[IntArray] = []
    liquidated_round = np.zeros(n, dtype=np.int64)
    final_equity = np.zeros(n)
    sold, gross, proceeds, costs = [], [], [], []
    no_cascade = None
    stop = MAX_ROUNDS
    current = moved_context(ctx, mult, vol_multiplier=vol_mult, haircuts=haircuts)
    state: tuple[FloatArray, FloatArray] | None = None  # (adjusted equity, maintenance) at ``current``

    for k in range(1, max_rounds + 1):
        ae = account_equity(current).adjusted_equity
        mm = margin_requirement(current).maintenance
        state = (ae, mm)
        if no_cascade is None:
            no_cascade = float(np.maximum(0.0, -ae).sum())
        breach = (liquidated_round == 0) & (ae < mm)
        if not breach.any():
            stop = FIXED_POINT
            break
        rows = np.flatnonzero(breach)
        exposure = coin_exposure(current)
        prices = current.market.asset_prices
        notional = exposure[rows].toarray() * prices[None, :]
        notional[:, cash] = 0.0
        net = notional.sum(axis=0)
        move = impact_move(net, scale)
        cost = np.abs(net) * np.abs(move) / 2.0
        shares = _impact_cost_shares(notional, net, cost)

        liquidated_round[rows] = k
        liquidated.append(rows)
        final_equity[rows] = ae[rows] - shares.sum(axis=1)
        sold.append(net)
        gross.append(np.abs(notional).sum(axis=0))
        proceeds.append(net - cost)
        costs.append(cost)

        if not np.any(move != 0.0):
            # Prices unchanged: every account breached at them is now liquidated, nothing new can breach.
            path.append(path[-1].copy())
            state = None
            stop = FIXED_POINT
            break
        mult = mult * (1.0 + move)
        path.append(base_prices * mult)
        current = moved_context(ctx, mult, vol_multiplier=vol_mult, haircuts=haircuts)
        state = None
        alive = liquidated_round == 0
        alive_exposure = np.asarray(abs(exposure[np.flatnonzero(alive)]).sum(axis=0)).ravel()
        revaluation = float(np.sum(np.abs(path[-1] - path[-2]) * alive_exposure))
        if revaluation < tolerance_usd:
            stop = TOLERANCE
            break

    if state is None:
        state = (account_equity(current).adjusted_equity, margin_requirement(current).maintenance)
    ae, mm = state
    alive = liquidated_round == 0
    final_equity[alive] = ae[alive]
    pending = int(np.count_nonzero(alive & (ae < mm)))
    rounds = len(liquidated)
    empty = np.zeros((0, n_assets))

    def stack(rows_list: list[FloatArray]) -> FloatArray:
        return np.vstack(rows_list) if rows_list else empty

    return CascadeResult(
        assets=book.assets,
        account_ids=book.account_ids,
        rounds=rounds,
        liquidated=tuple(liquidated),
        liquidated_round=liquidated_round,
        price_path=np.vstack(path),
        sold_usd=stack(sold),
        gross_sold_usd=stack(gross),
        proceeds_usd=stack(proceeds),
        impact_cost_by_round=stack(costs),
        final_equity=final_equity,
        bad_debt_usd=float(np.maximum(0.0, -final_equity[~alive]).sum()),
        no_cascade_bad_debt_usd=float(no_cascade if no_cascade is not None else 0.0),
        pending=pending,
        stop_reason=stop,
    )


__all__ = ["CascadeResult", "coin_exposure", "impact_scale", "moved_context", "moved_market",
           "run_cascade", "stressed_haircuts"]

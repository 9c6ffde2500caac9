"""RiskContext: a book, its resolved market and the compiled config, plus position-level valuation.

Everything that re-values accounts goes through :func:`position_values` and :func:`account_equity`, at
the current market or under a uniform relative move of all non-stable prices per account (the move
used by distance to liquidation). One code path serves both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ccm._typing import BoolArray, FloatArray, IntArray
from ccm.book.book import Book, nonzeros_of_rows, row_of_nonzeros, row_sums
from ccm.enums import MARGIN_MODELS, MarginModelName
from ccm.pricing.contracts import unit_value
from ccm.pricing.market_state import MarketState
from ccm.risk import _equity_compiled as _equity
from ccm.risk.config import RiskConfig
from ccm.risk.haircut import HaircutTable, collateral_values, collateral_values_scenarios, compile_haircuts

if TYPE_CHECKING:
    from ccm.risk.margin.var import MarketHistory

LENDING_CODE = MARGIN_MODELS.index(MarginModelName.LENDING)
VAR_CODE = MARGIN_MODELS.index(MarginModelName.VAR)
DERIVE_PMRM_CODE = MARGIN_MODELS.index(MarginModelName.DERIVE_PMRM)
#: Models whose requirement already prices collateral risk, so their accounts' collateral counts unhaircut:
#: lending (the liquidation threshold plays that role) and derive-pmrm (base assets sit in its scenarios).
UNHAIRCUT_CODES = (LENDING_CODE, DERIVE_PMRM_CODE)


def haircut_applies(model_code: np.ndarray) -> BoolArray:
    """Accounts (or balances, given their accounts' codes) whose collateral is haircut, shape of ``model_code``."""
    return ~np.isin(model_code, UNHAIRCUT_CODES)


def settled_at_mark(book: Book, market: MarketState) -> FloatArray:
    """Entry side (settlement units, (nnz,)) of the quantity that carries no entry price, settled at the
    current forward so that its P&L is 0 at ``market``: +q/F inverse, −q·F linear."""
    cols = book.positions.indices
    forward = market.forward[cols]
    q = book.unpriced_quantity
    return np.where(book.instruments.inverse[cols], q / forward, -q * forward)


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskContext:
    """Inputs of every risk computation, aligned (n_accounts rows of ``book``).

    Attributes
    ----------
    model_code : int8 (n_accounts,), the margin model of each account (config default resolved).
    moving : bool (n_assets,), assets whose price moves in a uniform move (not stablecoins).
    position_row : int64 (nnz,), account row of each stored position.
    entry_total : float (nnz,), entry side of futures P&L in settlement units, unpriced quantity settled
        at the current forward (so its P&L is 0 now).
    cache : instrument-level results that depend only on the market and config (e.g. risk-matrix P&L
        per instrument at the distance grid), shared by every sub-context made with :meth:`take`.
    history : daily price history ending at the market's date, needed by accounts on the ``var`` model
        (``ccm.risk.margin.var``); None when none was given (a var account is then an input error).
    """

    book: Book
    market: MarketState
    config: RiskConfig
    haircuts: HaircutTable
    model_code: np.ndarray
    moving: BoolArray
    position_row: IntArray
    entry_total: FloatArray
    cache: dict = field(default_factory=dict, repr=False, compare=False)
    history: MarketHistory | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, book: Book, market: MarketState, config: RiskConfig,
              history: MarketHistory | None = None) -> RiskContext:
        haircuts = compile_haircuts(book.assets, config)
        default = MARGIN_MODELS.index(config.default_model)
        model_code = np.where(book.margin_model < 0, default, book.margin_model).astype(np.int8)
        return cls(
            book=book,
            market=market,
            config=config,
            haircuts=haircuts,
            model_code=model_code,
            moving=~haircuts.stable,
            position_row=row_of_nonzeros(book.positions),
            entry_total=book.entry_amount + settled_at_mark(book, market),
            history=history,
        )

    @property
    def n_accounts(self) -> int:
        return self.book.n_accounts

    def take(self, rows: IntArray) -> RiskContext:
        """The context restricted to account ``rows`` (in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        nz = nonzeros_of_rows(self.book.positions.indptr, rows)
        sub = self.book.take(rows)
        return RiskContext(
            book=sub,
            market=self.market,
            config=self.config,
            haircuts=self.haircuts,
            model_code=self.model_code[rows],
            moving=self.moving,
            position_row=row_of_nonzeros(sub.positions),
            entry_total=self.entry_total[nz],
            cache=self.cache,
            history=self.history,
        )

    # -- price multipliers under uniform moves ----------------------------------------------------
    # ``moves`` is None (current market), (n_accounts,) one move per account, or (B, n_accounts):
    # B moves per account; results then carry a leading axis of length B.
    def position_multipliers(self, moves: FloatArray | None) -> tuple[FloatArray, FloatArray]:
        """(underlying, settlement-asset) price multipliers per stored position, shapes (nnz,) or (B, nnz)."""
        cols = self.book.positions.indices
        if moves is None:
            one = np.ones(cols.shape[0])
            return one, one
        m = moves[..., self.position_row]
        ins = self.book.instruments
        under = 1.0 + m * self.moving[ins.underlying[cols]]
        settle = 1.0 + m * self.moving[ins.settlement_asset[cols]]
        return under, settle

    def balance_multipliers(self, moves: FloatArray | None) -> FloatArray | None:
        """Price multiplier per stored balance, shape (nnz,) or (B, nnz); None without moves."""
        if moves is None:
            return None
        balances = self.book.balances
        return 1.0 + moves[..., row_of_nonzeros(balances)] * self.moving[balances.indices]


def shared_moves(moves: FloatArray | None) -> FloatArray | None:
    """The moves as (B,) when every account has the same move(s), else None."""
    if moves is None:
        return np.zeros(1)
    if moves.shape[-1] == 0:
        return moves[..., :1].reshape(-1) if moves.ndim == 2 else np.zeros(1)
    first = moves[..., :1]
    if np.all(moves == first):
        return first.reshape(-1)
    return None


def instrument_terms(ctx: RiskContext, cols: IntArray) -> dict[str, np.ndarray]:
    """Contract terms (for ``pricing.contracts``) of the instruments ``cols``."""
    ins, mkt = ctx.book.instruments, ctx.market
    return dict(
        is_option=ins.is_option[cols],
        inverse=ins.inverse[cols],
        strike=ins.strike[cols],
        tau=mkt.tau[cols],
        is_call=ins.is_call[cols],
    )


def position_values(
    ctx: RiskContext, moves: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """Unit value (settlement units) and settlement price (USD) of each stored position, (nnz,) or (B, nnz).

    With ``moves`` of shape (n_accounts,) or (B, n_accounts), each account's positions are valued with all
    non-stable prices multiplied by (1 + move); vols are held fixed (sticky strike). Without, the current
    market.
    """
    cols = ctx.book.positions.indices
    mkt = ctx.market
    if moves is None:
        return mkt.unit_value[cols], mkt.settle_price[cols]
    shared = shared_moves(moves)
    if shared is not None:
        # The same move(s) for every account: value each instrument once per move, then gather.
        values, settle = _instrument_values(ctx, shared[:, None] if moves.ndim == 2 else shared[0])
        return values[..., cols], settle[..., cols]
    under, settle = ctx.position_multipliers(moves)
    values = unit_value(mkt.forward[cols] * under, vol=mkt.vol[cols], **instrument_terms(ctx, cols))
    return values, mkt.settle_price[cols] * settle


def _instrument_values(ctx: RiskContext, m: FloatArray | float) -> tuple[FloatArray, FloatArray]:
    """Unit value and settlement price (USD) of every instrument under the shared move(s) ``m`` (a scalar or
    (B, 1)), shapes (n_instruments,) or (B, n_instruments)."""
    ins, mkt = ctx.book.instruments, ctx.market
    every = np.arange(ctx.book.n_instruments)
    under = 1.0 + m * ctx.moving[ins.underlying]
    settle = 1.0 + m * ctx.moving[ins.settlement_asset]
    values = unit_value(mkt.forward * under, vol=mkt.vol, **instrument_terms(ctx, every))
    return values, mkt.settle_price * settle


@dataclass(frozen=True, slots=True, kw_only=True)
class EquityParts:
    """Per-account value parts in USD, each of shape (n_accounts,) or (B, n_accounts) under B moves."""

    collateral_raw: FloatArray
    collateral_value: FloatArray
    position_value: FloatArray  # futures unrealised P&L + option and spot position value

    @property
    def equity(self) -> FloatArray:
        return self.collateral_raw + self.position_value

    @property
    def adjusted_equity(self) -> FloatArray:
        return self.collateral_value + self.position_value


def account_equity(ctx: RiskContext, moves: FloatArray | None = None) -> EquityParts:
    """Equity, haircut collateral and position value per account (DESIGN.md §2), optionally moved.

    Accounts under the lending and derive-pmrm models value collateral without haircut (``UNHAIRCUT_CODES``):
    their requirement prices that risk (the liquidation threshold; Derive's base-asset scenarios).
    """
    raw, cut = collateral_values(
        ctx.book.balances,
        ctx.market.asset_prices,
        ctx.haircuts,
        price_multiplier=ctx.balance_multipliers(moves),
        haircut_rows=haircut_applies(ctx.model_code),
    )
    positions = ctx.book.positions
    shared = None if moves is None or moves.ndim != 2 or not _equity.AVAILABLE else shared_moves(moves)
    if shared is not None:  # compiled: the (B, nnz) gather and row sums in one pass, same sums
        values, settle = _instrument_values(ctx, shared[:, None])
        position_value = _equity.position_value_sums(positions.indptr, positions.indices, positions.data,
                                                     ctx.entry_total, values, settle)
    else:
        values, settle = position_values(ctx, moves)
        position_value = row_sums((positions.data * values + ctx.entry_total) * settle, positions.indptr)
    return EquityParts(collateral_raw=raw, collateral_value=cut, position_value=position_value)


def scenario_adjusted_equity(
    ctx: RiskContext,
    price_multiplier: FloatArray,
    *,
    vol_multiplier: FloatArray | None = None,
    haircut_multiplier: FloatArray | None = None,
    liquidity_multiplier: FloatArray | None = None,
) -> FloatArray:
    """Adjusted equity of every account in each scenario, shape (S, n_accounts), USD.

    Parameters
    ----------
    price_multiplier : (S, n_assets), each asset's USD price multiplier (1 + return).
    vol_multiplier : optional (S, n_assets), implied vols of options on each underlying are multiplied by it.
    haircut_multiplier, liquidity_multiplier : optional (S, n_assets), see ``risk.haircut.haircut_values``.

    Instruments are valued once per scenario (S × n_instruments, forwards scale with their underlying);
    positions and entry balances are summed with one sparse product each; collateral haircuts are
    re-evaluated per scenario (so collateral that falls with the exposure is caught).
    """
    book, mkt, ins = ctx.book, ctx.market, ctx.book.instruments
    every = np.arange(book.n_instruments)
    forward = mkt.forward[None, :] * price_multiplier[:, ins.underlying]
    vol = mkt.vol[None, :] if vol_multiplier is None else mkt.vol[None, :] * vol_multiplier[:, ins.underlying]
    values = unit_value(forward, vol=np.broadcast_to(vol, forward.shape), **instrument_terms(ctx, every))
    settle = mkt.settle_price[None, :] * price_multiplier[:, ins.settlement_asset]  # (S, n_instr)
    positions = book.positions
    entry = sp.csr_matrix((ctx.entry_total, positions.indices, positions.indptr), shape=positions.shape)
    position_value = np.asarray(positions @ (values * settle).T + entry @ settle.T).T  # (S, n_accounts)
    collateral = collateral_values_scenarios(
        book.balances, mkt.asset_prices[None, :] * price_multiplier, ctx.haircuts,
        haircut_multiplier=haircut_multiplier, liquidity_multiplier=liquidity_multiplier,
        haircut_rows=haircut_applies(ctx.model_code),
    )
    return collateral + position_value

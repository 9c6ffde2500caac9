"""VaR / expected-shortfall margin (a CCP-style initial-margin model) over the book's underlyings.

Each account's requirement is a tail measure of the **loss of its positions** from today's marks, in their
settlement asset valued in USD (see :func:`marked_positions`; collateral is left to the haircuts, as in the
other margin models) over the margin period of risk
(MPOR, ``mpor_days`` steps of a daily history). Three methods (``VarParams.method``):

* ``historical``: every overlapping MPOR window of the last ``lookback_days`` daily returns is a scenario
  (:func:`ccm.scenario.historical_simulation`); each account is fully revalued in each scenario
  (:func:`ccm.risk.context.scenario_adjusted_equity`: options repriced with Black-76 at unchanged implied vol,
  inverse contracts through their settlement asset).
* ``filtered``: the same with the returns rescaled to today's EWMA volatility (filtered historical simulation,
  decay ``ewma_lambda``; the filter runs over the lookback window).
* ``parametric``: **delta-normal**. Each account's delta to every asset (USD per unit log return) is measured
  by full revaluation at ±``bump`` log moves of one asset at a time (central difference); with Σ the covariance
  of daily log returns (``covariance``: EWMA or sample, over the lookback), σ = √(δᵀ Σ δ · MPOR),
  VaR = z_c σ, ES = σ φ(z_c) / (1 − c). Gamma and vega are ignored (say so to users holding options).

Empirical tail (historical / filtered): losses L(1) ≤ … ≤ L(S) sorted ascending, k = ⌈c S⌉; VaR = L(k),
ES = mean of L(k+1) … L(S) (ES = VaR when that tail is empty) — the convention of ``ccm.stress.cover.var_es``.

Anti-procyclicality (EMIR RTS 153/2013 Art 28, ccp.md §6), each optional:

* (a) ``buffer``: the requirement is multiplied by 1 + buffer (0.25 for the 25 % buffer);
* (b) ``stressed_weight``: requirement = (1 − w) · M(lookback) + w · M(stressed window), the stressed window
  being the ``stressed_window_days`` daily returns with the highest mean squared return (averaged over the
  history's assets) within the last ``floor_lookback_days`` of the history given;
* (c) ``floor_lookback_days``: the requirement is at least the plain historical-simulation measure over that
  lookback (3650 days = 10 years; the whole history when it is shorter).

Order: max(blend (b), floor (c)) × (1 + buffer (a)). IM = that; MM = ``maintenance_ratio`` × IM.
Assets of the book that the history lacks follow ``ScenarioSet.for_assets`` (stablecoins do not move, others
follow ``proxy``). The core does no I/O: the history comes in as arrays (:class:`MarketHistory`).

As a margin model of :mod:`ccm.risk.margin` (``ccm metrics --model var --prices …``), :func:`var_margin` takes the
history from ``RiskContext.history`` and the parameters from ``RiskConfig.var`` (config ``margin.var``). Under
uniform moves (distance to liquidation) the whole model is rerun at each account's moved market: positions struck
at the moved marks, the same historical returns applied on top (options repriced), parametric deltas re-measured
there, the APC parts likewise (:func:`moved_pnl`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from scipy.stats import norm

from ccm._typing import FloatArray, IntArray
from ccm.errors import InputError
from ccm.pricing.contracts import unit_value
from ccm.risk.config import VarMeasure, VarParams
from ccm.risk.context import (
    RiskContext,
    account_equity,
    instrument_terms,
    scenario_adjusted_equity,
)
from ccm.risk.margin.base import Requirement
from ccm.scenario.base import ScenarioSet
from ccm.scenario.ewma_filter import ewma_covariance, log_returns
from ccm.scenario.historical_simulation import historical_simulation

Measure = VarMeasure

#: Cap on scenarios × accounts evaluated at once (one (chunk, n_accounts) array of P&L lives at a time).
CHUNK_CELLS = 4_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketHistory:
    """Daily prices up to the margin date (the last row), oldest first.

    Attributes
    ----------
    assets : the n_assets column names.
    prices : ndarray of shape (n_times, n_assets), USD, all > 0 (only ratios matter).
    """

    assets: tuple[str, ...]
    prices: FloatArray

    def last(self, n_returns: int) -> MarketHistory:
        """The history cut to its last ``n_returns`` returns (n_returns + 1 prices)."""
        return MarketHistory(assets=self.assets, prices=self.prices[-(n_returns + 1):])


def marked_positions(ctx: RiskContext) -> RiskContext:
    """The context with every collateral balance removed and every position struck at the current mark
    (entry = −q × today's unit value, in settlement units): the adjusted equity is then 0 today and, after a
    move, the positions' P&L from today's marks **in their settlement asset**, valued in USD at the moved
    settlement price — q (v' − v) S' — as the portfolio model measures it. For linear products that is the USD
    P&L; for inverse (coin-settled) futures and options it is the coin P&L: the USD swing of coin already held
    (accrued P&L, premium) is collateral risk, left to the haircuts like every balance."""
    book = ctx.book
    entry = -book.positions.data * ctx.market.unit_value[book.positions.indices]
    empty = sp.csr_matrix(book.balances.shape, dtype=float)
    return replace(ctx, book=replace(book, balances=empty), entry_total=entry, cache={})


def position_value_paths(ctx: RiskContext, price_multiplier: FloatArray) -> FloatArray:
    """Value of each account's positions (USD, struck at today's marks: :func:`marked_positions`) with every
    asset's price × ``price_multiplier``.

    Parameters
    ----------
    price_multiplier : ndarray of shape (S, n_assets) in ``book.assets`` order (vols held).

    Returns
    -------
    ndarray of shape (S, n_accounts), evaluated in chunks of :data:`CHUNK_CELLS`.
    """
    bare = marked_positions(ctx)
    step = max(1, CHUNK_CELLS // max(ctx.n_accounts, 1))
    out = np.empty((price_multiplier.shape[0], ctx.n_accounts))
    for start in range(0, price_multiplier.shape[0], step):
        out[start:start + step] = scenario_adjusted_equity(bare, price_multiplier[start:start + step])
    return out


def moved_pnl(ctx: RiskContext, price_multiplier: FloatArray, move: FloatArray | None = None) -> FloatArray:
    """P&L (USD) of each account's positions struck at the marks of the **moved** market — every non-stable
    price × (1 + ``move`` of the account), vols held — when every asset's price then moves × ``price_multiplier``
    (full revaluation, the convention of :func:`marked_positions`: q (v' − v_m) S').

    Parameters
    ----------
    price_multiplier : ndarray of shape (S, n_assets) in ``book.assets`` order.
    move : None (today's market: :func:`position_value_paths`) or (n_accounts,) uniform relative moves.

    Returns
    -------
    ndarray of shape (S, n_accounts). A move shared by every account is valued once per instrument and
    scenario; otherwise per stored position. Scenarios are evaluated in chunks of :data:`CHUNK_CELLS`.
    """
    if move is None:
        return position_value_paths(ctx, price_multiplier)
    positions, ins = ctx.book.positions, ctx.book.instruments
    shared = ctx.n_accounts == 0 or bool(np.all(move == move[0]))
    if shared:  # instrument level, then one sparse product (positions are linear in q)
        cols = np.arange(ctx.book.n_instruments)
        m = move[0] if ctx.n_accounts else 0.0
        under, settle = 1.0 + m * ctx.moving[ins.underlying], 1.0 + m * ctx.moving[ins.settlement_asset]
        weights = positions
    else:  # each position at its account's move, summed per account
        cols = positions.indices
        under, settle = ctx.position_multipliers(move)
        weights = sp.csr_matrix((positions.data, (ctx.position_row, np.arange(cols.shape[0]))),
                                shape=(ctx.n_accounts, cols.shape[0]))
    mkt, terms = ctx.market, instrument_terms(ctx, cols)
    forward = mkt.forward[cols] * under
    before = unit_value(forward, vol=mkt.vol[cols], **terms)
    out = np.empty((price_multiplier.shape[0], ctx.n_accounts))
    step = max(1, CHUNK_CELLS // max(cols.shape[0], ctx.n_accounts, 1))
    for start in range(0, price_multiplier.shape[0], step):
        mult = price_multiplier[start:start + step]
        moved = forward[None, :] * mult[:, ins.underlying[cols]]
        after = unit_value(moved, vol=np.broadcast_to(mkt.vol[cols], moved.shape), **terms)
        settle_after = (mkt.settle_price[cols] * settle)[None, :] * mult[:, ins.settlement_asset[cols]]
        unit = (after - before[None, :]) * settle_after
        out[start:start + step] = np.asarray(weights @ unit.T).T
    return out


def _scenarios(history: MarketHistory, n_returns: int, horizon: int, *, filtered: bool, lam: float) -> ScenarioSet:
    part = history.last(n_returns)
    stamps = np.arange(part.prices.shape[0], dtype=np.int64) * 86_400
    return historical_simulation(stamps, part.prices, part.assets, horizon_days=horizon, filtered=filtered,
                                 ewma_lambda=lam)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Tail:
    """Per-account tail of the loss distribution: VaR, ES, and the VaR scenario's price multipliers."""

    var: FloatArray  # (n,)
    es: FloatArray  # (n,)
    multiplier: FloatArray | None  # (n, n_assets): 1 + return of each account's VaR scenario (None under moves)

    def measure(self, which: Measure) -> FloatArray:
        return self.var if which == "var" else self.es


def empirical_tail(losses: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray, IntArray]:
    """VaR, ES and the VaR scenario of each column of ``losses`` (S, n), the convention of the module docstring.

    Returns
    -------
    var, es : ndarray of shape (n,); scenario : int64 (n,), the row holding the VaR loss.
    """
    s = losses.shape[0]
    k = min(s, max(1, math.ceil(round(confidence * s, 9))))  # 1-based ascending rank of the VaR loss
    # A partial sort: rows after k − 1 hold the S − k largest losses (in any order), O(S) per account.
    order = np.argpartition(losses, k - 1, axis=0)
    scenario = order[k - 1]
    columns = np.arange(losses.shape[1])
    var = losses[scenario, columns]
    es = np.take_along_axis(losses, order[k:], axis=0).mean(axis=0) if k < s else var.copy()
    return var, es, scenario.astype(np.int64)


def _historical_tail(ctx: RiskContext, scenarios: ScenarioSet, params: VarParams,
                     move: FloatArray | None = None) -> _Tail:
    aligned = scenarios.for_assets(ctx.book.assets, stable=ctx.haircuts.stable, proxy=params.proxy)
    if move is None:
        base = account_equity(marked_positions(ctx)).position_value
        losses = base[None, :] - position_value_paths(ctx, 1.0 + aligned.price_returns)
    else:
        losses = -moved_pnl(ctx, 1.0 + aligned.price_returns, move)
    var, es, scenario = empirical_tail(losses, params.confidence)
    return _Tail(var=var, es=es, multiplier=None if move is not None else 1.0 + aligned.price_returns[scenario])


def account_deltas(ctx: RiskContext, bump: float = 1e-4, move: FloatArray | None = None) -> FloatArray:
    """Each account's delta to each asset, USD per unit log return, by full revaluation at ±``bump``
    (at the market moved by ``move`` (n_accounts,), see :func:`moved_pnl`; None = today's).

    Returns
    -------
    ndarray of shape (n_accounts, n_assets).
    """
    n_assets = len(ctx.book.assets)
    eye = np.eye(n_assets)
    multipliers = np.vstack([np.exp(bump * eye), np.exp(-bump * eye)])  # (2A, A)
    values = moved_pnl(ctx, multipliers, move)
    return ((values[:n_assets] - values[n_assets:]) / (2.0 * bump)).T


def _parametric_tail(ctx: RiskContext, history: MarketHistory, params: VarParams,
                     move: FloatArray | None = None) -> _Tail:
    part = history.last(params.lookback_days)
    daily = ScenarioSet(assets=part.assets, names=tuple(str(k) for k in range(part.prices.shape[0] - 1)),
                        price_returns=np.expm1(log_returns(part.prices)))
    aligned = daily.for_assets(ctx.book.assets, stable=ctx.haircuts.stable, proxy=params.proxy)
    x = np.log1p(aligned.price_returns)
    cov = ewma_covariance(x, params.ewma_lambda) if params.covariance == "ewma" else np.cov(x, rowvar=False,
                                                                                            ddof=1).reshape(
        x.shape[1], x.shape[1])
    delta = account_deltas(ctx, params.bump, move)  # (n, A)
    cov_delta = delta @ cov  # (n, A)
    sigma = np.sqrt(np.maximum(np.einsum("ia,ia->i", cov_delta, delta), 0.0) * params.mpor_days)
    z = float(norm.ppf(params.confidence))
    var = z * sigma
    es = sigma * float(norm.pdf(z)) / (1.0 - params.confidence)
    # The most likely point of the VaR ellipsoid of the h-day log returns (covariance h Σ): r* = −z h Σδ / σ,
    # where δ·r* = −z σ (the delta P&L there is −VaR).
    with np.errstate(divide="ignore", invalid="ignore"):
        r_star = np.where(sigma[:, None] > 0, -z * params.mpor_days * cov_delta / sigma[:, None], 0.0)
    return _Tail(var=var, es=es, multiplier=np.exp(r_star) if move is None else None)


def _stressed_returns(history: MarketHistory, params: VarParams) -> int:
    """Index (in returns of ``history``) where the most volatile ``stressed_window_days`` window ends."""
    x2 = np.mean(log_returns(history.prices) ** 2, axis=1)
    w = min(params.stressed_window_days, x2.shape[0])
    sums = np.convolve(x2, np.ones(w), mode="valid")  # sums[j] covers returns j … j + w − 1
    return int(np.argmax(sums)) + w


def position_driver(ctx: RiskContext, multiplier: FloatArray) -> FloatArray:
    """Loss (≥ 0, USD) of each stored position when its account's assets move by ``multiplier`` (n, n_assets),
    from the entries of ``ctx`` (give it :func:`marked_positions` for the loss from today's marks)."""
    book, mkt, ins = ctx.book, ctx.market, ctx.book.instruments
    cols, rows = book.positions.indices, ctx.position_row
    m_under = multiplier[rows, ins.underlying[cols]]
    m_settle = multiplier[rows, ins.settlement_asset[cols]]
    moved = unit_value(mkt.forward[cols] * m_under, vol=mkt.vol[cols], **instrument_terms(ctx, cols))
    q = book.positions.data
    before = (q * mkt.unit_value[cols] + ctx.entry_total) * mkt.settle_price[cols]
    after = (q * moved + ctx.entry_total) * mkt.settle_price[cols] * m_settle
    return np.maximum(0.0, before - after)


def var_requirement(ctx: RiskContext, history: MarketHistory, params: VarParams,
                    moves: FloatArray | None = None) -> Requirement:
    """VaR / ES initial and maintenance margin of every account (see the module docstring).

    Parameters
    ----------
    ctx : the book at the margin date's market.
    history : daily prices ending at the margin date; needs at least ``mpor_days + 1`` rows (and the lookback's
        worth for the full lookback; a shorter history uses what it has).
    params : the model's parameters.
    moves : None, (n_accounts,) or (B, n_accounts) uniform relative moves of every non-stable price (distance
        to liquidation): the model is re-run in full at each account's moved market (positions struck at the
        moved marks, the same historical returns applied on top; parametric deltas re-measured there). The B
        moves are taken one after the other (B is the distance grid, ~40), each vectorised over accounts and
        scenarios.

    Returns
    -------
    Requirement with initial, maintenance (n_accounts,) or (B, n_accounts) and, without moves, per position, its
    loss in the account's VaR scenario (historical / filtered) or at the most likely point of the VaR ellipsoid
    (parametric); drivers are 0 under moves.
    """
    prices = np.asarray(history.prices, dtype=float)
    if prices.ndim != 2 or prices.shape[1] != len(history.assets):
        raise InputError(f"history prices have shape {prices.shape}, expected (n_times, {len(history.assets)})",
                         record="var model", field="history")
    n_returns = prices.shape[0] - 1
    h = int(params.mpor_days)
    if n_returns < h:
        raise InputError(f"the var model needs at least {h + 1} daily prices, got {prices.shape[0]}",
                         record="var model", field="history", hint="give a longer history or a shorter MPOR")
    history = MarketHistory(assets=tuple(history.assets), prices=prices)
    lookback = min(params.lookback_days, n_returns)
    main = None if params.method == "parametric" else _scenarios(
        history, lookback, h, filtered=params.method == "filtered", lam=params.ewma_lambda)
    stressed = None
    if params.stressed_weight > 0:
        span = history.last(min(n_returns, params.floor_lookback_days or n_returns))
        end = _stressed_returns(span, params)
        window = min(params.stressed_window_days, span.prices.shape[0] - 1)
        stressed_prices = MarketHistory(assets=span.assets, prices=span.prices[end - window: end + 1])
        stressed = _scenarios(stressed_prices, window, h, filtered=False, lam=params.ewma_lambda)
    floor = None if params.floor_lookback_days is None else _scenarios(
        history, min(n_returns, params.floor_lookback_days), h, filtered=False, lam=params.ewma_lambda)

    def margin_at(move: FloatArray | None) -> tuple[FloatArray, _Tail]:
        tail = (_parametric_tail(ctx, history, params, move) if main is None
                else _historical_tail(ctx, main, params, move))
        margin = tail.measure(params.measure)
        if stressed is not None:
            margin = (1.0 - params.stressed_weight) * margin + params.stressed_weight * _historical_tail(
                ctx, stressed, params, move).measure(params.measure)
        if floor is not None:
            margin = np.maximum(margin, _historical_tail(ctx, floor, params, move).measure(params.measure))
        return np.maximum(margin, 0.0) * (1.0 + params.buffer), tail

    if moves is None:
        initial, tail = margin_at(None)
        position_loss = position_driver(marked_positions(ctx), tail.multiplier)
    else:
        moves = np.asarray(moves, dtype=float)
        grid = moves.reshape(-1, ctx.n_accounts) if ctx.n_accounts else np.zeros((moves.size and 1, 0))
        initial = np.stack([margin_at(row)[0] for row in grid]).reshape(np.shape(moves))  # the B moves
        position_loss = np.zeros(ctx.book.positions.nnz)
    return Requirement(
        initial=initial,
        maintenance=params.maintenance_ratio * initial,
        position_driver=position_loss,
        balance_driver=np.zeros(ctx.book.balances.nnz),
    )


def var_margin(ctx: RiskContext, moves: FloatArray | None = None) -> Requirement:
    """The var model as a margin model of :mod:`ccm.risk.margin`: :func:`var_requirement` with the context's
    history (``ctx.history``) and parameters (``ctx.config.var``); an input error without a history."""
    if ctx.history is None:
        account = str(ctx.book.account_ids[0]) if ctx.n_accounts else "?"
        raise InputError(
            f"account {account!r} is margined with the var model, which needs a daily price history, and none "
            f"was given", record=f"account {account}", field="margin_model",
            hint="pass a daily history to ccm metrics with --prices ASSET=FILE, once per asset (e.g. --prices "
                 "BTC=BTC-USD_1d.csv), or choose another model; the real-time engine and the service do not run "
                 "the var model")
    return var_requirement(ctx, ctx.history, ctx.config.var, moves)


__all__ = ["MarketHistory", "VarParams", "account_deltas", "empirical_tail", "position_driver",
           "marked_positions", "moved_pnl", "position_value_paths", "var_margin", "var_requirement"]

"""Lending (health-factor) margin for spot-borrow and DeFi-style accounts.

With collateral values c_a (positive balances, USD, no haircut: the liquidation threshold LT_a plays that
role) and debt D (negative balances, USD):

    health_factor = Σ c_a · LT_a / D                                   (∞ without debt)
    maintenance   = Σ c_a · (1 − LT_a)   if D > 0, else 0
    initial       = Σ c_a · (1 − LTV_a)  if D > 0, else 0

so that adjusted equity Σ c − D ≥ maintenance ⇔ health factor ≥ 1: coverage ratio 1 and health factor 1
are the same boundary. Derivative positions in such an account add their standard margin.

A DeFi protocol preset (``config.protocol``, see :mod:`ccm.risk.lending_rules`) sets LT and LTV per balance:
Aave eMode replaces them for the assets of the account's category; Maker uses 1 / liquidation ratio;
Liquity 1 / MCR, and in Recovery Mode (TCR < CCR) 1 / max(MCR, TCR) for troves with ICR < TCR (so HF < 1
exactly for the troves Recovery Mode liquidates), with LTV 1 / CCR. Recovery Mode and which troves are below
TCR are decided at the current prices, also when the distance search moves prices.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ccm._typing import FloatArray, IntArray
from ccm.book.book import row_of_nonzeros, row_sums
from ccm.risk.context import LENDING_CODE, RiskContext
from ccm.risk.lending_rules import AaveRules, LiquityRules
from ccm.risk.margin.base import Requirement
from ccm.risk.margin.standard import standard_requirement


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceParams:
    """Effective lending parameters of every stored balance (aligned with ``Book.balances.data``), (nnz,).

    They include the account's Aave eMode category and Liquity's Recovery Mode; decimals as in
    :class:`~ccm.risk.config.LendingParams` (liquidation_bonus 0.05 = Aave LB 105%).
    """

    ltv: FloatArray
    liquidation_threshold: FloatArray
    liquidation_bonus: FloatArray


def _parameter_tables(ctx: RiskContext) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(ltv, lt, bonus) tables of shape (1 + n_emode_categories, n_assets): row 0 the assets' own
    parameters, row k those of an account in the k-th eMode category (its assets overridden)."""
    config, assets = ctx.config, ctx.book.assets
    own = [config.lending_for(a) for a in assets]
    rows = [[(p.ltv, p.liquidation_threshold, p.liquidation_bonus) for p in own]]
    rules = config.protocol
    if isinstance(rules, AaveRules):
        for cat in rules.emode.values():
            member = set(cat.assets)
            rows.append([(cat.ltv, cat.liquidation_threshold, cat.liquidation_bonus) if a in member else r
                         for a, r in zip(assets, rows[0], strict=True)])
    table = np.array(rows, dtype=np.float64).reshape(len(rows), len(assets), 3)
    return table[..., 0], table[..., 1], table[..., 2]


def emode_codes(ctx: RiskContext) -> IntArray:
    """eMode category of each account, (n_accounts,): 0 = none, k = the k-th category of ``AaveRules.emode``."""
    rules = ctx.config.protocol
    codes = np.zeros(ctx.n_accounts, dtype=np.int64)
    if not isinstance(rules, AaveRules) or not rules.account_emode:
        return codes
    index = {name: k + 1 for k, name in enumerate(rules.emode)}
    keys = np.array(sorted(rules.account_emode), dtype=str)
    values = np.array([index[rules.account_emode[k]] for k in keys], dtype=np.int64)
    ids = ctx.book.account_ids.astype(str)
    at = np.minimum(np.searchsorted(keys, ids), keys.shape[0] - 1)
    return np.where(keys[at] == ids, values[at], codes)


def liquity_tcr(ctx: RiskContext) -> float:
    """Liquity total collateral ratio: ``LiquityRules.system_tcr`` if set, else Σ collateral-asset value ÷
    Σ debt over the lending accounts with debt (the troves) at the current prices (cached per market in
    ``ctx.cache``)."""
    rules = ctx.config.protocol
    assert isinstance(rules, LiquityRules)
    if rules.system_tcr is not None:
        return rules.system_tcr
    key = ("liquity_tcr", id(ctx.market))
    if key not in ctx.cache:
        bal = ctx.book.balances
        lending_rows = (ctx.model_code == LENDING_CODE)[row_of_nonzeros(bal)]
        value = _balance_values(ctx, None) * lending_rows
        coll_col = ctx.book.assets.index(rules.collateral_asset) if rules.collateral_asset in ctx.book.assets else -1
        owed = row_sums(np.maximum(-value, 0.0), bal.indptr)  # a trove has debt: ETH without LUSD is not one
        is_trove = (owed > 0)[row_of_nonzeros(bal)]
        collateral = float(np.maximum(value, 0.0)[(bal.indices == coll_col) & is_trove].sum())
        debt = float(owed.sum())
        ctx.cache[key] = collateral / debt if debt > 0 else np.inf
    return ctx.cache[key]


def balance_parameters(ctx: RiskContext) -> BalanceParams:
    """Lending parameters of every stored balance under the config's protocol rules, (nnz,) each."""
    bal = ctx.book.balances
    ltv, lt, bonus = _parameter_tables(ctx)
    code = emode_codes(ctx)[row_of_nonzeros(bal)]
    params = BalanceParams(ltv=ltv[code, bal.indices], liquidation_threshold=lt[code, bal.indices],
                           liquidation_bonus=bonus[code, bal.indices])
    rules = ctx.config.protocol
    if isinstance(rules, LiquityRules):
        tcr = liquity_tcr(ctx)
        if tcr < rules.ccr:  # Recovery Mode: a trove with ICR < TCR liquidates too; borrowing needs ICR ≥ CCR
            value = _balance_values(ctx, None)
            collateral = row_sums(np.maximum(value, 0.0) * (params.liquidation_threshold > 0), bal.indptr)
            debt = row_sums(np.maximum(-value, 0.0), bal.indptr)
            below_tcr = (collateral < tcr * debt)[row_of_nonzeros(bal)]  # ICR < TCR, at the current prices
            coll = params.liquidation_threshold > 0
            lt = np.where(below_tcr, 1.0 / max(rules.mcr, tcr), 1.0 / rules.mcr)
            return replace(params, liquidation_threshold=np.where(coll, lt, 0.0),
                           ltv=np.where(coll, 1.0 / rules.ccr, 0.0))
    return params


def _balance_values(ctx: RiskContext, moves: FloatArray | None) -> FloatArray:
    """USD value of each stored balance, (nnz,) or (B, nnz) under moves."""
    bal = ctx.book.balances
    price = ctx.market.asset_prices[bal.indices]
    mult = ctx.balance_multipliers(moves)
    return bal.data * (price if mult is None else price * mult)


def health_factor(ctx: RiskContext, moves: FloatArray | None = None) -> FloatArray:
    """Σ collateral × LT ÷ debt per account, (n_accounts,) or (B, n_accounts); +inf without debt."""
    bal = ctx.book.balances
    lt = balance_parameters(ctx).liquidation_threshold
    value = _balance_values(ctx, moves)
    weighted = row_sums(np.maximum(value, 0.0) * lt, bal.indptr)
    debt = row_sums(np.maximum(-value, 0.0), bal.indptr)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(debt > 0, weighted / np.where(debt > 0, debt, 1.0), np.inf)


def lending_requirement(ctx: RiskContext, moves: FloatArray | None = None) -> Requirement:
    """Lending IM and MM per account (USD), plus the standard margin of any derivative positions."""
    bal = ctx.book.balances
    params = balance_parameters(ctx)
    value = _balance_values(ctx, moves)
    collateral = np.maximum(value, 0.0)
    debt = row_sums(np.maximum(-value, 0.0), bal.indptr)
    has_debt = (debt > 0)[..., row_of_nonzeros(bal)]
    mm_part = np.where(has_debt, collateral * (1.0 - params.liquidation_threshold), 0.0)
    im_part = np.where(has_debt, collateral * (1.0 - params.ltv), 0.0)
    derivatives = standard_requirement(ctx, moves)
    return Requirement(
        initial=row_sums(im_part, bal.indptr) + derivatives.initial,
        maintenance=row_sums(mm_part, bal.indptr) + derivatives.maintenance,
        position_driver=derivatives.position_driver,
        balance_driver=mm_part,
    )

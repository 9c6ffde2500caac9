"""Lending (health-factor) margin for spot-borrow and DeFi-style accounts.

With collateral values c_a (positive balances, USD, no haircut: the liquidation threshold LT_a plays that
role) and debt D (negative balances, USD):

    health_factor = Σ c_a · LT_a / D                                   (∞ without debt)
    maintenance   = Σ c_a · (1 − LT_a)   if D > 0, else 0
    initial       = Σ c_a · (1 − LTV_a)  if D > 0, else 0

so that adjusted equity Σ c − D ≥ maintenance ⇔ health factor ≥ 1: coverage ratio 1 and health factor 1
are the same boundary. Derivative positions in such an account add their standard margin.
"""

from __future__ import annotations

import numpy as np

from ccm._typing import FloatArray
from ccm.book.book import row_of_nonzeros, row_sums
from ccm.risk.context import RiskContext
from ccm.risk.margin.base import Requirement
from ccm.risk.margin.standard import standard_requirement


def lending_parameters(ctx: RiskContext) -> tuple[FloatArray, FloatArray]:
    """(ltv, liquidation_threshold) per asset, shapes (n_assets,)."""
    params = [ctx.config.lending_for(a) for a in ctx.book.assets]
    return (np.array([p.ltv for p in params]), np.array([p.liquidation_threshold for p in params]))


def _balance_values(ctx: RiskContext, moves: FloatArray | None) -> FloatArray:
    """USD value of each stored balance, (nnz,) or (B, nnz) under moves."""
    bal = ctx.book.balances
    price = ctx.market.asset_prices[bal.indices]
    mult = ctx.balance_multipliers(moves)
    return bal.data * (price if mult is None else price * mult)


def health_factor(ctx: RiskContext, moves: FloatArray | None = None) -> FloatArray:
    """Σ collateral × LT ÷ debt per account, (n_accounts,) or (B, n_accounts); +inf without debt."""
    bal = ctx.book.balances
    _, lt = lending_parameters(ctx)
    value = _balance_values(ctx, moves)
    weighted = row_sums(np.maximum(value, 0.0) * lt[bal.indices], bal.indptr)
    debt = row_sums(np.maximum(-value, 0.0), bal.indptr)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(debt > 0, weighted / np.where(debt > 0, debt, 1.0), np.inf)


def lending_requirement(ctx: RiskContext, moves: FloatArray | None = None) -> Requirement:
    """Lending IM and MM per account (USD), plus the standard margin of any derivative positions."""
    bal = ctx.book.balances
    ltv, lt = lending_parameters(ctx)
    value = _balance_values(ctx, moves)
    collateral = np.maximum(value, 0.0)
    debt = row_sums(np.maximum(-value, 0.0), bal.indptr)
    has_debt = (debt > 0)[..., row_of_nonzeros(bal)]
    mm_part = np.where(has_debt, collateral * (1.0 - lt[bal.indices]), 0.0)
    im_part = np.where(has_debt, collateral * (1.0 - ltv[bal.indices]), 0.0)
    derivatives = standard_requirement(ctx, moves)
    return Requirement(
        initial=row_sums(im_part, bal.indptr) + derivatives.initial,
        maintenance=row_sums(mm_part, bal.indptr) + derivatives.maintenance,
        position_driver=derivatives.position_driver,
        balance_driver=mm_part,
    )

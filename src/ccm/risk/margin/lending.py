"""Lending (health-factor) margin for spot-borrow and DeFi-style accounts.

With collateral values c_a (positive balances, USD, no haircut: the liquidation threshold LT_a plays that
role) and debt D (negative balances, USD):

    health_factor = Σ c_a · LT_a / D                                   (∞ without debt)
    maintenance   = Σ c_a · (1 − LT_a)   if D > 0, else 0
    initial       = Σ c_a · (1 − LTV_a)  if D > 0, else 0

so that adjusted equity Σ c − D ≥ maintenance ⇔ health factor ≥ 1: coverage ratio 1 and health factor 1
are the same boundary. Derivative positions in such an account add their standard margin.

A DeFi protocol preset (``config.protocol``, see :mod:`ccm.lending.rules`) sets LT and LTV per balance:
Aave eMode replaces them for the assets of the account's category; Maker uses 1 / liquidation ratio;
Liquity 1 / MCR, and in Recovery Mode (TCR < CCR) 1 / max(MCR, TCR) for troves with ICR < TCR (so HF < 1
exactly for the troves Recovery Mode liquidates), with LTV 1 / CCR. Recovery Mode and which troves are below
TCR are decided at the current prices, also when the distance search moves prices.
"""

from __future__ import annotations

import numpy as np

from ccm._typing import FloatArray
from ccm.book.book import row_of_nonzeros, row_sums
from ccm.lending.health import health_factor as health_factor_kernel
from ccm.lending.metrics import LendingResult, lending_metrics
from ccm.lending.parameters import (
    BalanceParams,
    ParameterTable,
    liquity_recovery_parameters,
    resolve_parameters,
)
from ccm.lending.parameters import liquity_tcr as liquity_tcr_of
from ccm.lending.rules import LiquityRules
from ccm.risk.context import LENDING_CODE, RiskContext
from ccm.risk.margin.base import Requirement
from ccm.risk.margin.standard import standard_requirement


def parameter_table(ctx: RiskContext) -> ParameterTable:
    """The lending parameters of ``ctx``'s accounts and assets (:func:`ccm.lending.parameters.resolve_parameters`)."""
    assets = ctx.book.assets
    return resolve_parameters(ctx.config.protocol, [ctx.config.lending_for(a) for a in assets], assets,
                              ctx.book.account_ids)


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
        ctx.cache[key] = liquity_tcr_of(np.maximum(value, 0.0)[(bal.indices == coll_col) & is_trove], owed)
    return ctx.cache[key]


def balance_parameters(ctx: RiskContext) -> BalanceParams:
    """Lending parameters of every stored balance under the config's protocol rules (eMode, Liquity Recovery
    Mode), (nnz,) each, aligned with ``ctx.book.balances.data``."""
    bal = ctx.book.balances
    params = parameter_table(ctx).per_balance(row_of_nonzeros(bal), bal.indices)
    rules = ctx.config.protocol
    if isinstance(rules, LiquityRules):
        tcr = liquity_tcr(ctx)
        if tcr < rules.ccr:  # which troves are below TCR is decided at the current prices
            value = _balance_values(ctx, None)
            collateral = row_sums(np.maximum(value, 0.0) * (params.liquidation_threshold > 0), bal.indptr)
            debt = row_sums(np.maximum(-value, 0.0), bal.indptr)
            below_tcr = (collateral < tcr * debt)[row_of_nonzeros(bal)]  # ICR < TCR
            return liquity_recovery_parameters(params, rules, tcr, below_tcr)
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
    return health_factor_kernel(weighted, debt)


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


def account_lending_metrics(ctx: RiskContext) -> LendingResult:
    """DeFi lending metrics (:func:`ccm.lending.metrics.lending_metrics`) of every account of ``ctx`` at its
    market: health factor, borrowing capacity, liquidation prices and drop (NaN off the lending model)."""
    bal = ctx.book.balances
    rules = ctx.config.protocol
    return lending_metrics(quantity=bal.data, price=ctx.market.asset_prices[bal.indices],
                           balance_account=row_of_nonzeros(bal), balance_asset=bal.indices, indptr=bal.indptr,
                           params=balance_parameters(ctx), moving=ctx.moving, lending=ctx.model_code == LENDING_CODE,
                           assets=ctx.book.assets, rules=rules,
                           tcr=liquity_tcr(ctx) if isinstance(rules, LiquityRules) else float("nan"))

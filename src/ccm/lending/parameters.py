"""One resolver of lending parameters: per asset, per Aave eMode category, per account and per stored balance.

Every lending computation of ccm — the lending margin model and DeFi metrics (:mod:`ccm.risk.margin.lending`),
the liquidation step and the protocol cascade (:mod:`ccm.lending.liquidation`, :mod:`ccm.lending.cascade`) —
takes its (LTV, liquidation threshold, liquidation bonus) from :func:`resolve_parameters`:

* row 0 of the tables: each asset's own parameters (``config.lending_for``: the config's ``lending`` section, or
  the protocol's native ratios for Maker and Liquity, :func:`ccm.lending.rules.asset_lending_params`);
* row k ≥ 1: an account in the k-th Aave eMode category (its category assets overridden, the others kept);
* ``category`` maps every account to its row (0 = no eMode).

Aave's ``PoolConfigurator`` invariant LT × LB ≤ 100% (reference/defi.md §1.2) is checked here once, for the
reserves and for every eMode category: a liquidation would otherwise seize more collateral than the account
holds. Liquity v1's Recovery Mode (TCR < CCR) is applied to per-balance parameters by
:func:`liquity_recovery_parameters`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ccm._typing import BoolArray, FloatArray, IntArray
from ccm.errors import InputError
from ccm.lending.rules import AaveRules, LendingParams, LiquityRules, ProtocolRules

#: Relative slack of the LT × LB ≤ 1 check (binary rounding of decimals such as 0.95 × 1.05).
_LB_SLACK = 1e-12


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceParams:
    """Effective lending parameters of a set of balances (decimals; liquidation_bonus 0.05 = Aave LB 105%).

    Each array has one entry per balance: (nnz,) aligned with a book's stored balances, or (n_accounts,
    n_assets) dense, as the caller asked.
    """

    ltv: FloatArray
    liquidation_threshold: FloatArray
    liquidation_bonus: FloatArray


@dataclass(frozen=True, slots=True, kw_only=True)
class ParameterTable:
    """Lending parameters of every (account, asset).

    ltv, liquidation_threshold, liquidation_bonus : ndarray (1 + n_categories, n_assets); row 0 the assets' own.
    category : int ndarray (n_accounts,), each account's row (0 = no eMode); empty when no accounts were given.
    """

    ltv: FloatArray
    liquidation_threshold: FloatArray
    liquidation_bonus: FloatArray
    category: IntArray

    def per_asset(self) -> BalanceParams:
        """The assets' own parameters, (n_assets,) each (no eMode)."""
        return BalanceParams(ltv=self.ltv[0], liquidation_threshold=self.liquidation_threshold[0],
                             liquidation_bonus=self.liquidation_bonus[0])

    def per_balance(self, account_rows: IntArray, asset_cols: IntArray) -> BalanceParams:
        """Parameters of the balances at (account_rows[k], asset_cols[k]), (nnz,) each."""
        code = self.category[account_rows]
        return BalanceParams(ltv=self.ltv[code, asset_cols],
                             liquidation_threshold=self.liquidation_threshold[code, asset_cols],
                             liquidation_bonus=self.liquidation_bonus[code, asset_cols])

    def dense(self, accounts: IntArray | None = None) -> BalanceParams:
        """(n_accounts, n_assets) parameters of ``accounts`` (rows; default all), or (n_assets,) per asset when
        no account is in an eMode category (the arrays then broadcast over accounts)."""
        code = self.category if accounts is None else self.category[accounts]
        if not np.any(code):
            return self.per_asset()
        return BalanceParams(ltv=self.ltv[code], liquidation_threshold=self.liquidation_threshold[code],
                             liquidation_bonus=self.liquidation_bonus[code])


def bonus_problem(liquidation_threshold: float, liquidation_bonus: float) -> str | None:
    """Why (LT, bonus) breaks Aave's ``PoolConfigurator`` rule LT × (1 + bonus) ≤ 1, or None when it holds."""
    product = liquidation_threshold * (1.0 + liquidation_bonus)
    if product > 1.0 + _LB_SLACK:
        return (f"liquidation_threshold × (1 + liquidation_bonus) = {product:.6g} exceeds 1 "
                "(Aave requires LT × LB ≤ 100%)")
    return None


def _check_bonus(lt: float, bonus: float, *, record: str) -> None:
    problem = bonus_problem(lt, bonus)
    if problem:
        raise InputError(problem, file="config", record=record, field="liquidation_bonus")


def emode_categories(rules: ProtocolRules | None, account_ids: Sequence[str] | np.ndarray | None) -> IntArray:
    """eMode row of each account, (n_accounts,): 0 = none, k = the k-th category of ``AaveRules.emode``."""
    if account_ids is None:
        return np.zeros(0, dtype=np.int64)
    ids = np.asarray(account_ids).astype(str)
    codes = np.zeros(ids.shape[0], dtype=np.int64)
    if not isinstance(rules, AaveRules) or not rules.account_emode:
        return codes
    index = {name: k + 1 for k, name in enumerate(rules.emode)}
    keys = np.array(sorted(rules.account_emode), dtype=str)
    values = np.array([index[rules.account_emode[k]] for k in keys], dtype=np.int64)
    at = np.minimum(np.searchsorted(keys, ids), keys.shape[0] - 1)
    return np.where(keys[at] == ids, values[at], codes)


def resolve_parameters(rules: ProtocolRules | None, own: Sequence[LendingParams], assets: Sequence[str],
                       account_ids: Sequence[str] | np.ndarray | None = None) -> ParameterTable:
    """The :class:`ParameterTable` of ``assets`` under ``rules`` (see the module docstring).

    Parameters
    ----------
    rules : the config's protocol rules (None: no DeFi preset, the ``lending`` section only).
    own : one :class:`LendingParams` per asset, outside any eMode (``config.lending_for(asset)``).
    assets : asset names (n_assets,), the columns of the tables.
    account_ids : (n_accounts,) ids for the eMode assignment; None leaves ``category`` empty.

    Raises
    ------
    InputError : Aave rules and a reserve or eMode category with LT × (1 + bonus) > 1.
    """
    rows = [[(p.ltv, p.liquidation_threshold, p.liquidation_bonus) for p in own]]
    if isinstance(rules, AaveRules):
        for asset, p in zip(assets, own, strict=True):
            _check_bonus(p.liquidation_threshold, p.liquidation_bonus, record=f"lending.{asset}")
        for name, cat in rules.emode.items():
            _check_bonus(cat.liquidation_threshold, cat.liquidation_bonus, record=f"protocol.emode.{name}")
            member = set(cat.assets)
            rows.append([(cat.ltv, cat.liquidation_threshold, cat.liquidation_bonus) if a in member else r
                         for a, r in zip(assets, rows[0], strict=True)])
    table = np.array(rows, dtype=np.float64).reshape(len(rows), len(assets), 3)
    return ParameterTable(ltv=table[..., 0], liquidation_threshold=table[..., 1], liquidation_bonus=table[..., 2],
                          category=emode_categories(rules, account_ids))


def liquity_tcr(collateral_usd: FloatArray, debt_usd: FloatArray, axis: int | None = None) -> FloatArray | float:
    """Liquity total collateral ratio Σ collateral ÷ Σ debt of the troves; +inf without debt.

    ``collateral_usd`` holds the troves' collateral values (0 elsewhere) and ``debt_usd`` their debts (USD), in
    any layout (per balance, per account, or (…, n_accounts) with ``axis=-1`` for one TCR per batch entry).
    """
    collateral = np.asarray(collateral_usd, dtype=float).sum(axis=axis)
    debt = np.asarray(debt_usd, dtype=float).sum(axis=axis)
    if axis is None:
        return float(collateral) / float(debt) if debt > 0 else np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(debt > 0, collateral / np.where(debt > 0, debt, 1.0), np.inf)


def liquity_recovery_parameters(params: BalanceParams, rules: LiquityRules, tcr: float,
                                below_tcr: BoolArray) -> BalanceParams:
    """Parameters under Liquity v1's Recovery Mode, or ``params`` unchanged when TCR ≥ CCR.

    In Recovery Mode a trove with ICR < TCR is liquidatable too: its collateral weight becomes
    1 / max(MCR, TCR) (so HF < 1 exactly for the troves Recovery Mode liquidates); borrowing needs ICR ≥ CCR,
    so LTV becomes 1 / CCR. ``below_tcr`` is True for the balances of troves with ICR < TCR (shape of
    ``params``' arrays); assets with no weight (LT 0) keep 0.
    """
    if not tcr < rules.ccr:
        return params
    weighted = params.liquidation_threshold > 0
    lt = np.where(below_tcr, 1.0 / max(rules.mcr, tcr), 1.0 / rules.mcr)
    return BalanceParams(ltv=np.where(weighted, 1.0 / rules.ccr, 0.0),
                         liquidation_threshold=np.where(weighted, lt, 0.0),
                         liquidation_bonus=params.liquidation_bonus)


__all__ = ["BalanceParams", "ParameterTable", "bonus_problem", "emode_categories", "liquity_recovery_parameters",
           "liquity_tcr", "resolve_parameters"]

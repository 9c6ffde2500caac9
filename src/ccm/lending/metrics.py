"""DeFi lending metrics per account: health factor, borrowing capacity, liquidation prices, liquidation drop.

With the effective parameters of every balance (:mod:`ccm.lending.parameters`), collateral
values c_a > 0, debt values d_b > 0 (USD) and the health factor HF = Σ c_a·LT_a ÷ Σ d_b:

* ``borrowing_capacity`` = Σ c_a·LTV_a (the borrow limit, USD); ``available_to_borrow`` = max(0, capacity − debt)
  (Aave's ``availableBorrows``; Compound's borrow limit with borrowCollateralFactor).
* ``liquidation_price`` of collateral asset a, the other prices fixed: HF = 1 at
  p* = (D − W + c_a·LT_a) ÷ (q_a·LT_a)  with W = Σ c·LT; NaN when no positive price gives HF = 1.
* ``liquidation_drop``: the uniform relative drop x of all non-stable prices at which HF reaches 1. HF(x) is
  a ratio of two linear functions of (1 − x): with W_m, W_s the weighted moving / stable collateral and
  D_m, D_s the moving / stable debt, HF = 1 at (1 − x) = (D_s − W_s) ÷ (W_m − D_m). 0 when HF < 1 already;
  NaN when no drop up to 100% makes the account liquidatable.

Liquity v1: in Recovery Mode (TCR < CCR) a trove with ICR < TCR is liquidatable. Troves hold ETH against
LUSD, so under a drop x every ICR and the TCR scale by (1 − x): Recovery Mode starts at x = 1 − CCR/TCR, and
from then on exactly the troves with ICR < TCR (now) are liquidatable. The trove's drop is the smaller of that
and its own MCR drop; its ETH liquidation price is the price after that drop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ccm._typing import BoolArray, FloatArray, IntArray
from ccm.book.book import row_sums
from ccm.division import guarded_ratio
from ccm.lending.health import health_factor
from ccm.lending.parameters import BalanceParams
from ccm.lending.rules import LiquityRules, ProtocolRules


@dataclass(frozen=True, slots=True, kw_only=True)
class LendingResult:
    """Lending metrics; per-account arrays (n_accounts,) are NaN for accounts not under the lending model.

    health_factor : Σ collateral × LT ÷ debt; +inf without debt.
    collateral_usd, debt_usd : Σ positive / Σ negative balance values (USD, ≥ 0).
    borrowing_capacity : Σ collateral × LTV (USD).
    available_to_borrow : max(0, borrowing_capacity − debt_usd) (USD).
    liquidation_drop : uniform relative drop of non-stable prices (0.25 = −25%) at which HF reaches 1.
    liquidation_price : (nnz_balances,), aligned with ``Book.balances.data``: price (USD) of the balance's asset,
        other prices fixed, at which HF = 1; NaN for debts, zero-LT assets and accounts without debt.
    balance_account, balance_asset : (nnz_balances,) account row and asset column of each stored balance.
    assets : asset names (columns of ``balance_asset``).
    protocol : the preset's protocol name, None without one.
    recovery_mode : Liquity only: the system's TCR is below CCR (None for other protocols).
    tcr : Liquity only: the total collateral ratio used (NaN for other protocols).
    """

    health_factor: FloatArray
    collateral_usd: FloatArray
    debt_usd: FloatArray
    borrowing_capacity: FloatArray
    available_to_borrow: FloatArray
    liquidation_drop: FloatArray
    liquidation_price: FloatArray
    balance_account: np.ndarray
    balance_asset: np.ndarray
    assets: tuple[str, ...]
    protocol: str | None = None
    recovery_mode: bool | None = None
    tcr: float = float("nan")


def lending_metrics(*, quantity: FloatArray, price: FloatArray, balance_account: IntArray, balance_asset: IntArray,
                    indptr: IntArray, params: BalanceParams, moving: BoolArray, lending: BoolArray,
                    assets: tuple[str, ...], rules: ProtocolRules | None, tcr: float = float("nan")) -> LendingResult:
    """Health factor, borrowing capacity, liquidation prices and drop of every account.

    Parameters
    ----------
    quantity, price : (nnz,) signed coin balance and its asset's USD price, stored balances in account order
        (CSR layout: account ``balance_account[k]``, asset column ``balance_asset[k]``, rows cut by ``indptr``).
    indptr : (n_accounts + 1,) CSR row pointer of the balances.
    params : :class:`BalanceParams` of the balances, (nnz,) each (:mod:`ccm.lending.parameters`).
    moving : (n_assets,) True for assets whose price moves in a uniform drop (non-stable).
    lending : (n_accounts,) True for the accounts under the lending model (others get NaN).
    assets : asset names (columns of ``balance_asset``); rules : the protocol preset, None without one.
    tcr : Liquity only, the total collateral ratio in force (``ccm.lending.parameters.liquity_tcr``).
    """
    row = balance_account
    value = quantity * price
    collateral = np.maximum(value, 0.0)
    debt_part = np.maximum(-value, 0.0)
    weighted_part = collateral * params.liquidation_threshold
    moving = moving[balance_asset]

    weighted = row_sums(weighted_part, indptr)
    debt = row_sums(debt_part, indptr)
    capacity = row_sums(collateral * params.ltv, indptr)
    has_debt = debt > 0
    hf = health_factor(weighted, debt)

    # Uniform drop: (1 − x) = (D_s − W_s) ÷ (W_m − D_m).
    w_m = row_sums(weighted_part * moving, indptr)
    d_m = row_sums(debt_part * moving, indptr)
    factor = guarded_ratio(debt - d_m - (weighted - w_m), w_m - d_m)
    drop = np.where((factor > 0) & (factor <= 1), 1.0 - factor, np.nan)
    drop = np.where(has_debt & (hf < 1.0), 0.0, np.where(has_debt, drop, np.nan))

    # Liquidation price per collateral balance, other prices fixed.
    unit_weight = quantity * params.liquidation_threshold  # USD of weighted collateral per USD of price
    counts = (value > 0) & (params.liquidation_threshold > 0) & has_debt[row]
    target = debt[row] - weighted[row] + weighted_part
    liq_price = guarded_ratio(target, unit_weight, where=counts)
    liq_price = np.where(liq_price > 0, liq_price, np.nan)

    recovery = None
    if isinstance(rules, LiquityRules):
        tcr = float(tcr)
        recovery = tcr < rules.ccr
        collateral_asset = balance_asset == (assets.index(rules.collateral_asset)
                                             if rules.collateral_asset in assets else -1)
        icr = guarded_ratio(row_sums(collateral * collateral_asset, indptr), debt)
        mcr_drop = np.where(icr > rules.mcr, 1.0 - rules.mcr / np.where(icr > rules.mcr, icr, 1.0), 0.0)
        # Recovery Mode from a drop of 1 − CCR/TCR on (now if TCR < CCR, including TCR 0; never without debt)
        rm_drop = (max(0.0, 1.0 - rules.ccr / tcr) if tcr > 0 else 0.0) if np.isfinite(tcr) else np.inf
        drop = np.where(has_debt, np.minimum(mcr_drop, np.where(icr < tcr, rm_drop, np.inf)), np.nan)
        liq_price = np.where(collateral_asset & counts, price * (1.0 - drop[row]), liq_price)
    else:
        tcr = float("nan")
    per_account = {name: np.where(lending, a, np.nan) for name, a in (
        ("health_factor", hf), ("collateral_usd", row_sums(collateral, indptr)), ("debt_usd", debt),
        ("borrowing_capacity", capacity), ("available_to_borrow", np.maximum(capacity - debt, 0.0)),
        ("liquidation_drop", drop))}
    return LendingResult(**per_account, liquidation_price=np.where(lending[row], liq_price, np.nan),
                         balance_account=row, balance_asset=np.asarray(balance_asset, dtype=np.int64), assets=assets,
                         protocol=None if rules is None else rules.name, recovery_mode=recovery, tcr=tcr)


@dataclass(frozen=True, slots=True, kw_only=True)
class DropTableResult:
    """Accounts that become liquidatable by a uniform price drop of at most each level (cumulative).

    drops : (n_levels,) relative drops (0.1 = −10%).
    accounts : (n_levels,) number of lending accounts with liquidation_drop ≤ drop.
    debt_usd, collateral_usd : (n_levels,) their debt and collateral at today's prices (USD).
    """

    drops: FloatArray
    accounts: np.ndarray
    debt_usd: FloatArray
    collateral_usd: FloatArray


DROP_LEVELS = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50, 0.60, 0.75)


def drop_table(result: LendingResult, drops: tuple[float, ...] = DROP_LEVELS) -> DropTableResult:
    """Cumulative liquidatable accounts, debt and collateral at each drop level (DefiLlama-style table)."""
    levels = np.asarray(drops, dtype=np.float64)
    d = result.liquidation_drop
    known = np.isfinite(d)
    order = np.argsort(d[known], kind="stable")
    sorted_drop = d[known][order]
    upto = np.searchsorted(sorted_drop, levels + 1e-12, side="right")
    cum_debt = np.concatenate(([0.0], np.cumsum(result.debt_usd[known][order])))
    cum_coll = np.concatenate(([0.0], np.cumsum(result.collateral_usd[known][order])))
    return DropTableResult(drops=levels, accounts=upto.astype(np.int64), debt_usd=cum_debt[upto],
                           collateral_usd=cum_coll[upto])

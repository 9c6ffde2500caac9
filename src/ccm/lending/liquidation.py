"""One liquidation step under a DeFi protocol's rules, vectorised over accounts (reference/defi.md §1.3, §2).

Inputs are plain arrays: collateral quantities ``q`` (…, n_accounts, n_assets) in coins, debt ``D``
(…, n_accounts) in USD (one stable debt asset worth $1), prices ``p`` (…, n_assets) in USD, and per asset a
liquidation threshold ``LT`` (the protocol's weight: Aave LT, Compound ``liquidateCollateralFactor``, Maker
1 / liquidation ratio, Liquity 1 / MCR) and an incentive ``b`` (Aave LB − 1, Compound 1 − ``liquidationFactor``,
Maker penalty ``chop − 1``; unused by Liquity). Leading axes (…) are batch axes, e.g. Monte Carlo paths.

Every protocol shares one trigger: ``HF = Σ_a q_a p_a LT_a / D`` and an account is liquidatable iff D > 0 and
HF < 1. What happens next (all amounts USD at the prices ``p``):

**Aave v3** (LiquidationLogic, v3.3 rules by default). The liquidator repays debt ``R`` and receives
collateral of one reserve worth ``R (1 + b)``; it picks the collateral reserve with the largest value among
those with LT > 0 (ties → lowest index). ``R`` is the most the rules allow:

* close factor: ``R ≤ D`` by default; ``R ≤ close_factor × D`` (50%) only if ``HF > 0.95`` **and** the chosen
  collateral and the debt are both worth ≥ ``min_close_factor_base_usd`` ($2,000). Set that to 0 for v3.0–3.2
  (always capped above HF 0.95). The switch is strict, as in the contracts: HF = 0.95 exactly is 100%.
* collateral cap: if ``R (1 + b)`` exceeds the reserve's collateral ``C_j`` the liquidator takes all of it and
  repays ``C_j / (1 + b)``.
* dust (v3.3 ``MIN_LEFTOVER_BASE``): a liquidation that takes neither all the debt nor all the pair's
  collateral must leave ≥ ``min_leftover_usd`` ($1,000) of both, or the call reverts. The liquidator then
  repays the largest amount that passes, ``min(R, D − L, (C_j − L) / (1 + b))``, or nothing if that is ≤ 0.
* bonus ``R b`` (= seized − seized / (1 + b)); ``protocol_fee`` × bonus goes to the treasury, the rest is the
  liquidator's profit (before the slippage of selling it).
* bad debt (v3.3 deficit): if the account has no collateral (with LT > 0) left, its remaining debt is written
  off.

**Compound III** ``absorb``: the protocol takes all collateral and credits ``Σ q p (1 − b)``; debt up to that
credit is repaid, the excess returns to the account as a base-asset balance (``borrower_credit_usd``) and a
shortfall is bad debt absorbed by reserves. Of the discount ``Σ q p b`` the share ``protocol_fee`` stays with
the protocol (1 − ``storeFrontPriceFactor``) and the rest is the discount a ``buyCollateral`` buyer earns
(reported as liquidator profit).

**Maker** (kept simple): the whole vault is bitten; the auction must raise ``tab = D (1 + b̄)`` (b̄ = the
value-weighted penalty of the vault's collateral, exactly ``chop − 1`` for a one-collateral vault). Keepers pay
``p (1 − auction_discount)``; the auction sells a fraction ``f = min(1, tab / (V (1 − discount)))`` of every
collateral asset, raising ``f V (1 − discount)``. Proceeds repay the debt, the excess over D is penalty
revenue (protocol fee) and a shortfall is bad debt (to the Vow); unsold collateral returns to the owner.
Ignored: ``hole``/``Hole`` caps, partial bites, ``dust``, the Dutch price curve, ``chip``/``tip``.

**Liquity v1**: a liquidatable trove pays
``collateral_gas_fraction`` (0.5%) of its collateral and ``gas_compensation_usd`` (200 LUSD) to the
liquidator; the Stability Pool (SP) offsets its debt and receives the rest of the collateral in proportion.
Troves are offset in account order (``batchLiquidateTroves``) while the pool lasts; the part of a trove's debt
the pool cannot offset is **redistributed**, with its share of collateral, to the troves that remain active,
pro rata to their collateral value (their ``stake``); this changes their ``collateral_after``/``debt_after``.
Bad debt here is the Stability Pool's loss ``max(0, offset − collateral it receives)``, plus, when no active
trove is left to take redistributed debt, what the collateral that came with it does not cover.
Recovery Mode (TCR = Σ collateral ÷ Σ debt < ``ccr``, or ``system_tcr`` if given), after the v1 README table:
a trove with ICR ≤ 100% is only redistributed; 100% < ICR < MCR as in normal mode; MCR ≤ ICR < TCR only if the
pool still holds the trove's whole debt, and then collateral worth ``recovery_collateral_cap`` × debt leaves
(the surplus stays with the borrower). The mode and TCR are taken at the start of the step, not re-evaluated
after each trove as ``batchLiquidateTroves`` does; a cascade's next round sees the new TCR.

The outcome also gives ``sold`` quantities: everything seized is sold into the market the same round
(conservative: treasuries and Stability Pool depositors sell at once too).

**When a liquidation makes the position worse.** Take the seized reserve j with threshold LT_j and bonus b_j,
weighted collateral ``W = Σ_a q_a p_a LT_a``, so ``HF = W / D``. Repaying R < D takes R(1 + b_j) of collateral
from reserve j (not exhausting it):

    HF' = (W − R (1 + b_j) LT_j) / (D − R)

    HF' < HF  ⇔  (W − R (1 + b_j) LT_j) D < W (D − R)  ⇔  R (1 + b_j) LT_j D > W R  ⇔  HF < LT_j (1 + b_j)

(R > 0, D − R > 0). With one collateral, W = C·LT and this is ``HF' = (C − R(1+b))·LT / (D − R)``: the
liquidation raises HF iff HF > LT × LB (reference/defi.md §1.3 [derived]) and leaves it unchanged at equality.
Below the boundary each liquidation pushes HF down (death spiral): :func:`liquidation_worsens`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ccm._typing import BoolArray, FloatArray, IntArray
from ccm.errors import InputError
from ccm.lending.health import health_factor
from ccm.lending.parameters import liquity_tcr, resolve_parameters
from ccm.lending.rules import AaveRules, CompoundRules, LendingConfig, LiquityRules

AAVE_V3 = "aave-v3"
COMPOUND_V3 = "compound-v3"
MAKER = "maker"
LIQUITY_V1 = "liquity-v1"
PROTOCOLS = (AAVE_V3, COMPOUND_V3, MAKER, LIQUITY_V1)

PARAMS = "liquidation parameters"


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidationParams:
    """The rules of one protocol's liquidations (defaults: Aave v3.3 constants, Liquity v1 constants).

    Attributes
    ----------
    protocol : "aave-v3" | "compound-v3" | "maker" | "liquity-v1".
    liquidation_threshold : ndarray (n_assets,), the HF weight of each collateral asset (0 = no power); or
        (n_accounts, n_assets) when accounts differ (Aave eMode), broadcasting against the collateral.
    bonus : like liquidation_threshold, the liquidation incentive as a decimal (0.05 = LB 105%); Maker: penalty.
    protocol_fee : like liquidation_threshold, share of the incentive kept by the protocol (Aave
        ``liquidationProtocolFee``, Compound 1 − ``storeFrontPriceFactor``).
    close_factor : Aave ``DEFAULT_LIQUIDATION_CLOSE_FACTOR`` (0.5).
    max_close_factor : Aave ``MAX_LIQUIDATION_CLOSE_FACTOR`` (1.0), the share allowed when the cap does not hold.
    close_factor_hf_threshold : Aave ``CLOSE_FACTOR_HF_THRESHOLD`` (0.95); the cap holds for HF strictly above.
    min_close_factor_base_usd : Aave v3.3 ``MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD`` ($2,000; 0 = v3.0–3.2).
    min_leftover_usd : Aave v3.3 ``MIN_LEFTOVER_BASE`` ($1,000; 0 = no dust rule).
    auction_discount : Maker: keepers buy collateral at p × (1 − discount) [assumption, default 0].
    gas_compensation_usd : Liquity ``LUSD_GAS_COMPENSATION`` (200).
    collateral_gas_fraction : Liquity share of collateral paid to the liquidator (0.005).
    mcr : Liquity minimum collateral ratio (1.10); ICR = HF × mcr (the weights are 1 / MCR).
    ccr : Liquity critical ratio (1.50): Recovery Mode while TCR < ccr (0 = never).
    system_tcr : Liquity TCR to use; None = Σ collateral ÷ Σ debt of the troves given (per batch entry).
    recovery_collateral_cap : Recovery Mode: a trove with ICR ≥ MCR gives up at most cap × debt of collateral.
    """

    protocol: str
    liquidation_threshold: FloatArray
    bonus: FloatArray
    protocol_fee: FloatArray = field(default_factory=lambda: np.zeros(0))
    close_factor: float = 0.5
    max_close_factor: float = 1.0
    close_factor_hf_threshold: float = 0.95
    min_close_factor_base_usd: float = 2_000.0
    min_leftover_usd: float = 1_000.0
    auction_discount: float = 0.0
    gas_compensation_usd: float = 200.0
    collateral_gas_fraction: float = 0.005
    mcr: float = 1.10
    ccr: float = 1.50
    system_tcr: float | None = None
    recovery_collateral_cap: float = 1.10

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise InputError(f"unknown protocol {self.protocol!r}", record=PARAMS, field="protocol",
                             hint=f"use one of {', '.join(PROTOCOLS)}")
        lt = np.asarray(self.liquidation_threshold, dtype=float)
        n = lt.shape[-1] if lt.ndim >= 1 else -1
        fee = np.asarray(self.protocol_fee, dtype=float)
        if fee.size == 0 and n >= 0:
            fee = np.zeros(n)
        for name, arr, low, high in (("liquidation_threshold", lt, 0.0, np.inf),
                                     ("bonus", np.asarray(self.bonus, dtype=float), 0.0, np.inf),
                                     ("protocol_fee", fee, 0.0, 1.0)):
            if arr.ndim < 1 or arr.shape[-1] != n:
                raise InputError(f"{name} must be one number per asset ({n}), or a row of them per account; got "
                                 f"shape {arr.shape}", record=PARAMS, field=name)
            if not np.all(np.isfinite(arr)) or np.any(arr < low) or np.any(arr > high):
                raise InputError(f"{name} must be finite and in [{low}, {high}]", record=PARAMS, field=name)
        for name in ("close_factor", "max_close_factor", "auction_discount", "collateral_gas_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"{name} must be in [0, 1], got {value}", record=PARAMS, field=name)
        for name in ("close_factor_hf_threshold", "min_close_factor_base_usd", "min_leftover_usd",
                     "gas_compensation_usd", "mcr", "ccr", "recovery_collateral_cap"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0.0):
                raise InputError(f"{name} must be finite and ≥ 0, got {value}", record=PARAMS, field=name)
        if self.system_tcr is not None and not (np.isfinite(self.system_tcr) and self.system_tcr >= 0.0):
            raise InputError(f"system_tcr must be finite and ≥ 0, got {self.system_tcr}", record=PARAMS,
                             field="system_tcr")
        object.__setattr__(self, "liquidation_threshold", lt)
        object.__setattr__(self, "bonus", np.asarray(self.bonus, dtype=float))
        object.__setattr__(self, "protocol_fee", fee)

    @property
    def n_assets(self) -> int:
        return int(self.liquidation_threshold.shape[-1])

    def for_accounts(self, rows: IntArray) -> LiquidationParams:
        """These rules for the accounts ``rows`` only: per-account arrays (n_accounts, n_assets) are sliced,
        per-asset arrays (n_assets,) kept."""
        def pick(arr: FloatArray) -> FloatArray:
            return arr[rows] if arr.ndim >= 2 else arr

        return replace(self, liquidation_threshold=pick(self.liquidation_threshold), bonus=pick(self.bonus),
                       protocol_fee=pick(self.protocol_fee))


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidationResult:
    """Outcome of one liquidation step (USD at the step's prices; … = batch axes, n = accounts, A = assets).

    Attributes
    ----------
    liquidated : bool (…, n), a liquidation (or a bad-debt write-off) happened.
    health_factor_before, health_factor_after : (…, n); +inf without debt.
    seized_asset : int (…, n), Aave: the collateral reserve chosen (−1 where none); others −1.
    debt_repaid_usd : (…, n), debt extinguished by collateral (Liquity: offset by the Stability Pool).
    collateral_seized : (…, n, A) coins taken, bonus and protocol fee included.
    seized_usd : (…, n) their value.
    protocol_fee_usd, liquidator_profit_usd : (…, n).
    bad_debt_usd : (…, n), debt left uncovered by the collateral (see module docstring per protocol).
    borrower_credit_usd : (…, n), Compound: absorb surplus credited to the account in the base asset.
    redistributed_debt_usd : (…, n), Liquity: debt passed on to the active troves.
    redistributed_collateral_usd : (…, n), Liquity: value of the collateral passed on with it.
    collateral_after : (…, n, A) coins; debt_after : (…, n) USD.
    sold : (…, A) coins sold into the market by this step (Σ over accounts of what was seized).
    stability_pool_after_usd : (…) Liquity's pool after the offsets; others: the pool given, unchanged.
    """

    liquidated: BoolArray
    health_factor_before: FloatArray
    health_factor_after: FloatArray
    seized_asset: IntArray
    debt_repaid_usd: FloatArray
    collateral_seized: FloatArray
    seized_usd: FloatArray
    protocol_fee_usd: FloatArray
    liquidator_profit_usd: FloatArray
    bad_debt_usd: FloatArray
    borrower_credit_usd: FloatArray
    redistributed_debt_usd: FloatArray
    redistributed_collateral_usd: FloatArray
    collateral_after: FloatArray
    debt_after: FloatArray
    sold: FloatArray
    stability_pool_after_usd: FloatArray

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.liquidated))


def health_factor_of(collateral: FloatArray, debt_usd: FloatArray, prices: FloatArray,
                     liquidation_threshold: FloatArray) -> FloatArray:
    """``Σ_a q_a p_a LT_a / D`` per account, (…, n); +inf where D ≤ 0.

    Parameters
    ----------
    collateral : (…, n, A) coins ≥ 0; debt_usd : (…, n); prices : (…, A) USD;
    liquidation_threshold : (A,) or per account (n, A).
    """
    return health_factor(_weighted(collateral, prices, liquidation_threshold), np.asarray(debt_usd, dtype=float))


def _weighted(collateral: FloatArray, prices: FloatArray, liquidation_threshold: FloatArray) -> FloatArray:
    """Σ_a q_a p_a LT_a, (…, n)."""
    q = np.asarray(collateral, dtype=float)
    p = np.asarray(prices, dtype=float)
    lt = np.asarray(liquidation_threshold, dtype=float)
    if lt.ndim == 1:
        return np.matmul(q, (p * lt)[..., :, None])[..., 0]  # BLAS over the few assets
    return (q * (p[..., None, :] * lt)).sum(axis=-1)


def liquidatable(collateral: FloatArray, debt_usd: FloatArray, prices: FloatArray,
                 liquidation_threshold: FloatArray) -> BoolArray:
    """``D > 0`` and ``HF < 1`` (i.e. ``Σ q p LT < D``), (…, n): :func:`health_factor_of` without the division."""
    debt = np.asarray(debt_usd, dtype=float)
    return (debt > 0) & (_weighted(collateral, prices, liquidation_threshold) < debt)


def liquidatable_under(collateral: FloatArray, debt_usd: FloatArray, prices: FloatArray,
                       params: LiquidationParams) -> BoolArray:
    """The accounts :func:`liquidate` would consider, (…, n): :func:`liquidatable`, and for Liquity in Recovery
    Mode also the troves with ICR < TCR."""
    if params.protocol != LIQUITY_V1:
        return liquidatable(collateral, debt_usd, prices, params.liquidation_threshold)
    debt = np.asarray(debt_usd, dtype=float)
    return _eligible(health_factor_of(collateral, debt, prices, params.liquidation_threshold), debt, params)


def _eligible(hf: FloatArray, debt: FloatArray, params: LiquidationParams) -> BoolArray:
    base = (debt > 0) & (hf < 1.0)
    if params.protocol != LIQUITY_V1:
        return base
    icr, tcr, recovery = _liquity_mode(hf, debt, params)
    return base | (recovery[..., None] & (debt > 0) & (icr < tcr[..., None]))


def _liquity_mode(hf: FloatArray, debt: FloatArray, prm: LiquidationParams
                  ) -> tuple[FloatArray, FloatArray, BoolArray]:
    """(ICR (…, n), TCR (…), Recovery Mode (…)) of Liquity troves; ICR = HF × MCR."""
    has = debt > 0
    icr = np.where(has, hf * prm.mcr, np.inf)
    if prm.system_tcr is not None:
        tcr = np.full(debt.shape[:-1], prm.system_tcr)
    else:
        tcr = liquity_tcr(np.where(has, icr, 0.0) * debt, debt, axis=-1)
    return icr, tcr, tcr < prm.ccr


def liquidation_worsens(health_factor: FloatArray, liquidation_threshold: FloatArray,
                        bonus: FloatArray) -> BoolArray:
    """True where a partial liquidation seizing collateral with this LT and bonus lowers the health factor:
    ``HF < LT × (1 + bonus)`` (derivation in the module docstring; equality leaves HF unchanged).

    All arguments broadcast together, e.g. (n,) health factors with the seized reserve's LT and bonus (n,).
    """
    return np.asarray(health_factor) < np.asarray(liquidation_threshold) * (1.0 + np.asarray(bonus))


def worsening_accounts(collateral: FloatArray, debt_usd: FloatArray, prices: FloatArray,
                       params: LiquidationParams) -> BoolArray:
    """:func:`liquidation_worsens` for each liquidatable account (HF < 1) with the reserve an Aave liquidator
    seizes (largest collateral value), (…, n); False for healthy accounts and accounts without collateral."""
    q, debt, p = _check(collateral, debt_usd, prices, params)
    value = q * p[..., None, :]
    hf = health_factor((value * params.liquidation_threshold).sum(axis=-1), debt)
    j, c_j, _ = _chosen_reserve(value, params)
    has = c_j > 0
    lt, b = _pick(params.liquidation_threshold, j, value.shape), _pick(params.bonus, j, value.shape)
    return (debt > 0) & (hf < 1.0) & has & liquidation_worsens(hf, lt, b)


def _check(collateral, debt_usd, prices, params: LiquidationParams) -> tuple[FloatArray, FloatArray, FloatArray]:
    q = np.asarray(collateral, dtype=float)
    debt = np.asarray(debt_usd, dtype=float)
    p = np.asarray(prices, dtype=float)
    if q.ndim < 2 or q.shape[-1] != params.n_assets:
        raise InputError(f"collateral must have shape (…, n_accounts, {params.n_assets}), got {q.shape}",
                         record=PARAMS, field="collateral")
    if debt.shape != q.shape[:-1]:
        raise InputError(f"debt must have shape {q.shape[:-1]}, got {debt.shape}", record=PARAMS, field="debt")
    if p.shape[-1:] != (params.n_assets,):
        raise InputError(f"prices must end with {params.n_assets} assets, got {p.shape}", record=PARAMS,
                         field="prices")
    for name, arr in (("collateral", q), ("debt", debt), ("prices", p)):
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise InputError(f"{name} must be finite and ≥ 0", record=PARAMS, field=name)
    return q, debt, p


def liquidate(collateral: FloatArray, debt_usd: FloatArray, prices: FloatArray, params: LiquidationParams, *,
              stability_pool_usd: FloatArray | float = 0.0,
              debt_to_cover_usd: FloatArray | float = np.inf) -> LiquidationResult:
    """Liquidate every liquidatable account once under ``params.protocol``'s rules (inputs are not mutated).

    Parameters
    ----------
    collateral : ndarray (…, n_accounts, n_assets), coins ≥ 0.
    debt_usd : ndarray (…, n_accounts), USD ≥ 0.
    prices : ndarray (…, n_assets), USD ≥ 0 (batch axes broadcast with collateral's).
    params : the protocol rules.
    stability_pool_usd : Liquity only: LUSD in the Stability Pool, scalar or (…).
    debt_to_cover_usd : Aave only: the most the liquidator offers to repay, scalar or (…, n_accounts)
        (``liquidationCall``'s ``debtToCover``); default: as much as the rules allow.

    Returns
    -------
    LiquidationResult (see the module docstring for each protocol's rules).
    """
    q, debt, p = _check(collateral, debt_usd, prices, params)
    value = q * p[..., None, :]
    hf = health_factor((value * params.liquidation_threshold).sum(axis=-1), debt)
    eligible = _eligible(hf, debt, params)
    pool = np.broadcast_to(np.asarray(stability_pool_usd, dtype=float), debt.shape[:-1]).copy()
    if params.protocol == AAVE_V3:
        cover = np.broadcast_to(np.asarray(debt_to_cover_usd, dtype=float), debt.shape)
        if np.any(np.isnan(cover) | (cover < 0)):
            raise InputError("debt_to_cover_usd must be ≥ 0", record=PARAMS, field="debt_to_cover_usd")
        out = _aave(q, debt, value, hf, eligible, cover, params)
    elif params.protocol == LIQUITY_V1:
        out = _liquity(q, debt, p, value, hf, eligible, pool, params)
    else:
        step = {COMPOUND_V3: _compound, MAKER: _maker}[params.protocol]
        out = step(q, debt, p, value, eligible, pool, params)
    q_after, debt_after = out["collateral_after"], out["debt_after"]
    seized = out["collateral_seized"]
    zeros = np.zeros_like(debt)
    return LiquidationResult(
        liquidated=out["liquidated"],
        health_factor_before=hf,
        health_factor_after=health_factor_of(q_after, debt_after, p, params.liquidation_threshold),
        seized_asset=out.get("seized_asset", np.full(debt.shape, -1, dtype=np.int64)),
        debt_repaid_usd=out["debt_repaid_usd"],
        collateral_seized=seized,
        seized_usd=(seized * p[..., None, :]).sum(axis=-1),
        protocol_fee_usd=out.get("protocol_fee_usd", zeros),
        liquidator_profit_usd=out["liquidator_profit_usd"],
        bad_debt_usd=out["bad_debt_usd"],
        borrower_credit_usd=out.get("borrower_credit_usd", zeros),
        redistributed_debt_usd=out.get("redistributed_debt_usd", zeros),
        redistributed_collateral_usd=out.get("redistributed_collateral_usd", zeros),
        collateral_after=q_after,
        debt_after=debt_after,
        sold=seized.sum(axis=-2),
        stability_pool_after_usd=out.get("stability_pool_after_usd", pool),
    )


def _take(arr: FloatArray, j: IntArray) -> FloatArray:
    return np.take_along_axis(arr, j[..., None], axis=-1)[..., 0]


def _pick(per_asset: FloatArray, j: IntArray, shape: tuple[int, ...]) -> FloatArray:
    """The parameter of asset j[…] of each account, from a (A,) or per-account (…, n, A) array."""
    return _take(np.broadcast_to(per_asset, shape), j)


def _chosen_reserve(value: FloatArray, prm: LiquidationParams) -> tuple[IntArray, FloatArray, FloatArray]:
    """Aave: (j, C_j, collateral value) — the reserve the liquidator seizes, the largest by value among those with
    LT > 0 (``validateLiquidationCall`` refuses others), its value, and the value of all such collateral."""
    usable = np.where(np.broadcast_to(prm.liquidation_threshold, value.shape) > 0, value, 0.0)
    j = np.argmax(usable, axis=-1)
    return j, _take(usable, j), usable


def _aave(q, debt, value, hf, eligible, cover, prm: LiquidationParams) -> dict:
    j, c_j, usable = _chosen_reserve(value, prm)
    lb = 1.0 + _pick(prm.bonus, j, value.shape)
    capped = (hf > prm.close_factor_hf_threshold) & (c_j >= prm.min_close_factor_base_usd) & (
        debt >= prm.min_close_factor_base_usd)
    r_max = np.minimum(np.where(capped, prm.close_factor, prm.max_close_factor) * debt, cover)
    exhaust = r_max * lb >= c_j  # the allowed repayment would buy more than the reserve holds
    repaid = np.where(exhaust, c_j / lb, r_max)
    seized_usd = np.where(exhaust, c_j, repaid * lb)
    leftover = prm.min_leftover_usd
    dust = (~exhaust & (repaid < debt)
            & ((debt - repaid < leftover) | (c_j - seized_usd < leftover)))
    fallback = np.maximum(0.0, np.minimum(np.minimum(repaid, debt - leftover), (c_j - leftover) / lb))
    repaid = np.where(dust, fallback, repaid)
    seized_usd = np.where(dust, repaid * lb, seized_usd)
    exhaust = exhaust & ~dust
    repaid = np.where(eligible, repaid, 0.0)
    seized_usd = np.where(eligible, seized_usd, 0.0)

    onehot = np.arange(q.shape[-1]) == j[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        taken = np.where(exhaust, 1.0, np.where(c_j > 0, seized_usd / np.where(c_j > 0, c_j, 1.0), 0.0))
    taken = np.where(eligible, np.minimum(taken, 1.0), 0.0)  # share of reserve j seized
    seized = np.where(onehot, (taken * _take(q, j))[..., None], 0.0)
    q_after = np.where(onehot & (eligible & exhaust)[..., None], 0.0, q - seized)
    debt_after = debt - repaid
    # v3.3 deficit: no collateral left at all → the remaining debt is written off
    bankrupt = eligible & ~np.any((q_after > 0) & (usable > 0), axis=-1) & (debt_after > 0)
    bad = np.where(bankrupt, debt_after, 0.0)
    debt_after = np.where(bankrupt, 0.0, debt_after)
    bonus_usd = seized_usd - repaid
    fee = bonus_usd * _pick(prm.protocol_fee, j, value.shape)
    return dict(
        liquidated=eligible & ((repaid > 0) | bankrupt),
        seized_asset=np.where(eligible & (c_j > 0), j, -1).astype(np.int64),
        debt_repaid_usd=repaid, collateral_seized=seized, protocol_fee_usd=fee,
        liquidator_profit_usd=bonus_usd - fee, bad_debt_usd=bad, collateral_after=q_after, debt_after=debt_after)


def _compound(q, debt, p, value, eligible, pool, prm: LiquidationParams) -> dict:
    credit = (value * (1.0 - prm.bonus)).sum(axis=-1)
    discount = value * prm.bonus
    fee = (discount * prm.protocol_fee).sum(axis=-1)
    e = eligible
    return dict(
        liquidated=e,
        debt_repaid_usd=np.where(e, np.minimum(debt, credit), 0.0),
        collateral_seized=np.where(e[..., None], q, 0.0),
        protocol_fee_usd=np.where(e, fee, 0.0),
        liquidator_profit_usd=np.where(e, discount.sum(axis=-1) - fee, 0.0),
        bad_debt_usd=np.where(e, np.maximum(0.0, debt - credit), 0.0),
        borrower_credit_usd=np.where(e, np.maximum(0.0, credit - debt), 0.0),
        collateral_after=np.where(e[..., None], 0.0, q),
        debt_after=np.where(e, 0.0, debt))


def _maker(q, debt, p, value, eligible, pool, prm: LiquidationParams) -> dict:
    total = value.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        penalty = np.where(total > 0, (value * prm.bonus).sum(axis=-1) / np.where(total > 0, total, 1.0), 0.0)
        net = total * (1.0 - prm.auction_discount)
        tab = debt * (1.0 + penalty)
        f = np.where(net > 0, np.minimum(1.0, tab / np.where(net > 0, net, 1.0)), 1.0)
    f = np.where(eligible, f, 0.0)
    proceeds = f * net
    e = eligible
    return dict(
        liquidated=e,
        debt_repaid_usd=np.where(e, np.minimum(debt, proceeds), 0.0),
        collateral_seized=q * f[..., None],
        protocol_fee_usd=np.where(e, np.maximum(0.0, proceeds - debt), 0.0),
        liquidator_profit_usd=f * total * prm.auction_discount,
        bad_debt_usd=np.where(e, np.maximum(0.0, debt - proceeds), 0.0),
        collateral_after=np.where(e[..., None], q * (1.0 - f[..., None]), q),
        debt_after=np.where(e, 0.0, debt))


def _liquity(q, debt, p, value, hf, eligible, pool, prm: LiquidationParams) -> dict:
    total = value.sum(axis=-1)
    icr, _, recovery = _liquity_mode(hf, debt, prm)
    rm = recovery[..., None]
    capped = rm & (icr >= prm.mcr)  # Recovery Mode, MCR ≤ ICR < TCR: only with a pool that covers all the debt
    e = eligible
    need = np.where(e & ~(rm & (icr <= 1.0)), debt, 0.0)  # Recovery Mode, ICR ≤ 100%: redistribution only
    before = np.cumsum(need, axis=-1) - need  # debt of the troves offset earlier in the batch
    e = e & ~(capped & (pool[..., None] - before < debt))
    need = np.where(e, need, 0.0)
    before = np.cumsum(need, axis=-1) - need
    offset = np.clip(pool[..., None] - before, 0.0, need)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(need > 0, offset / np.where(need > 0, need, 1.0), 0.0)
        # capped liquidation: collateral worth cap × debt leaves, the surplus stays with the borrower
        part = np.where(capped & e & (total > 0),
                        np.minimum(1.0, prm.recovery_collateral_cap * debt / np.where(total > 0, total, 1.0)), 1.0)
    taken = q * np.where(e, part, 0.0)[..., None]
    net_coll = taken * (1.0 - prm.collateral_gas_fraction)
    to_pool = net_coll * share[..., None]
    moved_coll = np.where(e[..., None], net_coll - to_pool, 0.0)
    moved_debt = np.where(e, debt, 0.0) - offset
    pool_loss = np.maximum(0.0, offset - (to_pool * p[..., None, :]).sum(axis=-1))

    # Redistribution to the troves left active, pro rata to their collateral value (their stake).
    active = (debt > 0) & ~e
    stake = np.where(active, total, 0.0)
    stake_total = stake.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(stake_total > 0, stake / np.where(stake_total > 0, stake_total, 1.0), 0.0)
    someone = stake_total > 0  # (…, 1): someone is left to take redistributed debt
    gained_debt = weight * moved_debt.sum(axis=-1, keepdims=True)
    gained_coll = weight[..., None] * moved_coll.sum(axis=-2)[..., None, :]
    # Nobody left: the protocol keeps (and sells) that collateral; what it does not cover is bad debt.
    orphan_loss = np.where(someone, 0.0, np.maximum(0.0, moved_debt - (moved_coll * p[..., None, :]).sum(axis=-1)))
    seized = taken * prm.collateral_gas_fraction + to_pool + np.where(someone[..., None], 0.0, moved_coll)
    return dict(
        liquidated=e,
        debt_repaid_usd=offset,
        collateral_seized=seized,
        liquidator_profit_usd=np.where(
            e, prm.gas_compensation_usd + prm.collateral_gas_fraction * (taken * p[..., None, :]).sum(axis=-1), 0.0),
        bad_debt_usd=pool_loss + orphan_loss,
        redistributed_debt_usd=np.where(someone, moved_debt, 0.0),
        redistributed_collateral_usd=np.where(someone, (moved_coll * p[..., None, :]).sum(axis=-1), 0.0),
        collateral_after=q - taken + gained_coll,
        debt_after=np.where(e, 0.0, debt) + gained_debt,
        stability_pool_after_usd=pool - offset.sum(axis=-1))


def params_from_config(config: LendingConfig, assets: Sequence[str],
                       account_ids: Sequence[str] | None = None) -> LiquidationParams:
    """The liquidation rules of ``config.protocol`` (a DeFi preset, :mod:`ccm.lending.rules`) for ``assets``.

    LT and bonus per asset (and per account in an Aave eMode category) come from
    :func:`ccm.lending.parameters.resolve_parameters`, the resolver the lending margin model uses too (Aave LT /
    LB − 1, Compound liquidateCF / 1 − liquidationFactor, Maker 1 / liquidation ratio / penalty, Liquity 1 / MCR);
    it refuses an Aave reserve or category with LT × (1 + bonus) > 1 (``PoolConfigurator``). With
    ``account_ids`` (n_accounts,) and accounts in eMode categories the arrays are (n_accounts, n_assets).
    Aave: close factors, threshold and treasury share from its rules; ``position_close_factor: false``
    (v3.0–3.2) turns the v3.3 size and dust rules off. Compound: the protocol keeps 1 −
    ``store_front_price_factor`` of the discount. Liquity: gas compensation and the Recovery Mode ratios from
    its rules (the mode itself is decided in :func:`liquidate`, at each step's prices). Not modelled: Maker
    ``dust``.
    """
    rules = config.protocol
    if rules is None:
        raise InputError("the configuration names no DeFi protocol", file="config", record="protocol",
                         field="name", hint=f"pass --preset {' | '.join(PROTOCOLS)}, or add a protocol: section")
    table = resolve_parameters(rules, [config.lending_for(a) for a in assets], assets, account_ids)
    resolved = table.dense() if account_ids is not None else table.per_asset()
    lt = np.array(resolved.liquidation_threshold, dtype=float)
    bonus = np.array(resolved.liquidation_bonus, dtype=float)
    kw: dict = {}
    if isinstance(rules, AaveRules):
        v33 = rules.position_close_factor
        kw = dict(protocol_fee=np.array([rules.protocol_fee_for(a) for a in assets], dtype=float),
                  close_factor=rules.close_factor, max_close_factor=rules.max_close_factor,
                  close_factor_hf_threshold=rules.close_factor_hf_threshold,
                  min_close_factor_base_usd=rules.min_close_factor_base_usd if v33 else 0.0,
                  min_leftover_usd=rules.min_leftover_base_usd if v33 else 0.0)
    elif isinstance(rules, CompoundRules):
        kw = dict(protocol_fee=np.full(lt.shape[-1], 1.0 - rules.store_front_price_factor))
    elif isinstance(rules, LiquityRules):
        kw = dict(gas_compensation_usd=rules.gas_compensation_usd,
                  collateral_gas_fraction=rules.collateral_gas_compensation, mcr=rules.mcr, ccr=rules.ccr,
                  system_tcr=rules.system_tcr, recovery_collateral_cap=rules.recovery_collateral_cap)
    return LiquidationParams(protocol=rules.name, liquidation_threshold=lt, bonus=bonus, **kw)


__all__ = ["AAVE_V3", "COMPOUND_V3", "LIQUITY_V1", "MAKER", "PROTOCOLS", "LiquidationParams", "LiquidationResult",
           "health_factor_of", "liquidatable", "liquidatable_under", "liquidate", "liquidation_worsens",
           "params_from_config", "worsening_accounts"]

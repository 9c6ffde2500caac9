"""Protocol rules of DeFi lending presets (Aave v3, Compound III, MakerDAO, Liquity v1) as plain parameters.

Every protocol reduces to one health factor (reference/defi.md §2.8, §6.1):

    HF = Σ collateral_a × weight_a ÷ debt,   liquidatable iff HF < 1

with weight = Aave liquidation threshold, Compound ``liquidateCollateralFactor``, Maker 1 / liquidation ratio,
Liquity 1 / MCR (or 1 / max(MCR, TCR) in Recovery Mode). Aave and Compound keep their per-asset weights in
the config's ``lending`` section (ltv ≡ LTV / ``borrowCollateralFactor``, liquidation_threshold ≡ LT /
``liquidateCollateralFactor``, liquidation_bonus ≡ LB − 1 / 1 − ``liquidationFactor``); Maker and Liquity state
their native ratios here and :func:`asset_lending_params` turns them into the same three numbers.

The liquidation mechanics (close factor, dust, absorb, auctions, Stability Pool) are parameters only: the
liquidation simulation in ``ccm.stress`` reads them. Values marked [unverified] in the research notes are
parameters with the noted default, never constants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class LendingParams:
    """Lending (health factor) parameters of one collateral asset, Aave style, as decimals: ltv 0.8,
    liquidation_threshold 0.85, liquidation_bonus 0.05 (= Aave LB 105%)."""

    ltv: float = 0.0
    liquidation_threshold: float = 0.0
    liquidation_bonus: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EModeCategory:
    """An Aave v3 efficiency-mode category: an account in it uses these LTV / LT / bonus for ``assets``
    (its other assets keep their reserve parameters). Decimals: ltv 0.98, liquidation_bonus 0.01 = LB 101%."""

    ltv: float
    liquidation_threshold: float
    liquidation_bonus: float
    assets: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AaveRules:
    """Aave v3 pool rules (reference/defi.md §1.3–1.4).

    close_factor : share of the debt liquidatable in one call while HF > close_factor_hf_threshold (0.5).
    max_close_factor : share liquidatable at or below that health factor (1.0).
    close_factor_hf_threshold : 0.95 (``CLOSE_FACTOR_HF_THRESHOLD``).
    position_close_factor : v3.3+: the close factor applies to the whole position (total debt in USD) and
        the 50% cap only holds when both chosen reserves are worth ≥ min_close_factor_base_usd; False =
        v3.0–3.2 (per reserve, always capped above the threshold).
    min_close_factor_base_usd : v3.3 ``MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD`` = $2,000.
    min_leftover_base_usd : v3.3 ``MIN_LEFTOVER_BASE`` = $1,000: a partial liquidation must leave at least this
        much debt and collateral of the pair, unless it takes all of one.
    protocol_fee : per asset, share of the liquidation bonus sent to the treasury (``default`` key allowed).
    emode : eMode categories by name.
    account_emode : account id → eMode category name (accounts not listed use no eMode).
    """

    name: ClassVar[str] = "aave-v3"
    close_factor: float = 0.5
    max_close_factor: float = 1.0
    close_factor_hf_threshold: float = 0.95
    position_close_factor: bool = True
    min_close_factor_base_usd: float = 2_000.0
    min_leftover_base_usd: float = 1_000.0
    protocol_fee: Mapping[str, float] = field(default_factory=dict)
    emode: Mapping[str, EModeCategory] = field(default_factory=dict)
    account_emode: Mapping[str, str] = field(default_factory=dict)

    def protocol_fee_for(self, asset: str) -> float:
        return self.protocol_fee.get(asset, self.protocol_fee.get("default", 0.0))


@dataclass(frozen=True, slots=True, kw_only=True)
class CompoundRules:
    """Compound III (Comet) market rules (reference/defi.md §2.1). Collateral factors live in ``lending``.

    base_asset : the one borrowable asset of the market (debt in any other asset is not a Comet position).
    store_front_price_factor : share of the liquidation penalty passed on as discount by ``buyCollateral``.
    target_reserves : reserves (base units) above which the protocol stops selling absorbed collateral.
    borrow_min : smallest borrow balance (base units).
    """

    name: ClassVar[str] = "compound-v3"
    base_asset: str = "USDC"
    store_front_price_factor: float = 0.5
    target_reserves: float = 5_000_000.0
    borrow_min: float = 100.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MakerIlk:
    """One MakerDAO collateral type (reference/defi.md §2.2).

    liquidation_ratio : ``mat``: vault unsafe iff collateral value ÷ debt < liquidation_ratio (1.5 = 150%).
    penalty : ``chop − 1`` (0.13): added to the debt when the vault is liquidated.
    dust_usd : minimum vault debt (DAI) a partial liquidation must not leave behind.
    """

    liquidation_ratio: float
    penalty: float = 0.13
    dust_usd: float = 2_000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MakerRules:
    """MakerDAO vault rules: one ilk per collateral asset (an account = one vault)."""

    name: ClassVar[str] = "maker"
    ilks: Mapping[str, MakerIlk] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquityRules:
    """Liquity v1 trove rules (reference/defi.md §2.3). An account is a trove: ETH collateral, LUSD debt.

    mcr : minimum collateral ratio 1.10; a trove with ICR < MCR is liquidatable.
    ccr : critical system collateral ratio 1.50; Recovery Mode iff TCR < CCR, and then a trove with
        ICR < TCR is liquidatable too (with enough LUSD in the Stability Pool, assumed).
    system_tcr : the system's TCR; None = Σ collateral ÷ Σ debt of the book's troves (lending accounts with debt) at the
        current prices (a book that is not the whole system should set it).
    recovery_collateral_cap : in Recovery Mode a liquidation with MCR ≤ ICR takes at most cap × debt (1.1).
    gas_compensation_usd : LUSD gas compensation (200) included in every trove's debt.
    collateral_gas_compensation : share of collateral paid to the liquidator (0.005).
    min_net_debt_usd : smallest net debt of a trove (1,800 LUSD).
    """

    name: ClassVar[str] = "liquity-v1"
    collateral_asset: str = "ETH"
    mcr: float = 1.10
    ccr: float = 1.50
    system_tcr: float | None = None
    recovery_collateral_cap: float = 1.10
    gas_compensation_usd: float = 200.0
    collateral_gas_compensation: float = 0.005
    min_net_debt_usd: float = 1_800.0


ProtocolRules = AaveRules | CompoundRules | MakerRules | LiquityRules

PROTOCOLS: tuple[str, ...] = ("aave-v3", "compound-v3", "maker", "liquity-v1")


class LendingConfig(Protocol):
    """What the lending layer reads of a risk configuration (a :class:`ccm.risk.config.RiskConfig`)."""

    @property
    def protocol(self) -> ProtocolRules | None: ...

    def lending_for(self, asset: str) -> LendingParams: ...


def asset_lending_params(rules: ProtocolRules | None, asset: str, fallback: LendingParams) -> LendingParams:
    """Effective (ltv, liquidation_threshold, liquidation_bonus) of ``asset`` outside any eMode.

    Maker: 1 / liquidation ratio for both, penalty as bonus. Liquity (normal mode): 1 / MCR for both, and
    MCR − 1 as bonus (the most a Stability-Pool liquidation gains; [derived], defi.md §2.8). Others:
    ``fallback`` (the config's ``lending`` entry).
    """
    if isinstance(rules, MakerRules) and asset in rules.ilks:
        ilk = rules.ilks[asset]
        return LendingParams(ltv=1.0 / ilk.liquidation_ratio, liquidation_threshold=1.0 / ilk.liquidation_ratio,
                             liquidation_bonus=ilk.penalty)
    if isinstance(rules, LiquityRules) and asset == rules.collateral_asset:
        return LendingParams(ltv=1.0 / rules.mcr, liquidation_threshold=1.0 / rules.mcr,
                             liquidation_bonus=rules.mcr - 1.0)
    return fallback

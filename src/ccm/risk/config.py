"""Risk configuration as frozen value objects (parsed from YAML by ``ccm.io.config``).

Every number a risk engineer may want to change is here, with the default documented in
``ccm/presets/default.yaml``; unverified figures from the research notes are parameters, never constants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ccm.enums import MarginModelName
from ccm.errors import InputError
from ccm.lending.rules import LendingParams, ProtocolRules, asset_lending_params
from ccm.scenario.ewma_filter import DEFAULT_LAMBDA

VarMethod = Literal["historical", "filtered", "parametric"]
VarMeasure = Literal["var", "es"]

#: Logical file name of config errors; shells replace it with the real path (``InputError.relocated``).
CONFIG = "config"


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    """Coverage-ratio thresholds: at or above ``warning`` is healthy; below ``liquidation`` liquidates."""

    warning: float = 1.5
    margin_call: float = 1.2
    liquidation: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HaircutTier:
    """Collateral ratio ``rate`` applied to the part of an asset's USD value up to ``up_to_usd``."""

    up_to_usd: float
    rate: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetRisk:
    """Collateral risk settings of one asset.

    haircut : static haircut (decimal).
    tiers : value tiers (Binance/Bybit style), applied value-weighted on top of the haircut.
    volatility : annualised vol for the volatility haircut z·σ·√(liquidation_days/365); None = off.
    liquidation_days : days to liquidate the collateral (volatility and liquidity haircuts).
    adv_usd : average daily volume in USD for the liquidity add-on; None = off.
    impact_coefficient : Y in the square-root impact Y·σ_daily·√(value/ADV).
    stable : a stablecoin: does not move in uniform price moves (distance to liquidation).
    """

    haircut: float = 0.0
    tiers: tuple[HaircutTier, ...] = ()
    volatility: float | None = None
    liquidation_days: float = 1.0
    adv_usd: float | None = None
    impact_coefficient: float = 1.0
    stable: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StandardParams:
    """Deribit standard margin for one underlying (reference/exchanges.md §1.3–1.4)."""

    future_im_base: float = 0.02
    future_mm_base: float = 0.01
    future_size_slope: float = 0.00005
    option_im_max: float = 0.15
    option_im_min: float = 0.10
    option_mm: float = 0.075


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioParams:
    """Deribit portfolio margin (risk matrix) for one underlying (reference/exchanges.md §1.5)."""

    price_range: float = 0.16
    buckets: int = 4
    vol_up: float = 0.50
    vol_down: float = 0.25
    vega_power_short: float = 0.30
    vega_power_long: float = 0.13
    min_vol_up: float = 0.50
    min_dte_days: float = 1.0
    extended_moves: tuple[float, ...] = (-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0)
    extended_table_factor: float = 1.0
    extended_dampener: float = 100_000.0
    pnl_offset: float = 0.0
    min_annualised_move: float = 0.01
    annualised_move_risk: float = 0.075
    mm_factor: float = 0.8
    cross_settlement: bool = True


VolShock = Literal["up", "none", "down"]

#: Derive's 21 margin scenarios (spot shock × vol-shock direction), v2-core scripts/config.sol getDefaultScenarios.
DERIVE_TEST_SCENARIOS: tuple[tuple[float, str], ...] = tuple(
    (s, v) for s in (1.15, 1.10, 1.05, 1.0, 0.95, 0.90, 0.85) for v in ("up", "none", "down"))
#: The 23 of the mainnet deployment config (v2-core scripts/config-mainnet.sol): 1.20 up, the 21, 0.80 up.
DERIVE_MAINNET_SCENARIOS: tuple[tuple[float, str], ...] = ((1.20, "up"),) + DERIVE_TEST_SCENARIOS + ((0.80, "up"),)


@dataclass(frozen=True, slots=True, kw_only=True)
class DerivePmrmParams:
    """Derive (Lyra v2) portfolio margin, PMRM + PMRMLib of derivexyz/v2-core, for one underlying.

    Defaults are the mainnet deployment parameters of v2-core ``scripts/config-mainnet.sol`` (commit
    f46973056213eca1d1e7c32063a242d2b39fa98d); the names follow PMRMLib's parameter structs. See
    ``ccm.risk.margin.derive_pmrm`` and docs/margin-models.md.

    scenarios : (spot shock, vol shock "up" | "none" | "down") pairs, the margin scenarios.
    basis_spot_up, basis_spot_down, basis_add_factor, basis_mult_factor : BasisContingencyParameters.
    peg_loss_threshold … option_percent : OtherContingencyParameters (confidence_threshold = confThreshold,
        confidence_margin = confMargin).
    im_factor, base_static_discount, rate_mult_scale, rate_add_scale : MarginParameters.
    vol_range_up … dte_floor_days : VolShockParameters (dteFloor in days).
    cash_asset : the manager's cash asset (its index is Derive's stable price).
    """

    scenarios: tuple[tuple[float, str], ...] = DERIVE_MAINNET_SCENARIOS
    basis_spot_up: float = 1.05
    basis_spot_down: float = 0.95
    basis_add_factor: float = 1.0
    basis_mult_factor: float = 1.2
    peg_loss_threshold: float = 0.99
    peg_loss_factor: float = 4.0
    confidence_threshold: float = 0.55
    confidence_margin: float = 1.0
    base_percent: float = 0.03
    perp_percent: float = 0.03
    option_percent: float = 0.02
    im_factor: float = 1.25
    base_static_discount: float = 0.95
    rate_mult_scale: float = 1.0
    rate_add_scale: float = 0.12
    vol_range_up: float = 0.6
    vol_range_down: float = 0.3
    short_term_power: float = 0.3
    long_term_power: float = 0.13
    dte_floor_days: float = 1.0
    cash_asset: str = "USDC"

    def __post_init__(self) -> None:
        if not self.scenarios:
            raise InputError("needs at least one scenario", record="derive_pmrm", field="scenarios")
        for k, (shock, vol) in enumerate(self.scenarios):
            if not (0.0 < shock <= 3.0) or vol not in ("up", "none", "down"):
                raise InputError(f"scenario {k} must be [spot shock in (0, 3], up | none | down], got "
                                 f"{[shock, vol]!r}", record="derive_pmrm", field=f"scenarios[{k}]")
        if not self.basis_spot_down < 1.0 < self.basis_spot_up:
            raise InputError("need basis_spot_down < 1 < basis_spot_up", record="derive_pmrm",
                             field="basis_spot_up")
        if self.im_factor < 1.0:
            raise InputError(f"im_factor must be ≥ 1, got {self.im_factor}", record="derive_pmrm", field="im_factor")


@dataclass(frozen=True, slots=True, kw_only=True)
class VarParams:
    """Parameters of the VaR / ES margin model (``ccm.risk.margin.var``; config section ``margin.var``).

    Attributes
    ----------
    method : "historical" | "filtered" | "parametric".
    measure : "var" or "es" (expected shortfall) as the requirement.
    confidence : c in (0, 1), default 0.99 (EMIR Art 24 for listed products).
    mpor_days : margin period of risk in days of the daily history, default 2 (EMIR Art 26 for listed
        products; crypto trades every calendar day, so these are calendar days).
    lookback_days : daily returns used (the most recent), default 365.
    ewma_lambda : EWMA decay of the filter and of the EWMA covariance.
    covariance : "ewma" or "sample" (demeaned, n − 1) covariance of the parametric method.
    bump : log move used to measure deltas (parametric).
    buffer : APC (a), e.g. 0.25; 0 = none.
    stressed_weight : APC (b), e.g. 0.25; 0 = none. stressed_window_days : its window length.
    floor_lookback_days : APC (c), e.g. 3650; None = no floor.
    maintenance_ratio : MM ÷ IM.
    proxy : the asset that stands in for a non-stable book asset missing from the history (None: it does
        not move).
    """

    method: VarMethod = "historical"
    measure: VarMeasure = "var"
    confidence: float = 0.99
    mpor_days: int = 2
    lookback_days: int = 365
    ewma_lambda: float = DEFAULT_LAMBDA
    covariance: Literal["ewma", "sample"] = "ewma"
    bump: float = 1e-4
    buffer: float = 0.0
    stressed_weight: float = 0.0
    stressed_window_days: int = 250
    floor_lookback_days: int | None = None
    maintenance_ratio: float = 1.0
    proxy: str | None = "BTC"

    def __post_init__(self) -> None:
        checks = (
            ("method", self.method in ("historical", "filtered", "parametric"), "historical, filtered or parametric"),
            ("measure", self.measure in ("var", "es"), "var or es"),
            ("confidence", 0.0 < self.confidence < 1.0, "in (0, 1)"),
            ("mpor_days", int(self.mpor_days) == self.mpor_days and self.mpor_days >= 1, "an integer ≥ 1"),
            ("lookback_days", self.lookback_days >= self.mpor_days, "≥ mpor_days"),
            ("covariance", self.covariance in ("ewma", "sample"), "ewma or sample"),
            ("bump", 0.0 < self.bump < 0.1, "in (0, 0.1)"),
            ("buffer", self.buffer >= 0.0, "≥ 0"),
            ("stressed_weight", 0.0 <= self.stressed_weight <= 1.0, "in [0, 1]"),
            ("stressed_window_days", self.stressed_window_days >= self.mpor_days, "≥ mpor_days"),
            ("floor_lookback_days", self.floor_lookback_days is None or self.floor_lookback_days >= self.mpor_days,
             "≥ mpor_days or None"),
            ("maintenance_ratio", 0.0 <= self.maintenance_ratio, "≥ 0"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise InputError(f"{name} must be {expected}, got {getattr(self, name)!r}", record="var model",
                                 field=name)


@dataclass(frozen=True, slots=True, kw_only=True)
class DistanceSettings:
    """Distance to liquidation search: a shared grid of moves, then per-account regula falsi."""

    max_move: float = 0.95
    grid: tuple[float, ...] = (0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3,
                               0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.95)
    refine_iterations: int = 8
    tolerance: float = 1e-5


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskConfig:
    """Everything the metrics depend on besides the book and the market."""

    currency: str = "USD"
    default_model: MarginModelName = MarginModelName.STANDARD
    thresholds: Thresholds = Thresholds()
    haircut_confidence_z: float = 2.326
    assets: Mapping[str, AssetRisk] = field(default_factory=dict)
    standard: Mapping[str, StandardParams] = field(default_factory=dict)
    portfolio: Mapping[str, PortfolioParams] = field(default_factory=dict)
    lending: Mapping[str, LendingParams] = field(default_factory=dict)
    derive_pmrm: Mapping[str, DerivePmrmParams] = field(default_factory=dict)
    var: VarParams = VarParams()
    distance: DistanceSettings = DistanceSettings()
    contributors_top: int = 3
    protocol: ProtocolRules | None = None  # DeFi protocol preset rules (ccm.lending.rules)

    def asset(self, name: str) -> AssetRisk:
        """Settings of ``name``, else the ``default`` entry, else no haircut."""
        return self.assets.get(name) or self.assets.get("default") or AssetRisk()

    def _per_underlying(self, table: Mapping, section: str, underlying: str):
        if underlying in table:
            return table[underlying]
        if "default" in table:
            return table["default"]
        raise InputError(
            f"no {section} parameters for underlying {underlying!r}",
            file=CONFIG,
            record=f"margin.{section}",
            field=underlying,
            hint=f"add margin.{section}.{underlying} (or margin.{section}.default) to the config",
        )

    def standard_for(self, underlying: str) -> StandardParams:
        return self._per_underlying(self.standard, "standard", underlying)

    def portfolio_for(self, underlying: str) -> PortfolioParams:
        return self._per_underlying(self.portfolio, "portfolio", underlying)

    def derive_pmrm_for(self, underlying: str) -> DerivePmrmParams:
        """Derive PMRM parameters of ``underlying``, else the ``default`` entry, else the mainnet defaults."""
        return self.derive_pmrm.get(underlying) or self.derive_pmrm.get("default") or DerivePmrmParams()

    def lending_for(self, asset: str) -> LendingParams:
        """Lending parameters of ``asset`` (outside any Aave eMode), the protocol's where it sets them."""
        fallback = self.lending.get(asset) or self.lending.get("default") or LendingParams()
        return asset_lending_params(self.protocol, asset, fallback)

"""Risk configuration YAML ↔ :class:`~ccm.risk.config.RiskConfig`.

A user file is deep-merged over the packaged default ``ccm/presets/default.yaml``: mappings merge key by
key, lists and scalars replace, and ``null`` removes a key (the built-in default of that setting then
applies, e.g. ``volatility: null`` switches the volatility haircut off; ``assets: {SOL: null}`` drops SOL).
A file with ``inherit_default: false`` is used on its own (what :func:`write_config_yaml` writes).
Errors name the file the bad value came from, the key path of its parent as record
(``margin.portfolio.BTC``) and the key as field (``price_range``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from ccm.enums import MarginModelName
from ccm.errors import InputError
from ccm.io.config_conventions import bounded_misreading, unbounded_problem
from ccm.io.config_sources import Layer, ValueSource, has_key, key_lines, trace
from ccm.io.files import parse_document, read_document, write_text_atomic
from ccm.io.protocol_config import (
    ProtocolIn,
    preset_document,
    preset_file,
    preset_text,
    protocol_problem,
    protocol_rules,
    protocol_to_dict,
)
from ccm.io.validation import STRICT, Loc, input_error, locate_by_parent, path_text
from ccm.lending.rules import LendingParams
from ccm.risk.config import (
    AssetRisk,
    DerivePmrmParams,
    DistanceSettings,
    HaircutTier,
    PortfolioParams,
    RiskConfig,
    StandardParams,
    Thresholds,
    VarParams,
)

DEFAULT_CONFIG = "ccm/presets/default.yaml"
SCALARS = ("currency", "haircut_confidence_z", "contributors_top")

Unit = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
OpenUnit = Annotated[float, Field(gt=0, lt=1)]

# Every field defaults to None = "not given": the dataclass default applies (nulls never reach the schema).


class ThresholdsIn(BaseModel):
    model_config = STRICT
    warning: Positive | None = None
    margin_call: Positive | None = None
    liquidation: Positive | None = None


class TierIn(BaseModel):
    model_config = STRICT
    up_to_usd: Annotated[float, Field(gt=0, allow_inf_nan=True)]  # .inf: the ladder has no zero-rate tail
    rate: Unit


class AssetIn(BaseModel):
    model_config = STRICT
    haircut: Unit | None = None
    tiers: list[TierIn] | None = None
    volatility: NonNegative | None = None
    liquidation_days: Positive | None = None
    adv_usd: Positive | None = None
    impact_coefficient: NonNegative | None = None
    stable: bool | None = None


class StandardIn(BaseModel):
    model_config = STRICT
    future_im_base: Unit | None = None
    future_mm_base: Unit | None = None
    future_size_slope: NonNegative | None = None
    option_im_max: Unit | None = None
    option_im_min: Unit | None = None
    option_mm: Unit | None = None


class PortfolioIn(BaseModel):
    model_config = STRICT
    price_range: OpenUnit | None = None
    buckets: Annotated[int, Field(ge=1)] | None = None
    vol_up: NonNegative | None = None
    vol_down: Unit | None = None
    vega_power_short: NonNegative | None = None
    vega_power_long: NonNegative | None = None
    min_vol_up: NonNegative | None = None
    min_dte_days: Positive | None = None
    extended_moves: list[Annotated[float, Field(gt=-1)]] | None = None
    extended_table_factor: NonNegative | None = None
    extended_dampener: NonNegative | None = None
    pnl_offset: Unit | None = None
    min_annualised_move: NonNegative | None = None
    annualised_move_risk: NonNegative | None = None
    mm_factor: Annotated[float, Field(gt=0, le=1)] | None = None
    cross_settlement: bool | None = None


class VarIn(BaseModel):
    model_config = STRICT
    method: Literal["historical", "filtered", "parametric"] | None = None
    measure: Literal["var", "es"] | None = None
    confidence: OpenUnit | None = None
    mpor_days: Annotated[int, Field(ge=1)] | None = None
    lookback_days: Annotated[int, Field(ge=1)] | None = None
    ewma_lambda: OpenUnit | None = None
    covariance: Literal["ewma", "sample"] | None = None
    bump: Annotated[float, Field(gt=0, lt=0.1)] | None = None
    buffer: NonNegative | None = None
    stressed_weight: Unit | None = None
    stressed_window_days: Annotated[int, Field(ge=1)] | None = None
    floor_lookback_days: Annotated[int, Field(ge=1)] | None = None
    maintenance_ratio: NonNegative | None = None
    proxy: str | None = None  # "" = a book asset missing from the history does not move


class DeriveScenarioIn(BaseModel):
    model_config = STRICT
    spot: Annotated[float, Field(gt=0, le=3)]
    vol: Literal["up", "none", "down"]


class DerivePmrmIn(BaseModel):
    """``margin.derive_pmrm.<UNDERLYING>``: Derive PMRM parameters (ccm.risk.config.DerivePmrmParams)."""

    model_config = STRICT
    scenarios: Annotated[list[DeriveScenarioIn], Field(min_length=1)] | None = None
    basis_spot_up: Positive | None = None
    basis_spot_down: Positive | None = None
    basis_add_factor: NonNegative | None = None
    basis_mult_factor: NonNegative | None = None
    peg_loss_threshold: Unit | None = None
    peg_loss_factor: NonNegative | None = None
    confidence_threshold: Unit | None = None
    confidence_margin: NonNegative | None = None
    base_percent: Unit | None = None
    perp_percent: Unit | None = None
    option_percent: Unit | None = None
    im_factor: Annotated[float, Field(ge=1)] | None = None
    base_static_discount: Unit | None = None
    rate_mult_scale: NonNegative | None = None
    rate_add_scale: NonNegative | None = None
    vol_range_up: NonNegative | None = None
    vol_range_down: NonNegative | None = None
    short_term_power: NonNegative | None = None
    long_term_power: NonNegative | None = None
    dte_floor_days: Positive | None = None
    cash_asset: Annotated[str, Field(min_length=1)] | None = None


class MarginIn(BaseModel):
    model_config = STRICT
    standard: dict[str, StandardIn] | None = None
    portfolio: dict[str, PortfolioIn] | None = None
    var: VarIn | None = None
    derive_pmrm: dict[str, DerivePmrmIn] | None = None


def _derive_pmrm_params(margin: MarginIn, src: _Source) -> dict[str, DerivePmrmParams]:
    out = {}
    for name, item in (margin.derive_pmrm or {}).items():
        given = _given(item)
        if item.scenarios is not None:
            given["scenarios"] = tuple((float(x.spot), str(x.vol)) for x in item.scenarios)
        try:
            out[name] = DerivePmrmParams(**given)
        except InputError as error:  # relations between fields (basis_spot_down < 1 < basis_spot_up, …)
            field = (error.field or "derive_pmrm").split("[")[0]
            raise src.error(("margin", "derive_pmrm", name, field), message=error.message) from None
    return out


def _var_params(margin: MarginIn, src: _Source) -> dict[str, VarParams]:
    """``{"var": VarParams}`` when the document has a ``margin.var`` section (else the dataclass default)."""
    if margin.var is None:
        return {}
    given = _given(margin.var)
    if given.get("proxy") == "":
        given["proxy"] = None
    try:
        return {"var": VarParams(**given)}
    except InputError as error:  # relations between fields (lookback_days ≥ mpor_days, …)
        raise src.error(("margin", "var", error.field or "var"), message=error.message) from None


class LendingIn(BaseModel):
    model_config = STRICT
    ltv: Unit | None = None
    liquidation_threshold: Unit | None = None
    liquidation_bonus: Unit | None = None


class DistanceIn(BaseModel):
    model_config = STRICT
    max_move: OpenUnit | None = None
    grid: list[OpenUnit] | None = None
    refine_iterations: Annotated[int, Field(ge=0)] | None = None
    tolerance: Positive | None = None


class ConfigIn(BaseModel):
    """The risk configuration document (every section optional; see the packaged default)."""

    model_config = STRICT
    inherit_default: bool | None = None
    currency: Annotated[str, Field(min_length=1)] | None = None
    # var is not offered here: a var account needs a price history (ccm metrics --model var --prices …)
    default_model: Literal["standard", "portfolio", "lending", "var", "derive-pmrm"] | None = None
    thresholds: ThresholdsIn | None = None
    haircut_confidence_z: NonNegative | None = None
    assets: dict[str, AssetIn] | None = None
    margin: MarginIn | None = None
    lending: dict[str, LendingIn] | None = None
    distance: DistanceIn | None = None
    contributors_top: Annotated[int, Field(ge=0)] | None = None
    alerts: dict[str, Any] | None = None  # the engine's alert rules: validated by ccm.io.alerts_config
    protocol: ProtocolIn | None = None  # DeFi protocol rules: ccm.io.protocol_config


def _given(model: BaseModel | None) -> dict[str, Any]:
    return {} if model is None else model.model_dump(exclude_none=True)


def strip_nulls(value: Any) -> Any:
    """Drop ``None`` values from mappings, recursively (lists are kept as they are)."""
    if isinstance(value, Mapping):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    return value


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge, other values replace, ``None`` removes the key."""
    out = dict(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = strip_nulls(value)
    return out


class _Source:
    """Which file a merged value came from: the user's file where it sets the key, else the default."""

    def __init__(self, user: Mapping[str, Any] | None = None, user_file: str | None = None) -> None:
        self.user, self.user_file = user, user_file

    def sets(self, loc: Loc) -> bool:
        return self.user is not None and self.user_file is not None and has_key(self.user, loc)

    def file(self, loc: Loc) -> str:
        return self.user_file if self.sets(loc) and self.user_file else DEFAULT_CONFIG

    def error(self, *locs: Loc, message: str, hint: str | None = None) -> InputError:
        """Error at the last of ``locs`` (keys involved in one rule) that the user's file sets."""
        loc = next((c for c in reversed(locs) if self.sets(c)), locs[-1])
        record, field = locate_by_parent(loc)
        return InputError(message, file=self.file(loc), record=record, field=field, hint=hint)


THRESHOLD_HINT = "thresholds must decrease: warning > margin_call > liquidation > 0"


def _check(config: RiskConfig, src: _Source) -> None:
    """Relations between values that the schema's per-field ranges cannot express."""
    t = config.thresholds
    for upper, lower in (("warning", "margin_call"), ("margin_call", "liquidation")):
        if not getattr(t, upper) > getattr(t, lower):
            raise src.error(("thresholds", upper), ("thresholds", lower), hint=THRESHOLD_HINT,
                            message=f"{lower} ({getattr(t, lower)}) must be below {upper} "
                                    f"({getattr(t, upper)})")
    for name, asset in config.assets.items():
        bounds = [tier.up_to_usd for tier in asset.tiers]
        for k in range(1, len(bounds)):
            if not bounds[k] > bounds[k - 1]:
                raise src.error(("assets", name, "tiers", k, "up_to_usd"),
                                message=f"tier bounds must increase, got {bounds[k - 1]} then {bounds[k]}")
    for name, p in config.standard.items():
        at = ("margin", "standard", name)
        if p.future_im_base < p.future_mm_base:
            raise src.error(at + ("future_mm_base",), at + ("future_im_base",), message=(
                f"future_im_base ({p.future_im_base}) is below future_mm_base ({p.future_mm_base})"))
        if p.option_im_max < p.option_im_min:
            raise src.error(at + ("option_im_max",), at + ("option_im_min",), message=(
                f"option_im_min ({p.option_im_min}) exceeds option_im_max ({p.option_im_max})"))
    for name, p in config.portfolio.items():
        if 0.0 in p.extended_moves:
            k = p.extended_moves.index(0.0)
            raise src.error(("margin", "portfolio", name, "extended_moves", k),
                            message="an extended move cannot be 0")
    for name, p in config.lending.items():
        if p.ltv > p.liquidation_threshold:
            raise src.error(("lending", name, "liquidation_threshold"), ("lending", name, "ltv"),
                            message=f"ltv ({p.ltv}) exceeds liquidation_threshold "
                                    f"({p.liquidation_threshold})",
                            hint="need ltv ≤ liquidation_threshold ≤ 1")
    problem = protocol_problem(config.protocol) if config.protocol is not None else None
    if problem is not None:
        raise src.error(("protocol",) + problem[0], message=problem[1])
    grid = config.distance.grid
    for k in range(1, len(grid)):
        if not grid[k] > grid[k - 1]:
            raise src.error(("distance", "grid", k),
                            message=f"grid moves must increase, got {grid[k - 1]} then {grid[k]}")


def config_from_dict(data: Mapping[str, Any], *, source: _Source | None = None) -> RiskConfig:
    """Validate a complete (already merged) configuration mapping into a RiskConfig."""
    src = source or _Source()
    misread = unbounded_problem(data)
    if misread is not None:
        raise src.error(misread[0], message=misread[1], hint=misread[2])
    try:
        doc = ConfigIn.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        bound = (first.get("ctx") or {}).get("le", (first.get("ctx") or {}).get("lt"))
        misread_bounded = bounded_misreading(loc, first.get("input"), bound) if first["type"] in (
            "less_than_equal", "less_than") else None
        if misread_bounded is not None:
            raise src.error(loc, message=misread_bounded[0], hint=misread_bounded[1]) from None
        raise input_error(exc, ConfigIn, file=src.file(loc), locate=locate_by_parent) from None
    margin = doc.margin or MarginIn()
    config = RiskConfig(
        **{k: v for k, v in _given(doc).items() if k in SCALARS},
        **({"default_model": MarginModelName(doc.default_model)} if doc.default_model else {}),
        **({"thresholds": Thresholds(**_given(doc.thresholds))} if doc.thresholds else {}),
        assets={
            name: AssetRisk(**{**_given(a), **({"tiers": tuple(HaircutTier(**_given(t)) for t in a.tiers)}
                                               if a.tiers is not None else {})})
            for name, a in (doc.assets or {}).items()
        },
        standard={name: StandardParams(**_given(p)) for name, p in (margin.standard or {}).items()},
        portfolio={
            name: PortfolioParams(**{**_given(p), **({"extended_moves": tuple(p.extended_moves)}
                                                     if p.extended_moves is not None else {})})
            for name, p in (margin.portfolio or {}).items()
        },
        lending={name: LendingParams(**_given(p)) for name, p in (doc.lending or {}).items()},
        derive_pmrm=_derive_pmrm_params(margin, src),
        **_var_params(margin, src),
        **({"distance": DistanceSettings(**{**_given(doc.distance), **(
            {"grid": tuple(doc.distance.grid)} if doc.distance.grid is not None else {})})}
           if doc.distance else {}),
        **({"protocol": protocol_rules(doc.protocol)} if doc.protocol else {}),
    )
    _check(config, src)
    return config


def _default_text() -> str:
    return resources.files("ccm").joinpath("presets", "default.yaml").read_text(encoding="utf-8")


def _default_document(*, nulls: bool = False) -> dict[str, Any]:
    """The packaged default; with ``nulls`` its keys set to null are kept (they name the built-in default)."""
    data = parse_document(_default_text(), file=DEFAULT_CONFIG, yaml_syntax=True)
    if not isinstance(data, Mapping):
        raise InputError("the packaged default config is not a mapping", file=DEFAULT_CONFIG)
    return dict(data) if nulls else strip_nulls(data)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Merge:
    """The documents of one configuration, lowest first, and their merge."""

    layers: tuple[Layer, ...]
    merged: dict[str, Any]
    source: _Source


def _merge(path: str | Path | None, preset: str | None, *, with_lines: bool) -> _Merge:
    """Read the packaged default, ``preset`` and the user's file ``path`` and merge them (see the module doc)."""
    base = _default_document()
    shown = _default_document(nulls=True) if with_lines else base  # its nulls name the built-in defaults it keeps
    layers = [Layer(origin="default", file=DEFAULT_CONFIG, document=shown,
                    lines=key_lines(_default_text()) if with_lines else {})]
    if preset is not None:
        document = preset_document(preset)
        base = deep_merge(base, document)
        layers.append(Layer(origin="preset", file=preset_file(preset), document=document,
                            lines=key_lines(preset_text(preset)) if with_lines else {}))
    if path is None:
        return _Merge(layers=tuple(layers), merged=base, source=_Source())
    path = Path(path)
    user = read_document(path, what="config")
    user = {} if user is None else user
    if not isinstance(user, Mapping):
        raise InputError(f"a config file must hold a mapping at the top level, got {type(user).__name__}",
                         file=str(path))
    inherit = user.get("inherit_default", True)
    if not isinstance(inherit, bool):
        raise InputError(f"must be true or false, got {inherit!r}", file=str(path), field="inherit_default")
    mine = Layer(origin="user", file=str(path), document=user,
                 lines=key_lines(path.read_text(encoding="utf-8")) if with_lines else {})
    merged = deep_merge(base, user) if inherit else strip_nulls(user)
    return _Merge(layers=(*layers, mine) if inherit else (mine,), merged=merged, source=_Source(user, str(path)))


def load_config(path: str | Path | None = None, *, preset: str | None = None) -> RiskConfig:
    """The risk configuration: the packaged default, or ``path`` merged over it; raises InputError.

    ``preset`` (e.g. ``"aave-v3"``, see ``ccm.io.protocol_config``) is merged over the default first, so the
    user's file still overrides it (a file with ``inherit_default: false`` is used on its own).
    """
    merge = _merge(path, preset, with_lines=False)
    return config_from_dict(merge.merged, source=merge.source)


@dataclass(frozen=True, slots=True, kw_only=True)
class TracedConfig:
    """A configuration with the origin of each of its values.

    effective : the complete configuration as :func:`config_to_dict` lays it out (what the metrics use).
    sources : ``path_text`` of every leaf of ``effective`` (``"assets.BTC.haircut"``) → its :class:`ValueSource`.
    user_file : the user's file, None without one.
    """

    config: RiskConfig
    effective: dict[str, Any]
    sources: Mapping[str, ValueSource]
    user_file: str | None

    def source(self, *loc: str | int) -> ValueSource:
        """The source of the leaf at ``loc`` (built-in when the listing has no such leaf)."""
        return self.sources.get(path_text(loc), ValueSource(origin="built-in"))


def load_config_traced(path: str | Path | None = None, *, preset: str | None = None) -> TracedConfig:
    """:func:`load_config` with the file and line every value came from (``ccm config show``)."""
    merge = _merge(path, preset, with_lines=True)
    config = config_from_dict(merge.merged, source=merge.source)
    effective = config_to_dict(config)
    sources = trace({k: v for k, v in effective.items() if k != "inherit_default"}, merge.layers)
    return TracedConfig(config=config, effective=effective, sources=sources,
                        user_file=None if path is None else str(path))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, MarginModelName):
        return value.value
    return value


def config_to_dict(config: RiskConfig) -> dict[str, Any]:
    """The YAML layout of ``config``: complete, so marked ``inherit_default: false``."""
    return {
        "inherit_default": False,
        "currency": config.currency,
        "default_model": str(config.default_model),
        "thresholds": _plain(asdict(config.thresholds)),
        "haircut_confidence_z": config.haircut_confidence_z,
        "assets": {name: _plain(asdict(a)) for name, a in config.assets.items()},
        "margin": {
            "standard": {name: _plain(asdict(p)) for name, p in config.standard.items()},
            "portfolio": {name: _plain(asdict(p)) for name, p in config.portfolio.items()},
            "var": {**_plain(asdict(config.var)), **({"proxy": ""} if config.var.proxy is None else {})},
            "derive_pmrm": {name: {**_plain(asdict(p)), "scenarios": [{"spot": s, "vol": v} for s, v in p.scenarios]}
                            for name, p in config.derive_pmrm.items()},
        },
        "lending": {name: _plain(asdict(p)) for name, p in config.lending.items()},
        "distance": _plain(asdict(config.distance)),
        "contributors_top": config.contributors_top,
        **({"protocol": protocol_to_dict(config.protocol)} if config.protocol is not None else {}),
    }


def write_config_yaml(config: RiskConfig, path: str | Path) -> None:
    """Write ``config`` as a complete YAML file (atomic) that :func:`load_config` reads back equal."""
    text = yaml.safe_dump(config_to_dict(config), sort_keys=False, allow_unicode=True)
    header = "# ccm risk configuration written by ccm.io (complete: not merged over the default)\n"
    write_text_atomic(Path(path), header + text)

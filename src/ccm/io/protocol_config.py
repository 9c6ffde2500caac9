"""The ``protocol:`` section of a risk configuration ↔ :mod:`ccm.lending.rules`, and the DeFi presets.

```yaml
protocol:
  name: aave-v3            # aave-v3 | compound-v3 | maker | liquity-v1: whose rules apply
  aave: {close_factor: 0.5, emode: {stablecoins: {ltv: 0.98, ...}}, account_emode: {acct-1: stablecoins}}
  compound: {base_asset: USDC}
  maker: {ilks: {ETH: {liquidation_ratio: 1.5, penalty: 0.13, dust_usd: 2000.0}}}
  liquity: {mcr: 1.1, ccr: 1.5}
```
Only the section named by ``name`` is used (the others may stay, so one file can hold several protocols).
A preset (``ccm/presets/<name>.yaml``) is a config document merged between the packaged default and the
user's file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from ccm.errors import InputError
from ccm.io.files import parse_document
from ccm.io.validation import STRICT
from ccm.lending.parameters import bonus_problem
from ccm.lending.rules import (
    PROTOCOLS,
    AaveRules,
    CompoundRules,
    EModeCategory,
    LiquityRules,
    MakerIlk,
    MakerRules,
    ProtocolRules,
)

Unit = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0)]
AtLeastOne = Annotated[float, Field(ge=1)]
Name = Annotated[str, Field(min_length=1)]


class EModeIn(BaseModel):
    model_config = STRICT
    ltv: Unit
    liquidation_threshold: Unit
    liquidation_bonus: Unit
    assets: list[Name]


class AaveIn(BaseModel):
    model_config = STRICT
    close_factor: Unit | None = None
    max_close_factor: Unit | None = None
    close_factor_hf_threshold: Annotated[float, Field(gt=0, le=1)] | None = None
    position_close_factor: bool | None = None
    min_close_factor_base_usd: NonNegative | None = None
    min_leftover_base_usd: NonNegative | None = None
    protocol_fee: dict[str, Unit] | None = None
    emode: dict[str, EModeIn] | None = None
    account_emode: dict[str, Name] | None = None


class CompoundIn(BaseModel):
    model_config = STRICT
    base_asset: Name | None = None
    store_front_price_factor: Unit | None = None
    target_reserves: NonNegative | None = None
    borrow_min: NonNegative | None = None


class MakerIlkIn(BaseModel):
    model_config = STRICT
    liquidation_ratio: Annotated[float, Field(gt=1)]
    penalty: NonNegative | None = None
    dust_usd: NonNegative | None = None


class MakerIn(BaseModel):
    model_config = STRICT
    ilks: dict[str, MakerIlkIn] | None = None


class LiquityIn(BaseModel):
    model_config = STRICT
    collateral_asset: Name | None = None
    mcr: Annotated[float, Field(gt=1)] | None = None
    ccr: Annotated[float, Field(gt=1)] | None = None
    system_tcr: NonNegative | None = None
    recovery_collateral_cap: AtLeastOne | None = None
    gas_compensation_usd: NonNegative | None = None
    collateral_gas_compensation: Unit | None = None
    min_net_debt_usd: NonNegative | None = None


class ProtocolIn(BaseModel):
    """The ``protocol`` section (see the module docstring)."""

    model_config = STRICT
    name: Literal["aave-v3", "compound-v3", "maker", "liquity-v1"]
    aave: AaveIn | None = None
    compound: CompoundIn | None = None
    maker: MakerIn | None = None
    liquity: LiquityIn | None = None


def _given(model: BaseModel | None) -> dict[str, Any]:
    return {} if model is None else model.model_dump(exclude_none=True)


def protocol_rules(doc: ProtocolIn) -> ProtocolRules:
    """The rules of the protocol ``doc.name`` from its section (missing values: the dataclass defaults)."""
    if doc.name == "aave-v3":
        a = doc.aave or AaveIn()
        given = _given(a)
        given["emode"] = {k: EModeCategory(**{**_given(e), "assets": tuple(e.assets)})
                          for k, e in (a.emode or {}).items()}
        return AaveRules(**given)
    if doc.name == "compound-v3":
        return CompoundRules(**_given(doc.compound))
    if doc.name == "maker":
        ilks = (doc.maker or MakerIn()).ilks or {}
        return MakerRules(ilks={k: MakerIlk(**_given(v)) for k, v in ilks.items()})
    return LiquityRules(**_given(doc.liquity))


SECTION = {"aave-v3": "aave", "compound-v3": "compound", "maker": "maker", "liquity-v1": "liquity"}


def protocol_problem(rules: ProtocolRules) -> tuple[tuple[str | int, ...], str] | None:
    """(key path under ``protocol``, message) of the first rule two values break together, else None."""
    if isinstance(rules, AaveRules):
        for name, cat in rules.emode.items():
            if cat.ltv > cat.liquidation_threshold:
                return (("aave", "emode", name, "ltv"),
                        f"ltv ({cat.ltv}) exceeds liquidation_threshold ({cat.liquidation_threshold})")
            problem = bonus_problem(cat.liquidation_threshold, cat.liquidation_bonus)  # PoolConfigurator, §1.2
            if problem:
                return (("aave", "emode", name, "liquidation_bonus"), problem)
        for account, cat in rules.account_emode.items():
            if cat not in rules.emode:
                return (("aave", "account_emode", account),
                        f"unknown eMode category {cat!r} (known: {', '.join(sorted(rules.emode)) or 'none'})")
        if rules.close_factor > rules.max_close_factor:
            return (("aave", "close_factor"),
                    f"close_factor ({rules.close_factor}) exceeds max_close_factor ({rules.max_close_factor})")
    if isinstance(rules, LiquityRules) and rules.mcr > rules.ccr:
        return (("liquity", "mcr"), f"mcr ({rules.mcr}) exceeds ccr ({rules.ccr})")
    return None


def protocol_to_dict(rules: ProtocolRules) -> dict[str, Any]:
    """The YAML layout of ``rules`` (what :func:`protocol_rules` reads back equal)."""
    body = asdict(rules)
    if isinstance(rules, AaveRules):
        body["emode"] = {k: {**asdict(c), "assets": list(c.assets)} for k, c in rules.emode.items()}
        body["protocol_fee"] = dict(rules.protocol_fee)
        body["account_emode"] = dict(rules.account_emode)
    if isinstance(rules, LiquityRules) and rules.system_tcr is None:
        body.pop("system_tcr")
    return {"name": rules.name, SECTION[rules.name]: body}


#: Presets that select a venue's margin model (``default_model``) and its parameters, beside the DeFi protocols.
MARGIN_PRESETS: tuple[str, ...] = ("derive-pmrm", "derive-pmrm-test")
PRESETS: tuple[str, ...] = PROTOCOLS + MARGIN_PRESETS


def preset_file(name: str) -> str:
    """The logical file name of preset ``name`` (``ccm/presets/<name>.yaml``, as errors name it)."""
    return f"ccm/presets/{name}.yaml"


def preset_text(name: str) -> str:
    """The text of the packaged preset ``name``; raises InputError for an unknown name."""
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}", field="preset", hint=f"choose one of {', '.join(PRESETS)}")
    return resources.files("ccm").joinpath("presets", f"{name}.yaml").read_text(encoding="utf-8")


def preset_document(name: str) -> dict[str, Any]:
    """The packaged preset ``ccm/presets/<name>.yaml`` as a mapping; raises InputError for an unknown name."""
    text = preset_text(name)
    where = preset_file(name)
    data = parse_document(text, file=where, yaml_syntax=True)
    if not isinstance(data, Mapping):
        raise InputError("the packaged preset is not a mapping", file=where)
    return dict(data)

"""The haircut each asset really gets, and where its parts came from: the ``effective_haircuts`` section of the
``ccm metrics`` JSON and the notes in its table header.

A user file is merged over the packaged default, so ``assets: {BTC: {haircut: 0.0}}`` keeps the default's BTC
volatility (the haircut is max(static, z·σ·√(days/365)) = 6.7 %), size add-on and tier ladder. These functions
say so instead of leaving the user to find out from the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ccm.io.config import TracedConfig
from ccm.risk.haircut import haircut_breakdown

#: Settings of ``assets.<ASSET>`` that make up the haircut, and ``haircut_confidence_z``.
PARTS = ("haircut", "volatility", "liquidation_days", "adv_usd", "impact_coefficient", "tiers")
NOTE_BALANCE_USD = 1_000_000.0  # the balance at which a note quotes the size add-on


def config_entry(traced: TracedConfig, asset: str) -> str | None:
    """The ``assets`` entry that applies to ``asset``: its own, else ``default``, else None (no haircut)."""
    assets = traced.config.assets
    return asset if asset in assets else ("default" if "default" in assets else None)


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def effective_haircuts(traced: TracedConfig, assets: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per asset: the haircut before the size add-on and the tiers, its parts and the source of each setting.

    ``haircut`` = min(1, max(``static_haircut``, ``volatility_haircut``)); a balance worth v USD is then cut by
    min(1, haircut + ``liquidity_scale``·√v) and valued through the tier ladder when ``tiers`` is non-empty.
    """
    config = traced.config
    out: dict[str, dict[str, Any]] = {}
    for asset in assets:
        entry = config_entry(traced, asset)
        parts = haircut_breakdown(config.asset(asset), config.haircut_confidence_z)
        setting = config.asset(asset)
        sources = {} if entry is None else {
            name: traced.source("assets", entry, name).as_dict() for name in PARTS}
        sources["haircut_confidence_z"] = traced.source("haircut_confidence_z").as_dict()
        out[asset] = {
            "config_entry": entry,
            "haircut": parts.base,
            "static_haircut": parts.static,
            "volatility_haircut": parts.volatility,
            "binding": "volatility" if parts.volatility > parts.static else "static",
            "liquidity_scale": parts.liquidity_scale,
            "tiers": [{"up_to_usd": t.up_to_usd if math.isfinite(t.up_to_usd) else None, "rate": t.rate}
                      for t in setting.tiers],  # up_to_usd null: no upper bound
            "sources": sources,
        }
    return out


def haircut_notes(traced: TracedConfig, assets: Iterable[str]) -> list[str]:
    """One sentence per asset whose static haircut the user set but whose haircut also gets a part the user did
    not set (from the packaged default or a preset): a larger volatility haircut, a size add-on, a tier ladder."""
    config = traced.config
    notes = []
    for asset in assets:
        entry = config_entry(traced, asset)
        if entry is None or traced.source("assets", entry, "haircut").origin != "user":
            continue
        setting = config.asset(asset)
        parts = haircut_breakdown(setting, config.haircut_confidence_z)

        def inherited(*names: str, entry: str = entry) -> list[str]:
            return [f"{n} from {traced.source('assets', entry, n)}" for n in names
                    if traced.source("assets", entry, n).origin != "user"]

        added = []
        vol_from = inherited("volatility")
        if parts.volatility > parts.static and vol_from:
            added.append(f"the volatility haircut {config.haircut_confidence_z:g} × {setting.volatility:g} × "
                         f"√({setting.liquidation_days:g}/365) = {_pct(parts.volatility)} is larger and applies "
                         f"({vol_from[0]})")
        liq_from = inherited("adv_usd", "volatility", "impact_coefficient")
        if parts.liquidity_scale > 0 and liq_from:
            added.append(f"a size add-on of {_pct(parts.liquidity_scale * NOTE_BALANCE_USD ** 0.5)} per "
                         f"{NOTE_BALANCE_USD:,.0f} USD balance (growing with √value) is added ({liq_from[0]})")
        if setting.tiers and inherited("tiers"):
            added.append(f"values above {setting.tiers[0].up_to_usd:,.0f} USD count at the tier ladder's lower "
                         f"rates ({inherited('tiers')[0]})")
        if not added:
            continue
        switch = [f"assets.{entry}.{n}: null" for n, on in (
            ("volatility", bool(vol_from) and parts.volatility > parts.static),
            ("adv_usd", parts.liquidity_scale > 0 and bool(liq_from)),
            ("tiers", bool(setting.tiers) and bool(inherited("tiers")))) if on]
        notes.append(f"{asset}: your static haircut {_pct(parts.static)} "
                     f"({traced.source('assets', entry, 'haircut')}) is not the whole haircut: " + "; ".join(added)
                     + f". To switch a part off, set {', '.join(switch)} in your file.")
    return notes

"""Haircut proposals per collateral asset from forecast volatility and liquidity.

The proposed haircut is the configured formula of ``ccm.risk.haircut`` with the asset's configured
``volatility`` replaced by a forecast, evaluated at a reference balance v (USD):

    h(σ) = min(1, max(haircut, z·σ·√(liquidation_days/365)) + Y·(σ/√365)·√(v/ADV))

(``compile_haircuts`` builds both terms, so the formula lives in one place). The current haircut is the same
expression with the configured σ. The proposal is to raise or lower when the two differ by more than
``tolerance`` (absolute), else to keep.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ccm._typing import FloatArray
from ccm.risk.config import RiskConfig
from ccm.risk.haircut import HaircutTable, compile_haircuts

DAYS_PER_YEAR = 365.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HaircutResult:
    """Haircut proposals, arrays of shape (n,) over the assets that have a forecast.

    current, proposed : haircut (decimal) at ``reference_value_usd`` with the configured and the forecast vol.
    configured_vol, forecast_vol : annualised vols (NaN where the config sets none).
    reference_value_usd : balance value at which the liquidity add-on is evaluated.
    action : "raise", "lower" or "keep"; reason : one sentence each.
    """

    assets: tuple[str, ...]
    current: FloatArray
    proposed: FloatArray
    configured_vol: FloatArray
    forecast_vol: FloatArray
    reference_value_usd: FloatArray
    action: tuple[str, ...]
    reason: tuple[str, ...]


def haircut_at(table: HaircutTable, value_usd: FloatArray) -> FloatArray:
    """Haircut of a balance of ``value_usd`` (n_assets,) in each asset of ``table``, tiers aside, (n_assets,)."""
    return np.minimum(1.0, table.base + table.liquidity_scale * np.sqrt(np.maximum(value_usd, 0.0)))


def propose_haircuts(assets: tuple[str, ...], config: RiskConfig, forecast_vol: FloatArray,
                     reference_value_usd: FloatArray, *, tolerance: float = 0.0025) -> HaircutResult:
    """Compare configured haircuts with those implied by ``forecast_vol`` (annualised, (n_assets,), NaN = no
    forecast: the asset is left out) at ``reference_value_usd`` ((n_assets,) USD)."""
    forecast_vol = np.asarray(forecast_vol, dtype=float)
    has = np.isfinite(forecast_vol)
    settings = {a: replace(config.asset(a), volatility=float(v))
                for a, v, ok in zip(assets, forecast_vol, has, strict=True) if ok}
    forecast_config = replace(config, assets={**config.assets, **settings})
    current = haircut_at(compile_haircuts(assets, config), reference_value_usd)
    proposed = haircut_at(compile_haircuts(assets, forecast_config), reference_value_usd)
    configured = np.array([np.nan if config.asset(a).volatility is None else config.asset(a).volatility
                           for a in assets])
    keep = np.flatnonzero(has)
    actions, reasons = [], []
    for k in keep:  # the few collateral assets, for the text only
        diff = proposed[k] - current[k]
        action = "raise" if diff > tolerance else "lower" if diff < -tolerance else "keep"
        conf = "none" if np.isnan(configured[k]) else f"{configured[k]:.0%}"
        setting = config.asset(assets[k])
        floor = setting.haircut
        vol_term = config.haircut_confidence_z * forecast_vol[k] * np.sqrt(setting.liquidation_days / DAYS_PER_YEAR)
        why = (f"forecast vol {forecast_vol[k]:.0%} vs configured {conf}: haircut {proposed[k]:.2%} vs "
               f"{current[k]:.2%} at {reference_value_usd[k]:,.0f} USD")
        if action == "keep":
            why += f" (within {tolerance:.2%})"
        if vol_term < floor:
            why += f"; the static floor {floor:.2%} binds"
        actions.append(action)
        reasons.append(why)
    return HaircutResult(assets=tuple(assets[k] for k in keep), current=current[keep], proposed=proposed[keep],
                         configured_vol=configured[keep], forecast_vol=forecast_vol[keep],
                         reference_value_usd=np.asarray(reference_value_usd, dtype=float)[keep],
                         action=tuple(actions), reason=tuple(reasons))

"""Forward-looking daily volatility per book asset from price histories (``ccm breach``, ``ccm recommend``),
and the horizon those commands accept."""

from __future__ import annotations

import math

import numpy as np

from ccm.app.histories import DAY_SECONDS, price_specs, require_recent
from ccm.errors import InputError

MAX_HORIZON_HOURS = 24 * 365  # one year: a breach probability further out says nothing, and GARCH sums per day


def asset_vols(specs: list[str], *, assets: tuple[str, ...], moving: np.ndarray, as_of: np.datetime64,
               vol_model: str, horizon_days: float) -> tuple[np.ndarray, np.datetime64]:
    """Daily vol forecast per book asset (NaN for stables) from the price histories up to ``as_of``, and the
    time of the last price used. Intraday histories are reduced to daily closes first."""
    from ccm.analysis.forecast import forecast_volatility
    from ccm.analysis.timeline import resample_last
    from ccm.io.prices import read_prices

    history = read_prices(specs)
    needed = [a for a, m in zip(assets, moving, strict=True) if m]
    missing = [a for a in needed if a not in history.assets]
    if missing:
        raise InputError(f"no price history for {', '.join(missing)} (the histories hold "
                         f"{', '.join(history.assets)})", record="--prices",
                         hint="add --prices ASSET=FILE for every non-stable asset of the book")
    keep = history.timestamps <= as_of
    if keep.sum() < 3:
        raise InputError(f"fewer than 3 prices at or before the market's as_of {as_of} (the history covers "
                         f"{history.timestamps[0]} to {history.timestamps[-1]})", record="--prices")
    last = history.timestamps[keep][-1]
    require_recent(last, as_of, why=": its volatility would be stale")
    stamps, prices = resample_last(history.timestamps[keep], history.prices[keep], DAY_SECONDS)
    columns = [history.assets.index(a) for a in needed]
    if prices.shape[0] < 3:
        raise InputError(f"only {prices.shape[0]} daily closes at or before {as_of}", record="--prices",
                         hint="a volatility forecast needs a longer history")
    forecast = forecast_volatility(prices[:, columns], model=vol_model, horizon_days=max(1, math.ceil(horizon_days)))
    vols = np.full(len(assets), np.nan)
    vols[[assets.index(a) for a in needed]] = forecast
    return vols, stamps[-1]


def check_horizon_hours(hours: float) -> None:
    """Raise InputError unless ``hours`` is a positive number of hours of at most ``MAX_HORIZON_HOURS``."""
    if not (math.isfinite(hours) and hours > 0):
        raise InputError(f"the horizon must be a positive number of hours, got {hours}", record="--horizon-hours")
    if hours > MAX_HORIZON_HOURS:
        raise InputError(f"the horizon is at most {MAX_HORIZON_HOURS:,} hours (one year), got {hours:g}",
                         record="--horizon-hours", hint="breach probabilities are a short-horizon measure")


def forecast_vols(ctx, prices: list[str] | None, model: str, as_of: np.datetime64, horizon_days: float) -> np.ndarray:
    """Forecast daily vol per book asset from ``--prices`` (default: CCM_DATA_DIR's daily files) up to ``as_of``
    (``ccm breach``'s reader); all NaN — the configured vols — when no history is found."""
    specs = price_specs(prices, ctx.book.assets, ctx.haircuts.stable)
    if not specs:
        return np.full(len(ctx.book.assets), np.nan)
    vols, _ = asset_vols(specs, assets=ctx.book.assets, moving=ctx.moving, as_of=as_of, vol_model=model,
                         horizon_days=horizon_days)
    return vols


__all__ = ["MAX_HORIZON_HOURS", "asset_vols", "check_horizon_hours", "forecast_vols"]

"""Price histories as the commands and the service take them: ``ASSET=FILE`` specs (or the shared data set),
read, windowed, resampled, and checked to be daily and recent where a model counts rows as days.

A missing day would make a 2-day return (or a 2-day margin period) look like one day; a history that ends long
before the market snapshot describes another market. Both are input errors, never silent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ccm.errors import InputError

DAY_SECONDS = 86_400
#: A history whose last price is older than this before the snapshot describes another market: refused.
MAX_STALE_DAYS = 7


def require_daily(stamps: np.ndarray, *, hint: str, file: str | None = None, record: str | None = None) -> None:
    """Raise InputError unless ``stamps`` (datetime64, shape (n,), increasing) hold one time per UTC day, on
    consecutive days; the error names the first two rows around the gap (and ``file``/``record``)."""
    days = stamps.astype("datetime64[D]").astype(np.int64)
    gaps = np.flatnonzero(np.diff(days) != 1)
    if gaps.size:
        k = int(gaps[0])
        raise InputError(f"need one price per day without gaps: {stamps[k]} is followed by {stamps[k + 1]}",
                         file=file, record=record, field="timestamp", hint=hint)


def require_recent(last: np.datetime64, as_of: np.datetime64, *, why: str = "") -> None:
    """Raise InputError when ``last`` (the history's last time at or before ``as_of``) is more than
    ``MAX_STALE_DAYS`` before ``as_of``; ``why`` says what would go wrong (appended to the message)."""
    if as_of - last > np.timedelta64(MAX_STALE_DAYS, "D"):
        raise InputError(f"the price history ends on {last}, more than {MAX_STALE_DAYS} days before the market's "
                         f"as_of {as_of}{why}", record="--prices", hint="give prices up to the snapshot")


def price_specs(given: list[str] | None, assets: tuple[str, ...], stable: np.ndarray) -> list[str]:
    """The ``--prices`` specs ``given``, else ASSET=FILE pairs for the non-stable ``assets`` (stable: bool mask
    (n_assets,)) whose Yahoo daily file is in ``CCM_DATA_DIR``; empty when there are neither."""
    if given:
        return list(given)
    root = Path(os.environ.get("CCM_DATA_DIR", "../shared/data")) / "budydeveloper_crypto-dataset"
    specs = []
    for asset, is_stable in zip(assets, stable, strict=True):
        path = root / f"{asset}-USD_1d.csv"
        if not is_stable and path.is_file():
            specs.append(f"{asset}={path}")
    return specs


def parse_moment(text: str | None, option: str) -> np.datetime64 | None:
    """An ISO date or time given to ``option`` as datetime64[s] (UTC); None when not given."""
    from ccm.io.prices import parse_timestamp

    if text is None:
        return None
    try:
        return np.datetime64(parse_timestamp(text), "s")
    except (ValueError, OverflowError):
        raise InputError(f"unreadable date {text!r}", record=option, hint="use ISO dates, e.g. 2021-05-01") from None


def price_path(specs: list[str], *, book_assets: tuple[str, ...], index: dict[str, float], start: str | None,
               end: str | None, step_seconds: int | None,
               relative: bool) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read, window, resample (to one last price per ``step_seconds``) and (optionally) rebase the history of
    ``specs`` (``ASSET=FILE`` pairs or one wide CSV): (timestamps, prices (T, k), assets)."""
    from ccm.analysis.timeline import relative_path, resample_last
    from ccm.io.prices import read_prices

    history = read_prices(specs)
    keep = [k for k, a in enumerate(history.assets) if a in book_assets]
    if not keep:
        raise InputError(f"the price history's assets {list(history.assets)} are not in the book "
                         f"({', '.join(book_assets)})", record="--prices", hint="name the assets as the book does")
    stamps, prices = history.timestamps, history.prices[:, keep]
    assets = tuple(history.assets[k] for k in keep)
    lo, hi = parse_moment(start, "--from"), parse_moment(end, "--to")
    mask = np.ones(stamps.shape[0], dtype=bool)
    if lo is not None:
        mask &= stamps >= lo
    if hi is not None:
        mask &= stamps < hi
    if not mask.any():
        raise InputError(f"no price between {start or 'the start'} and {end or 'the end'} (the history covers "
                         f"{stamps[0]} to {stamps[-1]})", record="--from/--to")
    stamps, prices = stamps[mask], prices[mask]
    if step_seconds is not None:
        stamps, prices = resample_last(stamps, prices, step_seconds)
    if relative:
        prices = relative_path(prices, np.array([index[a] for a in assets]))
    return stamps, prices, assets


def daily_history(prices: list[str], book, snapshot):
    """The daily price history of ``--prices`` (assets of the book) up to the snapshot's time, for the var model:
    one close per UTC day (intraday files are resampled), without gaps, ending at most ``MAX_STALE_DAYS`` before
    the snapshot — the model counts rows as days, so a gap or an old history would give a wrong margin."""
    from ccm.risk.margin.var import MarketHistory

    stamps, path, assets = price_path(prices, book_assets=book.assets, index=dict(snapshot.index), start=None,
                                      end=None, step_seconds=DAY_SECONDS, relative=False)
    as_of = np.datetime64(snapshot.as_of.replace(tzinfo=None), "s")
    keep = stamps <= as_of
    if keep.sum() < 2:
        raise InputError(f"the price history starts at {stamps[0]}, after the market snapshot's time "
                         f"{snapshot.as_of.isoformat()}", record="--prices",
                         hint="the var model needs daily prices up to the snapshot's date")
    stamps, path = stamps[keep], path[keep]
    require_recent(stamps[-1], as_of)
    require_daily(stamps, record="--prices",
                  hint="give daily closes (the margin period of risk and the lookback count rows as days)")
    return MarketHistory(assets=assets, prices=path)


__all__ = ["DAY_SECONDS", "MAX_STALE_DAYS", "daily_history", "parse_moment", "price_path", "price_specs",
           "require_daily", "require_recent"]

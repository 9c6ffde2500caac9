"""Checking that a price history is daily: the models count rows as days, so a missing day would make a 2-day
return (or a 2-day margin period) look like one day."""

from __future__ import annotations

import numpy as np

from ccm.errors import InputError

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

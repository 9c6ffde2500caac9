"""Read a trades file for ``ccm replay --trades``: CSV ``timestamp,account,instrument,quantity,price``."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ccm.errors import InputError
from ccm.io.validation import parse_utc

COLUMNS = ("timestamp", "account", "instrument", "quantity", "price")


@dataclass(frozen=True, slots=True)
class TradeList:
    """Fills sorted by time (stable). ``row`` is the 1-based data row of each fill in its file."""

    timestamps: np.ndarray  # datetime64[s]
    accounts: tuple[str, ...]
    instruments: tuple[str, ...]
    quantities: np.ndarray
    prices: np.ndarray
    rows: np.ndarray
    file: str

    def __len__(self) -> int:
        return len(self.accounts)


def read_trades(path: str | Path) -> TradeList:
    """The fills of a trades CSV (ISO-8601 UTC timestamps), sorted by time; InputError naming row and column."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise InputError("no such file", file=file, hint="give a CSV timestamp,account,instrument,quantity,price")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)}", file=file, record="header",
                             hint=f"the header must be {','.join(COLUMNS)}")
        stamps, accounts, instruments, quantities, prices, rows = [], [], [], [], [], []
        for k, record in enumerate(reader, start=1):
            try:
                at = parse_utc(record["timestamp"])
            except (InputError, ValueError) as err:
                message = err.message if isinstance(err, InputError) else str(err)
                raise InputError(message, file=file, record=f"row {k}", field="timestamp") from None
            numbers = {}
            for name in ("quantity", "price"):
                try:
                    numbers[name] = float(record[name])
                except (TypeError, ValueError):
                    raise InputError(f"{record[name]!r} is not a number", file=file, record=f"row {k}",
                                     field=name) from None
                if not math.isfinite(numbers[name]):
                    raise InputError("must be finite", file=file, record=f"row {k}", field=name)
            if numbers["quantity"] == 0 or numbers["price"] <= 0:
                field = "quantity" if numbers["quantity"] == 0 else "price"
                raise InputError("quantity must be non-zero and price positive", file=file, record=f"row {k}",
                                 field=field)
            stamps.append(np.datetime64(at.replace(tzinfo=None), "s"))
            accounts.append(record["account"])
            instruments.append(record["instrument"])
            quantities.append(numbers["quantity"])
            prices.append(numbers["price"])
            rows.append(k)
    order = np.argsort(np.array(stamps, dtype="datetime64[s]"), kind="stable")
    return TradeList(timestamps=np.array(stamps, dtype="datetime64[s]")[order],
                     accounts=tuple(accounts[i] for i in order), instruments=tuple(instruments[i] for i in order),
                     quantities=np.array(quantities)[order], prices=np.array(prices)[order],
                     rows=np.array(rows)[order], file=file)

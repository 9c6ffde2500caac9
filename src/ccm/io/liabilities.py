"""Customer liabilities (CSV) and reserves (JSON/YAML) for backing ratios and proof of reserves.

Liabilities CSV, one row per customer and asset (a customer holding three assets has three rows)::

    customer_id,asset,balance
    c-0001,BTC,0.51234567
    c-0001,USDT,1200
    c-0002,ETH,3.2

Balances are decimal numbers ≥ 0 with at most ``decimals`` places (default 8); they are kept exactly, as
integer base units (balance × 10^decimals), which is what the Merkle sum tree commits to. Rows with a
balance of 0 are allowed. Line numbers in errors count the header as line 1.

Reserves document: ``{"BTC": 10500.5, "ETH": 120000, "USDT": 2.5e9}`` (quantities ≥ 0 in asset units).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ccm._typing import FloatArray, IntArray
from ccm.errors import InputError
from ccm.io.files import read_document, require_file, require_mapping, write_text_atomic
from ccm.reserves.merkle_sum import MAX_SUM

COLUMNS = ("customer_id", "asset", "balance")
DEFAULT_DECIMALS = 8
MAX_DECIMALS = 18


class Liabilities(NamedTuple):
    """Customers' balances, pivoted.

    customer_ids : tuple of the n customer ids (first appearance order).
    assets : tuple of the k assets (sorted).
    units : int64 ndarray (n, k), balances × 10^decimals (exact).
    decimals : the number of decimal places of the base unit.
    """

    customer_ids: tuple[str, ...]
    assets: tuple[str, ...]
    units: IntArray
    decimals: int

    @property
    def quantities(self) -> FloatArray:
        """Balances in asset units, float (n, k)."""
        return self.units / 10.0**self.decimals

    @property
    def totals(self) -> FloatArray:
        """Total liabilities per asset in asset units, (k,), summed exactly in base units."""
        return units_to_quantities([int(s) for s in self.units.sum(axis=0, dtype=object)], self.decimals)


def units_to_quantities(units: Sequence[int], decimals: int) -> FloatArray:
    """Integer base units → float asset quantities (exact decimal scaling, then one rounding)."""
    return np.array([float(Decimal(int(u)).scaleb(-decimals)) for u in units], dtype=float)


def format_units(units: int, decimals: int) -> str:
    """Base units as a plain decimal string: 150000000 with 8 decimals → '1.5'."""
    text = format(Decimal(int(units)).scaleb(-decimals), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _check_decimals(decimals: int) -> None:
    if not 0 <= decimals <= MAX_DECIMALS:
        raise InputError(f"decimals must be between 0 and {MAX_DECIMALS}, got {decimals}", record="--decimals")


def parse_units(text: str, decimals: int, *, file: str, record: str, field: str = "balance") -> int:
    """A decimal string ≥ 0 → integer base units; InputError naming file/record/field otherwise."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InputError(f"{text!r} is not a number", file=file, record=record, field=field) from None
    if not value.is_finite():
        raise InputError(f"{text!r} is not a finite number", file=file, record=record, field=field)
    if value < 0:
        raise InputError(f"negative balance {text.strip()} (a negative liability would understate the total)",
                         file=file, record=record, field=field,
                         hint="net a customer's debt against their other assets before listing liabilities")
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise InputError(f"{text.strip()} has more than {decimals} decimal places", file=file, record=record,
                         field=field, hint="raise --decimals or round the balance")
    units = int(scaled)
    if units > MAX_SUM:
        raise InputError(f"{text.strip()} is too large for 64-bit base units with {decimals} decimals", file=file,
                         record=record, field=field, hint="use fewer --decimals")
    return units


def read_liabilities(path: str | Path, *, decimals: int = DEFAULT_DECIMALS) -> Liabilities:
    """Read a ``customer_id,asset,balance`` CSV (see the module docstring)."""
    path = Path(path)
    file = str(path)
    _check_decimals(decimals)
    require_file(path, what="liabilities")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: a spreadsheet's BOM is not a header
            rows = csv.reader(handle)
            header = [h.strip().lower() for h in next(rows, [])]
            if tuple(header) != COLUMNS:
                raise InputError(f"the header is {','.join(header) or '(empty)'}, expected {','.join(COLUMNS)}",
                                 file=file, record="line 1", hint="one row per customer and asset")
            customers: dict[str, int] = {}
            asset_names: dict[str, int] = {}
            cust, col, amounts, lines = [], [], [], []
            zeros = "0" * decimals
            for line, row in enumerate(rows, start=2):
                if len(row) != 3:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue
                    raise InputError(f"expected 3 cells, got {len(row)}", file=file, record=f"line {line}")
                cid, asset, text = row[0].strip(), row[1].strip(), row[2]
                if not cid:
                    raise InputError("empty customer id", file=file, record=f"line {line}", field="customer_id")
                if not asset:
                    raise InputError("empty asset", file=file, record=f"line {line} (customer {cid})", field="asset")
                whole, dot, fraction = text.partition(".")
                if whole.isdecimal() and whole.isascii() and (fraction.isdecimal() or not dot) and fraction.isascii() \
                        and len(fraction) <= decimals and len(whole) < 19 - decimals:
                    amounts.append(int(whole + fraction + zeros[len(fraction):]))  # fast path: exact digits
                else:
                    amounts.append(parse_units(text, decimals, file=file, record=f"line {line} (customer {cid})"))
                cust.append(customers.setdefault(cid, len(customers)))
                col.append(asset_names.setdefault(asset, len(asset_names)))
                lines.append(line)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"cannot read the file: {err}", file=file) from None
    if not customers:
        raise InputError("no liabilities: the file has no rows", file=file)
    order = sorted(asset_names)
    column = np.empty(len(asset_names), dtype=np.int64)
    column[[asset_names[a] for a in order]] = np.arange(len(order))
    rows_c, cols_a = np.asarray(cust, dtype=np.int64), column[np.asarray(col, dtype=np.int64)]
    key = rows_c * len(order) + cols_a
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    repeated = np.flatnonzero(first[inverse] != np.arange(key.size))
    if repeated.size:
        k = int(repeated[0])
        raise InputError(f"customer {list(customers)[cust[k]]} has a second {order[cols_a[k]]} row (the first is on "
                         f"line {lines[first[inverse[k]]]})", file=file, record=f"line {lines[k]}", field="asset",
                         hint="one row per customer and asset: add the balances up")
    units_matrix = np.zeros((len(customers), len(order)), dtype=np.int64)
    units_matrix[rows_c, cols_a] = amounts
    totals = units_matrix.sum(axis=0, dtype=object)
    for a, total in enumerate(totals):
        if total > MAX_SUM:
            raise InputError(f"total {order[a]} liabilities exceed 64-bit base units with {decimals} decimals",
                             file=file, field=order[a], hint="use fewer --decimals")
    return Liabilities(customer_ids=tuple(customers), assets=tuple(order), units=units_matrix, decimals=decimals)


def read_reserves(path: str | Path) -> dict[str, float]:
    """Read reserves ``{asset: quantity}`` from a JSON or YAML file; quantities finite and ≥ 0."""
    path = Path(path)
    file = str(path)
    data = require_mapping(read_document(path, what="reserves"), file=file, what="reserves")
    if not data:
        raise InputError("no reserves: the mapping is empty", file=file, hint='write {"BTC": 10500.5, ...}')
    reserves: dict[str, float] = {}
    for asset, value in data.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            raise InputError(f"{value!r} is not a finite quantity ≥ 0", file=file, record=str(asset),
                             field="quantity", hint="reserves are asset quantities, e.g. \"BTC\": 10500.5")
        reserves[str(asset)] = float(value)
    return reserves


def liabilities_csv(customer_ids: Sequence[str], assets: Sequence[str], balances: np.ndarray, *,
                    decimals: int = DEFAULT_DECIMALS) -> str:
    """CSV text of balances (n, k) in asset units, one row per non-zero balance, ``decimals`` places."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    rows, cols = np.nonzero(balances)
    values = balances[rows, cols]
    writer.writerows((customer_ids[r], assets[c], f"{v:.{decimals}f}")
                     for r, c, v in zip(rows.tolist(), cols.tolist(), values.tolist(), strict=True))
    return buffer.getvalue()


def write_liabilities_csv(path: str | Path, customer_ids: Sequence[str], assets: Sequence[str],
                          balances: np.ndarray, *, decimals: int = DEFAULT_DECIMALS) -> None:
    """Write :func:`liabilities_csv` atomically."""
    write_text_atomic(Path(path), liabilities_csv(customer_ids, assets, balances, decimals=decimals))


def write_reserves_json(path: str | Path, reserves: Mapping[str, float]) -> None:
    """Write reserves ``{asset: quantity}`` as JSON atomically."""
    write_text_atomic(Path(path), json.dumps({a: float(q) for a, q in reserves.items()}, indent=1) + "\n")

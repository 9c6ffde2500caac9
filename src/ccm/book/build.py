"""Build a validated columnar :class:`Book` from value objects or from flat arrays (CSV/Parquet).

Validation here is about the relations between records (unknown instrument, duplicate ids, terms that
do not fit the instrument type); field syntax is validated by the readers in ``ccm.io``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ccm.book.book import Book
from ccm.book.instruments import (
    TYPE_FUTURE,
    TYPE_OPTION,
    TYPE_PERPETUAL,
    Account,
    Instrument,
    InstrumentTable,
)
from ccm.enums import INSTRUMENT_TYPES, MARGIN_MODELS, OptionRight, Settlement
from ccm.errors import InputError

Describe = Callable[[int], str]


@dataclass(frozen=True, slots=True, kw_only=True)
class InstrumentColumns:
    """Flat instrument terms as read from a file, one entry per instrument."""

    ids: np.ndarray  # str
    type: np.ndarray  # str: spot | future | perpetual | option
    underlying: np.ndarray  # str
    settlement: np.ndarray  # str: linear | inverse
    settlement_asset: np.ndarray  # str
    expiry_s: np.ndarray  # float POSIX seconds, NaN = none
    strike: np.ndarray  # float, NaN = none
    right: np.ndarray  # str: call | put | ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionColumns:
    account: np.ndarray  # str
    instrument: np.ndarray  # str
    quantity: np.ndarray  # float
    entry_price: np.ndarray  # float, NaN = none


@dataclass(frozen=True, slots=True, kw_only=True)
class CollateralColumns:
    account: np.ndarray  # str
    asset: np.ndarray  # str
    quantity: np.ndarray  # float


@dataclass(frozen=True, slots=True, kw_only=True)
class BookColumns:
    """A whole book as flat columns: the exchange format of the CSV/Parquet bundle and of generators.

    ``account_ids``/``account_models`` (str, "" = config default) list every account, including
    accounts with neither positions nor collateral.
    """

    instruments: InstrumentColumns
    positions: PositionColumns
    collateral: CollateralColumns
    account_ids: np.ndarray
    account_models: np.ndarray

    def build(self, **describe: Describe) -> Book:
        """Validate and assemble the Book; ``describe_*`` callables name records in errors."""
        return book_from_arrays(
            self.instruments, self.positions, self.collateral,
            account_ids=self.account_ids, account_models=self.account_models, **describe,
        )


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _lookup(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each of ``values`` in ``keys`` (unique), −1 where absent; vectorised (searchsorted)."""
    if keys.shape[0] == 0:
        return np.full(values.shape[0], -1, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    pos = np.clip(np.searchsorted(keys, values, sorter=order), 0, keys.shape[0] - 1)
    found = order[pos]
    return np.where(keys[found] == values, found, -1).astype(np.int64)


def _instrument_table(cols: InstrumentColumns, assets: tuple[str, ...], describe: Describe) -> InstrumentTable:
    n = cols.ids.shape[0]
    type_names = [t.value for t in INSTRUMENT_TYPES]
    type_code = np.full(n, -1, dtype=np.int8)
    for code, name in enumerate(type_names):
        type_code[cols.type == name] = code
    if (type_code < 0).any():
        k = _first(type_code < 0)
        raise InputError(
            f"unknown instrument type {str(cols.type[k])!r}",
            record=describe(k),
            field="type",
            hint=f"use one of {', '.join(type_names)}",
        )
    settlement_ok = np.isin(cols.settlement, [s.value for s in Settlement])
    if not settlement_ok.all():
        k = _first(~settlement_ok)
        raise InputError(
            f"unknown settlement {str(cols.settlement[k])!r}", record=describe(k), field="settlement",
            hint="use linear or inverse",
        )
    inverse = cols.settlement == Settlement.INVERSE.value
    is_option = type_code == TYPE_OPTION
    dated = is_option | (type_code == TYPE_FUTURE)
    missing_expiry = dated & ~np.isfinite(cols.expiry_s)
    if missing_expiry.any():
        k = _first(missing_expiry)
        raise InputError(
            "futures and options need an expiry", record=describe(k), field="expiry",
            hint="give an ISO-8601 UTC time such as 2025-03-28T08:00:00Z",
        )
    bad_strike = is_option & ~(np.isfinite(cols.strike) & (cols.strike > 0))
    if bad_strike.any():
        k = _first(bad_strike)
        raise InputError("an option needs a positive strike", record=describe(k), field="strike")
    right_ok = ~is_option | np.isin(cols.right, [r.value for r in OptionRight])
    if not right_ok.all():
        k = _first(~right_ok)
        raise InputError(
            f"an option needs right call or put, got {str(cols.right[k])!r}", record=describe(k), field="right"
        )
    if (inverse & (type_code == type_names.index("spot"))).any():
        k = _first(inverse & (type_code == type_names.index("spot")))
        raise InputError("a spot instrument cannot be inverse", record=describe(k), field="settlement")
    asset_keys = np.array(assets, dtype=str)
    expiry = np.where(dated, cols.expiry_s, np.nan).astype(np.float64)
    return InstrumentTable(
        ids=cols.ids.astype(str),
        type_code=type_code,
        underlying=_lookup(asset_keys, cols.underlying.astype(str)),
        settlement_asset=_lookup(asset_keys, cols.settlement_asset.astype(str)),
        inverse=inverse,
        expiry_s=expiry,
        strike=np.where(is_option, cols.strike, np.nan).astype(np.float64),
        is_call=is_option & (cols.right == OptionRight.CALL.value),
    )


def _check_unique(ids: np.ndarray, describe: Describe, what: str) -> None:
    uniq, first_index, counts = np.unique(ids, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1][0]
        where = np.flatnonzero(ids == dup)
        raise InputError(
            f"duplicate {what} id {str(dup)!r} (also at {describe(int(where[0]))})",
            record=describe(int(where[1])),
            field="id",
            hint=f"every {what} id must be unique",
        )


def book_from_arrays(
    instruments: InstrumentColumns,
    positions: PositionColumns,
    collateral: CollateralColumns,
    *,
    account_ids: np.ndarray | None = None,
    account_models: np.ndarray | None = None,
    describe_instrument: Describe = lambda k: f"instruments[{k}]",
    describe_position: Describe = lambda k: f"positions[{k}]",
    describe_collateral: Describe = lambda k: f"collateral[{k}]",
    describe_account: Describe = lambda k: f"accounts[{k}]",
) -> Book:
    """Validate flat columns and assemble a :class:`Book` (vectorised; suitable for millions of rows).

    ``account_ids`` (with optional ``account_models`` of str, "" = default) lists accounts explicitly;
    otherwise the accounts are those that appear in positions or collateral, sorted.
    """
    _check_unique(instruments.ids.astype(str), describe_instrument, "instrument")
    if account_ids is not None:
        _check_unique(account_ids.astype(str), describe_account, "account")
    for name, values, describe in (
        ("quantity", positions.quantity, describe_position),
        ("quantity", collateral.quantity, describe_collateral),
    ):
        bad = ~np.isfinite(values)
        if bad.any():
            raise InputError(f"{name} must be a finite number", record=describe(_first(bad)), field=name)
    entry = positions.entry_price
    bad_entry = ~np.isnan(entry) & ~(np.isfinite(entry) & (entry > 0))
    if bad_entry.any():
        raise InputError(
            "entry_price must be a positive number or absent", record=describe_position(_first(bad_entry)),
            field="entry_price",
        )

    assets = tuple(
        str(a)
        for a in np.unique(
            np.concatenate([instruments.underlying.astype(str), instruments.settlement_asset.astype(str),
                            collateral.asset.astype(str)])
        )
    )
    table = _instrument_table(instruments, assets, describe_instrument)

    if account_ids is None:
        account_ids = np.unique(np.concatenate([positions.account.astype(str), collateral.account.astype(str)]))
        models = np.full(account_ids.shape[0], -1, dtype=np.int8)
    else:
        account_ids = account_ids.astype(str)
        models = np.full(account_ids.shape[0], -1, dtype=np.int8)
        if account_models is not None:
            names = [m.value for m in MARGIN_MODELS]
            for code, name in enumerate(names):
                models[account_models == name] = code
            unknown = (models < 0) & (account_models != "")
            if unknown.any():
                k = _first(unknown)
                raise InputError(
                    f"unknown margin model {str(account_models[k])!r}", record=describe_account(k),
                    field="margin_model", hint=f"use one of {', '.join(names)}",
                )

    def rows_of(ids: np.ndarray, describe: Describe) -> np.ndarray:
        out = _lookup(account_ids, ids.astype(str))
        if (out < 0).any():
            k = _first(out < 0)
            raise InputError(f"unknown account {str(ids[k])!r}", record=describe(k), field="account")
        return out

    pos_rows = rows_of(positions.account, describe_position)
    pos_cols = _lookup(table.ids, positions.instrument.astype(str))
    if (pos_cols < 0).any():
        k = _first(pos_cols < 0)
        raise InputError(
            f"unknown instrument {str(positions.instrument[k])!r}", record=describe_position(k),
            field="instrument", hint="every position must reference an id listed under instruments",
        )
    col_rows = rows_of(collateral.account, describe_collateral)
    col_cols = _lookup(np.array(assets, dtype=str), collateral.asset.astype(str))

    # Entry side of futures P&L in settlement units; options and spot carry none.
    qty = positions.quantity.astype(np.float64)
    is_future = (table.type_code[pos_cols] == TYPE_FUTURE) | (table.type_code[pos_cols] == TYPE_PERPETUAL)
    inverse = table.inverse[pos_cols]
    priced = is_future & ~np.isnan(entry)
    with np.errstate(divide="ignore", invalid="ignore"):
        entry_amount = np.where(priced, np.where(inverse, qty / entry, -qty * entry), 0.0)
    unpriced = np.where(is_future & np.isnan(entry), qty, 0.0)

    n_acc, n_instr = account_ids.shape[0], len(table)
    # Merge repeated (account, instrument) rows; sort into CSR order.
    key = pos_rows * max(n_instr, 1) + pos_cols
    uniq, inverse_idx = np.unique(key, return_inverse=True)
    merged_qty = np.bincount(inverse_idx, weights=qty, minlength=uniq.shape[0])
    merged_entry = np.bincount(inverse_idx, weights=entry_amount, minlength=uniq.shape[0])
    merged_unpriced = np.bincount(inverse_idx, weights=unpriced, minlength=uniq.shape[0])
    keep = (merged_qty != 0) | (merged_entry != 0)
    rows, cols = uniq[keep] // max(n_instr, 1), uniq[keep] % max(n_instr, 1)
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n_acc)))).astype(np.int64)
    pos_matrix = sp.csr_matrix((merged_qty[keep], cols, indptr), shape=(n_acc, n_instr))

    bal_key = col_rows * max(len(assets), 1) + col_cols
    buniq, binv = np.unique(bal_key, return_inverse=True)
    bqty = np.bincount(binv, weights=collateral.quantity.astype(np.float64), minlength=buniq.shape[0])
    bkeep = bqty != 0
    brows, bcols = buniq[bkeep] // max(len(assets), 1), buniq[bkeep] % max(len(assets), 1)
    bindptr = np.concatenate(([0], np.cumsum(np.bincount(brows, minlength=n_acc)))).astype(np.int64)
    balances = sp.csr_matrix((bqty[bkeep], bcols, bindptr), shape=(n_acc, len(assets)))

    return Book(
        assets=assets,
        account_ids=account_ids,
        instruments=table,
        positions=pos_matrix,
        entry_amount=merged_entry[keep],
        unpriced_quantity=merged_unpriced[keep],
        balances=balances,
        margin_model=models,
    )


def build_book(instruments: Sequence[Instrument], accounts: Sequence[Account]) -> Book:
    """Assemble a Book from value objects (the JSON/YAML path); errors name account and position."""
    icols = InstrumentColumns(
        ids=np.array([i.id for i in instruments], dtype=object).astype(str),
        type=np.array([str(i.type) for i in instruments], dtype=object).astype(str),
        underlying=np.array([i.underlying for i in instruments], dtype=object).astype(str),
        settlement=np.array([str(i.settlement) for i in instruments], dtype=object).astype(str),
        settlement_asset=np.array([i.settlement_asset for i in instruments], dtype=object).astype(str),
        expiry_s=np.array([i.expiry.timestamp() if i.expiry else np.nan for i in instruments], dtype=float),
        strike=np.array([i.strike if i.strike is not None else np.nan for i in instruments], dtype=float),
        right=np.array([str(i.right) if i.right else "" for i in instruments], dtype=object).astype(str),
    )
    pos_where: list[tuple[int, int]] = []
    col_where: list[tuple[int, str]] = []
    p_acc, p_ins, p_qty, p_ent = [], [], [], []
    c_acc, c_ast, c_qty = [], [], []
    for a_idx, acc in enumerate(accounts):
        for p_idx, p in enumerate(acc.positions):
            pos_where.append((a_idx, p_idx))
            p_acc.append(acc.id)
            p_ins.append(p.instrument)
            p_qty.append(p.quantity)
            p_ent.append(np.nan if p.entry_price is None else p.entry_price)
        for asset, q in acc.collateral.items():
            col_where.append((a_idx, asset))
            c_acc.append(acc.id)
            c_ast.append(asset)
            c_qty.append(q)

    def acc_label(a: int) -> str:
        return f"accounts[{a}] (id={accounts[a].id})"

    def describe_position(k: int) -> str:
        a, p = pos_where[k]
        return f"{acc_label(a)} positions[{p}]"

    def describe_collateral(k: int) -> str:
        a, asset = col_where[k]
        return f"{acc_label(a)} collateral.{asset}"

    def describe_instrument(k: int) -> str:
        return f"instruments[{k}] (id={instruments[k].id})"

    return book_from_arrays(
        icols,
        PositionColumns(
            account=np.array(p_acc, dtype=object).astype(str),
            instrument=np.array(p_ins, dtype=object).astype(str),
            quantity=np.array(p_qty, dtype=float),
            entry_price=np.array(p_ent, dtype=float),
        ),
        CollateralColumns(
            account=np.array(c_acc, dtype=object).astype(str),
            asset=np.array(c_ast, dtype=object).astype(str),
            quantity=np.array(c_qty, dtype=float),
        ),
        account_ids=np.array([a.id for a in accounts], dtype=object).astype(str),
        account_models=np.array([str(a.margin_model) if a.margin_model else "" for a in accounts], dtype=object)
        .astype(str),
        describe_instrument=describe_instrument,
        describe_position=describe_position,
        describe_collateral=describe_collateral,
        describe_account=acc_label,
    )

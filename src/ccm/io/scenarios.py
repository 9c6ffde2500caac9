"""Read user scenario files into a ScenarioSet.

JSON (or YAML) layout::

    {"scenarios": [
        {"name": "BTC -40%, alts -55%", "date": "2022-11-08",
         "returns": {"BTC": -0.40, "ETH": -0.55},
         "vol_shifts": {"BTC": 0.8}, "haircut_multipliers": {"ETH": 2.0}, "liquidity_multipliers": {"ETH": 0.5}}
    ]}

Assets missing from a scenario do not move (return 0, vol shift 0, multipliers 1); when the set is applied to
a book, assets that no scenario names follow BTC unless they are stablecoins (``ScenarioSet.for_assets``).
A CSV layout is also read: one row per scenario, columns ``name`` then one column per asset's return.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ccm.errors import InputError
from ccm.io.files import read_document
from ccm.io.validation import validate
from ccm.scenario import ScenarioSet


class _ScenarioIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)
    name: str = Field(min_length=1)
    date: str | None = None
    returns: dict[str, float] = Field(default_factory=dict)
    vol_shifts: dict[str, float] = Field(default_factory=dict)
    haircut_multipliers: dict[str, float] = Field(default_factory=dict)
    liquidity_multipliers: dict[str, float] = Field(default_factory=dict)


class _FileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scenarios: list[_ScenarioIn] = Field(min_length=1)


def _from_records(records: list[_ScenarioIn], file: str) -> ScenarioSet:
    assets = sorted({a for r in records for part in (r.returns, r.vol_shifts, r.haircut_multipliers,
                                                     r.liquidity_multipliers) for a in part})
    col = {a: k for k, a in enumerate(assets)}
    shape = (len(records), len(assets))
    arrays = {"returns": np.zeros(shape), "vol_shifts": np.zeros(shape), "haircut_multipliers": np.ones(shape),
              "liquidity_multipliers": np.ones(shape)}
    for s, record in enumerate(records):
        for name, array in arrays.items():
            for asset, value in getattr(record, name).items():
                if not math.isfinite(value):
                    raise InputError(f"{value!r} is not a finite number", file=file,
                                     record=f"scenarios[{s}] ({record.name})", field=f"{name}.{asset}")
                array[s, col[asset]] = value
    try:
        return ScenarioSet(assets=tuple(assets), names=tuple(r.name for r in records),
                           price_returns=arrays["returns"], vol_shifts=arrays["vol_shifts"],
                           haircut_multipliers=arrays["haircut_multipliers"],
                           liquidity_multipliers=arrays["liquidity_multipliers"],
                           dates=tuple(r.date for r in records), kind="custom")
    except InputError as error:
        raise InputError(error.message, file=file, record=error.record, field=error.field) from None


def _read_csv(path: Path) -> ScenarioSet:
    file = str(path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or rows[0][:1] != ["name"] or len(rows[0]) < 2:
        raise InputError("a scenario CSV needs a header 'name,<ASSET>,<ASSET>,…'", file=file, record="row 0")
    assets = rows[0][1:]
    records = []
    for k, row in enumerate(rows[1:], start=1):
        if len(row) != len(rows[0]):
            raise InputError(f"expected {len(rows[0])} cells, got {len(row)}", file=file, record=f"row {k}")
        returns: dict[str, float] = {}
        for asset, cell in zip(assets, row[1:], strict=True):
            try:
                returns[asset] = float(cell)
            except ValueError:
                raise InputError(f"{cell!r} is not a number", file=file, record=f"row {k}", field=asset) from None
        records.append(_ScenarioIn(name=row[0], returns=returns))
    if not records:
        raise InputError("the scenario file has no scenarios", file=file)
    return _from_records(records, file)


def load_scenarios(path: str | Path) -> ScenarioSet:
    """Read a scenario file (.json, .yaml/.yml or .csv) into a ScenarioSet of kind "custom"."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        if not path.is_file():
            raise InputError("no such file", file=str(path))
        return _read_csv(path)
    data: Any = read_document(path, what="scenario")
    parsed = validate(_FileIn, data, file=str(path))
    return _from_records(parsed.scenarios, str(path))

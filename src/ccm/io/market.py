"""Market snapshot JSON/YAML ↔ :class:`~ccm.market.MarketSnapshot`.

Document::

    {"as_of": "2025-03-01T08:00:00Z",               # required, UTC
     "index": {"BTC": 85000, "USDC": 1.0},          # required, USD per unit, > 0
     "marks": {"BTC-PERPETUAL": 85100},             # optional, ≥ 0 (a worthless option may be marked 0)
     "vols": {"BTC-28MAR25-90000-C": 0.55},         # optional, decimals ≥ 0
     "surfaces": {"BTC": {"atm": 0.55},             # optional: flat, or a grid of expiry × moneyness
                  "ETH": {"expiries_years": [0.1, 1], "moneyness": [0.8, 1, 1.2],
                          "vols": [[0.8, 0.7, 0.75], [0.7, 0.65, 0.68]]}},
     "rates": {"BTC": 0.0},                         # optional, continuously compounded, finite
     "forwards": {"ETH-20230118-2000-C": 2004.75},  # optional, USD per option id (overrides S·e^{rτ})
     "confidences": {"ETH": 0.9, "ETH-PERP": 1.0}}  # optional, feed confidence in [0, 1] per asset or
                                                    # instrument id (derive-pmrm contingencies; default 1)
"""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, Field

from ccm.errors import InputError
from ccm.io.files import read_document, require_mapping, write_text_atomic
from ccm.io.validation import STRICT, UtcTime, validate
from ccm.market import MarketSnapshot, VolSurface

Price = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


class SurfaceIn(BaseModel):
    model_config = STRICT
    atm: NonNegative | None = None
    expiries_years: list[float] | None = None
    moneyness: list[float] | None = None
    vols: list[list[NonNegative]] | None = None


class MarketIn(BaseModel):
    model_config = STRICT
    as_of: UtcTime
    index: dict[str, Price]
    marks: dict[str, NonNegative] = Field(default_factory=dict)
    vols: dict[str, NonNegative] = Field(default_factory=dict)
    surfaces: dict[str, SurfaceIn] = Field(default_factory=dict)
    rates: dict[str, float] = Field(default_factory=dict)
    forwards: dict[str, Price] = Field(default_factory=dict)
    confidences: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)


def _increasing(values: list[float], *, file: str, record: str, field: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        raise InputError("must not be empty", file=file, record=record, field=field)
    if (array <= 0).any():
        k = int(np.flatnonzero(array <= 0)[0])
        raise InputError(f"must be positive, got {array[k]!r}", file=file, record=record,
                         field=f"{field}[{k}]")
    if (np.diff(array) <= 0).any():
        k = int(np.flatnonzero(np.diff(array) <= 0)[0]) + 1
        raise InputError(f"must be strictly increasing, got {array[k - 1]!r} then {array[k]!r}",
                         file=file, record=record, field=f"{field}[{k}]")
    return array


def _surface(underlying: str, item: SurfaceIn, *, file: str) -> VolSurface:
    record = f"surfaces.{underlying}"
    grid = (item.expiries_years, item.moneyness, item.vols)
    if item.atm is not None:
        if any(part is not None for part in grid):
            raise InputError("give either atm or a grid (expiries_years, moneyness, vols), not both",
                             file=file, record=record, field="atm")
        return VolSurface.flat(item.atm)
    missing = [name for name, part in zip(("expiries_years", "moneyness", "vols"), grid, strict=True)
               if part is None]
    if missing:
        raise InputError("a surface needs atm, or all of expiries_years, moneyness and vols", file=file,
                         record=record, field=missing[0])
    expiries = _increasing(item.expiries_years, file=file, record=record, field="expiries_years")
    moneyness = _increasing(item.moneyness, file=file, record=record, field="moneyness")
    if len(item.vols) != expiries.size:
        raise InputError(f"has {len(item.vols)} rows, expected one per expiry ({expiries.size})",
                         file=file, record=record, field="vols")
    for t, row in enumerate(item.vols):
        if len(row) != moneyness.size:
            raise InputError(f"has {len(row)} values, expected one per moneyness ({moneyness.size})",
                             file=file, record=record, field=f"vols[{t}]")
    return VolSurface(expiries_years=expiries, moneyness=moneyness, vols=np.asarray(item.vols, dtype=float))


def market_from_dict(data: Any, *, file: str = "market") -> MarketSnapshot:
    """Validate a market document (already parsed) into a MarketSnapshot."""
    require_mapping(data, file=file, what="market")
    doc: MarketIn = validate(MarketIn, data, file=file)
    return MarketSnapshot(
        as_of=doc.as_of,
        index=dict(doc.index),
        marks=dict(doc.marks),
        vols=dict(doc.vols),
        surfaces={u: _surface(u, s, file=file) for u, s in doc.surfaces.items()},
        rates=dict(doc.rates),
        forwards=dict(doc.forwards),
        confidences=dict(doc.confidences),
    )


def load_market(path: str | Path) -> MarketSnapshot:
    """Read a market snapshot from a ``.json`` (or ``.yaml``) file; raises :class:`InputError`."""
    path = Path(path)
    return market_from_dict(read_document(path, what="market"), file=str(path))


def _surface_to_dict(surface: VolSurface) -> dict[str, Any]:
    flat = VolSurface.flat(float(surface.vols.reshape(-1)[0])) if surface.vols.size == 1 else None
    if flat is not None and np.array_equal(flat.expiries_years, surface.expiries_years) \
            and np.array_equal(flat.moneyness, surface.moneyness):
        return {"atm": float(surface.vols[0, 0])}
    return {
        "expiries_years": [float(x) for x in surface.expiries_years],
        "moneyness": [float(x) for x in surface.moneyness],
        "vols": [[float(v) for v in row] for row in np.asarray(surface.vols)],
    }


def market_to_dict(snapshot: MarketSnapshot) -> dict[str, Any]:
    """The JSON document of ``snapshot`` (read back by :func:`load_market` to equal values)."""
    as_of = snapshot.as_of
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise InputError("as_of is a naive datetime", field="as_of", hint="use a timezone-aware UTC datetime")
    out: dict[str, Any] = {
        "as_of": as_of.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "index": {str(k): float(v) for k, v in snapshot.index.items()},
    }
    for name in ("marks", "vols", "rates", "forwards", "confidences"):
        mapping = getattr(snapshot, name)
        if mapping:
            out[name] = {str(k): float(v) for k, v in mapping.items()}
    if snapshot.surfaces:
        out["surfaces"] = {str(u): _surface_to_dict(s) for u, s in snapshot.surfaces.items()}
    return out


def write_market_json(snapshot: MarketSnapshot, path: str | Path) -> None:
    """Write ``snapshot`` as JSON, atomically; a snapshot that would not load back is refused."""
    path = Path(path)
    document = market_to_dict(snapshot)
    try:
        market_from_dict(document, file=str(path))
        text = json.dumps(document, indent=1, allow_nan=False)
    except InputError as err:
        raise InputError(f"refusing to write an invalid market: {err.message}", file=str(path),
                         record=err.record, field=err.field, hint=err.hint) from None
    except ValueError as err:
        raise InputError(f"refusing to write an invalid market: {err}", file=str(path)) from None
    write_text_atomic(path, text + "\n")

"""ScenarioSet: what a stress scenario does to the market, with a leading scenario axis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ccm._typing import FloatArray
from ccm.errors import InputError


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioSet:
    """S scenarios over the named assets.

    Attributes
    ----------
    assets : tuple of str, the columns of every array (n_assets).
    names : tuple of str, one per scenario (S).
    price_returns : (S, n_assets) relative price moves (−0.3 = prices fall 30%); > −1.
    vol_shifts : (S, n_assets) relative implied-vol change of options on each underlying
        (+0.5 = vols × 1.5); > −1.
    haircut_multipliers : (S, n_assets) factors on collateral haircuts (1 = unchanged).
    liquidity_multipliers : (S, n_assets) factors on average daily volume (1 = unchanged, 0.5 = half).
    dates : per scenario an ISO date (historical events: the first day) or None.
    kind : "historical" | "hypothetical" | "montecarlo" | "historical-simulation" | "reverse" | "custom".
    """

    assets: tuple[str, ...]
    names: tuple[str, ...]
    price_returns: FloatArray
    vol_shifts: FloatArray = field(default=None)  # type: ignore[assignment]
    haircut_multipliers: FloatArray = field(default=None)  # type: ignore[assignment]
    liquidity_multipliers: FloatArray = field(default=None)  # type: ignore[assignment]
    dates: tuple[str | None, ...] = ()
    kind: str = "custom"

    def __post_init__(self) -> None:
        shape = (len(self.names), len(self.assets))
        returns = np.asarray(self.price_returns, dtype=float)
        if returns.shape != shape:
            raise InputError(f"price_returns has shape {returns.shape}, expected {shape}", record="scenarios",
                             field="price_returns")
        object.__setattr__(self, "price_returns", returns)
        for name, default in (("vol_shifts", 0.0), ("haircut_multipliers", 1.0), ("liquidity_multipliers", 1.0)):
            value = getattr(self, name)
            value = np.full(shape, default) if value is None else np.broadcast_to(
                np.asarray(value, dtype=float), shape).copy()
            object.__setattr__(self, name, value)
        if not self.dates:
            object.__setattr__(self, "dates", (None,) * shape[0])
        for name, low in (("price_returns", -1.0), ("vol_shifts", -1.0)):
            bad = ~np.isfinite(getattr(self, name)) | (getattr(self, name) <= low)
            if bad.any():
                s, a = np.argwhere(bad)[0]
                raise InputError(f"{name} must be finite and > {low:g}", record=f"scenario {self.names[s]!r}",
                                 field=self.assets[a])
        for name in ("haircut_multipliers", "liquidity_multipliers"):
            bad = ~np.isfinite(getattr(self, name)) | (getattr(self, name) < 0)
            if bad.any():
                s, a = np.argwhere(bad)[0]
                raise InputError(f"{name} must be finite and ≥ 0", record=f"scenario {self.names[s]!r}",
                                 field=self.assets[a])

    def __len__(self) -> int:
        return len(self.names)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScenarioSet):
            return NotImplemented
        arrays = ("price_returns", "vol_shifts", "haircut_multipliers", "liquidity_multipliers")
        return (self.assets, self.names, self.dates, self.kind) == (other.assets, other.names, other.dates,
                                                                    other.kind) and all(
            np.array_equal(getattr(self, a), getattr(other, a)) for a in arrays)

    __hash__ = None  # type: ignore[assignment]

    def take(self, index: Sequence[int] | np.ndarray) -> ScenarioSet:
        """The scenarios ``index`` (e.g. one chunk of a large set)."""
        idx = np.asarray(index, dtype=np.int64)
        return ScenarioSet(
            assets=self.assets,
            names=tuple(self.names[i] for i in idx),
            price_returns=self.price_returns[idx],
            vol_shifts=self.vol_shifts[idx],
            haircut_multipliers=self.haircut_multipliers[idx],
            liquidity_multipliers=self.liquidity_multipliers[idx],
            dates=tuple(self.dates[i] for i in idx),
            kind=self.kind,
        )

    def for_assets(self, assets: Sequence[str], stable: Sequence[bool], proxy: str | None = "BTC") -> ScenarioSet:
        """The same scenarios over ``assets`` (e.g. a book's): listed assets keep their columns; a missing
        stablecoin does not move; a missing other asset follows ``proxy`` (None: does not move)."""
        columns = {a: k for k, a in enumerate(self.assets)}
        pick = np.array([columns.get(a, -1) for a in assets], dtype=np.int64)
        missing = pick < 0
        use_proxy = missing & ~np.asarray(stable, dtype=bool)
        if proxy is not None and proxy in columns:
            pick = np.where(use_proxy, columns[proxy], pick)
        else:
            use_proxy[:] = False
        fixed = pick < 0

        def realign(array: FloatArray, neutral: float) -> FloatArray:
            out = array[:, np.maximum(pick, 0)].copy()
            out[:, fixed] = neutral
            return out

        return ScenarioSet(
            assets=tuple(assets), names=self.names,
            price_returns=realign(self.price_returns, 0.0), vol_shifts=realign(self.vol_shifts, 0.0),
            haircut_multipliers=realign(self.haircut_multipliers, 1.0),
            liquidity_multipliers=realign(self.liquidity_multipliers, 1.0),
            dates=self.dates, kind=self.kind,
        )

    @staticmethod
    def concat(sets: Sequence[ScenarioSet]) -> ScenarioSet:
        """One set holding all scenarios of ``sets`` (same assets); kind "custom" if kinds differ."""
        assets = sets[0].assets
        if any(s.assets != assets for s in sets):
            raise ValueError("scenario sets over different assets: realign them with for_assets first")
        kinds = {s.kind for s in sets}
        return ScenarioSet(
            assets=assets,
            names=tuple(n for s in sets for n in s.names),
            price_returns=np.concatenate([s.price_returns for s in sets]),
            vol_shifts=np.concatenate([s.vol_shifts for s in sets]),
            haircut_multipliers=np.concatenate([s.haircut_multipliers for s in sets]),
            liquidity_multipliers=np.concatenate([s.liquidity_multipliers for s in sets]),
            dates=tuple(d for s in sets for d in s.dates),
            kind=kinds.pop() if len(kinds) == 1 else "custom",
        )

"""Hypothetical shocks as ScenarioSets (kind "hypothetical"), and their composition.

Every builder takes the asset columns and a ``stable`` collection naming the stablecoins among them
(stablecoins keep their price unless the scenario is about them). Moves are relative (−0.2 = −20%).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from ccm.errors import InputError
from ccm.scenario.base import ScenarioSet

#: Common USD stablecoins; pass your own ``stable`` for other names.
DEFAULT_STABLECOINS: frozenset[str] = frozenset(
    {"USD", "USDC", "USDT", "DAI", "BUSD", "TUSD", "FDUSD", "USDE", "PYUSD", "USDP", "GUSD", "LUSD", "FRAX"})

#: Returns are floored here so that no price reaches zero (ScenarioSet requires returns > −1).
MIN_RETURN = -0.99


def _pct(x: float) -> str:
    return f"{x * 100:+g}%"


def _mask(assets: Sequence[str], stable: Collection[str]) -> np.ndarray:
    return np.array([a in stable for a in assets], dtype=bool)


def _column(assets: Sequence[str], asset: str, what: str) -> int:
    try:
        return list(assets).index(asset)
    except ValueError:
        raise InputError(f"{what} {asset!r} is not among the assets {list(assets)}", record="scenarios",
                         field=asset) from None


def _set(assets: Sequence[str], names: list[str], returns: np.ndarray, *, vols: np.ndarray | None = None,
         haircuts: np.ndarray | None = None, liquidity: np.ndarray | None = None) -> ScenarioSet:
    return ScenarioSet(assets=tuple(assets), names=tuple(names), price_returns=returns, vol_shifts=vols,
                       haircut_multipliers=haircuts, liquidity_multipliers=liquidity, kind="hypothetical")


def uniform_moves(assets: Sequence[str], moves: Sequence[float], *,
                  stable: Collection[str] = DEFAULT_STABLECOINS) -> ScenarioSet:
    """One scenario per move: every non-stable asset moves by it, stablecoins stay put.

    Names: ``"uniform −10%"``.
    """
    moves = np.asarray(moves, dtype=float)
    moving = ~_mask(assets, stable)
    returns = np.where(moving[None, :], moves[:, None], 0.0)
    return _set(assets, [f"uniform {_pct(m)}" for m in moves], returns)


def vol_spikes(assets: Sequence[str], shifts: Sequence[float], *,
               stable: Collection[str] = DEFAULT_STABLECOINS) -> ScenarioSet:
    """One scenario per relative implied-vol shift (+0.5 = vols × 1.5) on every non-stable asset; prices fixed.

    Names: ``"vol +50%"``.
    """
    shifts = np.asarray(shifts, dtype=float)
    moving = ~_mask(assets, stable)
    vols = np.where(moving[None, :], shifts[:, None], 0.0)
    return _set(assets, [f"vol {_pct(v)}" for v in shifts], np.zeros(vols.shape), vols=vols)


def alt_beta(assets: Sequence[str], btc_moves: Sequence[float], *, beta: float | Mapping[str, float] = 1.5,
             base: str = "BTC", stable: Collection[str] = DEFAULT_STABLECOINS) -> ScenarioSet:
    """BTC moves by each of ``btc_moves``; every other non-stable asset moves β × that (floored at −99%).

    ``beta`` is one number for all alts or a mapping asset → β (unlisted alts: 1). Names:
    ``"alt-beta 1.5: BTC −20%"``.
    """
    k = _column(assets, base, "alt-beta base")
    moves = np.asarray(btc_moves, dtype=float)
    if isinstance(beta, Mapping):
        betas = np.array([float(beta.get(a, 1.0)) for a in assets])
        label = "alt-beta"
    else:
        betas = np.full(len(assets), float(beta))
        label = f"alt-beta {float(beta):g}"
    betas[k] = 1.0
    betas[_mask(assets, stable)] = 0.0
    returns = np.maximum(moves[:, None] * betas[None, :], MIN_RETURN) + 0.0  # + 0.0 turns −0 into 0
    return _set(assets, [f"{label}: {base} {_pct(m)}" for m in moves], returns)


def stablecoin_depeg(assets: Sequence[str], coin: str, prices: Sequence[float] = (0.95, 0.9, 0.8), *,
                     haircut_multiplier: float = 2.0, liquidity_multiplier: float = 0.5) -> ScenarioSet:
    """One scenario per price: ``coin`` trades at ``p`` against its peg of 1 (return p − 1); nothing else moves.

    The depegging coin's haircut is multiplied by ``haircut_multiplier`` and its volume by
    ``liquidity_multiplier`` (judgement: ×2 and ×0.5, as in the built-in USDC 2023 event). Names:
    ``"USDC depeg to 0.90"``.
    """
    k = _column(assets, coin, "depegging stablecoin")
    prices = np.asarray(prices, dtype=float)
    shape = (len(prices), len(assets))
    returns, haircuts, liquidity = np.zeros(shape), np.ones(shape), np.ones(shape)
    returns[:, k] = prices - 1.0
    haircuts[:, k] = haircut_multiplier
    liquidity[:, k] = liquidity_multiplier
    return _set(assets, [f"{coin} depeg to {p:.2f}" for p in prices], returns, haircuts=haircuts,
                liquidity=liquidity)


def exchange_token_collapse(assets: Sequence[str], token: str = "BNB", moves: Sequence[float] = (-0.5,), *,
                            contagion: float = 0.0, haircut_multiplier: float = 2.0,
                            liquidity_multiplier: float = 0.5,
                            stable: Collection[str] = DEFAULT_STABLECOINS) -> ScenarioSet:
    """One scenario per move of an exchange token; other non-stable assets move by ``contagion``.

    The token's haircut is multiplied by ``haircut_multiplier`` and its volume by ``liquidity_multiplier``.
    Names: ``"BNB collapse −50% (market −10%)"``.
    """
    k = _column(assets, token, "exchange token")
    moves = np.asarray(moves, dtype=float)
    shape = (len(moves), len(assets))
    moving = ~_mask(assets, stable)
    returns = np.where(moving[None, :], contagion, 0.0) * np.ones(shape)
    returns[:, k] = moves
    haircuts, liquidity = np.ones(shape), np.ones(shape)
    haircuts[:, k] = haircut_multiplier
    liquidity[:, k] = liquidity_multiplier
    suffix = f" (market {_pct(contagion)})" if contagion else ""
    return _set(assets, [f"{token} collapse {_pct(m)}{suffix}" for m in moves], returns, haircuts=haircuts,
                liquidity=liquidity)


def correlation_breakdown(assets: Sequence[str], pairs: Sequence[tuple[float, float]] = ((-0.2, 0.1), (0.2, -0.1)),
                          *, base: str = "BTC", stable: Collection[str] = DEFAULT_STABLECOINS) -> ScenarioSet:
    """Assets that usually move together move apart: per ``(base_move, other_move)`` pair, ``base`` moves by
    the first and every other non-stable asset by the second (default: BTC −20% / others +10%, and the mirror
    BTC +20% / others −10%). This hurts books hedged across assets (long alts against short BTC and the
    reverse) that a uniform move leaves untouched. Names: ``"correlation breakdown: BTC −20%, others +10%"``.
    """
    k = _column(assets, base, "correlation-breakdown base")
    pairs = np.asarray(pairs, dtype=float).reshape(-1, 2)
    moving = ~_mask(assets, stable)
    returns = np.where(moving[None, :], pairs[:, 1:2], 0.0)
    returns[:, k] = pairs[:, 0]
    names = [f"correlation breakdown: {base} {_pct(b)}, others {_pct(o)}" for b, o in pairs]
    return _set(assets, names, returns)


def liquidity_crunch(assets: Sequence[str], factors: Sequence[float] = (2.0, 5.0)) -> ScenarioSet:
    """One scenario per factor k: every asset's haircut × k and its average daily volume ÷ k (liquidity
    multiplier 1/k); prices and vols unchanged. Names: ``"liquidity crunch ×2"``."""
    factors = np.asarray(factors, dtype=float)
    if (factors <= 0).any():
        raise InputError("liquidity-crunch factors must be > 0", record="scenarios", field="factors")
    shape = (len(factors), len(assets))
    return _set(assets, [f"liquidity crunch ×{k:g}" for k in factors], np.zeros(shape),
                haircuts=np.broadcast_to(factors[:, None], shape), liquidity=np.broadcast_to(1.0 / factors[:, None],
                                                                                              shape))


def combine(*sets: ScenarioSet) -> ScenarioSet:
    """Compose scenarios: every combination of one scenario from each set (Cartesian product, the last set
    varying fastest), applied one after the other.

    Price returns compound ``(1 + r1)(1 + r2) − 1``, vol shifts compound the same way, haircut and liquidity
    multipliers multiply. Names are joined with ``" + "``; dates are None; the kind is the sets' common kind,
    else "custom". All sets must have the same assets (realign with :meth:`ScenarioSet.for_assets`).
    """
    if not sets:
        raise ValueError("combine needs at least one ScenarioSet")
    assets = sets[0].assets
    if any(s.assets != assets for s in sets):
        raise ValueError("scenario sets over different assets: realign them with for_assets first")
    index = np.array(list(itertools.product(*(range(len(s)) for s in sets))), dtype=np.int64)
    index = index.reshape(-1, len(sets))
    shape = (len(index), len(assets))
    growth, vol, haircut, liquidity = np.ones(shape), np.ones(shape), np.ones(shape), np.ones(shape)
    for j, s in enumerate(sets):
        pick = index[:, j]
        growth *= 1.0 + s.price_returns[pick]
        vol *= 1.0 + s.vol_shifts[pick]
        haircut *= s.haircut_multipliers[pick]
        liquidity *= s.liquidity_multipliers[pick]
    names = tuple(" + ".join(s.names[i] for s, i in zip(sets, row, strict=True)) for row in index)
    kinds = {s.kind for s in sets}
    return ScenarioSet(assets=assets, names=names, price_returns=growth - 1.0, vol_shifts=vol - 1.0,
                       haircut_multipliers=haircut, liquidity_multipliers=liquidity,
                       kind=kinds.pop() if len(kinds) == 1 else "custom")


def standard_hypotheticals(assets: Sequence[str], stable: Collection[str] = DEFAULT_STABLECOINS) -> ScenarioSet:
    """The default library of hypothetical shocks over ``assets``.

    * uniform moves −50%, −30%, −20%, −10%, +10%, +20%, +30%;
    * vol spikes +50%, +100% and a vol crush −30%;
    * alt-beta 1.5 with BTC −20% and −30% (when BTC is among the assets);
    * each stablecoin among the assets depegging to 0.90 (haircut ×2, volume ×0.5);
    * BNB collapse −50% with the market −10% (when BNB is among the assets);
    * correlation breakdown BTC −20% / others +10% and the mirror (when BTC is among the assets);
    * liquidity crunch ×2 and ×5;
    * a combined crash: uniform −30% + vol +100% + liquidity crunch ×2.
    """
    assets = tuple(assets)
    parts = [
        uniform_moves(assets, (-0.5, -0.3, -0.2, -0.1, 0.1, 0.2, 0.3), stable=stable),
        vol_spikes(assets, (0.5, 1.0, -0.3), stable=stable),
    ]
    if "BTC" in assets:
        parts.append(alt_beta(assets, (-0.2, -0.3), beta=1.5, stable=stable))
    parts += [stablecoin_depeg(assets, coin, (0.9,)) for coin in assets if coin in stable]
    if "BNB" in assets:
        parts.append(exchange_token_collapse(assets, "BNB", (-0.5,), contagion=-0.1, stable=stable))
    if "BTC" in assets:
        parts.append(correlation_breakdown(assets, stable=stable))
    parts.append(liquidity_crunch(assets, (2.0, 5.0)))
    parts.append(combine(uniform_moves(assets, (-0.3,), stable=stable), vol_spikes(assets, (1.0,), stable=stable),
                         liquidity_crunch(assets, (2.0,))))
    return ScenarioSet.concat(parts)

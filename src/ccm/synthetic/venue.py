"""generate_venue: a whole synthetic crypto derivatives venue as BookColumns plus its MarketSnapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from ccm.book.build import BookColumns, CollateralColumns, InstrumentColumns, PositionColumns
from ccm.market.snapshot import MarketSnapshot
from ccm.synthetic.accounts import ARCHETYPES, Rows
from ccm.synthetic.universe import ASSETS, KIND_NAMES, OPTION, build_universe

#: Valuation time used when ``as_of`` is not given (a Monday, after the 08:00 UTC settlement).
DEFAULT_AS_OF = datetime(2025, 2, 10, 10, 0, tzinfo=UTC)

ACCOUNT_ID_DIGITS = 7


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticVenue:
    """A generated venue.

    Attributes
    ----------
    columns : the book as flat columns (``columns.build()`` gives the Book).
    market : the market at ``market.as_of`` (index, futures marks, vol surfaces, some quoted vols).
    description : counts: accounts, instruments, position and collateral rows, and accounts per archetype.
    archetype : ndarray of str, shape (n_accounts,), the archetype of each account (aligned with
        ``columns.account_ids``).
    """

    columns: BookColumns
    market: MarketSnapshot
    description: dict[str, int] = field(default_factory=dict)
    archetype: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))


def account_ids(n: int) -> np.ndarray:
    """``acc-0000001`` … as a fixed-width str array, built without a Python loop."""
    digits = max(ACCOUNT_ID_DIGITS, len(str(n)))
    numbers = np.arange(1, n + 1, dtype=np.int64)
    places = 10 ** np.arange(digits - 1, -1, -1, dtype=np.int64)
    codes = (numbers[:, None] // places[None, :]) % 10 + ord("0")
    prefix = np.broadcast_to(np.frombuffer(b"acc-", dtype=np.uint8), (n, 4))
    raw = np.ascontiguousarray(np.concatenate([prefix, codes.astype(np.uint8)], axis=1))
    return raw.view(f"S{4 + digits}").ravel().astype(str)


def _archetype_counts(n_accounts: int) -> dict[str, int]:
    """Accounts per archetype from the shares, largest remainders so the total is exact."""
    names = list(ARCHETYPES)
    share = np.array([ARCHETYPES[k][1] for k in names])
    exact = share / share.sum() * n_accounts
    counts = np.floor(exact).astype(np.int64)
    rest = n_accounts - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:rest]] += 1
    return dict(zip(names, counts.tolist(), strict=True))


def generate_venue(
    n_accounts: int,
    *,
    rng: np.random.Generator,
    as_of: datetime | None = None,
    n_instruments_target: int | None = None,
) -> SyntheticVenue:
    """Generate a realistic synthetic venue with ``n_accounts`` accounts (deterministic for a seed).

    Parameters
    ----------
    n_accounts : number of accounts (≥ 0).
    rng : random generator; the same seed gives the same venue.
    as_of : valuation time (UTC; naive datetimes are taken as UTC). Default :data:`DEFAULT_AS_OF`.
    n_instruments_target : about how many instruments to list (strike density adapts); default ≈ 400.
        At ≈ 2,000 the accounts carry ≈ 10 positions on average.

    Returns
    -------
    SyntheticVenue with the book columns (instruments, positions, collateral, account ids and margin
    models: "portfolio" for option market makers, "lending" for borrowers, "standard" for some
    directional traders and "" (the config default) otherwise) and the market snapshot.
    """
    if n_accounts < 0:
        raise ValueError("n_accounts must be ≥ 0")
    as_of = DEFAULT_AS_OF if as_of is None else as_of
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    as_of = as_of.astimezone(UTC)
    universe, market = build_universe(as_of, n_instruments_target=n_instruments_target, rng=rng)

    counts = _archetype_counts(n_accounts)
    names = list(counts)
    code = rng.permutation(np.repeat(np.arange(len(names)), [counts[k] for k in names]))
    rows = Rows()
    models = np.full(n_accounts, "", dtype="<U9")
    for k, name in enumerate(names):
        generator, _, model = ARCHETYPES[name]
        members = np.flatnonzero(code == k)
        generator(rng, universe, members, rows)
        models[members] = model
    # A fifth of the directional traders name the standard model explicitly.
    perp = np.flatnonzero(code == names.index("perp_trader"))
    models[perp[rng.random(perp.shape[0]) < 0.2]] = "standard"

    a = rows.arrays(n_accounts)
    keep = a["pos_quantity"] != 0
    ids = account_ids(n_accounts)
    instruments = InstrumentColumns(
        ids=universe.ids,
        type=KIND_NAMES[universe.kind],
        underlying=np.asarray(ASSETS)[universe.underlying],
        settlement=np.where(universe.inverse, "inverse", "linear"),
        settlement_asset=np.asarray(ASSETS)[universe.settlement],
        expiry_s=universe.expiry_s,
        strike=universe.strike,
        right=np.where(universe.kind == OPTION, np.where(universe.is_call, "call", "put"), ""),
    )
    positions = PositionColumns(
        account=ids[a["pos_account"][keep]],
        instrument=universe.ids[a["pos_instrument"][keep]],
        quantity=a["pos_quantity"][keep],
        entry_price=a["pos_entry"][keep],
    )
    ckeep = a["col_quantity"] != 0
    collateral = CollateralColumns(
        account=ids[a["col_account"][ckeep]],
        asset=np.asarray(ASSETS)[a["col_asset"][ckeep]],
        quantity=a["col_quantity"][ckeep],
    )
    columns = BookColumns(
        instruments=instruments, positions=positions, collateral=collateral, account_ids=ids,
        account_models=models,
    )
    description = {
        "accounts": n_accounts,
        "instruments": len(universe),
        "positions": int(keep.sum()),
        "collateral": int(ckeep.sum()),
        **counts,
    }
    return SyntheticVenue(columns=columns, market=market, description=description,
                          archetype=np.asarray(names)[code] if n_accounts else np.zeros(0, dtype=str))

"""Synthetic accounts by archetype: positions and collateral as flat integer-coded arrays.

Each archetype generator receives the row numbers of its accounts and appends rows to a
:class:`Rows` accumulator; nothing loops over accounts or positions. Sizes are heavy-tailed
(lognormal equity per account), leverage and cushions are drawn so that the status mix is realistic:
most accounts healthy, some in warning or margin call, a few in liquidation or bankrupt.

Sizing uses the Deribit standard-margin constants of ``reference/exchanges.md`` (§1.3–1.4) and the
lending thresholds in :data:`LENDING_THRESHOLDS`; a config with other parameters shifts the mix but
keeps it varied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ccm.synthetic.universe import (
    ASSET_PRICES,
    FUTURE,
    OPTION,
    PERPETUAL,
    SPOT,
    UNDERLYINGS,
    USDC,
    USDT,
    Universe,
)

#: Liquidation thresholds the borrowers are sized against (Aave-like; asset → LT).
LENDING_THRESHOLDS: dict[str, float] = {"BTC": 0.78, "ETH": 0.825, "SOL": 0.70}

N_SERIES = 2 * len(UNDERLYINGS)  # option series 2·underlying + (0 inverse | 1 linear)

# Deribit standard margin (exchanges.md §1.3–1.4) used to size accounts.
_FUTURE_MM = 0.01
_OPTION_MM = 0.075


@dataclass(slots=True)
class Rows:
    """Growing lists of position rows and collateral rows (integer codes, later turned into strings)."""

    pos_account: list = field(default_factory=list)
    pos_instrument: list = field(default_factory=list)
    pos_quantity: list = field(default_factory=list)
    pos_entry: list = field(default_factory=list)
    col_account: list = field(default_factory=list)
    col_asset: list = field(default_factory=list)
    col_quantity: list = field(default_factory=list)

    def positions(self, account, instrument, quantity, entry) -> None:
        self.pos_account.append(np.asarray(account, dtype=np.int64))
        self.pos_instrument.append(np.asarray(instrument, dtype=np.int64))
        self.pos_quantity.append(np.asarray(quantity, dtype=np.float64))
        self.pos_entry.append(np.asarray(entry, dtype=np.float64))

    def collateral(self, account, asset, quantity) -> None:
        account = np.asarray(account, dtype=np.int64)
        self.col_account.append(account)
        self.col_asset.append(np.broadcast_to(np.asarray(asset, dtype=np.int64), account.shape).copy())
        self.col_quantity.append(np.asarray(quantity, dtype=np.float64))

    def collateral_usd(self, account, asset, usd) -> None:
        """Collateral given in USD, converted to asset units at the index."""
        asset = np.broadcast_to(np.asarray(asset, dtype=np.int64), np.shape(account))
        self.collateral(account, asset, np.asarray(usd, dtype=float) / ASSET_PRICES[asset])

    @staticmethod
    def _cat(parts: list, dtype) -> np.ndarray:
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)

    def arrays(self, n_accounts: int) -> dict[str, np.ndarray]:
        """Concatenated rows; collateral summed per (account, asset) and ordered by account."""
        n_assets = len(ASSET_PRICES)
        key = self._cat(self.col_account, np.int64) * n_assets + self._cat(self.col_asset, np.int64)
        total = np.bincount(key, weights=self._cat(self.col_quantity, np.float64),
                            minlength=n_accounts * n_assets)
        held = np.flatnonzero(total)
        return {
            "pos_account": self._cat(self.pos_account, np.int64),
            "pos_instrument": self._cat(self.pos_instrument, np.int64),
            "pos_quantity": self._cat(self.pos_quantity, np.float64),
            "pos_entry": self._cat(self.pos_entry, np.float64),
            "col_account": held // n_assets,
            "col_asset": held % n_assets,
            "col_quantity": total[held],
        }


# -- helpers --------------------------------------------------------------------------------------

def lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(n))


def equity_usd(rng: np.random.Generator, median: float, sigma: float, n: int, cap: float = 5e8) -> np.ndarray:
    """Heavy-tailed account size: lognormal body with a Pareto (α = 1.3) tail for 2 % of accounts."""
    size = lognormal(rng, median, sigma, n)
    whale = rng.random(n) < 0.02
    size = np.where(whale, size * (1.0 + rng.pareto(1.3, n)), size)
    return np.minimum(size, cap)


def expand(accounts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner row into ``accounts``, account id) of each of Σ counts positions."""
    local = np.repeat(np.arange(accounts.shape[0]), counts)
    return local, accounts[local]


def stratified_uniforms(rng: np.random.Generator, local: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Uniforms (j + U)/c for the j-th of an owner's c draws, U one offset per owner: the draws of an
    owner spread over the whole distribution (a market maker quotes the whole chain) and repeat an
    instrument only where its weight exceeds 1/c."""
    start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(local.shape[0]) - start[local]
    return (rank + rng.random(counts.shape[0])[local]) / counts[local]


def shares(rng: np.random.Generator, local: np.ndarray, n: int) -> np.ndarray:
    """Random positive weights summing to 1 within each owner (Dirichlet(1) per account)."""
    w = rng.exponential(1.0, local.shape[0])
    total = np.bincount(local, weights=w, minlength=n)
    return w / total[local]


class BlockSampler:
    """Weighted draws of instruments within blocks (e.g. option series), vectorised over draws."""

    def __init__(self, candidates: np.ndarray, block: np.ndarray, weight: np.ndarray, n_blocks: int) -> None:
        order = np.lexsort((candidates, block))
        self.candidates = candidates[order]
        block, weight = block[order], np.maximum(weight[order], 1e-12)
        total = np.bincount(block, weights=weight, minlength=n_blocks)
        within = weight / total[block]
        start = np.concatenate(([0], np.cumsum(np.bincount(block, minlength=n_blocks))))
        cum = np.cumsum(within)
        # cumulative weight restarts in every block: block + (0, 1]
        cum = cum - np.concatenate(([0.0], cum))[start[block]] + block
        self.cdf = cum
        self.start, self.stop = start[:-1], start[1:]
        self.size = np.bincount(block, minlength=n_blocks)

    def draw(self, rng: np.random.Generator, block_of_draw: np.ndarray,
             u: np.ndarray | None = None) -> np.ndarray:
        """One instrument per draw from its block; ``u`` (uniforms in [0, 1)) defaults to fresh draws."""
        u = rng.random(block_of_draw.shape[0]) if u is None else u
        u = np.clip(u, 1e-12, 1.0 - 1e-12)
        k = np.searchsorted(self.cdf, block_of_draw + u, side="left")
        k = np.clip(k, self.start[block_of_draw], self.stop[block_of_draw] - 1)
        return self.candidates[k]


def round_lot(rng: np.random.Generator, quantity: np.ndarray, lot: np.ndarray) -> np.ndarray:
    """Round to whole lots, stochastically (unbiased), keeping the sign; below one lot may give 0,
    which drops the position (small accounts hold fewer lines rather than oversized ones)."""
    lots = np.abs(quantity) / lot
    whole = np.floor(lots)
    whole += rng.random(lots.shape[0]) < (lots - whole)
    return np.sign(quantity) * whole * lot


def book_quantity(rng: np.random.Generator, u: Universe, instrument: np.ndarray,
                  coins: np.ndarray) -> np.ndarray:
    """Quantity in book units (USD notional for inverse futures, coins otherwise) of ``coins`` exposure."""
    inverse_d1 = u.inverse[instrument] & (u.kind[instrument] != OPTION)
    q = np.where(inverse_d1, coins * u.forward[instrument], coins)
    return round_lot(rng, q, u.lot[instrument])


def entry_prices(rng: np.random.Generator, u: Universe, instrument: np.ndarray, sigma: np.ndarray,
                 missing: float) -> np.ndarray:
    """Entry prices near the current mark of futures and perpetuals (NaN for others and for a share)."""
    delta_one = (u.kind[instrument] == FUTURE) | (u.kind[instrument] == PERPETUAL)
    entry = u.forward[instrument] * np.exp(sigma * rng.standard_normal(instrument.shape[0]))
    absent = rng.random(instrument.shape[0]) < missing
    return np.where(delta_one & ~absent, entry, np.nan)


def _perp_of(u: Universe, underlying: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """The perpetual instrument of each (underlying, inverse) pair."""
    table = np.full((len(UNDERLYINGS), 2), -1, dtype=np.int64)
    perp = np.flatnonzero(u.kind == PERPETUAL)
    table[u.underlying[perp], u.inverse[perp].astype(np.int64)] = perp
    return table[underlying, inverse.astype(np.int64)]


def _futures_of(u: Universe, underlying: np.ndarray, inverse: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """A dated future of each (underlying, settlement) pair, quarterlies preferred; −1 where none listed."""
    fut = np.flatnonzero(u.kind == FUTURE)
    key = u.underlying[fut] * 2 + u.inverse[fut]
    weight = np.where(u.tau[fut] > 30 / 365, 3.0, 1.0)
    sampler = BlockSampler(fut, key, weight, 2 * len(UNDERLYINGS))
    want = underlying * 2 + inverse.astype(np.int64)
    ok = sampler.size[want] > 0
    out = np.full(want.shape[0], -1, dtype=np.int64)
    if ok.any():
        out[ok] = sampler.draw(rng, want[ok])
    return out


def _option_z(u: Universe) -> np.ndarray:
    """Standardised log-moneyness ln(K/F)/(σ√τ) of each instrument (0 for non-options)."""
    opt = u.kind == OPTION
    scale = np.where(opt, u.vol * np.sqrt(np.maximum(u.tau, 1e-6)), 1.0)
    return np.where(opt, np.log(np.where(opt, u.strike, 1.0) / u.forward) / scale, 0.0)


def _option_sampler(u: Universe, weight: np.ndarray) -> BlockSampler:
    opt = np.flatnonzero(u.kind == OPTION)
    return BlockSampler(opt, u.series[opt], weight[opt], N_SERIES)


def _otm(u: Universe) -> np.ndarray:
    return np.where(u.is_call, u.strike > u.forward, u.strike < u.forward)


def _series_weights(coin: bool) -> np.ndarray:
    """Probability of each option series 2·underlying + linear (BTC inv, BTC lin, ETH inv, ETH lin, SOL
    inv, SOL lin); series that are not listed are dropped by the caller."""
    w = np.array([0.55, 0.0, 0.30, 0.0, 0.15, 0.0]) if coin else np.array([0.0, 0.45, 0.0, 0.30, 0.0, 0.25])
    return w / w.sum()


def _pick_series(rng: np.random.Generator, coin: np.ndarray, u: Universe) -> np.ndarray:
    """One option series per account, coin-settled for ``coin`` accounts, USDC-settled otherwise."""
    listed = np.bincount(u.series[u.series >= 0], minlength=N_SERIES) > 0
    out = np.empty(coin.shape[0], dtype=np.int64)
    for flag in (True, False):
        w = _series_weights(flag) * listed
        sel = coin == flag
        out[sel] = rng.choice(N_SERIES, size=int(sel.sum()), p=w / w.sum())
    return out


def _stable(rng: np.random.Generator, n: int, usdt_share: float = 0.25) -> np.ndarray:
    return np.where(rng.random(n) < usdt_share, USDT, USDC)


def _settle_collateral_asset(u: Universe, instrument: np.ndarray, stable: np.ndarray) -> np.ndarray:
    """Coin for coin-settled instruments, the account's stablecoin otherwise."""
    return np.where(u.inverse[instrument], u.underlying[instrument], stable)


# -- archetypes -----------------------------------------------------------------------------------

def _option_portfolio(
    rng: np.random.Generator, u: Universe, acc: np.ndarray, out: Rows, *, equity_median: float,
    equity_sigma: float, coin_share: float, count_fraction: float, gross_median: float, short_prob: float,
    hedge_ratio: tuple[float, float], entry_drift: float,
) -> None:
    """Options on one or two series (both sides), delta-hedged per underlying with the perpetual and
    partly a dated future; collateral in the coins traded (coin-settled books) or stablecoins."""
    n = acc.shape[0]
    if n == 0:
        return
    equity = equity_usd(rng, equity_median, equity_sigma, n, cap=2e9)
    coin = rng.random(n) < coin_share
    primary = _pick_series(rng, coin, u)
    secondary = _pick_series(rng, coin, u)
    series_size = np.bincount(u.series[u.series >= 0], minlength=N_SERIES)
    median = np.maximum(3.0, count_fraction * series_size[primary])
    counts = np.clip(np.round(lognormal(rng, 1.0, 0.5, n) * median), 2, 3 * series_size.max())
    counts = counts.astype(np.int64)
    local, owner = expand(acc, counts)
    # The last quarter of an account's draws (in rank order) goes to its secondary series.
    uniform = stratified_uniforms(rng, local, counts)
    on_secondary = uniform >= 0.75
    uniform = np.where(on_secondary, (uniform - 0.75) / 0.25, uniform / 0.75)
    series = np.where(on_secondary, secondary[local], primary[local])
    z = _option_z(u)
    sampler = _option_sampler(u, np.exp(-0.5 * (z / 2.0) ** 2) * (0.4 + np.exp(-u.tau / 0.25)))
    ins = sampler.draw(rng, series, uniform)
    # Size: gross option notional a multiple of equity, spread over the positions.
    gross = equity * lognormal(rng, gross_median, 0.5, n)
    notional_usd = gross[local] * shares(rng, local, n)
    coins = notional_usd / ASSET_PRICES[u.underlying[ins]]
    sign = np.where(rng.random(local.shape[0]) < short_prob, -1.0, 1.0)
    qty = round_lot(rng, sign * coins, u.lot[ins])
    out.positions(owner, ins, qty, np.full(local.shape[0], np.nan))

    # Delta hedge per (account, underlying, settlement) with the perpetual, partly a dated future.
    key = (local * len(UNDERLYINGS) + u.underlying[ins]) * 2 + u.inverse[ins]
    slots = n * len(UNDERLYINGS) * 2
    uniq = np.flatnonzero(np.bincount(key, minlength=slots) > 0)
    net_delta = np.bincount(key, weights=qty * u.delta[ins], minlength=slots)[uniq]
    h_local = uniq // (2 * len(UNDERLYINGS))
    h_under = (uniq // 2) % len(UNDERLYINGS)
    h_inverse = (uniq % 2).astype(bool)
    hedge_coins = -net_delta * rng.uniform(*hedge_ratio, uniq.shape[0])
    perp = _perp_of(u, h_under, h_inverse)
    use_future = rng.random(uniq.shape[0]) < 0.4
    future = _futures_of(u, h_under, h_inverse, rng)
    split = use_future & (future >= 0)
    perp_coins = np.where(split, 0.5 * hedge_coins, hedge_coins)
    hedge_ins = np.concatenate([perp, future[split]])
    hedge_coins = np.concatenate([perp_coins, 0.5 * hedge_coins[split]])
    hedge_owner = acc[np.concatenate([h_local, h_local[split]])]
    live = np.abs(hedge_coins) * ASSET_PRICES[u.underlying[hedge_ins]] > 10.0
    hedge_ins, hedge_coins, hedge_owner = hedge_ins[live], hedge_coins[live], hedge_owner[live]
    entry = entry_prices(rng, u, hedge_ins, np.full(hedge_ins.shape[0], entry_drift), missing=0.1)
    out.positions(hedge_owner, hedge_ins, book_quantity(rng, u, hedge_ins, hedge_coins), entry)

    # Collateral: the equity plus the premium received net of premium paid, so that equity
    # (collateral + option value) is the drawn size.
    weight = np.abs(notional_usd) + 1e-9
    per_pos_usd = equity[local] * weight / np.bincount(local, weights=weight, minlength=n)[local]
    per_pos_usd = per_pos_usd - qty * u.value_usd[ins]
    asset = _settle_collateral_asset(u, ins, _stable(rng, n)[local])
    out.collateral_usd(owner, asset, per_pos_usd)


def market_makers(rng: np.random.Generator, u: Universe, acc: np.ndarray, out: Rows) -> None:
    """Option market makers: hundreds of options both sides (slightly short vol), tightly delta-hedged."""
    _option_portfolio(rng, u, acc, out, equity_median=3e6, equity_sigma=1.0, coin_share=0.6,
                      count_fraction=0.65, gross_median=20.0, short_prob=0.55, hedge_ratio=(0.85, 1.05),
                      entry_drift=0.01)


def pro_traders(rng: np.random.Generator, u: Universe, acc: np.ndarray, out: Rows) -> None:
    """Portfolio-margin traders: dozens of options, partly hedged with perpetuals and futures."""
    _option_portfolio(rng, u, acc, out, equity_median=2e5, equity_sigma=1.2, coin_share=0.5,
                      count_fraction=0.1, gross_median=12.0, short_prob=0.5, hedge_ratio=(0.0, 1.0),
                      entry_drift=0.03)


def perp_traders(rng: np.random.Generator, u: Universe, acc: np.ndarray, out: Rows) -> None:
    """Directional traders: 1–3 perpetuals (sometimes a dated future), leverage 2×–50×."""
    n = acc.shape[0]
    if n == 0:
        return
    equity = equity_usd(rng, 3_000.0, 1.6, n, cap=2e8)
    counts = rng.choice([1, 2, 3], size=n, p=[0.55, 0.30, 0.15]) + (rng.random(n) < 0.15)
    # Opening leverage 1.5×–50×; large accounts use less.
    leverage = np.clip(lognormal(rng, 5.0, 0.9, n) / np.maximum(1.0, equity / 2e5) ** 0.35, 1.5, 50.0)
    local, owner = expand(acc, counts)
    delta_one = np.flatnonzero((u.kind == PERPETUAL) | (u.kind == FUTURE))
    popularity = np.array([0.45, 0.35, 0.20])[u.underlying[delta_one]]
    popularity = popularity * np.where(u.kind[delta_one] == PERPETUAL, 6.0, 0.4)
    popularity = popularity * np.where(u.inverse[delta_one], 1.0, 0.8)
    sampler = BlockSampler(delta_one, np.zeros(delta_one.shape[0], dtype=np.int64), popularity, 1)
    ins = sampler.draw(rng, np.zeros(local.shape[0], dtype=np.int64))
    max_leverage = 1.0 / np.array([0.02, 0.02, 0.04])  # 1 / IM base (Deribit BTC, ETH; SOL_USDC)
    position_leverage = np.minimum(leverage[local], max_leverage[u.underlying[ins]])
    notional = equity[local] * position_leverage * shares(rng, local, n)
    long = rng.random(n) < 0.58  # one view per account
    sign = np.where(long[local], 1.0, -1.0) * np.where(rng.random(local.shape[0]) < 0.15, -1.0, 1.0)
    coins = sign * notional / ASSET_PRICES[u.underlying[ins]]
    qty = book_quantity(rng, u, ins, coins)
    # Entries: the market has moved since the account opened (more for older positions).
    drift = lognormal(rng, 0.02, 0.6, n)[local]
    entry = entry_prices(rng, u, ins, drift, missing=0.12)
    out.positions(owner, ins, qty, entry)
    # Margin posted in the settlement asset of each position, in proportion to its notional.
    asset = _settle_collateral_asset(u, ins, _stable(rng, n, 0.2)[local])
    out.collateral_usd(owner, asset, notional / position_leverage)


def basis_traders(rng: np.random.Generator, u: Universe, acc: np.ndarray, out: Rows) -> None:
    """Cash and carry: long coin (collateral or spot pair), short dated futures of the same coin."""
    n = acc.shape[0]
    if n == 0:
        return
    equity = equity_usd(rng, 150_000.0, 1.3, n)
    coin_style = rng.random(n) < 0.55
    under = rng.choice(len(UNDERLYINGS), size=n, p=[0.6, 0.3, 0.1])
    coin_style &= np.array([s.coin_settled for s in UNDERLYINGS])[under]
    hedge_coins = equity / ASSET_PRICES[under] * rng.uniform(0.7, 1.0, n)
    # one or two expiries (a roll in progress)
    two = rng.random(n) < 0.3
    local = np.concatenate([np.arange(n), np.flatnonzero(two)])
    part = np.where(two[local], np.where(np.arange(local.shape[0]) < n, 0.6, 0.4), 1.0)
    fut = _futures_of(u, under[local], coin_style[local], rng)
    ok = fut >= 0
    local, fut, part = local[ok], fut[ok], part[ok]
    qty = book_quantity(rng, u, fut, -hedge_coins[local] * part)
    entry = entry_prices(rng, u, fut, np.full(fut.shape[0], 0.01), missing=0.05)
    out.positions(acc[local], fut, qty, entry)
    # Coin-settled: hold the coin as collateral. Linear: long spot pair plus stablecoin margin.
    c = np.flatnonzero(coin_style)
    out.collateral(acc[c], under[c], equity[c] / ASSET_PRICES[under[c]])
    lin = np.flatnonzero(~coin_style)
    spot = np.flatnonzero((u.kind == SPOT) & (u.settlement == USDC))
    spot_of = np.full(len(UNDERLYINGS), -1, dtype=np.int64)
    spot_of[u.underlying[spot]] = spot
    spot_ins = spot_of[under[lin]]
    spot_qty = round_lot(rng, hedge_coins[lin], u.lot[spot_ins])
    out.positions(acc[lin], spot_ins, spot_qty, np.full(lin.shape[0], np.nan))
    out.collateral_usd(acc[lin], _stable(rng, lin.shape[0]),
                       equity[lin] * rng.uniform(0.05, 0.25, lin.shape[0]))


def option_buyers(rng: np.random.Generator, u: Universe, acc: np.ndarray, out: Rows) -> None:
    """Retail option buyers: mostly long short-dated OTM options, a few spreads (short legs)."""
    n = acc.shape[0]
    if n == 0:
        return
    equity = equity_usd(rng, 2_500.0, 1.4, n)
    coin = rng.random(n) < 0.5
    series = _pick_series(rng, coin, u)
    counts = np.minimum(1 + rng.geometric(1.0 / 7.0, n), 40)
    local, owner = expand(acc, counts)
    z = _option_z(u)
    weight = np.exp(-0.5 * ((np.abs(z) - 0.7) / 0.7) ** 2) * np.where(_otm(u), 1.0, 0.15)
    weight = weight * (0.05 + np.exp(-u.tau / 0.08)) * np.where(u.is_call, 1.3, 1.0)
    ins = _option_sampler(u, weight).draw(rng, series[local])
    budget = equity * rng.uniform(0.05, 0.5, n)
    premium_usd = budget[local] * shares(rng, local, n)
    s = ASSET_PRICES[u.underlying[ins]]
    coins = np.minimum(premium_usd / np.maximum(u.value_usd[ins], 1e-9), 20.0 * equity[local] / s)
    # Short legs (spreads) sized by their margin: a fraction of equity over the unit maintenance margin.
    short = rng.random(local.shape[0]) < 0.12
    unit_mm = _OPTION_MM * s + u.value_usd[ins]
    short_coins = equity[local] * lognormal(rng, 0.15, 0.8, local.shape[0]) / unit_mm
    coins = np.where(short, -np.minimum(coins, short_coins), coins)
    qty = round_lot(rng, coins, u.lot[ins])
    out.positions(owner, ins, qty, np.full(local.shape[0], np.nan))
    paid = np.bincount(local, weights=qty * u.value_usd[ins], minlength=n)
    asset = np.where(coin, series // 2, _stable(rng, n))
    out.collateral_usd(acc, asset, np.maximum(equity - paid, 0.05 * equity))



def option_sellers(rng: np.random.Generator, u: Universe, acc: np.ndarray, out: Rows) -> None:
    """Premium sellers under standard margin: short OTM puts and calls, some long wings."""
    n = acc.shape[0]
    if n == 0:
        return
    equity = equity_usd(rng, 25_000.0, 1.3, n)
    coin = rng.random(n) < 0.5
    series = _pick_series(rng, coin, u)
    counts = np.minimum(1 + rng.geometric(1.0 / 7.0, n), 40)
    cushion = lognormal(rng, 2.5, 0.45, n)
    local, owner = expand(acc, counts)
    z = _option_z(u)
    weight = np.exp(-0.5 * ((np.abs(z) - 1.0) / 0.6) ** 2) * np.where(_otm(u), 1.0, 0.05)
    weight = weight * np.exp(-0.5 * ((np.log(np.maximum(u.tau, 1e-6)) - np.log(21 / 365)) / 1.0) ** 2)
    ins = _option_sampler(u, weight).draw(rng, series[local])
    s = ASSET_PRICES[u.underlying[ins]]
    mark = u.value_usd[ins]
    wing = rng.random(local.shape[0]) < 0.15
    unit_mm = _OPTION_MM * s + mark
    share = shares(rng, local, n)
    coins = equity[local] * share / (cushion[local] * unit_mm)
    qty = round_lot(rng, np.where(wing, 0.5 * coins, -coins), u.lot[ins])
    out.positions(owner, ins, qty, np.full(local.shape[0], np.nan))
    # The premium was received at an earlier price: the market may have moved either way since.
    sold_at = mark * np.exp(rng.normal(0.0, 0.2, local.shape[0]))
    cash = np.bincount(local, weights=-qty * np.where(qty < 0, sold_at, mark), minlength=n)
    asset = np.where(coin, series // 2, _stable(rng, n))
    out.collateral_usd(acc, asset, np.maximum(equity + cash, 0.02 * equity))


def borrowers(rng: np.random.Generator, u: Universe, acc: np.ndarray, out: Rows) -> None:
    """Lending accounts: coin collateral, stablecoin debt near (sometimes past) the threshold."""
    n = acc.shape[0]
    if n == 0:
        return
    equity = equity_usd(rng, 12_000.0, 1.5, n)
    first = rng.choice(len(UNDERLYINGS), size=n, p=[0.35, 0.45, 0.20])
    second = rng.choice(len(UNDERLYINGS), size=n, p=[0.35, 0.45, 0.20])
    two = (rng.random(n) < 0.25) & (second != first)
    part = np.where(two, rng.uniform(0.3, 0.7, n), 1.0)
    lt = np.array([LENDING_THRESHOLDS[s.name] for s in UNDERLYINGS])
    out.collateral_usd(acc, first, equity * part)
    t = np.flatnonzero(two)
    out.collateral_usd(acc[t], second[t], equity[t] * (1.0 - part[t]))
    weighted = equity * part * lt[first] + np.where(two, equity * (1.0 - part) * lt[second], 0.0)
    health = np.exp(rng.normal(0.45, 0.25, n))  # ≈ 4 % below 1
    out.collateral_usd(acc, _stable(rng, n, 0.3), -weighted / health)


def idle(rng: np.random.Generator, u: Universe, acc: np.ndarray, out: Rows) -> None:
    """Accounts holding collateral only."""
    n = acc.shape[0]
    if n == 0:
        return
    equity = equity_usd(rng, 800.0, 2.0, n)
    asset = rng.choice(len(ASSET_PRICES), size=n, p=[0.3, 0.25, 0.1, 0.25, 0.1])
    out.collateral_usd(acc, asset, equity)


#: Archetype name → (generator, share of accounts, margin model or "" for the config default).
ARCHETYPES: dict[str, tuple] = {
    "market_maker": (market_makers, 0.025, "portfolio"),
    "pro_trader": (pro_traders, 0.05, "portfolio"),
    "perp_trader": (perp_traders, 0.40, ""),
    "basis_trader": (basis_traders, 0.04, ""),
    "option_buyer": (option_buyers, 0.15, ""),
    "option_seller": (option_sellers, 0.085, ""),
    "borrower": (borrowers, 0.10, "lending"),
    "idle": (idle, 0.15, ""),
}

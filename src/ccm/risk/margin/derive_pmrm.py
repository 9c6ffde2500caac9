"""Derive (formerly Lyra v2) portfolio margin: PMRM + PMRMLib of derivexyz/v2-core, re-derived on ccm's arrays.

Each account is split into one Derive portfolio per asset u (the underlying of its options, perpetuals and
futures, and every non-stable collateral asset): options grouped by expiry, a perp position, a base-asset
position (collateral of u plus spot positions), and cash. Amounts are in units of the manager's cash asset
(USDC), whose index is Derive's *stable price* p$; ccm reports requirements in USD, i.e. × p$.

Per expiry e (τ years to expiry, F forward, Black-76 undiscounted, vols σ per strike):

- vol shocks  up = 1 + vol_range_up·x,  down = max(0, 1 − vol_range_down·x),
  x = (30 d / max(τ, dte_floor))^p,  p = short_term_power if τ ≤ 30 d else long_term_power;
- static discount  d_e = base_static_discount · exp(−τ · (max(r, 0)·rate_mult_scale + rate_add_scale));
- scenario value  V_e(s, v) = Σ q · Black76(F·s, K, τ, σ·v);  MtM_e = V_e(1, 1);
- basis (forward) contingency  b_e = min(V_e(up) − MtM_e, V_e(down) − MtM_e, 0) · (basis_add + basis_mult·τ)
  at the basis spot shocks, vols unchanged.

Per portfolio, for each margin scenario (s, v):
``P(s, v) = Σ_e [d_e·V_e if V_e > 0 else V_e] − MtM_e + (s − 1)·(Σ q_perp·F_perp + base·S/p$)``;
worst W = min(Σ_e b_e, min over scenarios P) ≤ 0.

Contingencies: static C = (Σ|q_perp|·perp_percent + |base|·base_percent)·S + Σ_(e, K) naked shorts·option_percent·S,
naked shorts at a strike = max(shorts − longs, 0) over its call and put; confidence (IM only)
Cc = Σ (1 − c)·confidence_margin·amount·S where the confidence c < confidence_threshold, for the perp+base
amount at c = min(spot, perp feeds) and for each expiry's Σ|q| at c = min(that, the options' feeds).

Requirement (≥ 0): MM = C − W;  IM = m·(C − W) + Cc,  m = im_factor + peg_loss_factor·max(0, threshold − p$)
when p$ < peg_loss_threshold. Derive's own margin number is cash + MtM − requirement (its IM/MM test vectors).

Vectorised: options are priced once per (base move, scenario) on whole arrays of instruments (shared moves) or
of positions (per-account moves); expiries, strikes and portfolios are aggregated with sparse products over
chunks of accounts. Nothing loops over accounts, positions or expiries in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ccm._typing import FloatArray, IntArray
from ccm.book.book import nonzeros_of_rows, row_of_nonzeros
from ccm.errors import InputError
from ccm.pricing.contracts import unit_value
from ccm.risk.context import RiskContext, instrument_terms, shared_moves
from ccm.risk.margin.base import Requirement
from ccm.risk.margin.portfolio import unique_inverse

SECONDS_PER_DAY = 86400.0
YEAR_DAYS = 365.0
#: Upper bound on (positions + balances) × base moves × scenario columns evaluated per chunk of accounts.
CHUNK_CELLS = 6_000_000
_VOL_CODE = {"up": 1, "none": 0, "down": -1}
_SCALARS = ("basis_add_factor", "basis_mult_factor", "peg_loss_threshold", "peg_loss_factor",
            "confidence_threshold", "confidence_margin", "base_percent", "perp_percent", "option_percent",
            "im_factor", "base_static_discount", "rate_mult_scale", "rate_add_scale", "vol_range_up",
            "vol_range_down", "short_term_power", "long_term_power", "dte_floor_days")
#: Leading scenario columns: the MtM, then the basis contingency's up and down shocks (vols unchanged).
_MTM, _BASIS_UP, _BASIS_DOWN, _FIRST_SCENARIO = 0, 1, 2, 3


@dataclass(frozen=True, slots=True, kw_only=True)
class PmrmTable:
    """Derive parameters gathered per asset (rows = ``Book.assets``).

    shock : (n_assets, J) spot shocks of the columns [MtM, basis up, basis down, scenario 1..K] (shorter
        scenario lists are padded with their first scenario, which changes no minimum).
    vol_kind : (n_assets, J) int8, +1 up, 0 none, −1 down.
    cash : (n_assets,) index of each asset's cash asset in ``Book.assets``, −1 where the book lacks it.
    params : name → (n_assets,) scalar parameters.
    """

    shock: FloatArray
    vol_kind: np.ndarray
    cash: IntArray
    params: dict[str, FloatArray]

    @property
    def n_columns(self) -> int:
        return int(self.shock.shape[1])


def build_table(ctx: RiskContext) -> PmrmTable:
    """The parameter table of every book asset (a loop over the few assets, not accounts)."""
    assets = ctx.book.assets
    index = {a: k for k, a in enumerate(assets)}
    prms = [ctx.config.derive_pmrm_for(a) for a in assets]
    n_scen = max([len(p.scenarios) for p in prms] + [1])
    shock = np.ones((len(assets), _FIRST_SCENARIO + n_scen))
    kind = np.zeros(shock.shape, dtype=np.int8)
    for k, p in enumerate(prms):
        scen = list(p.scenarios) + [p.scenarios[0]] * (n_scen - len(p.scenarios))
        shock[k, _BASIS_UP], shock[k, _BASIS_DOWN] = p.basis_spot_up, p.basis_spot_down
        shock[k, _FIRST_SCENARIO:] = [s for s, _ in scen]
        kind[k, _FIRST_SCENARIO:] = [_VOL_CODE[v] for _, v in scen]
    params = {name: np.array([float(getattr(p, name)) for p in prms]) for name in _SCALARS}
    cash = np.array([index.get(p.cash_asset, -1) for p in prms], dtype=np.int64)
    return PmrmTable(shock=shock, vol_kind=kind, cash=cash, params=params)


def expiry_terms(tau: FloatArray, rate: FloatArray, u: IntArray, table: PmrmTable) -> dict[str, FloatArray]:
    """Per-option constants of its expiry, each of the shape of ``tau``: vol multipliers ``up``/``down``,
    static discount ``discount`` and basis-contingency factor ``basis_factor``."""
    prm = {k: v[u] for k, v in table.params.items()}
    t = np.maximum(tau, 0.0)
    days = t * YEAR_DAYS
    power = np.where(days <= 30.0, prm["short_term_power"], prm["long_term_power"])
    x = (30.0 / np.maximum(days, prm["dte_floor_days"])) ** power
    shocked_rate = np.maximum(rate, 0.0) * prm["rate_mult_scale"] + prm["rate_add_scale"]
    return dict(
        up=1.0 + prm["vol_range_up"] * x,
        down=np.maximum(0.0, 1.0 - prm["vol_range_down"] * x),
        discount=prm["base_static_discount"] * np.exp(-t * shocked_rate),
        basis_factor=prm["basis_add_factor"] + prm["basis_mult_factor"] * t,
    )


def option_scenario_values(ctx: RiskContext, table: PmrmTable, cols: IntArray, multiplier: FloatArray) -> FloatArray:
    """Unit values of options ``cols`` in every column of the table, shape (B, J, len(cols)), settlement units.

    multiplier : (B, len(cols)) price multipliers of each option's underlying (the base moves).
    One pricer call on the whole (B·J, n) array.
    """
    mkt = ctx.market
    u = ctx.book.instruments.underlying[cols]
    terms = expiry_terms(mkt.tau[cols], mkt.rate[cols], u, table)
    kind = table.vol_kind[u].T  # (J, n)
    vol = mkt.vol[cols] * np.where(kind > 0, terms["up"], np.where(kind < 0, terms["down"], 1.0))
    forward = mkt.forward[cols] * multiplier[:, None, :] * table.shock[u].T[None]  # (B, J, n)
    b, j, n = forward.shape
    flat = unit_value(forward.reshape(b * j, n), vol=np.broadcast_to(vol, (b, j, n)).reshape(b * j, n),
                      **instrument_terms(ctx, cols))
    return flat.reshape(b, j, n)


def _aggregate(keys: IntArray, n_out: int, values: FloatArray) -> FloatArray:
    """Σ of ``values`` (n_in, ...) into ``n_out`` bins ``keys`` (n_in,): one sparse product."""
    if keys.shape[0] == 0:
        return np.zeros((n_out,) + values.shape[1:])
    summing = sp.csr_matrix((np.ones(keys.shape[0]), (keys, np.arange(keys.shape[0]))), shape=(n_out, keys.shape[0]))
    return np.asarray(summing @ values.reshape(keys.shape[0], -1)).reshape((n_out,) + values.shape[1:])


def _group_min(keys: IntArray, n_out: int, values: FloatArray, empty: float = 1.0) -> FloatArray:
    out = np.full(n_out, empty)
    np.minimum.at(out, keys, values)
    return out


def _check_settlement(ctx: RiskContext) -> None:
    ins = ctx.book.instruments
    cols = ctx.book.positions.indices
    bad = ins.inverse[cols]
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError("Derive PMRM margins USDC-settled (linear) contracts only; this one is coin-settled",
                         record=f"account {ctx.book.account_ids[row_of_nonzeros(ctx.book.positions)[k]]}",
                         field=str(ins.ids[cols[k]]), hint="margin the account with another model "
                         "(margin_model: portfolio or standard)")


def derive_pmrm_requirement(ctx: RiskContext, moves: FloatArray | None = None) -> Requirement:
    """Derive PMRM IM and MM per account (USD), optionally under uniform moves (see ``RiskContext``).

    ``moves``: None; (n_accounts,) one move per account; or (B, n_accounts) — fastest when every account
    shares the B moves (the distance-to-liquidation grid: options are priced per instrument, not position).
    """
    _check_settlement(ctx)
    book = ctx.book
    table = build_table(ctx)
    pos_driver = np.zeros(book.positions.nnz)
    bal_driver = np.zeros(book.balances.nnz)
    shared = shared_moves(moves)
    if moves is None:
        im, mm = _evaluate(ctx, table, np.zeros((1, book.n_accounts)), shared=np.zeros(1),
                           drivers=(pos_driver, bal_driver))
        im, mm = im[0], mm[0]
    elif moves.ndim == 1:
        im, mm = (a[0] for a in _evaluate(ctx, table, moves[None, :], shared=shared))
    elif shared is not None:
        im, mm = _evaluate(ctx, table, moves, shared=shared)
    else:  # different moves per account and per batch entry: one batch entry at a time
        pairs = [_evaluate(ctx, table, m[None, :], shared=None) for m in moves]
        im = np.concatenate([p[0] for p in pairs])
        mm = np.concatenate([p[1] for p in pairs])
    return Requirement(initial=im, maintenance=mm, position_driver=pos_driver, balance_driver=bal_driver)


def _instrument_values(ctx: RiskContext, table: PmrmTable, bases: FloatArray) -> tuple[IntArray, FloatArray]:
    """(option instrument columns, their unit values (B, J, n_options)) at the shared base moves; cached."""
    key = ("derive-pmrm-options", bases.tobytes())
    if key not in ctx.cache:
        ins = ctx.book.instruments
        cols = np.flatnonzero(ins.is_option)
        mult = 1.0 + bases[:, None] * ctx.moving[ins.underlying[cols]][None, :]
        ctx.cache[key] = (cols, option_scenario_values(ctx, table, cols, mult))
    return ctx.cache[key]


def _evaluate(ctx, table, moves, *, shared, drivers=None):
    """IM and MM (B, n_accounts) under per-account moves (B, n_accounts); ``shared`` = the (B,) moves when every
    account has the same ones. ``drivers`` (position, balance) arrays are filled when given (no moves)."""
    book = ctx.book
    n_base = moves.shape[0]
    im = np.zeros((n_base, book.n_accounts))
    mm = np.zeros((n_base, book.n_accounts))
    cells = max(1, n_base * table.n_columns)
    load = np.diff(book.positions.indptr) + np.diff(book.balances.indptr) + 1
    bounds = np.searchsorted(np.cumsum(load), np.arange(0, load.sum(), max(1, CHUNK_CELLS // cells)))
    edges = np.unique(np.concatenate([[0], bounds, [book.n_accounts]]))
    for start, stop in zip(edges[:-1], edges[1:], strict=True):  # chunks of accounts bound memory
        rows = np.arange(start, stop)
        c_im, c_mm = _chunk(ctx, table, rows, moves[:, rows], shared, drivers)
        im[:, rows], mm[:, rows] = c_im, c_mm
    return im, mm


def _chunk(ctx, table, rows, moves, shared, drivers):
    """IM and MM (B, len(rows)) of a chunk of accounts; fills ``drivers`` when given."""
    book, mkt, ins = ctx.book, ctx.market, ctx.book.instruments
    n_rows, n_assets = rows.shape[0], len(book.assets)
    n_base, n_col = moves.shape[0], table.n_columns
    stable_asset = ~ctx.moving

    # -- positions and balances of the chunk, each tagged with its (account, asset) portfolio ------------------
    nz = nonzeros_of_rows(book.positions.indptr, rows)
    cols, q = book.positions.indices[nz], book.positions.data[nz]
    prow = np.repeat(np.arange(n_rows), np.diff(book.positions.indptr[rows[0]: rows[-1] + 2]))
    bnz = nonzeros_of_rows(book.balances.indptr, rows)
    basset, bqty = book.balances.indices[bnz], book.balances.data[bnz]
    brow = np.repeat(np.arange(n_rows), np.diff(book.balances.indptr[rows[0]: rows[-1] + 2]))
    base_bal = ~stable_asset[basset]  # non-stable collateral is a base position; stable collateral is cash
    pu = ins.underlying[cols]
    keys = np.concatenate([prow * n_assets + pu, brow[base_bal] * n_assets + basset[base_bal]])
    group_keys, group_of = unique_inverse(keys)
    n_g = group_keys.shape[0]
    g_row, g_u = group_keys // n_assets, group_keys % n_assets
    p_group, b_group = group_of[:cols.shape[0]], group_of[cols.shape[0]:]

    # Base-move multipliers per portfolio: (B, n_g) for its asset, its cash asset and positions' underlyings.
    g_cash = table.cash[g_u]
    g_move = moves[:, g_row]
    mult_u = 1.0 + g_move * ctx.moving[g_u]
    cash_price = np.where(g_cash >= 0, mkt.asset_prices[np.maximum(g_cash, 0)], 1.0)
    stable = cash_price * (1.0 + g_move * np.where(g_cash >= 0, ctx.moving[np.maximum(g_cash, 0)], False))
    spot = mkt.asset_prices[g_u] * mult_u  # (B, n_g)
    prm = {k: v[g_u] for k, v in table.params.items()}

    # -- linear exposure: perps and futures (perp), spot positions and collateral (base) -------------------------
    is_opt, is_spot = ins.is_option[cols], ins.is_spot[cols]
    is_perp = ins.is_future[cols]
    pos_mult = 1.0 + moves[:, prow] * ctx.moving[pu]  # (B, nnz)
    pos_value = q * mkt.forward[cols] * pos_mult  # (B, nnz) USD-units value of the delta-one leg
    perp_value = _aggregate(p_group[is_perp], n_g, pos_value[:, is_perp].T).T  # (B, n_g)
    perp_abs = _aggregate(p_group[is_perp], n_g, np.abs(q[is_perp]))
    base_qty = (_aggregate(p_group[is_spot], n_g, q[is_spot])
                + _aggregate(b_group, n_g, bqty[base_bal]))
    bal_value = bqty[base_bal] * mkt.asset_prices[basset[base_bal]] * (1.0 + moves[:, brow[base_bal]]
                                                                          * ctx.moving[basset[base_bal]])
    # cash units: spot positions are valued in their settlement asset like every linear contract, collateral at
    # its USD index ÷ the stable price (Derive's base value)
    base_value = (_aggregate(p_group[is_spot], n_g, pos_value[:, is_spot].T).T
                  + _aggregate(b_group, n_g, bal_value.T).T / stable)  # (B, n_g)
    linear = perp_value + base_value  # P&L per scenario = (s − 1) × linear

    # -- options: value per expiry in every column ------------------------------------------------------------
    o = np.flatnonzero(is_opt)
    ocols, oq = cols[o], q[o]
    exp_code = np.unique(ins.expiry_s[ocols], return_inverse=True)[1].astype(np.int64) if o.size else o
    n_codes = int(exp_code.max()) + 1 if o.size else 1
    e_keys, e_of = unique_inverse(p_group[o] * n_codes + exp_code)
    n_e = e_keys.shape[0]
    e_group = e_keys // n_codes
    if shared is not None:
        icols, ivalues = _instrument_values(ctx, table, shared)
        where = np.searchsorted(icols, ocols)
        holdings = sp.csr_matrix((oq, (e_of, where)), shape=(n_e, icols.shape[0]))
        flat = np.ascontiguousarray(np.moveaxis(ivalues, 2, 0).reshape(icols.shape[0], n_base * n_col))
        ev = np.asarray(holdings @ flat).reshape(n_e, n_base, n_col) if n_e else np.zeros((0, n_base, n_col))
        unit = ivalues[:, :, where] if drivers is not None else None
    else:
        unit = option_scenario_values(ctx, table, ocols, pos_mult[:, o])  # (B, J, n_opt)
        ev = _aggregate(e_of, n_e, np.moveaxis(unit * oq, 2, 0))  # (n_e, B, J)
    first = np.zeros(n_e, dtype=np.int64)
    first[e_of[::-1]] = np.arange(o.size)[::-1]  # one option of each expiry: its expiry's constants
    et = expiry_terms(mkt.tau[ocols[first]], mkt.rate[ocols[first]], ins.underlying[ocols[first]], table)
    mtm = ev[:, :, _MTM]
    basis_e = np.minimum(np.minimum(ev[:, :, _BASIS_UP] - mtm, ev[:, :, _BASIS_DOWN] - mtm), 0.0)
    basis = _aggregate(e_group, n_g, basis_e * et["basis_factor"][:, None]).T  # (B, n_g)
    scen_e = ev[:, :, _FIRST_SCENARIO:]
    scen_e = np.where(scen_e > 0, scen_e * et["discount"][:, None, None], scen_e) - mtm[:, :, None]
    scen = np.moveaxis(_aggregate(e_group, n_g, scen_e), 0, 1)  # (B, n_g, K)
    shocks = table.shock[g_u][:, _FIRST_SCENARIO:]  # (n_g, K)
    scen = scen + (shocks[None] - 1.0) * linear[:, :, None]
    worst_k = np.argmin(scen, axis=2)
    worst = np.minimum(basis, np.take_along_axis(scen, worst_k[..., None], axis=2)[..., 0])  # (B, n_g) ≤ 0

    # -- contingencies ---------------------------------------------------------------------------------------
    strike_code = np.unique(ins.strike[ocols], return_inverse=True)[1].astype(np.int64) if o.size else o
    n_strikes = int(strike_code.max()) + 1 if o.size else 1
    s_keys, s_of = unique_inverse(e_of * n_strikes + strike_code)
    shorts = _aggregate(s_of, s_keys.shape[0], np.maximum(-oq, 0.0))
    longs = _aggregate(s_of, s_keys.shape[0], np.maximum(oq, 0.0))
    naked = _aggregate(e_group[s_keys // n_strikes], n_g, np.maximum(shorts - longs, 0.0))
    static = (perp_abs * prm["perp_percent"] + np.abs(base_qty) * prm["base_percent"]
              + naked * prm["option_percent"])[None, :] * spot  # (B, n_g)

    perp_conf = _group_min(p_group[is_perp], n_g, mkt.confidence[cols[is_perp]])
    g_conf = np.minimum(mkt.asset_confidence[g_u], perp_conf)
    e_conf = np.minimum(g_conf[e_group], _group_min(e_of, n_e, mkt.confidence[ocols]))
    net_options = _aggregate(e_of, n_e, np.abs(oq))
    thr, margin = prm["confidence_threshold"], prm["confidence_margin"]
    e_amount = np.where(e_conf < thr[e_group], (1.0 - e_conf) * margin[e_group] * net_options, 0.0)
    conf = (np.where(g_conf < thr, (1.0 - g_conf) * margin * (perp_abs + np.abs(base_qty)), 0.0)
            + _aggregate(e_group, n_g, e_amount))[None, :] * spot

    peg = np.where(stable < prm["peg_loss_threshold"], (prm["peg_loss_threshold"] - stable) * prm["peg_loss_factor"],
                   0.0)
    loss = static - worst  # cash units, ≥ 0
    g_mm = loss * stable
    g_im = ((prm["im_factor"] + peg) * loss + conf) * stable
    im = _aggregate(g_row, n_rows, g_im.T).T
    mm = _aggregate(g_row, n_rows, g_mm.T).T

    if drivers is not None:  # each position's loss in its portfolio's worst scenario (base move 0), USD
        k = worst_k[0]
        in_basis = basis[0] <= np.take_along_axis(scen[0], k[:, None], axis=1)[:, 0]
        opt_basis = _aggregate(e_group, n_g, np.stack([ev[:, 0, _BASIS_UP] - mtm[:, 0],
                                                       ev[:, 0, _BASIS_DOWN] - mtm[:, 0]], axis=1))
        column = np.where(in_basis, np.where(opt_basis[:, 0] <= opt_basis[:, 1], _BASIS_UP, _BASIS_DOWN),
                          _FIRST_SCENARIO + k)  # (n_g,)
        g_shock = table.shock[g_u, column]
        og = p_group[o]
        opt_loss = oq * (unit[0, column[og], np.arange(o.size)] - unit[0, _MTM, np.arange(o.size)])
        pos_loss = np.zeros(cols.shape[0])
        pos_loss[o] = opt_loss * mkt.settle_price[ocols]
        lin = ~is_opt
        pos_loss[lin] = (g_shock[p_group[lin]] - 1.0) * pos_value[0, lin] * mkt.settle_price[cols[lin]]
        drivers[0][nz] = np.maximum(0.0, -pos_loss)
        bal_loss = np.zeros(bnz.shape[0])
        bal_loss[base_bal] = (g_shock[b_group] - 1.0) * bal_value[0]
        drivers[1][bnz] = np.maximum(0.0, -bal_loss)
    return im, mm

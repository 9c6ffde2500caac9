"""Portfolio margin (Deribit PME risk matrix): the [V] checks of reference/exchanges.md §1.5,
hand-worked vol shocks, extended table and dampener, roll shock, and invariants.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ccm.book import Account, Position
from ccm.enums import MarginModelName
from ccm.risk.config import PortfolioParams
from ccm.risk.margin import margin_requirement
from tests.reference.builders import AS_OF, config, future, option, perp, spot
from tests.reference.harness import IMPLEMENTATIONS, engine_context
from tests.reference.models import ReferenceMarket, ReferenceModel, black76

PM = MarginModelName.PORTFOLIO
S_BTC, S_ETH = 50_000.0, 2_700.0
PRICES = {"BTC": S_BTC, "ETH": S_ETH, "USDC": 1.0}

# Live parameters (exchanges.md §1.5): BTC_USD 2024 and ETH_USD 2026.
BTC_PME = PortfolioParams()
ETH_PME = PortfolioParams(price_range=0.18, vol_up=0.40, vol_down=0.25, min_annualised_move=0.005,
                          annualised_move_risk=0.05, extended_dampener=200_000.0, pnl_offset=0.6)
NO_ROLL = dict(min_annualised_move=0.0, annualised_move_risk=0.0)


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def impl(request):
    return IMPLEMENTATIONS[request.param]


def pm_rows(impl, instruments, books, *, params=None, vols=None, prices=PRICES):
    """One portfolio-margin account per position list in ``books``."""
    accounts = [Account(id=f"a{k}", collateral={"USDC": 1e7}, positions=tuple(b), margin_model=PM)
                for k, b in enumerate(books)]
    cfg = config(portfolio=params or {"default": BTC_PME})
    return impl(instruments, accounts, prices, vols or {}, AS_OF, cfg)


# -- [V] examples ------------------------------------------------------------------------------------
@pytest.mark.parametrize("m", [-0.18, -0.135, -0.09, -0.045, 0.045, 0.09, 0.135, 0.18])
def test_inverse_perp_scenario_pnl_is_pos_coin_times_one_minus_inverse(impl, m):
    """PnL_coin = pos_coin·(1 − 1/(1+m)) [V]. A one-bucket grid at ±|m| with the position on the losing side
    makes IM equal to that cell's loss (no extended table, no roll shock)."""
    ins = perp("ETH", inverse=True)
    c = 0.999487 if m < 0 else -0.999487  # long loses when prices fall, short when they rise
    prm = PortfolioParams(price_range=abs(m), buckets=1, extended_moves=(), **NO_ROLL)
    row = pm_rows(impl, [ins], [[Position(instrument=ins.id, quantity=c * S_ETH)]], params={"default": prm})[0]
    assert row["initial_margin"] / S_ETH == pytest.approx(-c * (1 - 1 / (1 + m)), rel=1e-12)
    if m == -0.135:  # the ETH API example's cell: a short 0.999487 ETH perp gains 0.155989 ETH at −13.5%
        assert row["initial_margin"] / S_ETH == pytest.approx(0.155989, abs=5e-7)


def test_eth_long_perp_loss_at_minus_13_5_percent_through_the_public_model(impl):
    # Price range 13.5% in 3 buckets, no extended table, no roll shock: IM = the −13.5% loss.
    ins = perp("ETH", inverse=True)
    prm = PortfolioParams(price_range=0.135, buckets=3, extended_moves=(), **NO_ROLL)
    row = pm_rows(impl, [ins], [[Position(instrument=ins.id, quantity=0.999487 * S_ETH)]],
                  params={"default": prm})[0]
    assert row["initial_margin"] / S_ETH == pytest.approx(0.155989, abs=5e-7)
    assert row["maintenance_margin"] == pytest.approx(0.8 * row["initial_margin"], rel=1e-12)


def test_eth_api_example_risk_matrix_margin_0_15746156(impl):
    # Short 0.999487 ETH inverse perp: worst = loss at +18% = c·0.18/1.18; roll = 0.005·c = 0.0049974;
    # risk-matrix margin 0.15746156 ETH, MM = 0.8 × that = 0.12596925 ETH.
    ins = perp("ETH", inverse=True)
    row = pm_rows(impl, [ins], [[Position(instrument=ins.id, quantity=-0.999487 * S_ETH)]],
                  params={"default": BTC_PME, "ETH": ETH_PME})[0]
    assert row["initial_margin"] / S_ETH == pytest.approx(0.15746156, abs=2e-8)
    assert row["maintenance_margin"] / S_ETH == pytest.approx(0.12596925, abs=2e-8)


# BTC API example: long perp c_p and short 11-day future c_f with Σ|pos| = 0.315725898 and the perp's
# extended −66% cell −0.0599121 = −c_p·0.16/0.84 (the inverse collapse to the −16% edge).
C_PERP = 0.0599121 * 0.84 / 0.16
C_FUT = 0.315725898 - C_PERP


@pytest.mark.parametrize("m", [-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0])
def test_inverse_perp_extended_cells_collapse_to_the_edge(impl, m):
    """Extended scaling PnL(m)·(0.16/|m|)·(1+m)/(1 ± 0.16) of an inverse perp is the ±16% edge P&L at every m
    (e.g. −66% → −0.0599121 BTC for the API example's perp). extended_table_factor 2 makes the single
    extended cell the worst one, so IM/2 is that cell."""
    ins = perp("BTC", inverse=True)
    c = C_PERP if m < 0 else -C_PERP
    prm = PortfolioParams(extended_moves=(m,), extended_table_factor=2.0, extended_dampener=0.0, **NO_ROLL)
    row = pm_rows(impl, [ins], [[Position(instrument=ins.id, quantity=c * S_BTC)]], params={"default": prm})[0]
    edge = 0.16 / 0.84 if m < 0 else 0.16 / 1.16
    assert row["initial_margin"] / S_BTC / 2 == pytest.approx(abs(c) * edge, rel=1e-12)
    if m == -0.66:
        assert row["initial_margin"] / S_BTC / 2 == pytest.approx(0.0599121, abs=1e-9)


def test_btc_api_example_perp_and_11_day_future(impl):
    # Roll shock 0.01 × (c_p + c_f) = 0.00315725898 (both buckets at the minimum: 0.075·11/365 < 0.01);
    # worst = (c_p − c_f)·0.16/0.84 at −16%; risk-matrix margin 0.06284313 BTC; MM 0.0502745 BTC.
    p, f = perp("BTC", inverse=True), future("BTC", 11, inverse=True)
    book = [Position(instrument=p.id, quantity=C_PERP * S_BTC), Position(instrument=f.id, quantity=-C_FUT * S_BTC)]
    row = pm_rows(impl, [p, f], [book])[0]
    assert row["initial_margin"] / S_BTC == pytest.approx(0.06284313, rel=2e-6)
    assert row["maintenance_margin"] / S_BTC == pytest.approx(0.0502745, rel=2e-6)
    worst = (C_PERP - C_FUT) * 0.16 / 0.84
    assert row["initial_margin"] / S_BTC == pytest.approx(worst + 0.01 * 0.315725898, rel=1e-10)


# -- roll shock ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("inverse", [False, True])
def test_roll_shock_of_a_perp_future_hedge(impl, inverse):
    # Same coin size long perp / short 180-day future: scenario P&L cancels exactly (same forward), IM is
    # the roll shock 0.01·c (perp) + max(0.01, 0.075·180/365)·c (future), in USD at the index.
    p, f = perp("BTC", inverse=inverse), future("BTC", 180, inverse=inverse)
    c = 2.0
    scale = S_BTC if inverse else 1.0
    row = pm_rows(impl, [p, f], [[Position(instrument=p.id, quantity=c * scale),
                                  Position(instrument=f.id, quantity=-c * scale)]])[0]
    expected = (0.01 + 0.075 * 180 / 365) * c * S_BTC
    assert row["initial_margin"] == pytest.approx(expected, rel=1e-9)
    assert row["maintenance_margin"] == pytest.approx(0.8 * expected, rel=1e-9)


def test_roll_shock_nets_within_an_expiry_only(impl):
    # Two futures of the same expiry net; a perp does not net against a future.
    f1 = future("BTC", 60, id="F60-a")
    f2 = future("BTC", 60, id="F60-b")
    p = perp("BTC")
    prm = PortfolioParams(price_range=0.0, extended_moves=())
    rows = pm_rows(impl, [f1, f2, p], [
        [Position(instrument=f1.id, quantity=1.0), Position(instrument=f2.id, quantity=-1.0)],
        [Position(instrument=f1.id, quantity=1.0), Position(instrument=p.id, quantity=-1.0)],
    ], params={"default": prm})
    assert rows[0]["initial_margin"] == pytest.approx(0.0, abs=1e-9)
    assert rows[1]["initial_margin"] == pytest.approx((0.01 + 0.075 * 60 / 365) * S_BTC, rel=1e-12)


def test_roll_shock_does_not_depend_on_instrument_order():
    s, p = spot("BTC"), perp("BTC")
    book = [Position(instrument=s.id, quantity=1.0), Position(instrument=p.id, quantity=1.0)]
    a = pm_rows(IMPLEMENTATIONS["engine"], [s, p], [book])[0]["initial_margin"]
    b = pm_rows(IMPLEMENTATIONS["engine"], [p, s], [book])[0]["initial_margin"]
    # Worst: both lose 16% of 50,000; roll: the perp only, 0.01 × 1 BTC.
    expected = 2 * 0.16 * S_BTC + 0.01 * S_BTC
    assert a == pytest.approx(expected, rel=1e-12)
    assert b == pytest.approx(expected, rel=1e-12)


def test_spot_is_not_netted_against_the_perpetual_in_roll_shock():
    s, p = spot("BTC"), perp("BTC")
    book = [Position(instrument=s.id, quantity=1.0), Position(instrument=p.id, quantity=-1.0)]
    row = pm_rows(IMPLEMENTATIONS["engine"], [p, s], [book])[0]
    assert row["initial_margin"] == pytest.approx(0.01 * S_BTC, rel=1e-9)


def test_reference_roll_shock_ignores_spot():
    s, p = spot("BTC"), perp("BTC")
    book = [Position(instrument=s.id, quantity=1.0), Position(instrument=p.id, quantity=-1.0)]
    for order in ([s, p], [p, s]):
        row = pm_rows(IMPLEMENTATIONS["reference"], order, [book])[0]
        assert row["initial_margin"] == pytest.approx(0.01 * S_BTC, rel=1e-12)


# -- vol shocks (price range 0 isolates them) ---------------------------------------------------------
VOL_ONLY = PortfolioParams(price_range=0.0, extended_moves=(), **NO_ROLL)


@pytest.mark.parametrize(
    ("days", "vol", "short", "expected_vol"),
    [
        (10, 0.6, True, 0.6 * (1 + 0.5 * 3.0**0.30)),  # < 30 DTE: power 0.30, up-shock
        (60, 0.6, True, 0.6 * (1 + 0.5 * 0.5**0.13)),  # ≥ 30 DTE: power 0.13
        (365, 0.2, True, 0.5),  # up-shocked vol floored at min_volatility_for_shock_up
        (60, 0.6, False, 0.6 * (1 - 0.25 * 0.5**0.13)),  # long option: the vol-down cell
        (0.1, 0.6, True, 0.6 * (1 + 0.5 * 30.0**0.30)),  # DTE floored at 1 day
    ],
)
def test_vol_shock_cells(impl, days, vol, short, expected_vol):
    k = 52_000.0
    ins = option("BTC", days, k, True)
    tau = days / 365
    q = -3.0 if short else 3.0
    row = pm_rows(impl, [ins], [[Position(instrument=ins.id, quantity=q)]], params={"default": VOL_ONLY},
                  vols={ins.id: vol})[0]
    loss = abs(q) * abs(black76(S_BTC, k, tau, expected_vol, True) - black76(S_BTC, k, tau, vol, True))
    assert row["initial_margin"] == pytest.approx(loss, rel=1e-9)


# -- extended table and dampener -----------------------------------------------------------------------
def test_extended_dampener_usd_settled_short_perp(impl):
    # Short 20 BTC linear perp at 50,000 (qF = 1e6 USDC), dampener 10,000 USD. Weighted extended loss at
    # +m: qF·m·(0.16/m)·(1+m)/1.16 = qF·0.16·(1+m)/1.16, less 10,000·(m/0.16 − 1). +500% dominates.
    ins = perp("BTC")
    prm = PortfolioParams(extended_dampener=10_000.0)
    row = pm_rows(impl, [ins], [[Position(instrument=ins.id, quantity=-20.0)]], params={"default": prm})[0]
    qf = 20 * S_BTC
    cells = [qf * 0.16 * (1 + m) / 1.16 - 10_000.0 * (m / 0.16 - 1) for m in (0.5, 1, 2, 3, 4, 5)]
    worst = max(cells + [qf * 0.16])
    assert worst == pytest.approx(qf * 0.16 * 6 / 1.16 - 10_000.0 * (5 / 0.16 - 1))
    assert row["initial_margin"] == pytest.approx(worst + 0.01 * 20 * S_BTC, rel=1e-12)


def test_extended_dampener_coin_settled_short_call(impl):
    # Short 1 inverse call K = 100,000 (S = 50,000, 30 days, σ 60%): the extended cells dominate. The
    # dampener is D·(|m|/0.16 − 1) USD at the edge price (1 + 0.16)·S, in coin.
    k, tau, vol, damp = 100_000.0, 30 / 365, 0.6, 100.0
    ins = option("BTC", 30, k, True, inverse=True)
    prm = PortfolioParams(extended_dampener=damp, **NO_ROLL)
    row = pm_rows(impl, [ins], [[Position(instrument=ins.id, quantity=-1.0)]], params={"default": prm},
                  vols={ins.id: vol})[0]
    base = black76(S_BTC, k, tau, vol, True) / S_BTC
    up = max(vol * (1 + 0.5 * (30 / 30) ** 0.13), 0.5)
    losses = []
    for m in (-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0):
        f = S_BTC * (1 + m)
        pnl = -(black76(f, k, tau, up, True) / f - base)
        sign = 1 if m > 0 else -1
        adj = pnl * 0.16 / abs(m) * (1 + m) / (1 + sign * 0.16)
        adj = math.copysign(max(0.0, abs(adj) - damp * (abs(m) / 0.16 - 1) / ((1 + sign * 0.16) * S_BTC)), adj)
        losses.append(-adj)
    for j in range(-4, 5):
        m = 0.04 * j
        f = S_BTC * (1 + m)
        for v in (up, vol, vol * (1 - 0.25)):
            losses.append(black76(f, k, tau, v, True) / f - base)
    worst = max(losses)
    assert worst > (black76(S_BTC * 1.16, k, tau, up, True) / (S_BTC * 1.16) - base) * 1.5  # extended matters
    assert row["initial_margin"] == pytest.approx(worst * S_BTC, rel=1e-9)


# -- invariants ---------------------------------------------------------------------------------------
def test_zero_positions_zero_margin(impl):
    row = pm_rows(impl, [perp("BTC")], [[]])[0]
    assert row["initial_margin"] == row["maintenance_margin"] == 0.0


def test_duplicate_listing_long_and_short_is_flat(impl):
    a = option("BTC", 30, 55_000.0, True, id="C-a")
    b = option("BTC", 30, 55_000.0, True, id="C-b")
    row = pm_rows(impl, [a, b], [[Position(instrument=a.id, quantity=5.0), Position(instrument=b.id, quantity=-5.0)]],
                  vols={a.id: 0.6, b.id: 0.6})[0]
    assert row["initial_margin"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("inverse", [False, True])
def test_hedged_perp_future_needs_far_less_than_its_legs(impl, inverse):
    p, f = perp("BTC", inverse=inverse), future("BTC", 30, inverse=inverse)
    n = 10.0 * (S_BTC if inverse else 1.0)
    legs = [Position(instrument=p.id, quantity=n), Position(instrument=f.id, quantity=-n)]
    rows = pm_rows(impl, [p, f], [legs, legs[:1], legs[1:]])
    assert rows[0]["initial_margin"] < 0.1 * (rows[1]["initial_margin"] + rows[2]["initial_margin"])


def test_calendar_call_spread_needs_less_than_its_legs(impl):
    near, far = option("BTC", 30, 55_000.0, True), option("BTC", 60, 55_000.0, True)
    vols = {near.id: 0.6, far.id: 0.6}
    legs = [Position(instrument=near.id, quantity=-5.0), Position(instrument=far.id, quantity=5.0)]
    rows = pm_rows(impl, [near, far], [legs, legs[:1], legs[1:]], vols=vols)
    assert rows[0]["initial_margin"] < 0.5 * (rows[1]["initial_margin"] + rows[2]["initial_margin"])


def test_portfolio_margin_is_positively_homogeneous(impl):
    ins = [perp("BTC", inverse=True), future("BTC", 45), option("BTC", 20, 48_000.0, False, inverse=True),
           option("BTC", 90, 60_000.0, True), perp("ETH"), option("ETH", 10, 3_000.0, True, inverse=True)]
    vols = {i.id: 0.7 for i in ins if i.strike}
    qty = [120_000.0, -1.5, -4.0, 2.0, 30.0, -25.0]
    prm = PortfolioParams(extended_dampener=0.0)

    def book(scale):
        return [Position(instrument=i.id, quantity=scale * q) for i, q in zip(ins, qty, strict=True)]

    r1, r2, r3 = pm_rows(impl, ins, [book(1.0), book(2.0), book(0.5)], params={"default": prm}, vols=vols)
    assert r1["initial_margin"] > 0
    assert r2["initial_margin"] == pytest.approx(2 * r1["initial_margin"], rel=1e-10)
    assert r3["maintenance_margin"] == pytest.approx(0.5 * r1["maintenance_margin"], rel=1e-10)


def test_groups_add_with_their_own_mm_factor(impl):
    b, e = perp("BTC"), perp("ETH")
    params = {"BTC": PortfolioParams(mm_factor=0.8), "ETH": PortfolioParams(mm_factor=0.5)}
    long_b, short_e = Position(instrument=b.id, quantity=1.0), Position(instrument=e.id, quantity=-10.0)
    rows = pm_rows(impl, [b, e], [[long_b, short_e], [long_b], [short_e]], params=params)
    assert rows[0]["initial_margin"] == pytest.approx(rows[1]["initial_margin"] + rows[2]["initial_margin"], rel=1e-12)
    assert rows[0]["maintenance_margin"] == pytest.approx(
        0.8 * rows[1]["initial_margin"] + 0.5 * rows[2]["initial_margin"], rel=1e-12)


def test_linear_delta_one_worst_case_is_the_edge_move(impl):
    # Long 3 BTC linear perp: worst cell −16% (extended cells are smaller for a linear long), roll 0.01.
    ins = perp("BTC")
    row = pm_rows(impl, [ins], [[Position(instrument=ins.id, quantity=3.0)]])[0]
    assert row["initial_margin"] == pytest.approx(3 * S_BTC * (0.16 + 0.01), rel=1e-12)


def test_reference_risk_vector_inverse_formula():
    """The reference's own vector reproduces pos_coin·(1 − 1/(1+m)) (checks the oracle itself)."""
    ins = perp("ETH", inverse=True)
    market = ReferenceMarket(prices=PRICES, vols={}, as_of=AS_OF)
    prm = PortfolioParams(price_range=0.18, extended_dampener=0.0, pnl_offset=1.0)
    model = ReferenceModel([ins], market, config(portfolio={"default": prm}))
    acc = Account(id="a", positions=(Position(instrument=ins.id, quantity=-0.999487 * S_ETH),), margin_model=PM)
    vector = model.risk_vectors(acc)[("ETH", "ETH")]
    cells = model.scenarios(prm)
    j = [i for i, (m, kind, _w, ext) in enumerate(cells) if not ext and kind == 0 and abs(m + 0.135) < 1e-12][0]
    assert vector[j] == pytest.approx(0.155989, abs=5e-7)


def test_engine_requirement_matches_for_accounts_split_across_models():
    """Mixed models in one book: each account gets its own model's requirement."""
    p = perp("BTC")
    accs = [Account(id="s", positions=(Position(instrument=p.id, quantity=1.0),)),
            Account(id="p", positions=(Position(instrument=p.id, quantity=1.0),), margin_model=PM)]
    ctx = engine_context([p], accs, PRICES, {}, AS_OF, config())
    req = margin_requirement(ctx)
    assert req.initial[0] == pytest.approx(S_BTC * (0.02 + 0.00005), rel=1e-12)
    assert req.initial[1] == pytest.approx(S_BTC * 0.17, rel=1e-12)


# -- settlement groups of one underlying: X:PM netting and pnl_offset -------------------------------------
@pytest.mark.parametrize(
    ("cross", "offset", "expected"),
    [
        # Long 1 BTC of inverse perp (50,000 USD notional) against short 1 BTC of linear perp, ±16%, no roll:
        # inverse P&L 50,000·(1 − 1/(1+m)), linear −50,000·m (USD at today's prices).
        (False, 0.0, 50_000 * (1 / 0.84 - 1) + 8_000),  # S:PM: each group its own worst case
        (True, 0.0, 50_000 * (1 / 0.84 - 1)),  # X:PM, gains count nothing: worst single leg
        (True, 0.6, max(50_000 * (1 / 0.84 - 1) - 0.6 * 8_000, 8_000 - 0.6 * 50_000 * (1 - 1 / 1.16))),
        (True, 1.0, 50_000 * 0.16**2 / 0.84),  # full offset: only the convexity gap of the two legs
    ],
)
def test_settlement_groups_of_one_underlying_net_at_pnl_offset(impl, cross, offset, expected):
    inv, lin = perp("BTC", inverse=True), perp("BTC")
    prm = PortfolioParams(buckets=1, extended_moves=(), pnl_offset=offset, cross_settlement=cross, **NO_ROLL)
    book = [Position(instrument=inv.id, quantity=S_BTC), Position(instrument=lin.id, quantity=-1.0)]
    row = pm_rows(impl, [inv, lin], [book], params={"default": prm})[0]
    assert row["initial_margin"] == pytest.approx(expected, rel=1e-12)
    assert row["maintenance_margin"] == pytest.approx(0.8 * expected, rel=1e-12)


@pytest.mark.parametrize("spread", [10, 10_000_000])
def test_unique_inverse_equals_numpy_unique(spread):
    from ccm.risk.margin.portfolio import unique_inverse

    keys = np.random.default_rng(spread).integers(0, spread, size=5_000)
    uniq, inverse = unique_inverse(keys)
    expected, expected_inverse = np.unique(keys, return_inverse=True)
    np.testing.assert_array_equal(uniq, expected)
    np.testing.assert_array_equal(inverse, expected_inverse)

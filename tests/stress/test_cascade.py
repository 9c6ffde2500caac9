"""Liquidation cascade: the moved market against the reference model and the scenario path, exposures against
finite differences, value conservation, bad debt never below the static figure, a hand-built chain whose price
path is computed here from the square-root law, and the no-impact case."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from ccm.book import Account, Position
from ccm.enums import MarginModelName
from ccm.lending.rules import LendingParams
from ccm.risk.config import AssetRisk, HaircutTier, RiskConfig
from ccm.risk.context import account_equity, scenario_adjusted_equity
from ccm.risk.coverage import compute_coverage
from ccm.risk.margin import margin_requirement
from ccm.scenario.base import ScenarioSet
from ccm.stress.cascade import coin_exposure, moved_context, run_cascade, stressed_haircuts
from tests.reference.builders import AS_OF, config, future, option, perp
from tests.reference.harness import engine_context
from tests.reference.models import ReferenceMarket, ReferenceModel

PRICES = {"BTC": 60_000.0, "ETH": 3_000.0, "USDC": 1.0}
SIGMA = {"BTC": 0.6, "ETH": 0.8}


def assets(adv: dict[str, float | None]) -> dict[str, AssetRisk]:
    return {
        "USDC": AssetRisk(stable=True),
        "BTC": AssetRisk(haircut=0.05, volatility=SIGMA["BTC"], adv_usd=adv["BTC"], impact_coefficient=1.0),
        "ETH": AssetRisk(haircut=0.1, volatility=SIGMA["ETH"], adv_usd=adv["ETH"], impact_coefficient=0.8,
                         tiers=(HaircutTier(up_to_usd=5e4, rate=1.0), HaircutTier(up_to_usd=2e5, rate=0.9))),
    }


def mixed_config(adv: dict[str, float | None]) -> RiskConfig:
    return config(assets=assets(adv), lending={"default": LendingParams(ltv=0.7, liquidation_threshold=0.8)})


def mixed_book(seed: int, n_accounts: int = 120, long_bias: float = 0.75):
    """Levered directional accounts (mostly long) on linear and inverse perps and futures, some options, collateral
    in USDC, BTC and ETH; standard, portfolio and lending models. Every priced position has an entry price."""
    rng = random.Random(seed)
    ins = [perp("BTC"), perp("ETH"), perp("BTC", inverse=True), future("ETH", 30), future("BTC", 90, inverse=True),
           option("BTC", 30, 55_000, False, inverse=True), option("ETH", 20, 3_300, True)]
    vols = {ins[5].id: 0.65, ins[6].id: 0.75}
    accounts = []
    for a in range(n_accounts):
        model = rng.choice([None, None, MarginModelName.PORTFOLIO, MarginModelName.LENDING])
        positions = []
        notional = 0.0
        for _ in range(rng.randint(1, 3)):
            i = rng.choice(ins)
            side = 1.0 if rng.random() < long_bias else -1.0
            s = PRICES[i.underlying]
            if i.type == "option":
                positions.append(Position(instrument=i.id, quantity=rng.uniform(-3, 3)))
                continue
            usd = rng.uniform(1e4, 4e5)
            notional += usd
            entry = s * rng.uniform(0.97, 1.03)
            q = side * (usd if i.settlement == "inverse" else usd / s)
            positions.append(Position(instrument=i.id, quantity=q, entry_price=entry))
        equity = max(notional, 1e4) * rng.uniform(0.04, 0.4)
        pick = rng.random()
        if pick < 0.4:
            collateral = {"USDC": equity}
        elif pick < 0.7:
            collateral = {"BTC": equity / PRICES["BTC"]}
        else:
            collateral = {"ETH": 0.6 * equity / PRICES["ETH"], "USDC": 0.4 * equity}
        if model == MarginModelName.LENDING:
            collateral = {"ETH": equity * 4 / PRICES["ETH"], "USDC": -equity * 2.6}
        accounts.append(Account(id=f"A{a:03d}", collateral=collateral, positions=tuple(positions), margin_model=model))
    return ins, accounts, vols


def mixed_context(seed: int, adv: dict[str, float | None], **kwargs):
    ins, accounts, vols = mixed_book(seed, **kwargs)
    return engine_context(ins, accounts, PRICES, vols, AS_OF, mixed_config(adv))


def shock(btc: float, eth: float, *, vol: float = 0.0, haircut: float = 1.0, liquidity: float = 1.0) -> ScenarioSet:
    return ScenarioSet(assets=("BTC", "ETH"), names=("shock",), price_returns=np.array([[btc, eth]]),
                       vol_shifts=np.array([[vol, vol]]), haircut_multipliers=np.array([[haircut, haircut]]),
                       liquidity_multipliers=np.array([[liquidity, liquidity]]))


THIN = {"BTC": 2e7, "ETH": 5e6}
SHOCKS = [shock(-0.12, -0.15), shock(-0.2, -0.3, vol=0.4, haircut=1.5, liquidity=0.5), shock(0.15, 0.1)]


# -- the moved market ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("btc, eth, vol", [(0.0, 0.0, 0.0), (-0.25, -0.3, 0.5), (0.2, -0.1, -0.2)])
def test_moved_context_agrees_with_reference_model(btc, eth, vol):
    """Adjusted equity and both margins on the moved context equal the reference model run on moved prices."""
    ins, accounts, vols = mixed_book(3, n_accounts=40)
    cfg = mixed_config(THIN)
    ctx = engine_context(ins, accounts, PRICES, vols, AS_OF, cfg)
    mult = {"BTC": 1 + btc, "ETH": 1 + eth, "USDC": 1.0}
    pm = np.array([mult[a] for a in ctx.book.assets])
    vm = np.array([1.0 if a == "USDC" else 1 + vol for a in ctx.book.assets])
    moved = moved_context(ctx, pm, vol_multiplier=vm)
    ae = account_equity(moved).adjusted_equity
    req = margin_requirement(moved)
    under = {i.id: i.underlying for i in ins}
    market = ReferenceMarket(prices={a: p * mult[a] for a, p in PRICES.items()},
                             vols={k: v * (1 + vol) for k, v in vols.items() if under[k]}, as_of=AS_OF)
    model = ReferenceModel(ins, market, cfg)
    for k, account in enumerate(accounts):
        ref = model.metrics(account)
        scale = 1e-9 * (abs(ref["equity"]) + ref["initial_margin"] + 1e5)
        assert ae[k] == pytest.approx(ref["adjusted_equity"], abs=scale), account.id
        assert req.maintenance[k] == pytest.approx(ref["maintenance_margin"], abs=scale), account.id
        assert req.initial[k] == pytest.approx(ref["initial_margin"], abs=scale), account.id


def test_moved_context_with_stressed_haircuts_equals_scenario_path():
    ctx = mixed_context(5, THIN, n_accounts=60)
    s = shock(-0.2, -0.3, vol=0.4, haircut=2.0, liquidity=0.25).for_assets(ctx.book.assets, stable=ctx.haircuts.stable)
    pm, vm = 1 + s.price_returns, 1 + s.vol_shifts
    expected = scenario_adjusted_equity(ctx, pm, vol_multiplier=vm, haircut_multiplier=s.haircut_multipliers,
                                        liquidity_multiplier=s.liquidity_multipliers)[0]
    haircuts = stressed_haircuts(ctx.haircuts, s.haircut_multipliers[0], s.liquidity_multipliers[0])
    moved = moved_context(ctx, pm[0], vol_multiplier=vm[0], haircuts=haircuts)
    np.testing.assert_allclose(account_equity(moved).adjusted_equity, expected, rtol=1e-12, atol=1e-6)


def test_coin_exposure_is_the_price_derivative_of_equity():
    """What a liquidation sells is ∂equity/∂price per asset: check against central finite differences."""
    ctx = mixed_context(11, THIN, n_accounts=60)
    exposure = coin_exposure(ctx).toarray()
    prices = ctx.market.asset_prices
    h = 1e-5
    for a in range(ctx.book.n_assets):
        up, down = np.ones(ctx.book.n_assets), np.ones(ctx.book.n_assets)
        up[a], down[a] = 1 + h, 1 - h
        diff = account_equity(moved_context(ctx, up)).equity - account_equity(moved_context(ctx, down)).equity
        fd = diff / (2 * h * prices[a])
        np.testing.assert_allclose(exposure[:, a], fd, rtol=1e-5, atol=1e-6 * (1 + np.abs(fd).max()))


# -- invariants ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("k", range(len(SHOCKS)))
def test_value_is_conserved(seed, k):
    ctx = mixed_context(seed, THIN)
    r = run_cascade(ctx, SHOCKS[k])
    assert r.rounds >= 1
    # Collateral sold at the pre-sale marks = proceeds + impact cost, per round and asset.
    np.testing.assert_allclose(r.sold_usd, r.proceeds_usd + r.impact_cost_by_round, rtol=1e-9, atol=1e-9)
    # Proceeds: the net executed at the mid of the round's move (linear order-book walk), from the price path.
    rel = r.price_path[1:] / r.price_path[:-1] - 1.0
    np.testing.assert_allclose(r.proceeds_usd, r.sold_usd * (1 + rel / 2), rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(r.impact_cost_by_round, np.abs(r.sold_usd * rel) / 2, rtol=1e-9, atol=1e-6)
    # Accounts: what the liquidated accounts of each round end with = their adjusted equity at the pre-sale
    # prices (the scenario path, another code route) − the round's impact cost.
    s = SHOCKS[k].for_assets(ctx.book.assets, stable=ctx.haircuts.stable)
    base = ctx.market.asset_prices
    pre = scenario_adjusted_equity(ctx, r.price_path[:-1] / base, vol_multiplier=np.repeat(1 + s.vol_shifts, r.rounds,
                                                                                           axis=0),
                                   haircut_multiplier=np.repeat(s.haircut_multipliers, r.rounds, axis=0),
                                   liquidity_multiplier=np.repeat(s.liquidity_multipliers, r.rounds, axis=0))
    for rnd, rows in enumerate(r.liquidated):
        got = r.final_equity[rows].sum()
        want = pre[rnd, rows].sum() - r.impact_cost_by_round[rnd].sum()
        assert got == pytest.approx(want, rel=1e-9, abs=1e-6)
    assert r.impact_cost_usd >= 0
    assert r.liquidated_notional_usd >= np.abs(r.sold_usd).sum() - 1e-6  # crossing only nets


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("k", range(len(SHOCKS)))
def test_cascade_never_ends_with_less_bad_debt_than_no_cascade(seed, k):
    ctx = mixed_context(seed, THIN, long_bias=0.5 if seed % 2 else 0.8)
    r = run_cascade(ctx, SHOCKS[k])
    assert r.bad_debt_usd >= r.no_cascade_bad_debt_usd - 1e-9 * (1 + r.no_cascade_bad_debt_usd)
    # The static figure is the stress layer's uncovered loss: Σ max(0, −adjusted equity) after the shock.
    s = SHOCKS[k].for_assets(ctx.book.assets, stable=ctx.haircuts.stable)
    stressed = scenario_adjusted_equity(ctx, 1 + s.price_returns, vol_multiplier=1 + s.vol_shifts,
                                        haircut_multiplier=s.haircut_multipliers,
                                        liquidity_multiplier=s.liquidity_multipliers)[0]
    assert r.no_cascade_bad_debt_usd == pytest.approx(np.maximum(0, -stressed).sum(), rel=1e-12, abs=1e-9)


def test_zero_shock_on_a_healthy_book_liquidates_nothing():
    ins = [perp("BTC"), perp("ETH", inverse=True)]
    accounts = [Account(id="a", collateral={"USDC": 50_000.0},
                        positions=(Position(instrument=ins[0].id, quantity=2.0, entry_price=59_000.0),)),
                Account(id="b", collateral={"ETH": 10.0},
                        positions=(Position(instrument=ins[1].id, quantity=-20_000.0, entry_price=3_100.0),)),
                Account(id="c", collateral={"BTC": 0.5})]
    ctx = engine_context(ins, accounts, PRICES, {}, AS_OF, mixed_config(THIN))
    cov = compute_coverage(ctx, with_distance=False)
    assert np.all(np.where(cov.unbounded, np.inf, cov.coverage_ratio) > 1.5)
    zero = ScenarioSet(assets=("BTC", "ETH"), names=("zero",), price_returns=np.zeros((1, 2)))
    for s in (zero, None):
        r = run_cascade(ctx, s)
        assert r.rounds == 0 and r.liquidated == () and r.accounts_liquidated == 0
        np.testing.assert_array_equal(r.price_path, ctx.market.asset_prices[None, :])
        assert r.bad_debt_usd == 0 and r.no_cascade_bad_debt_usd == 0 and r.impact_cost_usd == 0
        assert r.stop_reason == "fixed-point" and r.pending == 0
        np.testing.assert_allclose(r.final_equity, cov.adjusted_equity, rtol=1e-12)


# -- a hand-built chain ------------------------------------------------------------------------------------

def test_chain_of_levered_longs_follows_the_square_root_law():
    """Identical 10-BTC linear longs with less and less collateral: the shock breaches the first; each round's
    sale moves BTC by −Y·σ/√365·√(q·p/ADV), which breaches exactly the next. Path and losses by hand."""
    P, r0, q, adv, y, sigma = 50_000.0, -0.02, 10.0, 2e6, 1.0, 0.8
    mm_rate = 0.01 + 0.00005 * q  # Deribit standard MM on a linear perp of q coins
    n_chain = 4
    path = [P * (1 + r0)]
    moves = []
    for _ in range(n_chain):
        move = -y * sigma / math.sqrt(365) * math.sqrt(q * path[-1] / adv)
        moves.append(move)
        path.append(path[-1] * (1 + move))
    # Account j breaches below p*_j = (qP − c_j) / (q(1 − mm)); put p*_j between path[j-1] and the price before it.
    before = [P] + path
    thresholds = [math.sqrt(before[j] * before[j + 1]) for j in range(n_chain)] + [0.9 * path[-1]]
    collateral = [q * P - q * (1 - mm_rate) * t for t in thresholds]
    ins = [perp("BTC")]
    accounts = [Account(id=f"L{j}", collateral={"USDC": c},
                        positions=(Position(instrument=ins[0].id, quantity=q, entry_price=P),))
                for j, c in enumerate(collateral)]
    cfg = config(assets={"USDC": AssetRisk(stable=True),
                         "BTC": AssetRisk(volatility=sigma, adv_usd=adv, impact_coefficient=y)})
    ctx = engine_context(ins, accounts, {"BTC": P, "USDC": 1.0}, {}, AS_OF, cfg)
    result = run_cascade(ctx, ScenarioSet(assets=("BTC",), names=("crash",), price_returns=np.array([[r0]])))

    btc = ctx.book.assets.index("BTC")
    assert result.rounds == n_chain and result.stop_reason == "fixed-point"
    assert [rows.tolist() for rows in result.liquidated] == [[j] for j in range(n_chain)]
    np.testing.assert_allclose(result.price_path[:, btc], path, rtol=1e-12)
    np.testing.assert_allclose(result.price_path[:, ctx.book.assets.index("USDC")], 1.0)
    np.testing.assert_allclose(result.sold_usd[:, btc], [q * p for p in path[:-1]], rtol=1e-12)
    cost = [q * p * abs(m) / 2 for p, m in zip(path[:-1], moves, strict=True)]
    np.testing.assert_allclose(result.impact_cost_by_round[:, btc], cost, rtol=1e-12)
    # Each liquidated long ends with collateral + P&L at its round's price − its impact cost.
    final = [collateral[j] + q * (path[j] - P) - cost[j] for j in range(n_chain)]
    np.testing.assert_allclose(result.final_equity[:n_chain], final, rtol=1e-10)
    assert result.final_equity[n_chain] == pytest.approx(collateral[n_chain] + q * (path[-1] - P), rel=1e-12)
    assert result.bad_debt_usd == pytest.approx(sum(max(0.0, -f) for f in final), rel=1e-10)
    assert result.bad_debt_usd > 0 and result.no_cascade_bad_debt_usd == 0.0
    assert result.liquidated_notional_usd == pytest.approx(sum(q * p for p in path[:-1]), rel=1e-12)

    # A liquidity crunch (ADV ÷ 4) doubles the first round's move.
    crunch = run_cascade(ctx, ScenarioSet(assets=("BTC",), names=("crunch",), price_returns=np.array([[r0]]),
                                          liquidity_multipliers=np.array([[0.25]])))
    assert crunch.price_path[1, btc] / crunch.price_path[0, btc] - 1 == pytest.approx(2 * moves[0], rel=1e-12)

    # max_rounds stops the chain early and leaves the next account pending.
    short = run_cascade(ctx, ScenarioSet(assets=("BTC",), names=("crash",), price_returns=np.array([[r0]])),
                        max_rounds=2)
    assert short.rounds == 2 and short.stop_reason == "max-rounds" and short.pending == 1

    # A tolerance above the first round's revaluation of the survivors' exposure (4 × 10 BTC × Δp) stops there.
    revaluation = (n_chain * q) * (path[0] - path[1])
    loose = run_cascade(ctx, ScenarioSet(assets=("BTC",), names=("crash",), price_returns=np.array([[r0]])),
                        tolerance_usd=1.01 * revaluation)
    assert loose.rounds == 1 and loose.stop_reason == "tolerance" and loose.pending == 1
    tight = run_cascade(ctx, ScenarioSet(assets=("BTC",), names=("crash",), price_returns=np.array([[r0]])),
                        tolerance_usd=0.99 * revaluation)
    # ... and just below it, round 1 passes; round 2 revalues 3 survivors × 10 BTC by a smaller move and stops.
    assert (n_chain - 1) * q * (path[1] - path[2]) < 0.99 * revaluation
    assert tight.rounds == 2 and tight.stop_reason == "tolerance"


# -- no impact ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("k", range(len(SHOCKS)))
def test_no_impact_liquidates_once_and_matches_the_static_bad_debt(seed, k):
    ctx = mixed_context(seed, {"BTC": None, "ETH": None})
    r = run_cascade(ctx, SHOCKS[k])
    assert r.rounds == 1
    assert r.stop_reason == "fixed-point" and r.pending == 0
    np.testing.assert_array_equal(r.price_path[1], r.price_path[0])
    assert r.impact_cost_usd == 0
    assert r.bad_debt_usd == pytest.approx(r.no_cascade_bad_debt_usd, rel=1e-12, abs=1e-9)
    # Round 1 liquidates exactly the accounts with coverage < 1 right after the shock.
    s = SHOCKS[k].for_assets(ctx.book.assets, stable=ctx.haircuts.stable)
    moved = moved_context(ctx, 1 + s.price_returns[0], vol_multiplier=1 + s.vol_shifts[0],
                          haircuts=stressed_haircuts(ctx.haircuts, s.haircut_multipliers[0],
                                                     s.liquidity_multipliers[0]))
    breached = account_equity(moved).adjusted_equity < margin_requirement(moved).maintenance
    np.testing.assert_array_equal(r.liquidated[0], np.flatnonzero(breached))


def test_run_cascade_takes_one_scenario():
    ctx = mixed_context(1, THIN, n_accounts=5)
    two = ScenarioSet(assets=("BTC",), names=("a", "b"), price_returns=np.array([[-0.1], [-0.2]]))
    with pytest.raises(ValueError, match="one scenario"):
        run_cascade(ctx, two)

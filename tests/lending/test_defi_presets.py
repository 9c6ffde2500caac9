"""DeFi protocol presets: health factors, borrowing capacity, liquidation prices and drops, by hand.

Expected values come from reference/defi.md (§1.6 Aave worked examples, §2.1 Compound computed example,
§2.2 Maker, §2.3 Liquity) and are computed by hand in the tests; liquidation prices and drops are checked by
recomputing the health factor at the moved prices, and Liquity's Recovery-Mode drop against a plain scan
of the protocol rule.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ccm.book import Account
from ccm.enums import MarginModelName
from ccm.errors import InputError
from ccm.io.config import load_config, write_config_yaml
from ccm.lending.metrics import drop_table
from ccm.lending.rules import AaveRules, LiquityRules
from ccm.risk.margin.lending import account_lending_metrics, health_factor, lending_requirement
from tests.reference.builders import AS_OF
from tests.reference.harness import engine_context

LEND = MarginModelName.LENDING
PRICES = {"ETH": 4_000.0, "WETH": 4_000.0, "BTC": 60_000.0, "USDC": 1.0, "DAI": 1.0, "USDT": 1.0, "GHO": 1.0,
          "LUSD": 1.0}


@pytest.fixture(scope="module")
def presets():
    return {name: load_config(preset=name) for name in ("aave-v3", "compound-v3", "maker", "liquity-v1")}


def account(id: str, **collateral: float) -> Account:
    return Account(id=id, collateral=collateral, margin_model=LEND)


def metrics(cfg, accounts, prices=PRICES):
    return account_lending_metrics(engine_context([], accounts, prices, {}, AS_OF, cfg))


def liq_price(r, row: int, asset: str) -> float:
    """Liquidation price of ``asset`` in account ``row`` of a LendingResult."""
    k = [i for i in range(r.balance_account.shape[0])
         if r.balance_account[i] == row and r.assets[r.balance_asset[i]] == asset]
    return float(r.liquidation_price[k[0]])


def hf_at(cfg, accounts, prices):
    return health_factor(engine_context([], accounts, prices, {}, AS_OF, cfg))


# -- Aave v3 ------------------------------------------------------------------------------------------------------

def test_aave_help_center_example(tmp_path: Path):
    """$10,000 of ETH at LT 80%, $6,000 of GHO borrowed → HF = 10,000 × 0.80 / 6,000 = 1.333 (§1.6.1)."""
    user = tmp_path / "lt80.yaml"
    user.write_text("lending:\n  ETH: {ltv: 0.75, liquidation_threshold: 0.80, liquidation_bonus: 0.05}\n")
    cfg = load_config(user, preset="aave-v3")  # the user's file overrides the preset's ETH
    r = metrics(cfg, [account("a", ETH=2.5, GHO=-6_000.0)])
    assert r.health_factor[0] == pytest.approx(10_000 * 0.80 / 6_000, rel=1e-12)
    assert round(float(r.health_factor[0]), 3) == 1.333
    assert r.borrowing_capacity[0] == pytest.approx(7_500.0, rel=1e-12)
    assert r.available_to_borrow[0] == pytest.approx(1_500.0, rel=1e-12)


def test_aave_test_suite_reconstruction(presets):
    """liquidation-underlying.spec.ts (§1.6.2): 0.06775 WETH at $4,000 against 205.96 DAI."""
    cfg = presets["aave-v3"]
    acc = [account("a", WETH=0.06775, DAI=-205.96)]
    r = metrics(cfg, acc)
    assert r.borrowing_capacity[0] == pytest.approx(271.0 * 0.80, rel=1e-12)  # availableBorrows 216.80 + debt
    assert r.health_factor[0] == pytest.approx(271.0 * 0.825 / 205.96, rel=1e-12)
    assert round(float(r.health_factor[0]), 4) == 1.0855
    # DAI price × 1.18 → debt $243.03 → HF 0.920 (< 1: liquidatable)
    moved = hf_at(cfg, acc, {**PRICES, "DAI": 1.18})[0]
    assert moved == pytest.approx(223.575 / (205.96 * 1.18), rel=1e-12)
    assert round(float(moved), 3) == 0.920


def test_aave_preset_parameters_respect_the_protocol_invariants(presets):
    """PoolConfigurator: LTV ≤ LT, and LT × LB ≤ 100% (§1.2), for every reserve and eMode category."""
    cfg = presets["aave-v3"]
    rules = cfg.protocol
    assert isinstance(rules, AaveRules)
    entries = [cfg.lending_for(a) for a in cfg.lending] + list(rules.emode.values())
    for p in entries:
        assert p.ltv <= p.liquidation_threshold
        if p.liquidation_threshold > 0:
            assert p.liquidation_threshold * (1 + p.liquidation_bonus) <= 1.0 + 1e-12
    assert (rules.close_factor, rules.max_close_factor, rules.close_factor_hf_threshold) == (0.5, 1.0, 0.95)
    assert (rules.min_close_factor_base_usd, rules.min_leftover_base_usd) == (2_000.0, 1_000.0)


def test_emode_changes_the_health_factor_as_by_hand(presets):
    base = presets["aave-v3"]
    rules = base.protocol
    cfg = replace(base, protocol=replace(rules, account_emode={"in-emode": "stablecoins"}))
    accounts = [account("plain", USDC=10_000.0, ETH=1.0, DAI=-9_000.0),
                account("in-emode", USDC=10_000.0, ETH=1.0, DAI=-9_000.0)]
    r = metrics(cfg, accounts)
    # Reserve parameters: USDC LT 85% / LTV 80%, ETH LT 82.5% / LTV 80%.
    assert r.health_factor[0] == pytest.approx((10_000 * 0.85 + 4_000 * 0.825) / 9_000, rel=1e-12)
    assert r.borrowing_capacity[0] == pytest.approx(10_000 * 0.80 + 4_000 * 0.80, rel=1e-12)
    # Stablecoin eMode: USDC gets LT 98.5% / LTV 98%; ETH is not in the category and keeps its own.
    assert r.health_factor[1] == pytest.approx((10_000 * 0.985 + 4_000 * 0.825) / 9_000, rel=1e-12)
    assert r.borrowing_capacity[1] == pytest.approx(10_000 * 0.98 + 4_000 * 0.80, rel=1e-12)
    # The margin model sees the same thresholds: coverage 1 ⇔ HF 1 still holds with eMode.
    ctx = engine_context([], accounts, PRICES, {}, AS_OF, cfg)
    mm = lending_requirement(ctx).maintenance
    assert mm[1] == pytest.approx(10_000 * 0.015 + 4_000 * 0.175, rel=1e-12)


def test_unknown_emode_category_is_refused_with_its_location(tmp_path: Path):
    user = tmp_path / "bad.yaml"
    user.write_text("protocol:\n  name: aave-v3\n  aave:\n    account_emode: {acct-1: stables}\n")
    with pytest.raises(InputError) as err:
        load_config(user, preset="aave-v3")
    assert err.value.file == str(user) and err.value.field == "acct-1"
    assert "stables" in err.value.message


def test_unknown_preset_names_the_choices():
    with pytest.raises(InputError) as err:
        load_config(preset="aave-v9")
    assert "aave-v3" in (err.value.hint or "")


# -- Compound III ---------------------------------------------------------------------------------------------------

def test_compound_borrow_and_liquidation_boundaries(presets):
    """§2.1: 10 WETH at $2,000 (borrowCF 0.825, liquidateCF 0.895): borrow limit $16,500; liquidatable once debt
    > $17,900; with $15,000 of debt the liquidation price is 15,000 / (10 × 0.895) = $1,675.98."""
    cfg = presets["compound-v3"]
    prices = {**PRICES, "WETH": 2_000.0}
    r = metrics(cfg, [account("at", WETH=10.0, USDC=-17_900.0), account("over", WETH=10.0, USDC=-17_901.0),
                      account("d15k", WETH=10.0, USDC=-15_000.0)], prices)
    assert r.borrowing_capacity[0] == pytest.approx(16_500.0, rel=1e-12)
    assert r.health_factor[0] == pytest.approx(1.0, rel=1e-12)
    assert r.health_factor[1] < 1.0
    assert liq_price(r, 2, "WETH") == pytest.approx(15_000 / (10 * 0.895), rel=1e-12)
    assert round(liq_price(r, 2, "WETH"), 2) == 1_675.98
    assert cfg.lending_for("WETH").liquidation_bonus == pytest.approx(1 - 0.95)  # liquidationFactor 0.95


def test_compound_base_asset_is_not_collateral(presets):
    r = metrics(presets["compound-v3"], [account("a", USDC=50_000.0, WETH=1.0, DAI=-1_000.0)])
    assert r.health_factor[0] == pytest.approx(4_000 * 0.895 / 1_000, rel=1e-12)


# -- MakerDAO --------------------------------------------------------------------------------------------------------

def test_maker_vault_is_unsafe_below_the_liquidation_ratio(presets):
    """ETH-A: unsafe iff collateral value / debt < 150%; liquidation price = debt × 1.5 / quantity (§2.2)."""
    cfg = presets["maker"]
    prices = {**PRICES, "ETH": 3_000.0}
    r = metrics(cfg, [account("at", ETH=10.0, DAI=-20_000.0), account("safe", ETH=10.0, DAI=-15_000.0),
                      account("unsafe", ETH=10.0, DAI=-20_001.0)], prices)
    assert r.health_factor[0] == pytest.approx(1.0, rel=1e-12)  # CR = 30,000 / 20,000 = 150%
    assert r.health_factor[1] == pytest.approx(30_000 / 15_000 / 1.5, rel=1e-12)
    assert r.health_factor[2] < 1.0
    assert liq_price(r, 1, "ETH") == pytest.approx(15_000 * 1.5 / 10, rel=1e-12)  # $2,250
    assert r.borrowing_capacity[1] == pytest.approx(30_000 / 1.5, rel=1e-12)  # max DAI at 150%
    assert cfg.lending_for("ETH").liquidation_bonus == pytest.approx(0.13)


def test_maker_assets_without_an_ilk_carry_no_weight(presets):
    r = metrics(presets["maker"], [account("a", ETH=10.0, BTC=1.0, DAI=-10_000.0)])
    assert r.health_factor[0] == pytest.approx(40_000 / 1.5 / 10_000, rel=1e-12)


# -- Liquity v1 -----------------------------------------------------------------------------------------------------

def liquity(presets, **rules):
    cfg = presets["liquity-v1"]
    return replace(cfg, protocol=replace(cfg.protocol, **rules))


def test_liquity_normal_mode_mcr_boundary_and_readme_example(presets):
    cfg = liquity(presets, system_tcr=2.0)  # normal mode
    prices = {**PRICES, "ETH": 2_000.0}
    r = metrics(cfg, [account("at", ETH=1.0, LUSD=-2_000 / 1.1), account("below", ETH=1.0, LUSD=-1_820.0),
                      account("readme", ETH=0.5, LUSD=-100.0)], prices)
    assert r.health_factor[0] == pytest.approx(1.0, rel=1e-12)  # ICR = 110%
    assert r.health_factor[1] < 1.0
    # README: $1,000 of ETH can issue at most $909.09 (110%).
    assert r.borrowing_capacity[2] == pytest.approx(1_000 / 1.1, rel=1e-12)
    assert round(float(r.borrowing_capacity[2]), 2) == 909.09
    assert r.recovery_mode is False


def test_liquity_recovery_mode_liquidates_troves_below_tcr(presets):
    """TCR 130% < CCR 150%: a trove at ICR 125% (≥ MCR) is liquidatable, one at 140% is not (§2.3)."""
    cfg = liquity(presets, system_tcr=1.3)
    prices = {**PRICES, "ETH": 2_000.0}
    r = metrics(cfg, [account("icr125", ETH=1.0, LUSD=-1_600.0), account("icr140", ETH=1.0, LUSD=-2_000 / 1.4),
                      account("icr105", ETH=1.0, LUSD=-2_000 / 1.05)], prices)
    assert r.recovery_mode is True
    assert r.health_factor[0] == pytest.approx(1.25 / 1.3, rel=1e-12)
    assert r.health_factor[1] == pytest.approx(1.40 / 1.1, rel=1e-12)  # above TCR: only MCR applies
    assert r.health_factor[2] == pytest.approx(1.05 / 1.3, rel=1e-12)
    # Borrowing in Recovery Mode needs ICR ≥ CCR.
    assert r.borrowing_capacity[1] == pytest.approx(2_000 / 1.5, rel=1e-12)


def _liquity_first_liquidation_drop(troves: list[tuple[float, float]], price: float, mcr: float, ccr: float,
                                    trove: int) -> float:
    """Plain scan of the protocol rule: the smallest drop (step 1e-5) at which trove ``trove`` is liquidatable."""
    for step in range(0, 100_000):
        x = step / 100_000
        p = price * (1 - x)
        tcr = sum(q * p for q, _ in troves) / sum(d for _, d in troves)
        q, d = troves[trove]
        icr = q * p / d
        if icr < mcr or (tcr < ccr and icr < tcr):
            return x
    return math.nan


def test_liquity_drop_includes_the_onset_of_recovery_mode(presets):
    cfg = presets["liquity-v1"]  # TCR from the book
    troves = [(10.0, 11_000.0), (2.0, 3_000.0), (5.0, 6_000.0)]  # ICR 182%, 133%, 167% at $2,000; TCR 170%
    accounts = [account(f"t{k}", ETH=q, LUSD=-d) for k, (q, d) in enumerate(troves)]
    r = metrics(cfg, accounts, {**PRICES, "ETH": 2_000.0})
    assert r.tcr == pytest.approx(17 * 2_000 / 20_000, rel=1e-12)
    assert r.recovery_mode is False
    for k in range(len(troves)):
        expected = _liquity_first_liquidation_drop(troves, 2_000.0, 1.1, 1.5, k)
        assert r.liquidation_drop[k] == pytest.approx(expected, abs=2e-5), k
    # t1 and t2 (ICR < TCR) go when Recovery Mode starts, drop 1 − 1.5 / 1.7 = 11.8%, before their MCR drops
    # (17.5%, 34%); t0 (ICR > TCR) only at its MCR drop 1 − 1.1 / 1.818 = 39.5%.
    assert r.liquidation_drop[1] == pytest.approx(1 - 1.5 / 1.7, rel=1e-12)
    assert r.liquidation_drop[2] == pytest.approx(1 - 1.5 / 1.7, rel=1e-12)
    assert r.liquidation_drop[0] == pytest.approx(1 - 1.1 / (20_000 / 11_000), rel=1e-12)
    assert liq_price(r, 1, "ETH") == pytest.approx(2_000 * (1 - r.liquidation_drop[1]), rel=1e-12)


def test_liquity_rules_refuse_mcr_above_ccr(tmp_path: Path):
    user = tmp_path / "bad.yaml"
    user.write_text("protocol:\n  name: liquity-v1\n  liquity: {mcr: 1.6}\n")
    with pytest.raises(InputError) as err:
        load_config(user, preset="liquity-v1")
    assert err.value.field == "mcr" and err.value.file == str(user)
    assert isinstance(load_config(preset="liquity-v1").protocol, LiquityRules)


# -- liquidation prices and drops: HF recomputed at the moved prices is 1 ----------------------------------------

MIXED = [account("mixed", ETH=5.0, BTC=0.2, USDC=3_000.0, DAI=-20_000.0),
         account("eth-only", ETH=10.0, USDT=-25_000.0),
         account("eth-debt", BTC=1.0, ETH=-8.0),
         account("no-debt", ETH=1.0)]


@pytest.mark.parametrize("preset", ["aave-v3", "compound-v3", "maker"])
def test_health_factor_is_one_at_each_liquidation_price(presets, preset):
    cfg = presets[preset]
    ctx = engine_context([], MIXED, PRICES, {}, AS_OF, cfg)
    r = account_lending_metrics(ctx)
    bal = ctx.book.balances
    checked = 0
    for k in np.flatnonzero(np.isfinite(r.liquidation_price)):
        row, asset = int(r.balance_account[k]), ctx.book.assets[bal.indices[k]]
        moved = {**PRICES, asset: float(r.liquidation_price[k])}
        assert hf_at(cfg, [MIXED[row]], moved)[0] == pytest.approx(1.0, rel=1e-9), (MIXED[row].id, asset)
        checked += 1
    assert checked >= 2
    assert np.isnan(r.liquidation_price[bal.data < 0]).all()  # debts have no liquidation price


def test_mixed_account_liquidation_price_by_hand(presets):
    r = metrics(presets["aave-v3"], MIXED[:1])
    # W = 5·4,000·0.825 + 0.2·60,000·0.75 + 3,000·0.85 = 16,500 + 9,000 + 2,550; D = 20,000.
    eth = (20_000 - 9_000 - 2_550) / (5 * 0.825)  # $2,048.48
    btc = (20_000 - 16_500 - 2_550) / (0.2 * 0.75)  # $6,333.33
    assert liq_price(r, 0, "ETH") == pytest.approx(eth, rel=1e-12)
    assert liq_price(r, 0, "BTC") == pytest.approx(btc, rel=1e-12)
    assert math.isnan(liq_price(r, 0, "USDC"))  # would need a negative price


@pytest.mark.parametrize("preset", ["aave-v3", "compound-v3", "maker"])
def test_health_factor_is_one_after_the_liquidation_drop(presets, preset):
    cfg = presets[preset]
    r = metrics(cfg, MIXED)
    stable = {"USDC", "USDT", "DAI"}
    for i, acc in enumerate(MIXED):
        x = r.liquidation_drop[i]
        if not np.isfinite(x):
            continue
        if x == 0.0:  # liquidatable already
            assert r.health_factor[i] < 1.0
            continue
        moved = {a: p if a in stable else p * (1 - x) for a, p in PRICES.items()}
        assert hf_at(cfg, [acc], moved)[0] == pytest.approx(1.0, rel=1e-9), acc.id
    # BTC against ETH debt: a uniform drop changes nothing (Maker: BTC has no ilk, so liquidatable already).
    assert math.isnan(r.liquidation_drop[2]) if r.health_factor[2] >= 1 else r.liquidation_drop[2] == 0.0
    assert math.isnan(r.liquidation_drop[3])  # no debt


def test_drop_table_counts_like_a_plain_loop(presets):
    r = metrics(presets["aave-v3"], MIXED + [account("under", USDC=1_000.0, DAI=-990.0)])
    table = drop_table(r, (0.0, 0.1, 0.3, 0.5, 0.9))
    for level, n, debt in zip(table.drops, table.accounts, table.debt_usd, strict=True):
        hit = [i for i in range(len(r.liquidation_drop)) if r.liquidation_drop[i] <= level]
        assert n == len(hit)
        assert debt == pytest.approx(sum(r.debt_usd[i] for i in hit))
    assert table.accounts[0] == 1  # 'under' (HF 0.859) is liquidatable now


@pytest.mark.parametrize("name", ["aave-v3", "compound-v3", "maker", "liquity-v1"])
def test_preset_config_round_trips_through_yaml(presets, name, tmp_path: Path):
    cfg = replace(presets[name], protocol=replace(presets[name].protocol, account_emode={"x": "stablecoins"})
                  ) if name == "aave-v3" else presets[name]
    write_config_yaml(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


def _plain_drop(balances: dict[str, float], lt: dict[str, float], stable: set[str]) -> float:
    """Second implementation: bisection on a plain-Python health factor over the drop x ∈ [0, 1]."""
    def hf(x: float) -> float:
        value = {a: q * PRICES[a] * (1.0 if a in stable else 1.0 - x) for a, q in balances.items()}
        debt = sum(-v for v in value.values() if v < 0)
        return sum(v * lt[a] for a, v in value.items() if v > 0) / debt

    if hf(0.0) < 1.0:
        return 0.0
    if hf(1.0 - 1e-12) >= 1.0:
        return math.nan
    lo, hi = 0.0, 1.0 - 1e-12
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if hf(mid) >= 1.0 else (lo, mid)
    return 0.5 * (lo + hi)


def test_liquidation_drop_matches_a_plain_bisection(presets):
    cfg = presets["aave-v3"]
    rng = np.random.default_rng(11)
    stable = {"USDC", "USDT", "DAI"}
    accounts = []
    for k in range(40):
        coll = {a: float(rng.uniform(0.1, 3.0)) * s for a, s in (("ETH", 1.0), ("BTC", 0.05), ("USDC", 2_000.0))
                if rng.random() < 0.7} or {"ETH": 1.0}
        debt_asset = "ETH" if k % 5 == 0 and "ETH" not in coll else "DAI"
        value = sum(q * PRICES[a] for a, q in coll.items())
        accounts.append(account(f"a{k}", **coll, **{debt_asset: -float(rng.uniform(0.2, 1.0)) * value
                                                     / PRICES[debt_asset]}))
    r = metrics(cfg, accounts)
    lt = {a: cfg.lending_for(a).liquidation_threshold for a in PRICES}
    for i, acc in enumerate(accounts):
        expected = _plain_drop(dict(acc.collateral), lt, stable)
        if math.isnan(expected):
            assert math.isnan(r.liquidation_drop[i]), acc.id
        else:
            assert r.liquidation_drop[i] == pytest.approx(expected, abs=1e-9), acc.id


def test_liquity_with_zero_tcr_does_not_crash(presets):
    """Review: TCR 0 (troves with LUSD debt but no ETH in the book, or ``system_tcr: 0``) divided CCR by zero.
    Recovery Mode holds from the start (0 < CCR); no ICR is below a TCR of 0, so each trove keeps its MCR drop:
    ICR 125% → 1 − 1.1 / 1.25 = 12%; a trove with no ETH (ICR 0) is liquidatable now."""
    prices = {**PRICES, "ETH": 2_000.0}
    cfg = liquity(presets, system_tcr=0.0)
    r = metrics(cfg, [account("icr125", ETH=1.0, LUSD=-1_600.0)], prices)
    assert r.recovery_mode is True and r.tcr == 0.0
    assert r.liquidation_drop[0] == pytest.approx(1 - 1.1 / 1.25, rel=1e-12)
    assert r.health_factor[0] == pytest.approx(1.25 / 1.1, rel=1e-12)
    r = metrics(presets["liquity-v1"], [account("no-eth", BTC=1.0, LUSD=-1_000.0)], prices)
    assert r.tcr == 0.0 and r.recovery_mode is True
    assert r.liquidation_drop[0] == 0.0 and r.health_factor[0] == 0.0


def test_emode_bonus_beyond_the_threshold_is_refused(tmp_path: Path):
    """PoolConfigurator (defi.md §1.2): LT × LB ≤ 100%. LT 0.97 with a 5% bonus (LB 105%): 1.0185 > 1 — a
    liquidation at HF 1 would owe more collateral than the position holds."""
    user = tmp_path / "bad.yaml"
    user.write_text("protocol:\n  name: aave-v3\n  aave:\n    emode:\n"
                    "      hot: {ltv: 0.9, liquidation_threshold: 0.97, liquidation_bonus: 0.05, assets: [ETH]}\n")
    with pytest.raises(InputError) as err:
        load_config(user, preset="aave-v3")
    assert err.value.file == str(user) and err.value.field == "liquidation_bonus"
    assert "1.0185" in err.value.message
    user.write_text(user.read_text().replace("0.05", "0.03"))  # 0.97 × 1.03 = 0.9991: accepted
    assert load_config(user, preset="aave-v3").protocol.emode["hot"].liquidation_bonus == 0.03


def test_liquity_tcr_counts_troves_only(presets):
    """An account holding ETH without LUSD debt is not a trove: TCR = 17 × 2,000 / 20,000 = 1.7 with or without
    it (the liquidation simulation, ccm.lending.liquidation, counts troves with debt only, too)."""
    troves = [account(f"t{k}", ETH=q, LUSD=-d) for k, (q, d) in enumerate([(10.0, 11_000.0), (2.0, 3_000.0),
                                                                            (5.0, 6_000.0)])]
    prices = {**PRICES, "ETH": 2_000.0}
    r = metrics(presets["liquity-v1"], troves + [account("holder", ETH=100.0)], prices)
    assert r.tcr == pytest.approx(17 * 2_000 / 20_000, rel=1e-12)
    assert r.recovery_mode is False

"""derive-pmrm: the vectorised model against a plain per-portfolio implementation of the same rules (a loop
over accounts, assets, expiries and positions with scalar Black-76 from scipy), on random multi-account books,
at the current market and under every form of uniform moves; plus haircuts, drivers and bad input.
The published-vector conformance is tests/conformance/test_derive_pmrm.py."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy.stats import norm

from ccm.book import Account, Instrument, Position, build_book
from ccm.enums import InstrumentType, MarginModelName, OptionRight, Settlement
from ccm.errors import InputError
from ccm.io.config import load_config
from ccm.market import MarketSnapshot
from ccm.pricing.market_state import resolve_market
from ccm.risk import context as context_module
from ccm.risk.context import RiskContext, account_equity
from ccm.risk.margin import derive_pmrm
from ccm.risk.margin.derive_pmrm import derive_pmrm_requirement

AS_OF = datetime(2025, 3, 1, tzinfo=UTC)


def _black(f, k, t, vol, call):
    tv = vol * math.sqrt(max(t, 0.0))
    c = max(f - k, 0.0) if tv <= 0 else f * norm.cdf(math.log(f / k) / tv + tv / 2) - k * norm.cdf(
        math.log(f / k) / tv - tv / 2)
    return c if call else c - f + k


def plain_requirement(ctx: RiskContext, moves=None):
    """(IM, MM) per account, USD, by Derive's rules written out portfolio by portfolio."""
    book, mkt, ins = ctx.book, ctx.market, ctx.book.instruments
    assets = book.assets
    im, mm = np.zeros(book.n_accounts), np.zeros(book.n_accounts)
    for a in range(book.n_accounts):
        m = 0.0 if moves is None else float(moves[a])
        lo, hi = book.positions.indptr[a], book.positions.indptr[a + 1]
        blo, bhi = book.balances.indptr[a], book.balances.indptr[a + 1]
        groups = {}
        for p in range(lo, hi):
            groups.setdefault(int(ins.underlying[book.positions.indices[p]]), {"pos": [], "bal": []})["pos"].append(p)
        for b in range(blo, bhi):
            asset = int(book.balances.indices[b])
            if ctx.moving[asset]:
                groups.setdefault(asset, {"pos": [], "bal": []})["bal"].append(b)
        for u, parts in groups.items():
            prm = ctx.config.derive_pmrm_for(assets[u])
            mult = 1 + m * ctx.moving[u]
            spot = mkt.asset_prices[u] * mult
            cash = assets.index(prm.cash_asset) if prm.cash_asset in assets else None
            stable = 1.0 if cash is None else mkt.asset_prices[cash] * (1 + m * ctx.moving[cash])
            perp_val = perp_abs = base_qty = base_val = 0.0
            conf = mkt.asset_confidence[u]
            expiries = {}
            for p in parts["pos"]:
                c, q = book.positions.indices[p], book.positions.data[p]
                fwd = mkt.forward[c] * mult
                if ins.is_option[c]:
                    expiries.setdefault(float(ins.expiry_s[c]), []).append((c, q, fwd))
                elif ins.is_future[c]:
                    perp_val += q * fwd
                    perp_abs += abs(q)
                    conf = min(conf, mkt.confidence[c])
                else:
                    base_qty += q
                    base_val += q * fwd
            for b in parts["bal"]:
                base_qty += book.balances.data[b]
                base_val += book.balances.data[b] * spot / stable
            static = (perp_abs * prm.perp_percent + abs(base_qty) * prm.base_percent) * spot
            cc = (1 - conf) * prm.confidence_margin * (perp_abs + abs(base_qty)) * spot \
                if conf < prm.confidence_threshold else 0.0
            basis = 0.0
            scen = [(s - 1) * (perp_val + base_val) for s, _ in prm.scenarios]
            for legs in expiries.values():
                t = max(float(mkt.tau[legs[0][0]]), 0.0)
                days = t * 365
                power = prm.short_term_power if days <= 30 else prm.long_term_power
                x = (30 / max(days, prm.dte_floor_days)) ** power
                vm = {"up": 1 + prm.vol_range_up * x, "none": 1.0, "down": max(0.0, 1 - prm.vol_range_down * x)}
                disc = prm.base_static_discount * math.exp(-t * (max(mkt.rate[legs[0][0]], 0) * prm.rate_mult_scale
                                                                 + prm.rate_add_scale))

                def value(s, v, legs=legs, t=t, vm=vm):
                    return sum(q * _black(f * s, ins.strike[c], t, mkt.vol[c] * vm[v], bool(ins.is_call[c]))
                               for c, q, f in legs)

                mtm = value(1.0, "none")
                basis += min(value(prm.basis_spot_up, "none") - mtm, value(prm.basis_spot_down, "none") - mtm, 0) \
                    * (prm.basis_add_factor + prm.basis_mult_factor * t)
                for k, (s, v) in enumerate(prm.scenarios):
                    x_ = value(s, v)
                    scen[k] += (x_ * disc if x_ > 0 else x_) - mtm
                strikes = {}
                for c, q, _ in legs:
                    strikes.setdefault(float(ins.strike[c]), []).append(q)
                static += sum(max(sum(-q for q in qs if q < 0) - sum(q for q in qs if q > 0), 0)
                              for qs in strikes.values()) * prm.option_percent * spot
                ec = min([conf] + [mkt.confidence[c] for c, _, _ in legs])
                if ec < prm.confidence_threshold:
                    cc += (1 - ec) * prm.confidence_margin * sum(abs(q) for _, q, _ in legs) * spot
            loss = static - min(basis, min(scen))
            factor = prm.im_factor + (prm.peg_loss_threshold - stable) * prm.peg_loss_factor \
                if stable < prm.peg_loss_threshold else prm.im_factor
            mm[a] += loss * stable
            im[a] += (factor * loss + cc) * stable
    return im, mm


def random_context(rng, n_accounts=40, preset="derive-pmrm", stable_price=1.0, confidence=False):
    instruments = [Instrument(id="ETH-PERP", type=InstrumentType.PERPETUAL, underlying="ETH"),
                   Instrument(id="BTC-PERP", type=InstrumentType.PERPETUAL, underlying="BTC"),
                   Instrument(id="ETH-FUT", type=InstrumentType.FUTURE, underlying="ETH",
                              expiry=AS_OF + timedelta(days=40)),
                   Instrument(id="ETH_USDC", type=InstrumentType.SPOT, underlying="ETH")]
    vols, forwards = {}, {}
    for under, spot in (("ETH", 2000.0), ("BTC", 60000.0)):
        for days in (0.5, 6, 33, 120):
            for k in (0.8, 0.95, 1.0, 1.1):
                for right in ("call", "put"):
                    ident = f"{under}-{days}-{k}-{right}"
                    instruments.append(Instrument(id=ident, type=InstrumentType.OPTION, underlying=under,
                                                  expiry=AS_OF + timedelta(days=days), strike=spot * k,
                                                  right=OptionRight(right)))
                    vols[ident] = float(rng.uniform(0.3, 1.1))
                    forwards[ident] = spot * (1 + 0.0004 * days)
    accounts = []
    for a in range(n_accounts):
        picks = rng.choice(len(instruments), size=int(rng.integers(0, 9)), replace=False)
        positions = tuple(Position(instrument=instruments[i].id, quantity=float(rng.choice([-3, -1, -0.5, 1, 2])),
                                   entry_price=float(rng.uniform(1900, 2100)) if instruments[i].id == "ETH-PERP"
                                   else None) for i in picks)
        collateral = {"USDC": float(rng.uniform(-5000, 50000))}
        if rng.random() < 0.5:
            collateral["ETH"] = float(rng.uniform(0, 5))
        if rng.random() < 0.2:
            collateral["BTC"] = float(rng.uniform(0, 0.2))
        accounts.append(Account(id=f"a{a}", collateral=collateral, positions=positions,
                                margin_model=MarginModelName.DERIVE_PMRM))
    book = build_book(instruments, accounts)
    confidences = {}
    if confidence:
        confidences = {"ETH": 0.3, "ETH-PERP": 0.5, **{k: float(rng.choice([1.0, 0.4, 0.2])) for k in vols}}
    snapshot = MarketSnapshot(as_of=AS_OF, index={"ETH": 2000.0, "BTC": 60000.0, "USDC": stable_price},
                              marks={"ETH-PERP": 2003.0, "BTC-PERP": 60050.0, "ETH-FUT": 2015.0}, vols=vols,
                              forwards=forwards, rates={"ETH": 0.03, "BTC": -0.01}, confidences=confidences)
    config = load_config(None, preset=preset)
    return RiskContext.build(book, resolve_market(snapshot, book.assets, book.instruments), config)


@pytest.mark.parametrize("preset,stable,confidence", [("derive-pmrm", 1.0, False), ("derive-pmrm-test", 0.97, True)])
def test_vectorised_equals_plain_at_the_market(preset, stable, confidence):
    ctx = random_context(np.random.default_rng(5), preset=preset, stable_price=stable, confidence=confidence)
    req = derive_pmrm_requirement(ctx)
    im, mm = plain_requirement(ctx)
    np.testing.assert_allclose(req.maintenance, mm, rtol=1e-10, atol=1e-7)
    np.testing.assert_allclose(req.initial, im, rtol=1e-10, atol=1e-7)
    assert (req.initial >= req.maintenance - 1e-9).all() and (req.maintenance >= 0).all()


def test_moves_shared_per_account_and_batched_agree_with_plain(monkeypatch):
    monkeypatch.setattr(derive_pmrm, "CHUNK_CELLS", 500)  # many chunks of accounts
    ctx = random_context(np.random.default_rng(11), n_accounts=25, confidence=True)
    n = ctx.n_accounts
    own = np.random.default_rng(3).uniform(-0.3, 0.3, n)
    im, mm = plain_requirement(ctx, own)
    one = derive_pmrm_requirement(ctx, own)  # (n,) per-account moves
    np.testing.assert_allclose(one.maintenance, mm, rtol=1e-10, atol=1e-7)
    np.testing.assert_allclose(one.initial, im, rtol=1e-10, atol=1e-7)
    batch = np.stack([own, -own])  # (B, n), different per account
    both = derive_pmrm_requirement(ctx, batch)
    np.testing.assert_allclose(both.maintenance[1], plain_requirement(ctx, -own)[1], rtol=1e-10, atol=1e-7)
    grid = np.array([-0.2, 0.0, 0.15])  # shared by every account: instrument-level pricing
    shared = derive_pmrm_requirement(ctx, np.broadcast_to(grid[:, None], (3, n)).copy())
    for b, m in enumerate(grid):
        np.testing.assert_allclose(shared.maintenance[b], plain_requirement(ctx, np.full(n, m))[1], rtol=1e-10,
                                   atol=1e-7)
    np.testing.assert_allclose(shared.maintenance[1], derive_pmrm_requirement(ctx).maintenance, rtol=1e-12)


def test_collateral_is_not_haircut_and_drivers_are_the_worst_scenario_losses():
    ctx = random_context(np.random.default_rng(2))
    parts = account_equity(ctx)
    np.testing.assert_allclose(parts.collateral_value, parts.collateral_raw)  # base risk is in the scenarios
    req = derive_pmrm_requirement(ctx)
    assert (req.position_driver >= 0).all() and (req.balance_driver >= 0).all()
    assert req.position_driver.sum() > 0 and req.balance_driver.sum() > 0


def test_a_lone_long_base_needs_its_worst_drop_plus_the_base_contingency():
    """Hand check (mainnet parameters): 2 ETH at 2000 and cash: the worst of the 23 scenarios is the 0.80 spot
    shock, a loss of 2·2000·0.20 = 800; the base contingency is 2·0.03·2000 = 120; IM = 1.25 × MM."""
    book = build_book([Instrument(id="ETH-PERP", type=InstrumentType.PERPETUAL, underlying="ETH")],
                      [Account(id="x", collateral={"ETH": 2.0, "USDC": 100.0})])
    snapshot = MarketSnapshot(as_of=AS_OF, index={"ETH": 2000.0, "USDC": 1.0})
    ctx = RiskContext.build(book, resolve_market(snapshot, book.assets, book.instruments),
                            load_config(None, preset="derive-pmrm"))
    req = derive_pmrm_requirement(ctx)
    assert req.maintenance[0] == pytest.approx(920.0)
    assert req.initial[0] == pytest.approx(1.25 * 920.0)


def test_coin_settled_contracts_are_refused_with_the_account_and_instrument():
    book = build_book([Instrument(id="BTC-PERPETUAL", type=InstrumentType.PERPETUAL, underlying="BTC",
                                  settlement=Settlement.INVERSE, settlement_asset="BTC")],
                      [Account(id="acct-9", positions=(Position(instrument="BTC-PERPETUAL", quantity=1000.0),),
                               margin_model=MarginModelName.DERIVE_PMRM)])
    snapshot = MarketSnapshot(as_of=AS_OF, index={"BTC": 60000.0})
    ctx = RiskContext.build(book, resolve_market(snapshot, book.assets, book.instruments), load_config(None))
    with pytest.raises(InputError) as err:
        derive_pmrm_requirement(ctx)
    assert err.value.field == "BTC-PERPETUAL" and "acct-9" in err.value.record
    assert context_module.DERIVE_PMRM_CODE in context_module.UNHAIRCUT_CODES


def test_config_round_trips_and_bad_parameters_name_the_key(tmp_path):
    from ccm.io.config import write_config_yaml

    config = load_config(None, preset="derive-pmrm-test")
    write_config_yaml(config, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == config
    bad = tmp_path / "bad.yaml"
    bad.write_text("margin:\n  derive_pmrm:\n    ETH: {basis_spot_up: 0.9}\n")
    with pytest.raises(InputError) as err:
        load_config(bad)
    assert (err.value.file, err.value.record, err.value.field) == (str(bad), "margin.derive_pmrm.ETH", "basis_spot_up")


def test_market_forwards_and_confidences_round_trip_and_are_checked():
    from ccm.io.market import market_from_dict, market_to_dict

    doc = {"as_of": "2025-03-01T00:00:00Z", "index": {"ETH": 2000.0, "BTC": 60000.0, "USDC": 1.0},
           "surfaces": {"ETH": {"atm": 0.6}, "BTC": {"atm": 0.5}}, "forwards": {"ETH-6-1.0-call": 2001.5},
           "confidences": {"ETH": 0.4}}
    snapshot = market_from_dict(doc)
    assert market_from_dict(market_to_dict(snapshot)) == snapshot
    ctx = random_context(np.random.default_rng(1), n_accounts=2)
    state = resolve_market(snapshot, ctx.book.assets, ctx.book.instruments)
    k = ctx.book.instruments.index_of()["ETH-6-1.0-call"]
    assert state.forward[k] == pytest.approx(2001.5)
    assert state.asset_confidence[ctx.book.assets.index("ETH")] == 0.4 and state.confidence[k] == 1.0
    with pytest.raises(InputError) as err:
        market_from_dict({**doc, "confidences": {"ETH": 1.5}})
    assert err.value.field == "ETH"
    perp = replace(snapshot, forwards={"ETH-PERP": 2000.0})
    with pytest.raises(InputError) as err:
        resolve_market(perp, ctx.book.assets, ctx.book.instruments)
    assert (err.value.record, err.value.field) == ("forwards", "ETH-PERP")

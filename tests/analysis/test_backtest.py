"""The backtest loop against independent routes: losses worked by hand from the path, margins from
``evaluate`` on a freshly built snapshot at each date (standard) or from a plain sort of the window losses
(var), a book without positions, and a short run on real BTC/ETH history."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ccm.analysis.backtest import run_backtest
from ccm.analysis.backtest_stats import kupiec
from ccm.book import Account, Position, build_book
from ccm.enums import MarginModelName
from ccm.errors import InputError
from ccm.io.backtest_report import backtest_document, backtest_html
from ccm.market import MarketSnapshot
from ccm.pricing.black76 import black76_price
from ccm.risk.margin.var import VarParams
from ccm.risk.metrics import evaluate
from tests.reference.builders import AS_OF, config, option, perp

Q = 2.0
T0 = np.datetime64("2022-01-01T00:00:00", "s")
DAY = np.timedelta64(86_400, "s")


def _path(n: int = 60, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 60_000.0 * np.exp(np.cumsum(np.r_[0.0, 0.05 * rng.standard_normal(n - 1)]))[:, None]


@pytest.fixture(scope="module")
def one_account():
    ins = [perp("BTC")]
    book = build_book(ins, [Account(id="a", collateral={"USDC": 100_000.0},
                                    positions=(Position(instrument=ins[0].id, quantity=Q, entry_price=60_000.0),)),
                            Account(id="idle", collateral={"USDC": 10.0})])
    snapshot = MarketSnapshot(as_of=AS_OF, index={"BTC": 60_000.0, "USDC": 1.0}, vols={}, rates={}, marks={})
    return book, snapshot


def test_standard_backtest_by_hand(one_account):
    book, snapshot = one_account
    cfg = config()
    prices = _path()
    stamps = T0 + np.arange(prices.shape[0]) * DAY
    h = 3
    res = run_backtest(book, snapshot, cfg, stamps, prices, ("BTC",), model="standard", mpor_days=h, start=5,
                       stop=50, window=20, increase_days=5)
    dates = np.arange(5, 50)
    assert res.n_days == dates.size and np.array_equal(res.timestamps, stamps[dates])
    p = prices[:, 0]
    np.testing.assert_allclose(res.loss[:, 0], Q * (p[dates] - p[dates + h]), rtol=1e-12)
    np.testing.assert_array_equal(res.loss[:, 1], 0.0)
    # margin at t: evaluate() on a snapshot built at that day's price
    want = [evaluate(book, MarketSnapshot(as_of=AS_OF, index={"BTC": float(p[t]), "USDC": 1.0}, vols={}, rates={},
                                          marks={}), cfg, model=MarginModelName.STANDARD,
                     with_distance=False).result.initial_margin[0] for t in dates]
    np.testing.assert_allclose(res.margin[:, 0], want, rtol=1e-12)
    exc = [Q * (p[t] - p[t + h]) > m + 0.01 for t, m in zip(dates, want, strict=True)]  # a cent of tolerance
    assert res.n_exceptions == sum(exc) and res.observations == dates.size  # the idle account is not observed
    assert res.kupiec == kupiec(dates.size, sum(exc), 0.99)
    assert res.active.tolist() == [True, False] and res.account_zone[1] == ""
    assert res.peak_to_trough == pytest.approx(max(want) / min(want), rel=1e-12)


def test_var_backtest_margin_is_the_plain_quantile_of_past_windows(one_account):
    book, snapshot = one_account
    prices = _path()
    stamps = T0 + np.arange(prices.shape[0]) * DAY
    lookback, h = 20, 2
    res = run_backtest(book, snapshot, config(), stamps, prices, ("BTC",), model="var", mpor_days=h,
                       confidence=0.9, var_params=VarParams(lookback_days=lookback), start=25, stop=40)
    p = prices[:, 0]
    for k, t in enumerate(range(25, 40)):
        window = p[t - lookback: t + 1]
        losses = sorted(-Q * p[t] * (window[j + h] / window[j] - 1) for j in range(lookback - h + 1))
        assert res.margin[k, 0] == pytest.approx(losses[math.ceil(0.9 * len(losses)) - 1], rel=1e-10)
    np.testing.assert_array_equal(res.margin[:, 1], 0.0)


def test_zero_position_book_has_zero_margin_and_loss():
    book = build_book([perp("BTC")], [Account(id="x", collateral={"BTC": 1.0}), Account(id="y")])
    snapshot = MarketSnapshot(as_of=AS_OF, index={"BTC": 60_000.0, "USDC": 1.0}, vols={}, rates={}, marks={})
    prices = _path(30)
    stamps = T0 + np.arange(30) * DAY
    for model in ("standard", "portfolio", "var"):
        res = run_backtest(book, snapshot, config(), stamps, prices, ("BTC",), model=model, start=5)
        assert not res.margin.any() and not res.loss.any() and not res.exceptions.any()
        doc = backtest_document(res)
        assert doc["observations"] == 0 and doc["exceptions"] == 0 and doc["coverage"] is None
        assert doc["accounts"] == []


def test_inverse_perp_loss_is_struck_at_each_days_mark():
    """Long q USD of an inverse perp entered far from the market: the loss from t is q (1 − F_{t+h} / F_t) USD
    (coin P&L from t's mark valued at t + h), whatever the entry price."""
    ins = [perp("BTC", inverse=True), option("BTC", 60, 50_000, True, inverse=True)]
    q = 50_000.0
    book = build_book(ins, [Account(id="inv", collateral={"BTC": 1.0},
                                    positions=(Position(instrument=ins[0].id, quantity=q, entry_price=20_000.0),)),
                            Account(id="short-call", collateral={"BTC": 1.0},
                                    positions=(Position(instrument=ins[1].id, quantity=-3.0),))])
    snapshot = MarketSnapshot(as_of=AS_OF, index={"BTC": 60_000.0, "USDC": 1.0}, vols={ins[1].id: 0.7}, rates={},
                              marks={})
    prices = _path(30)
    stamps = T0 + np.arange(30) * DAY
    res = run_backtest(book, snapshot, config(), stamps, prices, ("BTC",), model="portfolio", mpor_days=2, start=3)
    p = prices[:, 0]
    t = np.arange(3, 28)
    np.testing.assert_allclose(res.loss[:, 0], q * (1 - p[t + 2] / p[t]), rtol=1e-10)
    # the short inverse call: coin P&L from t's mark (Black-76 ÷ F, time not advancing) valued at t + 2
    tau = (ins[1].expiry - AS_OF).total_seconds() / (365.0 * 86_400)
    coin = [float(black76_price(f, 50_000.0, tau, 0.7, True)) / f for f in p]
    want = [3.0 * (coin[k + 2] - coin[k]) * p[k + 2] for k in t]
    np.testing.assert_allclose(res.loss[:, 1], want, rtol=1e-6)


def test_bad_inputs_raise_input_errors(one_account):
    book, snapshot = one_account
    prices = _path(10)
    stamps = T0 + np.arange(10) * DAY
    with pytest.raises(InputError, match="no margin date"):
        run_backtest(book, snapshot, config(), stamps, prices, ("BTC",), start=9)
    with pytest.raises(InputError, match="strictly increasing"):
        run_backtest(book, snapshot, config(), stamps[::-1], prices, ("BTC",))
    with pytest.raises(InputError, match="finite"):
        run_backtest(book, snapshot, config(), stamps, -prices, ("BTC",))
    # a missing day would make a 2-row MPOR span 3 days; 2-hour rows would make it 4 hours
    gap = np.delete(np.arange(11), 5)
    with pytest.raises(InputError, match="without gaps: 2022-01-05T00:00:00 is followed by 2022-01-07") as caught:
        run_backtest(book, snapshot, config(), T0 + gap * DAY, prices, ("BTC",))
    assert caught.value.record == "--prices" and caught.value.field == "timestamp"
    with pytest.raises(InputError, match="without gaps"):
        run_backtest(book, snapshot, config(), T0 + np.arange(10) * np.timedelta64(7200, "s"), prices, ("BTC",))
    with pytest.raises(InputError, match="returns before"):
        run_backtest(book, snapshot, config(), stamps, prices, ("BTC",), model="var", start=0)


def test_a_position_asset_without_history_is_refused_collateral_and_stables_are_not():
    """An ETH perp with only a BTC history would have no realised loss (ETH held at the snapshot): refused.
    ETH held only as collateral, and the USDC settlement asset, need no history."""
    ins = [perp("BTC"), perp("ETH")]
    snapshot = MarketSnapshot(as_of=AS_OF, index={"BTC": 60_000.0, "ETH": 3_000.0, "USDC": 1.0}, vols={}, rates={},
                              marks={})
    prices = _path(10)
    stamps = T0 + np.arange(10) * DAY
    book = build_book(ins, [Account(id="e", collateral={"USDC": 1e5},
                                    positions=(Position(instrument=ins[1].id, quantity=1.0),))])
    with pytest.raises(InputError, match="no price history for ETH") as caught:
        run_backtest(book, snapshot, config(), stamps, prices, ("BTC",))
    assert caught.value.record == "--prices"
    book = build_book(ins, [Account(id="b", collateral={"ETH": 10.0},
                                    positions=(Position(instrument=ins[0].id, quantity=1.0),))])
    res = run_backtest(book, snapshot, config(), stamps, prices, ("BTC",), mpor_days=1)
    np.testing.assert_allclose(res.loss[:, 0], prices[:-1, 0] - prices[1:, 0], rtol=1e-12)


def test_short_real_backtest_on_btc_eth_sol(data_dir):
    from ccm.io.prices import read_prices
    from ccm.synthetic import generate_venue

    root = data_dir / "budydeveloper_crypto-dataset"
    history = read_prices([f"{a}={root / f'{a}-USD_1d.csv'}" for a in ("BTC", "ETH", "SOL")])
    keep = (history.timestamps >= np.datetime64("2021-09-01")) & (history.timestamps < np.datetime64("2022-07-01"))
    stamps, raw = history.timestamps[keep], history.prices[keep]
    venue = generate_venue(100, rng=np.random.default_rng(2))
    book, snapshot = venue.columns.build(), venue.market
    start = int(np.searchsorted(stamps, np.datetime64("2022-05-01")))
    prices = raw * np.array([snapshot.index[a] for a in history.assets]) / raw[start]  # rebased at the start
    res = run_backtest(book, snapshot, config(), stamps, prices, history.assets, model="var", start=start,
                       stop=start + 25)
    assert res.n_days == 25 and res.observations == 25 * int(res.active.sum())
    assert res.n_exceptions == int(((res.loss > res.margin + 0.01) & res.active).sum())
    assert (res.margin >= 0).all()
    # May 2022 (LUNA): losses beyond a one-year 99 % VaR happen
    assert res.n_exceptions > 0
    doc = backtest_document(res)
    assert list(doc) == ["model", "confidence", "mpor_days", "observations", "exceptions", "coverage", "kupiec",
                         "christoffersen", "traffic_light", "procyclicality", "accounts"]
    assert doc["coverage"] == pytest.approx(1 - res.n_exceptions / res.observations)
    assert "<svg" in backtest_html(res)


def test_summarise_statistics_worked_by_hand():
    """Three accounts over 6 dates, every figure recounted by hand: exceptions (loss above margin by more than a
    cent), pooled and per-account counts, the traffic light of the last 4 dates, the largest exception, the
    procyclicality of each margin and of the total, and the pooled Christoffersen transitions."""
    from ccm.analysis.backtest import summarise
    from ccm.analysis.backtest_stats import christoffersen

    margin = np.array([[10.0, 5.0, 0.0], [12.0, 5.0, 0.0], [8.0, 4.0, 0.0], [16.0, 6.0, 0.0], [20.0, 3.0, 0.0],
                       [18.0, 0.5, 0.0]])
    loss = np.array([[11.0, 5.005, 0.0], [3.0, 6.0, 0.0], [9.0, 1.0, 0.0], [1.0, 9.0, 0.0], [30.0, 3.5, 0.0],
                     [2.0, 0.6, 0.0]])
    active = np.array([True, True, False])
    stamps = T0 + np.arange(6) * DAY
    res = summarise(model="standard", confidence=0.95, mpor_days=1, timestamps=stamps,
                    account_ids=np.array(["a", "b", "c"]), active=active, margin=margin, loss=loss,
                    increase_days=2, window=4)
    # a: 11 > 10, 9 > 8, 30 > 20 → dates 0, 2, 4; b: 5.005 is within the cent, 6 > 5, 9 > 6, 3.5 > 3, 0.6 > 0.5
    want_a = [True, False, True, False, True, False]
    want_b = [False, True, False, True, True, True]
    np.testing.assert_array_equal(res.exceptions, np.column_stack([want_a, want_b, [False] * 6]))
    assert res.observations == 12 and res.n_exceptions == 7
    assert res.coverage == pytest.approx(5 / 12, rel=1e-15)
    assert res.kupiec == kupiec(12, 7, 0.95)
    assert res.account_observations.tolist() == [6, 6, 0] and res.account_exceptions.tolist() == [3, 4, 0]
    # last 4 dates: a has 2 exceptions, b 3; Binomial(4, 5 %): P(X ≤ 2) = 1 − 4·0.05³·0.95 − 0.05⁴ = 0.99952
    # (95 % ≤ · < 99.99 % → yellow), P(X ≤ 3) = 1 − 0.05⁴ = 0.99999375 (≥ 99.99 % → red)
    assert 1 - 4 * 0.05**3 * 0.95 - 0.05**4 == pytest.approx(0.99951875)
    assert res.account_zone.tolist() == ["yellow", "red", ""]
    assert res.zone_counts == {"green": 0, "yellow": 1, "red": 1}
    assert res.account_largest_exception[:2].tolist() == pytest.approx([10.0, 3.0])  # 30 − 20; 9 − 6
    # a: 20 / 8; b: margin 0.5 < 1 USD counts as 0 → no ratio; 2-day increases of a: 8/10, 16/12, 20/8, 18/16 − 1
    assert res.account_peak_to_trough[0] == pytest.approx(20 / 8) and math.isnan(res.account_peak_to_trough[1])
    assert res.account_max_increase[0] == pytest.approx(20 / 8 - 1)
    total = [15.0, 17.0, 12.0, 22.0, 23.0, 18.5]
    np.testing.assert_allclose(res.total_margin, total)
    assert res.peak_to_trough == pytest.approx(23 / 12)
    assert res.max_increase == pytest.approx(max(total[k + 2] / total[k] - 1 for k in range(4)))
    # pooled transitions: a 1→0, 0→1, 1→0, 0→1, 1→0 and b 0→1, 1→0, 0→1, 1→1, 1→1
    ind, cond = christoffersen(np.column_stack([want_a, want_b]), 0.95)
    n00, n01, n10, n11 = 0, 4, 4, 2
    pi, pi01, pi11 = 6 / 10, 1.0, 2 / 6
    want_ind = (-2 * ((n00 + n10) * math.log(1 - pi) + (n01 + n11) * math.log(pi))
                + 2 * (n01 * math.log(pi01) + n10 * math.log(1 - pi11) + n11 * math.log(pi11)))  # n00 ln(1 − π01) = 0
    assert res.independence.statistic == pytest.approx(want_ind, rel=1e-12) and ind == res.independence
    assert res.conditional.statistic == pytest.approx(want_ind + kupiec(12, 7, 0.95).statistic, rel=1e-12)
    assert cond == res.conditional

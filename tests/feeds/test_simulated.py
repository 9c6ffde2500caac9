"""SimulatedFeed: statistics of the generated paths against the model's own closed forms."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ccm.errors import InputError
from ccm.feeds import Feed, MarketUpdate, SimulatedFeed, VirtualClock

START = datetime(2024, 1, 1, tzinfo=UTC)


def collect(feed: SimulatedFeed) -> list[MarketUpdate]:
    async def run() -> list[MarketUpdate]:
        return [u async for u in feed.updates()]

    return asyncio.run(run())


def log_returns(updates: list[MarketUpdate], assets: list[str]) -> np.ndarray:
    prices = np.array([[u.index[a] for a in assets] for u in updates])
    return np.diff(np.log(prices), axis=0)


def sq_acf1(x: np.ndarray) -> float:
    s = x**2 - np.mean(x**2)
    return float(np.sum(s[1:] * s[:-1]) / np.sum(s * s))


def test_is_a_feed_with_virtual_timestamps_and_max_updates():
    feed = SimulatedFeed({"BTC": 50_000.0, "USDC": 1.0}, rng=np.random.default_rng(1), interval_s=0.5,
                         max_updates=5, virtual_time=True, start=START)
    assert isinstance(feed, Feed)
    updates = collect(feed)
    assert len(updates) == 5
    assert [u.at for u in updates] == [START + timedelta(seconds=0.5 * k) for k in range(5)]
    assert updates[0].index == {"BTC": 50_000.0, "USDC": 1.0}
    assert all(u.index["USDC"] == 1.0 for u in updates)  # stable assets stay fixed
    assert len({u.index["BTC"] for u in updates}) == 5


def test_deterministic_per_seed():
    def path(seed: int) -> list[dict]:
        feed = SimulatedFeed({"BTC": 50_000.0, "ETH": 3_000.0}, rng=np.random.default_rng(seed), max_updates=200,
                             virtual_time=True, start=START, jump_intensity_per_day=5000.0)
        return [dict(u.index) for u in collect(feed)]

    assert path(7) == path(7)
    assert path(7) != path(8)


def test_sample_correlation_matches_input():
    corr = np.array([[1.0, 0.7, 0.3], [0.7, 1.0, -0.2], [0.3, -0.2, 1.0]])
    assets = ["BTC", "ETH", "SOL"]
    feed = SimulatedFeed(dict(zip(assets, [50_000.0, 3_000.0, 100.0], strict=True)), rng=np.random.default_rng(3),
                         correlation=corr, vol_annual={"BTC": 0.5, "ETH": 0.7, "SOL": 1.0}, garch_alpha=0.0,
                         garch_beta=0.0, max_updates=20_001, virtual_time=True, start=START, interval_s=60.0)
    r = log_returns(collect(feed), assets)
    np.testing.assert_allclose(np.corrcoef(r.T), corr, atol=0.03)
    # constant variance: per-step sd = σ √dt
    dt = 60.0 / (365 * 86400)
    np.testing.assert_allclose(r.std(axis=0), np.array([0.5, 0.7, 1.0]) * math.sqrt(dt), rtol=0.03)


def test_volatility_clustering_with_garch_and_none_without():
    n = 40_000
    base = dict(rng=None, vol_annual={"BTC": 0.6}, max_updates=n, virtual_time=True, start=START, interval_s=60.0)

    def acf(alpha: float, beta: float, seed: int) -> float:
        feed = SimulatedFeed({"BTC": 50_000.0}, **{**base, "rng": np.random.default_rng(seed)},
                             garch_alpha=alpha, garch_beta=beta)
        return sq_acf1(log_returns(collect(feed), ["BTC"])[:, 0])

    alpha, beta = 0.1, 0.85
    # lag-1 autocorrelation of squared GARCH(1,1) returns: α(1 − αβ − β²) / (1 − 2αβ − β²) (Bollerslev 1988)
    theory = alpha * (1 - alpha * beta - beta**2) / (1 - 2 * alpha * beta - beta**2)
    on = acf(alpha, beta, 11)
    off = acf(0.0, 0.0, 11)
    assert on > 0.1
    assert abs(on - theory) < 0.05
    assert abs(off) < 4 / math.sqrt(n)


def test_jumps_at_configured_intensity():
    # hourly steps, tiny diffusion, large jumps: a step with a jump stands out by far
    n, lam, sd = 20_000, 2.0, 0.05
    feed = SimulatedFeed({"BTC": 50_000.0, "ETH": 3_000.0}, rng=np.random.default_rng(5), interval_s=3600.0,
                         vol_annual={"BTC": 0.01, "ETH": 0.01}, garch_alpha=0.0, garch_beta=0.0,
                         jump_intensity_per_day=lam, jump_size_sd=sd, max_updates=n + 1, virtual_time=True,
                         start=START)
    r = log_returns(collect(feed), ["BTC", "ETH"])
    diffusion_sd = 0.01 * math.sqrt(3600 / (365 * 86400))
    threshold = 10 * diffusion_sd
    p_step = 1 - math.exp(-lam / 24)  # P(at least one jump in an hour)
    p_seen = p_step * math.erfc(threshold / (sd * math.sqrt(2)))  # … and larger than the threshold (≈ one jump)
    for col in range(2):
        hits = int(np.sum(np.abs(r[:, col]) > threshold))
        expected = n * p_seen
        assert abs(hits - expected) < 4 * math.sqrt(n * p_seen * (1 - p_seen)), (hits, expected)
        big = r[np.abs(r[:, col]) > threshold, col]
        assert abs(big.std() - sd) < 0.15 * sd
    # without jumps nothing exceeds the threshold
    calm = SimulatedFeed({"BTC": 50_000.0}, rng=np.random.default_rng(5), interval_s=3600.0,
                         vol_annual={"BTC": 0.01}, garch_alpha=0.0, garch_beta=0.0, max_updates=n + 1,
                         virtual_time=True, start=START)
    assert int(np.sum(np.abs(log_returns(collect(calm), ["BTC"])) > threshold)) == 0


def test_real_time_mode_sleeps_interval_and_close_stops():
    clock = VirtualClock()
    feed = SimulatedFeed({"BTC": 50_000.0}, rng=np.random.default_rng(0), interval_s=0.25, clock=clock)

    async def run() -> int:
        count = 0
        async for _ in feed.updates():
            count += 1
            if count == 4:
                await feed.close()
        return count

    assert asyncio.run(run()) == 4
    assert clock.sleeps == pytest.approx([0.25, 0.25, 0.25])


@pytest.mark.parametrize("kwargs", [
    {"index": {"BTC": -1.0}},
    {"index": {"BTC": 1.0, "ETH": 1.0}, "correlation": np.array([[1.0, 2.0], [2.0, 1.0]])},
    {"index": {"BTC": 1.0, "ETH": 1.0}, "correlation": np.eye(3)},
    {"index": {"BTC": 1.0}, "garch_alpha": 0.5, "garch_beta": 0.6},
    {"index": {"BTC": 1.0}, "vol_annual": {"XRP": 0.5}},
    {"index": {"BTC": 1.0}, "interval_s": 0.0},
])
def test_bad_parameters_raise_input_error(kwargs):
    with pytest.raises(InputError):
        SimulatedFeed(rng=np.random.default_rng(0), **kwargs)

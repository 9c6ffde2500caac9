"""SimulatedFeed: correlated log-price moves with GARCH(1,1) volatility clustering and Poisson jumps.

Per step of ``interval_s`` seconds (``dt`` years) and per risky asset ``i``::

    h_i,t   = ω_i + α ε²_i,t−1 + β h_i,t−1            (variance of the diffusive step return)
    ε_t     = sqrt(h_t) ⊙ (L z_t),  z_t ~ N(0, I),  L Lᵀ = correlation
    r_i,t   = −h_i,t / 2 + ε_i,t + Σ_{k=1}^{N_i,t} J_k,   N_i,t ~ Poisson(λ dt_days),  J_k ~ N(0, jump_size_sd²)
    S_i,t   = S_i,t−1 · exp(r_i,t)

With ``garch_omega=None`` (the default) ω_i = (1 − α − β) σ_i² dt ("variance targeting"), so the long-run
diffusive volatility is ``vol_annual[i]``; α = β = 0 gives constant volatility. The variance recursion is driven
by the diffusive shock only (a jump does not inflate the next step's variance). Stable assets (``stable``) stay
at their initial price. Everything random comes from ``rng``: one seed gives one path.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Collection, Mapping
from datetime import UTC, datetime, timedelta

import numpy as np

from ccm.errors import InputError
from ccm.feeds.base import AsyncioClock, Clock, MarketUpdate

SECONDS_PER_YEAR = 365.0 * 86400.0
DEFAULT_VOL_ANNUAL = 0.6
DEFAULT_STABLE = frozenset({"USD", "USDC", "USDT", "DAI", "USDE", "FDUSD", "TUSD", "BUSD", "PYUSD", "USDS"})


class SimulatedFeed:
    """A synthetic market: the embedded default feed.

    Parameters
    ----------
    index : initial USD price per asset (all > 0); the order of the keys is the order of ``correlation``.
    rng : numpy Generator; the only source of randomness.
    interval_s : seconds between updates (> 0).
    vol_annual : long-run annualised volatility per asset (decimal); assets not given get 0.6.
    correlation : ndarray of shape (n_assets, n_assets) over the keys of ``index`` (rows of stable assets are
        ignored); symmetric, unit diagonal, positive semi-definite. Default identity.
    jump_intensity_per_day : expected jumps per asset per day (≥ 0).
    jump_size_sd : standard deviation of one jump's log-return.
    jump_mean : mean of one jump's log-return.
    garch_alpha, garch_beta : GARCH(1,1) reaction and persistence (≥ 0, α + β < 1).
    garch_omega : per-step variance intercept for every asset; ``None`` targets ``vol_annual``.
    stable : assets held fixed (default: common USD stablecoins present in ``index``).
    max_updates : stop after this many updates (the first update is the initial prices); ``None`` = endless.
    virtual_time : do not sleep; stamps are ``start + k · interval_s``.
    start : time of the first update (default: now, UTC).
    clock : sleep/monotonic source in real-time mode.
    """

    def __init__(
        self,
        index: Mapping[str, float],
        *,
        rng: np.random.Generator,
        interval_s: float = 0.25,
        vol_annual: Mapping[str, float] | None = None,
        correlation: np.ndarray | None = None,
        jump_intensity_per_day: float = 0.0,
        jump_size_sd: float = 0.05,
        jump_mean: float = 0.0,
        garch_alpha: float = 0.05,
        garch_beta: float = 0.90,
        garch_omega: float | None = None,
        stable: Collection[str] | None = None,
        max_updates: int | None = None,
        virtual_time: bool = False,
        start: datetime | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not index:
            raise InputError("no assets to simulate", record="simulated feed", field="index")
        self.assets = tuple(index)
        prices = np.array([float(index[a]) for a in self.assets])
        bad = [a for a, p in zip(self.assets, prices, strict=True) if not (math.isfinite(p) and p > 0)]
        if bad:
            raise InputError(f"initial prices must be finite and > 0: {bad}", record="simulated feed", field="index")
        if not (math.isfinite(interval_s) and interval_s > 0):
            raise InputError("interval_s must be > 0", record="simulated feed", field="interval_s")
        if jump_intensity_per_day < 0 or jump_size_sd < 0:
            raise InputError("jump intensity and size sd must be ≥ 0", record="simulated feed", field="jumps")
        if garch_alpha < 0 or garch_beta < 0 or garch_alpha + garch_beta >= 1:
            raise InputError("GARCH needs α ≥ 0, β ≥ 0 and α + β < 1", record="simulated feed", field="garch")
        if garch_omega is not None and not garch_omega > 0:
            raise InputError("garch_omega must be > 0", record="simulated feed", field="garch_omega")
        if max_updates is not None and max_updates < 0:
            raise InputError("max_updates must be ≥ 0", record="simulated feed", field="max_updates")
        stable_set = DEFAULT_STABLE if stable is None else frozenset(stable)
        self._risky = np.array([a not in stable_set for a in self.assets])
        vols = dict(vol_annual or {})
        unknown = sorted(set(vols) - set(self.assets))
        if unknown:
            raise InputError(f"vol_annual names assets not in the index: {unknown}", record="simulated feed",
                             field="vol_annual")
        sigma = np.array([float(vols.get(a, DEFAULT_VOL_ANNUAL)) for a in self.assets])
        if not np.all(np.isfinite(sigma) & (sigma >= 0)):
            raise InputError("vol_annual must be finite and ≥ 0", record="simulated feed", field="vol_annual")

        n = len(self.assets)
        corr = np.eye(n) if correlation is None else np.array(correlation, dtype=float)
        if corr.shape != (n, n):
            raise InputError(f"correlation must have shape ({n}, {n}) over {list(self.assets)}, got {corr.shape}",
                             record="simulated feed", field="correlation")
        risky = np.flatnonzero(self._risky)
        sub = corr[np.ix_(risky, risky)]
        if (not np.all(np.isfinite(sub)) or not np.allclose(sub, sub.T, atol=1e-10)
                or not np.allclose(np.diag(sub), 1.0, atol=1e-10)):
            raise InputError("correlation must be finite, symmetric with a unit diagonal", record="simulated feed",
                             field="correlation")
        eigval, eigvec = np.linalg.eigh(sub) if sub.size else (np.zeros(0), np.zeros((0, 0)))
        if eigval.size and eigval.min() < -1e-8:
            raise InputError(f"correlation is not positive semi-definite (eigenvalue {eigval.min():.3g})",
                             record="simulated feed", field="correlation")
        self._factor = eigvec * np.sqrt(np.clip(eigval, 0.0, None))  # factor @ factorᵀ = sub

        self.interval_s = float(interval_s)
        self.dt_years = self.interval_s / SECONDS_PER_YEAR
        self._jump_rate = jump_intensity_per_day * self.interval_s / 86400.0  # expected jumps per step
        self._jump_sd = float(jump_size_sd)
        self._jump_mean = float(jump_mean)
        self._alpha, self._beta = float(garch_alpha), float(garch_beta)
        target = sigma[risky] ** 2 * self.dt_years
        self._omega = (1.0 - self._alpha - self._beta) * target if garch_omega is None else np.full(
            risky.size, float(garch_omega))
        self._h = self._omega / (1.0 - self._alpha - self._beta)  # start at the long-run variance
        self._prices = prices
        self._rng = rng
        self.max_updates = max_updates
        self.virtual_time = virtual_time
        self.start = start
        self._clock = clock or AsyncioClock()
        self._closed = False
        self.steps_taken = 0

    @property
    def prices(self) -> dict[str, float]:
        """Current price per asset."""
        return dict(zip(self.assets, self._prices.tolist(), strict=True))

    def step(self) -> np.ndarray:
        """Advance one step; return the log-returns, ndarray of shape (n_assets,) (0 for stable assets)."""
        risky = np.flatnonzero(self._risky)
        returns = np.zeros(len(self.assets))
        if risky.size:
            z = self._factor @ self._rng.standard_normal(risky.size)
            eps = np.sqrt(self._h) * z
            r = -0.5 * self._h + eps
            if self._jump_rate > 0:
                counts = self._rng.poisson(self._jump_rate, risky.size)
                # the sum of k iid N(μ, s²) jumps is N(kμ, k s²)
                r = r + counts * self._jump_mean + np.sqrt(counts) * self._jump_sd * self._rng.standard_normal(
                    risky.size)
            self._h = self._omega + self._alpha * eps**2 + self._beta * self._h
            returns[risky] = r
        self._prices = self._prices * np.exp(returns)
        self.steps_taken += 1
        return returns

    async def updates(self) -> AsyncIterator[MarketUpdate]:
        """Initial prices first, then one update per step (every asset, stable ones included)."""
        start = self.start or datetime.now(UTC)
        count = 0
        t0 = self._clock.monotonic()
        while not self._closed and (self.max_updates is None or count < self.max_updates):
            if count:
                if self.virtual_time:
                    at = start + timedelta(seconds=count * self.interval_s)
                else:
                    await self._clock.sleep(t0 + count * self.interval_s - self._clock.monotonic())
                    if self._closed:
                        return
                    at = datetime.now(UTC)
                self.step()
            else:
                at = start
            yield MarketUpdate(at=at, index=self.prices)
            count += 1

    async def close(self) -> None:
        self._closed = True

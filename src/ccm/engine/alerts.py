"""Alert rules and their state: coverage thresholds with hysteresis, decline rate, projected breach, system.

Rules are plain dataclasses (a config shell parses them). :class:`AlertMonitor` keeps per-account state in
arrays (armed flags per threshold, a small ring buffer of recent coverage values) and evaluates any set of
rows with whole-array operations, so a tick over every account and a trade on one account share the code.

Hysteresis: a "below level" rule fires when the value crosses below ``level`` while armed, then stays
silent until the value recovers above ``level × (1 + hysteresis)`` (re-armed). Values oscillating inside
the band therefore raise one alert. At construction the monitor is primed with the current values
without firing: accounts already below a level are reported by the engine's state, not as new alerts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from ccm._typing import FloatArray, IntArray
from ccm.engine.events import Alert, SystemSnapshot
from ccm.risk.config import RiskConfig

HOURS_PER_YEAR = 365.0 * 24.0
LEVELS = ("warning", "margin_call", "liquidation")


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdRule:
    """Coverage under each status threshold of ``RiskConfig.thresholds`` (rules ``coverage_below_<level>``)."""

    hysteresis: float = 0.02
    levels: tuple[str, ...] = LEVELS


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclineRule:
    """Coverage down by ≥ ``drop`` (relative, 0.2 = 20%) from its peak within the last ``window_s`` seconds.

    The peak is taken over a ring buffer of the last ``buffer`` coverage values per account. Re-arms when
    the decline falls back under ``drop × (1 − rearm_fraction)``.
    """

    drop: float = 0.2
    window_s: float = 3600.0
    buffer: int = 16
    rearm_fraction: float = 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectedBreachRule:
    """Distance to liquidation (nearer of down/up) under ``k × σ × √(horizon)``.

    σ per account is the largest annualised volatility (``RiskConfig.assets.<A>.volatility``, else
    ``default_volatility``) among the underlyings of its positions and its non-stable collateral assets.
    Evaluated only when the engine computes distances.
    """

    k: float = 2.0
    horizon_hours: float = 24.0
    default_volatility: float = 0.8
    hysteresis: float = 0.02


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemRules:
    """Venue-level rules; each None = off. Fund coverage = ``fund_usd`` ÷ total shortfall."""

    min_system_coverage: float | None = None
    max_total_shortfall_usd: float | None = None
    fund_usd: float | None = None
    min_fund_coverage: float | None = None
    hysteresis: float = 0.02


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertConfig:
    """All alert rules; a rule set to None is off."""

    thresholds: ThresholdRule | None = field(default_factory=ThresholdRule)
    decline: DeclineRule | None = None
    projected_breach: ProjectedBreachRule | None = None
    system: SystemRules = field(default_factory=SystemRules)


def _as_level_values(coverage: FloatArray, unbounded: np.ndarray) -> FloatArray:
    """Coverage with unbounded accounts at +inf (never below a level)."""
    return np.where(unbounded | np.isnan(coverage), np.inf, coverage)


def account_volatility(book, config: RiskConfig, default: float) -> FloatArray:
    """σ per account (n_accounts,): the largest annualised vol among its underlyings and moving collateral."""
    sigma_asset = np.array([
        v if (v := config.asset(a).volatility) is not None else default for a in book.assets
    ], dtype=float)
    stable = np.array([config.asset(a).stable for a in book.assets], dtype=bool)
    n = book.n_accounts
    out = np.zeros(n)
    pos = book.positions
    if pos.nnz:
        rows = np.repeat(np.arange(n), np.diff(pos.indptr))
        np.maximum.at(out, rows, sigma_asset[book.instruments.underlying[pos.indices]])
    bal = book.balances
    if bal.nnz:
        rows = np.repeat(np.arange(n), np.diff(bal.indptr))
        np.maximum.at(out, rows, np.where(stable[bal.indices], 0.0, sigma_asset[bal.indices]))
    return out


class _BelowRule:
    """Armed flags of one "value below level" rule over n subjects (accounts, or 1 for the system)."""

    def __init__(self, n: int, hysteresis: float) -> None:
        self.armed = np.ones(n, dtype=bool)
        self.hysteresis = hysteresis

    def update(self, rows: IntArray | slice, value: FloatArray, level: FloatArray | float) -> np.ndarray:
        """Fire mask over ``rows`` (value < level while armed); re-arm above level × (1 + hysteresis)."""
        armed = self.armed[rows]
        with np.errstate(invalid="ignore"):
            below = value < level
            recovered = ~(value <= np.asarray(level) * (1.0 + self.hysteresis))  # NaN/inf recover
        fire = armed & below
        self.armed[rows] = (armed & ~fire) | (~armed & recovered & ~below)
        return fire


class AlertMonitor:
    """Per-account and system alert state; :meth:`update_accounts` and :meth:`update_system` return Alerts."""

    def __init__(self, config: AlertConfig, risk_config: RiskConfig, n_accounts: int) -> None:
        self.config = config
        t = risk_config.thresholds
        self.levels = {"warning": t.warning, "margin_call": t.margin_call, "liquidation": t.liquidation}
        rule = config.thresholds
        self._threshold = {lv: _BelowRule(n_accounts, rule.hysteresis) for lv in rule.levels} if rule else {}
        d = config.decline
        if d is not None:
            self._times = np.full((n_accounts, d.buffer), -np.inf)
            self._values = np.full((n_accounts, d.buffer), np.nan)
            self._next = np.zeros(n_accounts, dtype=np.int64)
            self._decline_armed = np.ones(n_accounts, dtype=bool)
        p = config.projected_breach
        self._projected = _BelowRule(n_accounts, p.hysteresis) if p else None
        s = config.system
        self._system = {name: _BelowRule(1, s.hysteresis) for name in ("system_coverage", "fund_coverage",
                                                                          "total_shortfall")}

    # -- accounts ---------------------------------------------------------------------------------
    def update_accounts(
        self,
        at: datetime,
        rows: IntArray,
        account_ids: np.ndarray,
        coverage: FloatArray,
        unbounded: np.ndarray,
        *,
        distance_down: FloatArray | None = None,
        distance_up: FloatArray | None = None,
        sigma: FloatArray | None = None,
        emit: bool = True,
    ) -> list[Alert]:
        """Evaluate the account rules on ``rows`` (values aligned with rows). ``emit=False`` primes state."""
        alerts: list[Alert] = []
        cov = _as_level_values(coverage, unbounded)
        for level_name, state in self._threshold.items():
            level = self.levels[level_name]
            fire = state.update(rows, cov, level)
            if emit:
                for k in np.flatnonzero(fire):
                    alerts.append(Alert(at=at, account=str(account_ids[k]), rule=f"coverage_below_{level_name}",
                                        values={"coverage": float(cov[k]), "level": level}))
        if self.config.decline is not None:
            alerts += self._decline(at, rows, account_ids, cov, emit)
        p = self.config.projected_breach
        if p is not None and distance_down is not None and sigma is not None:
            with np.errstate(invalid="ignore"):
                dist = np.fmin(distance_down, distance_up if distance_up is not None else distance_down)
            limit = p.k * sigma * math.sqrt(p.horizon_hours / HOURS_PER_YEAR)
            fire = self._projected.update(rows, np.where(np.isnan(dist), np.inf, dist), limit)
            if emit:
                for k in np.flatnonzero(fire):
                    alerts.append(Alert(at=at, account=str(account_ids[k]), rule="projected_breach",
                                        values={"distance": float(dist[k]), "limit": float(limit[k]),
                                                "sigma": float(sigma[k]), "k": p.k,
                                                "horizon_hours": p.horizon_hours}))
        return alerts

    def _decline(self, at, rows, account_ids, cov, emit) -> list[Alert]:
        d = self.config.decline
        now = at.timestamp()
        slot = self._next[rows]
        value = np.where(np.isfinite(cov), cov, np.nan)
        self._times[rows, slot] = now
        self._values[rows, slot] = value
        self._next[rows] = (slot + 1) % d.buffer
        times, values = self._times[rows], self._values[rows]
        recent = (times >= now - d.window_s) & np.isfinite(values)
        peak = np.max(np.where(recent, values, -np.inf), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            decline = np.where((peak > 0) & np.isfinite(value), (peak - value) / peak, 0.0)
        armed = self._decline_armed[rows]
        fire = armed & (decline >= d.drop)
        rearm = ~armed & (decline < d.drop * (1.0 - d.rearm_fraction))
        self._decline_armed[rows] = (armed & ~fire) | rearm
        if not emit:
            return []
        return [Alert(at=at, account=str(account_ids[k]), rule="coverage_decline",
                      values={"coverage": float(value[k]), "peak": float(peak[k]), "decline": float(decline[k]),
                              "drop": d.drop, "window_s": d.window_s})
                for k in np.flatnonzero(fire)]

    # -- system -----------------------------------------------------------------------------------
    def update_system(self, at: datetime, system: SystemSnapshot, *, emit: bool = True) -> list[Alert]:
        s = self.config.system
        alerts: list[Alert] = []
        checks = []
        if s.min_system_coverage is not None:
            cov = system.system_coverage_ratio
            checks.append(("system_coverage", cov if math.isfinite(cov) else math.inf, s.min_system_coverage,
                           {"system_coverage_ratio": cov, "level": s.min_system_coverage}))
        if s.max_total_shortfall_usd is not None:
            # "above an amount" as "−shortfall below −amount", so the same hysteresis logic applies.
            checks.append(("total_shortfall", -system.total_shortfall, -s.max_total_shortfall_usd,
                           {"total_shortfall": system.total_shortfall, "level": s.max_total_shortfall_usd}))
        if s.fund_usd is not None and s.min_fund_coverage is not None:
            checks.append(("fund_coverage", system.fund_to_shortfall, s.min_fund_coverage,
                           {"fund_coverage": system.fund_to_shortfall, "fund_usd": s.fund_usd,
                            "total_shortfall": system.total_shortfall, "level": s.min_fund_coverage}))
        for name, value, level, values in checks:
            state = self._system[name]
            if name == "total_shortfall":
                # Re-arm once the shortfall is back under amount × (1 − hysteresis).
                armed = bool(state.armed[0])
                fire = armed and value < level
                recovered = system.total_shortfall < s.max_total_shortfall_usd * (1.0 - state.hysteresis)
                state.armed[0] = (armed and not fire) or (not armed and recovered)
            else:
                fire = bool(state.update(slice(0, 1), np.array([value]), level)[0])
            if fire and emit:
                suffix = "above" if name == "total_shortfall" else "below"
                alerts.append(Alert(at=at, account=None, rule=f"{name}_{suffix}",
                                    values={k: float(v) for k, v in values.items()}))
        return alerts


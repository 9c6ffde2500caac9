"""Margin-model backtesting statistics (numpy / scipy only): Kupiec, Christoffersen, Basel traffic light,
procyclicality. Formulas as in reference ccp.md §5–6.

Notation: T observations, x exceptions, p = 1 − confidence (the expected exception rate), π̂ = x / T.

* Kupiec POF: LR = −2 ln[(1−p)^(T−x) p^x] + 2 ln[(1−π̂)^(T−x) π̂^x] ~ χ²(1) (0 ln 0 = 0).
* Christoffersen independence: n_ij = transitions from state i yesterday to state j today (1 = exception);
  π01 = n01/(n00+n01), π11 = n11/(n10+n11), π = (n01+n11)/Σn;
  LR_ind = −2 ln[(1−π)^(n00+n10) π^(n01+n11)] + 2 ln[(1−π01)^n00 π01^n01 (1−π11)^n10 π11^n11] ~ χ²(1);
  conditional coverage LR_cc = LR_POF + LR_ind ~ χ²(2) (LR_POF over all T observations, as ccp.md §5 and
  MATLAB's ``varbacktest`` write it). Several series (accounts) are pooled by summing their transition counts.
* Basel traffic light: with F the binomial CDF of (T, p), green when F(x) < 95 %, yellow when
  95 % ≤ F(x) < 99.99 %, red from 99.99 % (250 observations at 99 %: green 0–4, yellow 5–9, red ≥ 10).
* Procyclicality (Murphy, Vasios & Vause 2014): peak-to-trough = max_t M_t / min_t M_t; largest n-day increase
  = max_t (M_{t+n} − M_t) / M_t over t with M_t > 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy
from scipy.stats import binom, chi2

from ccm._typing import BoolArray, FloatArray

GREEN, YELLOW, RED = "green", "yellow", "red"
ZONES = (GREEN, YELLOW, RED)
#: Binomial CDF levels where the yellow and red zones start (BCBS 1996).
YELLOW_FROM, RED_FROM = 0.95, 0.9999


@dataclass(frozen=True, slots=True, kw_only=True)
class TestResult:
    """A likelihood-ratio statistic and its χ² p-value (NaN when undefined, e.g. no observation)."""

    statistic: float
    p_value: float


def _log_likelihood(n_ok, n_bad, rate):
    """ln[(1 − rate)^n_ok · rate^n_bad] with 0 ln 0 = 0; arrays broadcast."""
    return xlogy(n_ok, 1.0 - rate) + xlogy(n_bad, rate)


def kupiec_statistic(observations, exceptions, confidence: float) -> FloatArray:
    """Kupiec POF likelihood ratio, elementwise over arrays of T and x (NaN where T = 0)."""
    t = np.asarray(observations, dtype=float)
    x = np.asarray(exceptions, dtype=float)
    p = 1.0 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(t > 0, x / np.where(t > 0, t, 1.0), 0.0)
        lr = -2.0 * _log_likelihood(t - x, x, p) + 2.0 * _log_likelihood(t - x, x, rate)
    return np.where(t > 0, np.maximum(lr, 0.0), np.nan)


def kupiec(observations: int, exceptions: int, confidence: float) -> TestResult:
    """Kupiec proportion-of-failures test (χ², 1 dof)."""
    lr = float(kupiec_statistic(observations, exceptions, confidence))
    return TestResult(statistic=lr, p_value=float(chi2.sf(lr, 1)) if np.isfinite(lr) else float("nan"))


def transition_counts(exceptions: BoolArray) -> tuple[int, int, int, int]:
    """(n00, n01, n10, n11) of a 0/1 series (T,) or of each column of (T, n) series, summed over columns."""
    e = np.asarray(exceptions, dtype=bool)
    if e.ndim == 1:
        e = e[:, None]
    before, after = e[:-1], e[1:]
    n01 = int(np.count_nonzero(~before & after))
    n10 = int(np.count_nonzero(before & ~after))
    n11 = int(np.count_nonzero(before & after))
    n00 = int(before.size - n01 - n10 - n11)
    return n00, n01, n10, n11


def christoffersen(exceptions: BoolArray, confidence: float) -> tuple[TestResult, TestResult]:
    """Christoffersen independence (χ², 1 dof) and conditional coverage (χ², 2 dof) of a 0/1 exception series
    (T,), or of several (T, n) pooled (transition counts summed over columns, POF over all T × n)."""
    e = np.asarray(exceptions, dtype=bool)
    n00, n01, n10, n11 = (float(c) for c in transition_counts(e))
    total = n00 + n01 + n10 + n11
    if total == 0:
        nan = TestResult(statistic=float("nan"), p_value=float("nan"))
        return nan, nan
    pi = (n01 + n11) / total
    pi01 = n01 / (n00 + n01) if n00 + n01 > 0 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 > 0 else 0.0
    restricted = _log_likelihood(n00 + n10, n01 + n11, pi)
    free = _log_likelihood(n00, n01, pi01) + _log_likelihood(n10, n11, pi11)
    lr_ind = max(0.0, float(-2.0 * restricted + 2.0 * free))
    lr_cc = lr_ind + float(kupiec_statistic(e.size, np.count_nonzero(e), confidence))
    return (TestResult(statistic=lr_ind, p_value=float(chi2.sf(lr_ind, 1))),
            TestResult(statistic=lr_cc, p_value=float(chi2.sf(lr_cc, 2))))


def traffic_light(exceptions, observations, confidence: float = 0.99) -> np.ndarray:
    """Basel zone ("green" / "yellow" / "red") of x exceptions in T observations, elementwise.

    The zone follows the binomial CDF F(x; T, 1 − confidence): green below 95 %, red from 99.99 %.
    """
    cdf = binom.cdf(np.asarray(exceptions), np.asarray(observations), 1.0 - confidence)
    code = (cdf >= YELLOW_FROM - 1e-12).astype(int) + (cdf >= RED_FROM - 1e-12).astype(int)
    return np.asarray(ZONES, dtype=object)[code]


def peak_to_trough(margin: FloatArray) -> FloatArray:
    """max_t M_t ÷ min_t M_t along axis 0 of (T,) or (T, n); NaN where the minimum is 0 or T = 0."""
    m = np.asarray(margin, dtype=float)
    if m.shape[0] == 0:
        return np.full(m.shape[1:], np.nan)
    low, high = m.min(axis=0), m.max(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(low > 0, high / np.where(low > 0, low, 1.0), np.nan)


def max_increase(margin: FloatArray, days: int = 30) -> FloatArray:
    """Largest relative n-day increase max_t (M_{t+n} − M_t) ÷ M_t along axis 0 (over M_t > 0; NaN if none)."""
    m = np.asarray(margin, dtype=float)
    if days < 1:
        raise ValueError("days must be ≥ 1")
    if m.shape[0] <= days:
        return np.full(m.shape[1:], np.nan)
    start, end = m[:-days], m[days:]
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(start > 0, (end - start) / np.where(start > 0, start, 1.0), -np.inf)
    best = change.max(axis=0)
    return np.where(np.isfinite(best), best, np.nan)


__all__ = ["GREEN", "RED", "YELLOW", "ZONES", "TestResult", "christoffersen", "kupiec", "kupiec_statistic",
           "max_increase", "peak_to_trough", "traffic_light", "transition_counts"]

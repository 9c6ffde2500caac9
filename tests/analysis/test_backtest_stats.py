"""Backtesting statistics against published critical values (χ² 3.841 / 5.991), figures of reference ccp.md §5
(LR(0) = 5.03, LR(6) = 3.56, LR(7) = 5.50 at T = 250, p = 1 %), the Basel (1996) traffic-light table, and the
formulas worked by hand with plain ``math``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ccm.analysis.backtest_stats import (
    christoffersen,
    kupiec,
    kupiec_statistic,
    max_increase,
    peak_to_trough,
    traffic_light,
    transition_counts,
)


def _kupiec_by_hand(t: int, x: int, p: float) -> float:
    rate = x / t
    null = (t - x) * math.log(1 - p) + (x * math.log(p) if x else 0.0)
    alt = ((t - x) * math.log(1 - rate) if x < t else 0.0) + (x * math.log(rate) if x else 0.0)
    return -2 * null + 2 * alt


def test_kupiec_250_observations_8_exceptions_by_hand():
    res = kupiec(250, 8, 0.99)
    want = -2 * (242 * math.log(0.99) + 8 * math.log(0.01)) + 2 * (242 * math.log(242 / 250) + 8 * math.log(8 / 250))
    assert res.statistic == pytest.approx(want, rel=1e-12)
    assert res.statistic > 3.841 and res.p_value < 0.05  # rejected at 95 %


@pytest.mark.parametrize("x,published", [(0, 5.03), (6, 3.56), (7, 5.50)])
def test_kupiec_matches_the_reference_table(x, published):
    assert kupiec(250, x, 0.99).statistic == pytest.approx(published, abs=0.005)


def test_kupiec_p_value_crosses_5_percent_at_the_published_critical_value():
    # 95 % test at T = 250, p = 1 %: accept x ∈ [1, 6] (ccp.md §5)
    accepted = [x for x in range(0, 15) if kupiec(250, x, 0.99).p_value >= 0.05]
    assert accepted == [1, 2, 3, 4, 5, 6]
    for x in range(15):
        res = kupiec(250, x, 0.99)
        assert (res.statistic > 3.841) == (res.p_value < 0.05)


def test_kupiec_edge_cases():
    assert kupiec(100, 1, 0.99).statistic == pytest.approx(0.0, abs=1e-12)  # exactly the expected rate
    assert kupiec(10, 10, 0.99).statistic == pytest.approx(-2 * 10 * math.log(0.01), rel=1e-12)
    assert math.isnan(kupiec(0, 0, 0.99).statistic)
    np.testing.assert_allclose(kupiec_statistic(np.array([250, 250]), np.array([0, 7]), 0.99),
                               [_kupiec_by_hand(250, 0, 0.01), _kupiec_by_hand(250, 7, 0.01)], rtol=1e-12)


def _christoffersen_by_hand(series: list[int], p: float) -> tuple[float, float]:
    n = {(i, j): 0 for i in (0, 1) for j in (0, 1)}
    for a, b in zip(series[:-1], series[1:], strict=True):
        n[a, b] += 1
    pi01 = n[0, 1] / (n[0, 0] + n[0, 1])
    pi11 = n[1, 1] / (n[1, 0] + n[1, 1])
    pi = (n[0, 1] + n[1, 1]) / sum(n.values())
    restricted = (n[0, 0] + n[1, 0]) * math.log(1 - pi) + (n[0, 1] + n[1, 1]) * math.log(pi)
    free = (n[0, 0] * math.log(1 - pi01) + n[0, 1] * math.log(pi01) + n[1, 0] * math.log(1 - pi11)
            + n[1, 1] * math.log(pi11))
    ind = -2 * restricted + 2 * free
    return ind, ind + _kupiec_by_hand(len(series), sum(series), p)


def test_christoffersen_clustered_exceptions_by_hand():
    series = [0] * 250
    for day in (40, 41, 42, 120, 121, 200):
        series[day] = 1
    ind, cc = christoffersen(np.array(series, dtype=bool), 0.99)
    want_ind, want_cc = _christoffersen_by_hand(series, 0.01)
    assert ind.statistic == pytest.approx(want_ind, rel=1e-12)
    assert cc.statistic == pytest.approx(want_cc, rel=1e-12)
    # clustering is rejected at 95 % (χ²(1) 3.841); the critical values give the p-values' 5 % line
    assert ind.statistic > 3.841 and ind.p_value < 0.05
    assert (cc.statistic > 5.991) == (cc.p_value < 0.05)


def test_christoffersen_pooled_columns_sum_transitions():
    a = np.zeros(100, dtype=bool)
    a[[10, 11, 50]] = True
    b = np.zeros(100, dtype=bool)
    b[[5, 70]] = True
    assert transition_counts(a) == (94, 2, 2, 1)  # 9→10, 49→50; 11→12, 50→51; 10→11
    assert transition_counts(np.column_stack([a, b])) == (94 + 95, 2 + 2, 2 + 2, 1)
    ind, _ = christoffersen(np.column_stack([a, b]), 0.99)
    n00, n01, n10, n11 = 189, 4, 4, 1
    pi, pi01, pi11 = 5 / 198, 4 / 193, 1 / 5
    want = (-2 * ((n00 + n10) * math.log(1 - pi) + (n01 + n11) * math.log(pi))
            + 2 * (n00 * math.log(1 - pi01) + n01 * math.log(pi01) + n10 * math.log(1 - pi11) + n11 * math.log(pi11)))
    assert ind.statistic == pytest.approx(want, rel=1e-12)


def test_christoffersen_without_exceptions_is_zero():
    ind, cc = christoffersen(np.zeros(250, dtype=bool), 0.99)
    assert ind.statistic == 0.0
    assert cc.statistic == pytest.approx(_kupiec_by_hand(250, 0, 0.01), rel=1e-12)


def test_basel_traffic_light_table():
    zones = traffic_light(np.arange(16), 250, 0.99)
    assert list(zones) == ["green"] * 5 + ["yellow"] * 5 + ["red"] * 6


def test_traffic_light_generalises_to_other_sizes():
    # 500 observations at 99 %: expected 5; the binomial CDF crosses 95 % after 8 and 99.99 % after 14
    zones = list(traffic_light(np.arange(20), 500, 0.99))
    assert zones.index("yellow") == 9 and zones.index("red") == 15


def test_procyclicality_metrics():
    m = np.array([100.0, 80.0, 120.0, 90.0, 160.0, 150.0])
    assert float(peak_to_trough(m)) == pytest.approx(2.0)
    # 2-day increases: 120/100, 90/80, 160/120, 150/90 − 1 → the largest is 150/90 − 1
    assert float(max_increase(m, 2)) == pytest.approx(150 / 90 - 1)
    columns = np.column_stack([m, np.zeros(6)])
    np.testing.assert_allclose(peak_to_trough(columns), [2.0, np.nan])
    np.testing.assert_allclose(max_increase(columns, 2), [150 / 90 - 1, np.nan])
    assert math.isnan(float(max_increase(m, 6)))

"""Cover-n, largest losses, VaR and ES against hand values and numpy's quantile definition."""

from __future__ import annotations

import numpy as np
import pytest

from ccm.stress.cover import cover_n, fund_to_cover_2, largest_losses, tail_rank, uncovered_loss, var_es


def test_uncovered_loss_is_the_negative_part():
    np.testing.assert_array_equal(uncovered_loss(np.array([[-3.0, 0.0, 2.0]])), [[3.0, 0.0, 0.0]])


def test_cover_n_by_hand():
    u = np.array([[0.0, 5.0, 1.0, 7.0], [2.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(cover_n(u, 1), [7.0, 2.0, 0.0])
    np.testing.assert_array_equal(cover_n(u, 2), [12.0, 4.0, 0.0])
    np.testing.assert_array_equal(cover_n(u[:, :1], 2), [0.0, 2.0, 0.0])  # fewer accounts than n
    with pytest.raises(ValueError):
        cover_n(u, 0)


def test_largest_losses_by_hand():
    u = np.array([[0.0, 5.0, 1.0, 7.0], [2.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    rows, amounts = largest_losses(u, 3)
    np.testing.assert_array_equal(rows, [[3, 1, 2], [0, 1, -1], [-1, -1, -1]])  # ties in account order
    np.testing.assert_array_equal(amounts, [[7.0, 5.0, 1.0], [2.0, 2.0, 0.0], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize(("confidence", "var", "es"), [(0.99, 99.0, 100.0), (0.95, 95.0, 98.0), (0.5, 50.0, 75.5)])
def test_var_es_of_losses_one_to_hundred(confidence, var, es):
    losses = np.random.default_rng(7).permutation(np.arange(1.0, 101.0))
    assert var_es(losses, confidence) == (var, es)


def test_var_is_numpys_inverted_cdf_quantile_and_es_the_mean_beyond():
    losses = np.random.default_rng(3).standard_t(3, size=1_237) * 1e6
    for confidence in (0.9, 0.975, 0.99, 0.999):
        var, es = var_es(losses, confidence)
        assert var == np.quantile(losses, confidence, method="inverted_cdf")
        k = int(np.ceil(confidence * losses.size))
        assert es == pytest.approx(np.sort(losses)[k:].mean(), rel=1e-12)
        assert es >= var


def test_var_es_edge_cases():
    assert var_es(np.array([4.0]), 0.99) == (4.0, 4.0)  # empty tail: ES = VaR
    var, es = var_es(np.array([]), 0.99)
    assert np.isnan(var) and np.isnan(es)
    assert tail_rank(100, 0.99) == 99 and tail_rank(1000, 0.999) == 999 and tail_rank(3, 0.01) == 1
    with pytest.raises(ValueError):
        var_es(np.ones(3), 1.0)


def test_fund_to_cover_2():
    assert fund_to_cover_2(50.0, 200.0) == 0.25
    assert fund_to_cover_2(50.0, 0.0) is None


def test_largest_losses_both_paths_agree_with_a_full_sort():
    rng = np.random.default_rng(5)
    u = np.maximum(0.0, rng.normal(-1.0, 1.0, (40, 300)))
    u[3, [7, 9, 200]] = 5.0  # ties: account order
    u[4] = 0.0
    for k in (1, 5, 16, 17, 40):
        rows, amounts = largest_losses(u, k)
        before = u.copy()
        rows_w, amounts_w = largest_losses(before, k, overwrite_input=True)
        np.testing.assert_array_equal(rows_w, rows)
        np.testing.assert_array_equal(amounts_w, amounts)
        for s in range(u.shape[0]):
            order = sorted(range(u.shape[1]), key=lambda i: (-u[s, i], i))[:k]
            expected = [i if u[s, i] > 0 else -1 for i in order]
            assert rows[s].tolist() == expected
            np.testing.assert_array_equal(amounts[s], np.where(np.array(expected) >= 0, u[s, order], 0.0))
    assert rows[3, :3].tolist() == [7, 9, 200] and (rows[4] == -1).all()

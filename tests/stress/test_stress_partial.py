"""Mergeable stress results: :func:`combine` of partials and :func:`finalise`, by hand (the cluster test in
tests/dist checks them against a one-process run on a real venue)."""

from __future__ import annotations

import numpy as np
import pytest

from ccm.scenario.base import ScenarioSet
from ccm.stress.run import StressPartial, combine, finalise


def _part(*, account_start, scenario_start, rows, losses, system, breached, worst_ae, worst_scenario,
          maintenance) -> StressPartial:
    """A hand-made partial: k = 2 largest per scenario (global rows), per-account worst figures."""
    worst_ae = np.array(worst_ae, dtype=float)
    n = worst_ae.shape[0]
    return StressPartial(
        account_start=account_start, scenario_start=scenario_start,
        account_ids=np.array([f"x{account_start + k}" for k in range(n)]), adjusted_equity=np.ones(n),
        maintenance_margin=np.array(maintenance, dtype=float), system_uncovered_loss=np.array(system, dtype=float),
        accounts_breached=np.array(breached, dtype=np.int64), top_account_rows=np.array(rows, dtype=np.int64),
        top_uncovered_loss=np.array(losses, dtype=float), worst_adjusted_equity=worst_ae,
        worst_scenario=np.array(worst_scenario, dtype=np.int64))


SCENARIOS = ScenarioSet(assets=("BTC",), names=("a", "b"), price_returns=np.zeros((2, 1)), kind="custom")


def test_combine_across_accounts_by_hand_ties_go_to_the_first_account():
    """Two shards (accounts 0–1 and 2–4) × one chunk of two scenarios, figures worked out by hand."""
    first = _part(account_start=0, scenario_start=0, rows=[[1, 0], [0, -1]], losses=[[5.0, 3.0], [2.0, 0.0]],
                  system=[8.0, 2.0], breached=[2, 1], worst_ae=[-5.0, -3.0], worst_scenario=[0, 0],
                  maintenance=[1.0, 1.0])
    second = _part(account_start=2, scenario_start=0, rows=[[4, 2], [3, 4]], losses=[[5.0, 4.0], [7.0, 2.0]],
                   system=[9.0, 9.0], breached=[3, 2], worst_ae=[-4.0, -7.0, 0.5], worst_scenario=[0, 1, 1],
                   maintenance=[1.0, 2.0, 1.0])
    merged = finalise(combine([second, first]), SCENARIOS, top_accounts=2, fund_usd=6.0, confidence=0.5)
    # scenario a: 5 (row 1), 5 (row 4) before 4 (row 2); b: 7 (row 3), 2 (row 0) before 2 (row 4)
    assert merged.top_account_rows.tolist() == [[1, 4], [3, 0]]
    assert merged.top_uncovered_loss.tolist() == [[5.0, 5.0], [7.0, 2.0]]
    assert merged.system_uncovered_loss.tolist() == [17.0, 11.0]
    assert merged.accounts_breached.tolist() == [5, 3]
    assert merged.cover_1_by_scenario.tolist() == [5.0, 7.0] and merged.cover_2_by_scenario.tolist() == [10.0, 9.0]
    assert (merged.cover_1, merged.cover_1_scenario, merged.cover_2, merged.cover_2_scenario) == (7.0, 1, 10.0, 0)
    assert merged.fund_to_cover_2 == pytest.approx(0.6)
    assert (merged.var, merged.es) == (11.0, 17.0)  # losses 11, 17 at 50%: VaR the first, ES the one beyond
    assert merged.scenario_order.tolist() == [0, 1]
    assert merged.worst_scenario.tolist() == [0, 0, 0, 1, 1]
    assert merged.worst_uncovered_loss.tolist() == [5.0, 3.0, 4.0, 7.0, 0.0]
    assert merged.account_ids.tolist() == ["x0", "x1", "x2", "x3", "x4"]


def test_combine_across_scenarios_keeps_the_first_scenario_on_ties():
    """One shard of two accounts × two chunks of one scenario each: account 0 is equally bad in both
    (the first scenario wins), account 1 is worse in the second."""
    early = _part(account_start=0, scenario_start=0, rows=[[0, 1]], losses=[[4.0, 1.0]], system=[5.0], breached=[2],
                  worst_ae=[-4.0, -1.0], worst_scenario=[0, 0], maintenance=[2.0, 1.0])
    late = _part(account_start=0, scenario_start=1, rows=[[1, 0]], losses=[[6.0, 4.0]], system=[10.0], breached=[2],
                 worst_ae=[-4.0, -6.0], worst_scenario=[1, 1], maintenance=[2.0, 1.0])
    merged = finalise(combine([late, early]), SCENARIOS, top_accounts=2, fund_usd=0.0, confidence=0.5)
    assert merged.worst_scenario.tolist() == [0, 1]
    assert merged.worst_adjusted_equity.tolist() == [-4.0, -6.0]
    assert merged.worst_coverage.tolist() == [-2.0, -6.0]
    assert merged.top_account_rows.tolist() == [[0, 1], [1, 0]]
    assert merged.system_uncovered_loss.tolist() == [5.0, 10.0]
    # cover-1 / cover-2: scenario b's largest loss 6 and its two largest 6 + 4 = 10; a fund of 0 covers 0 of it
    assert (merged.cover_1, merged.cover_1_scenario, merged.cover_2, merged.cover_2_scenario) == (6.0, 1, 10.0, 1)
    assert merged.fund_to_cover_2 == 0.0


def test_combine_refuses_parts_that_do_not_tile():
    one = _part(account_start=0, scenario_start=0, rows=[[0, -1]], losses=[[1.0, 0.0]], system=[1.0], breached=[1],
                worst_ae=[-1.0], worst_scenario=[0], maintenance=[1.0])
    gap = _part(account_start=2, scenario_start=0, rows=[[2, -1]], losses=[[1.0, 0.0]], system=[1.0], breached=[1],
                worst_ae=[-1.0], worst_scenario=[0], maintenance=[1.0])
    with pytest.raises(ValueError, match="do not tile the accounts"):
        combine([one, gap])
    other_accounts = _part(account_start=1, scenario_start=1, rows=[[1, -1]], losses=[[1.0, 0.0]], system=[1.0],
                           breached=[1], worst_ae=[-1.0], worst_scenario=[1], maintenance=[1.0])
    with pytest.raises(ValueError, match="rectangle"):
        combine([one, other_accounts])
    with pytest.raises(ValueError, match="holds 1 scenarios"):
        finalise(one, SCENARIOS, top_accounts=2)

"""Calibration study of the breach probability models on held-out later periods.

    .venv/bin/python benchmarks/bench_breach.py [--accounts 600] [--horizon-days 3] [--split 2023-01-01]
                                                [--simulated 8] [--seed 7]

Data: the demo venue (``ccm.synthetic.generate_venue``, ``--accounts`` accounts) replayed along the real daily
BTC, ETH and SOL closes (Yahoo, ``$CCM_DATA_DIR/budydeveloper_crypto-dataset``, 2020-04-10 … 2025-02-11) and along
``--simulated`` simulated paths (Student-t returns, covariance of the training period's returns, one volatility
regime per path). Windows (``ccm.analysis.breach_labels.label_windows``): 30-day segments restarting at the
snapshot, a window every 5 days, the first 30 days of a path kept for the EWMA warm-up; label = coverage < 1
at one of the next ``--horizon-days`` daily closes.

Split by time, no leakage: training = real windows whose horizon ends before ``--split`` + all simulated windows;
evaluation = real windows starting on or after ``--split``. Features and the EWMA volatility use only returns
before each window's start.

Models: analytic (``analytic_breach_probability``, driftless and martingale drift; also the union bound, the
sum of the two one-sided probabilities, and the analytic with the Broadie–Glasserman–Kou correction for barriers
watched only at daily closes, as the labels are, for comparison) and learned (``BreachClassifier``). Output: one
table of scores per model, the reliability curves, the analytic throughput, and last the line

    breach brier_analytic=… brier_learned=… auc_analytic=… auc_learned=…
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT), str(ROOT / "src")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from ccm.analysis.breach import analytic_breach_probability  # noqa: E402
from ccm.analysis.breach_labels import BreachDataset, label_windows, simulate_prices, vol_daily_path  # noqa: E402
from ccm.analysis.breach_model import BreachClassifier, calibration_report  # noqa: E402
from ccm.io.config import load_config  # noqa: E402
from ccm.io.prices import read_prices  # noqa: E402
from ccm.scenario.ewma_filter import log_returns  # noqa: E402
from ccm.synthetic import generate_venue  # noqa: E402

ASSETS = ("BTC", "ETH", "SOL")
SEGMENT, STRIDE, WARMUP = 30, 5, 30
BGK_BETA = 0.5826  # −ζ(1/2)/√(2π)
BOOTSTRAP = 200


def _windows(book, market, config, stamps, prices, horizon, first_step) -> BreachDataset:
    return label_windows(book, market, config, stamps, prices, ASSETS, vol_daily_path(prices, 1.0),
                         horizon_steps=horizon, stride_steps=STRIDE, segment_steps=SEGMENT, first_step=first_step)


def daily_close_distances(data: BreachDataset) -> tuple[np.ndarray, np.ndarray]:
    """Distances widened for daily monitoring (Broadie, Glasserman & Kou 1997: a barrier watched every Δt acts
    as a continuous barrier shifted away by 0.5826 σ √Δt in log price); Δt = 1 day. Comparison only: the labels
    watch daily closes, a venue watches continuously."""
    shift = np.exp(BGK_BETA * data.vol_daily)
    return 1.0 - (1.0 - data.distance_down) / shift, (1.0 + data.distance_up) * shift - 1.0


def paired_bootstrap(data: BreachDataset, first: np.ndarray, second: np.ndarray, *, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """5 % and 95 % quantiles of (Brier, AUC) of ``second`` minus those of ``first``, resampling whole 30-day blocks
    of evaluation windows (windows in a block share one price path, so rows are not independent)."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    days = (data.window_start - data.window_start.min()).astype("timedelta64[D]").astype(np.int64)
    block = days // SEGMENT
    members = [np.flatnonzero(block == b) for b in np.unique(block)]
    diffs = []
    for _ in range(BOOTSTRAP):
        rows = np.concatenate([members[k] for k in rng.integers(0, len(members), len(members))])
        y = data.label[rows]
        if y.all() or not y.any():
            continue
        diffs.append((brier_score_loss(y, second[rows]) - brier_score_loss(y, first[rows]),
                      roc_auc_score(y, second[rows]) - roc_auc_score(y, first[rows])))
    return np.quantile(diffs, 0.05, axis=0), np.quantile(diffs, 0.95, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=600)
    parser.add_argument("--horizon-days", type=int, default=3)
    parser.add_argument("--split", default="2023-01-01")
    parser.add_argument("--simulated", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    horizon = args.horizon_days
    data = Path(os.environ.get("CCM_DATA_DIR", ROOT.parent / "shared" / "data")) / "budydeveloper_crypto-dataset"
    history = read_prices([f"{a}={data / f'{a}-USD_1d.csv'}" for a in ASSETS])
    config = load_config(None)
    venue = generate_venue(args.accounts, rng=np.random.default_rng(args.seed))
    book = venue.columns.build()
    split = np.datetime64(args.split, "s")

    began = time.perf_counter()
    real = _windows(book, venue.market, config, history.timestamps, history.prices, horizon, WARMUP)
    labelling_real = time.perf_counter() - began
    ends = real.window_start + np.timedelta64(horizon, "D")
    train_real = real.subset(ends < split)
    test = real.subset(real.window_start >= split)

    rng = np.random.default_rng(args.seed)
    before = history.timestamps < split
    cov = np.cov(log_returns(history.prices[before]), rowvar=False)
    sim_parts = []
    began = time.perf_counter()
    n_steps = WARMUP + SEGMENT + horizon
    sim_stamps = np.datetime64("2000-01-01", "s") + np.arange(n_steps + 1) * np.timedelta64(1, "D")
    for _ in range(args.simulated):
        path = simulate_prices(history.prices[0], cov, n_steps, rng=rng)
        sim_parts.append(_windows(book, venue.market, config, sim_stamps, path, horizon, WARMUP))
    labelling_sim = time.perf_counter() - began
    train = BreachDataset.concat([train_real, *sim_parts])

    began = time.perf_counter()
    model = BreachClassifier(random_state=args.seed).fit(train.features, train.label, train.feature_names)
    fitting = time.perf_counter() - began

    probabilities = {
        "analytic (driftless)": analytic_breach_probability(test.distance_down, test.distance_up, test.vol_daily,
                                                            float(horizon)),
        "analytic (martingale)": analytic_breach_probability(test.distance_down, test.distance_up, test.vol_daily,
                                                             float(horizon), drift="martingale"),
        "union bound": np.minimum(1.0, analytic_breach_probability(test.distance_down, np.full(test.n_rows, np.nan),
                                                                   test.vol_daily, float(horizon))
                                  + analytic_breach_probability(np.full(test.n_rows, np.nan), test.distance_up,
                                                                test.vol_daily, float(horizon))),
        "analytic, daily closes": analytic_breach_probability(*daily_close_distances(test), test.vol_daily,
                                                             float(horizon)),
        "learned (HGB)": model.predict_proba(test.features, test.feature_names),
    }
    print(f"venue: {args.accounts} accounts; horizon {horizon} d (daily closes); split {args.split}")
    simulated = train.n_rows - train_real.n_rows
    print(f"training rows {train.n_rows:,} (real {train_real.n_rows:,}, simulated {simulated:,}),"
          f" positives {train.label.mean():.2%}; evaluation rows {test.n_rows:,} "
          f"({np.unique(test.window_start).size} windows {test.window_start.min()} … {test.window_start.max()}),"
          f" positives {test.label.mean():.2%}")
    print(f"labelling: real {labelling_real:.1f} s, simulated {labelling_sim:.1f} s; fitting {fitting:.1f} s")
    print(f"{'model':<24}{'brier':>9}{'skill':>8}{'auc':>8}{'mean p':>9}{'base':>8}")
    reports = {}
    for name, p in probabilities.items():
        r = calibration_report(test.label, p)
        reports[name] = r
        print(f"{name:<24}{r.brier:>9.4f}{r.brier_skill:>8.3f}{r.auc:>8.4f}{r.mean_probability:>9.4f}"
              f"{r.base_rate:>8.4f}")
    for name in ("analytic (driftless)", "learned (HGB)"):
        r = reports[name]
        print(f"reliability {name}: " + ", ".join(f"{p:.3f}→{t:.3f}" for p, t in zip(r.prob_pred, r.prob_true,
                                                                                       strict=True)))
    low, high = paired_bootstrap(test, probabilities["analytic (driftless)"], probabilities["learned (HGB)"],
                                 rng=np.random.default_rng(args.seed))
    print(f"learned − analytic, 90% block-bootstrap interval (30-day blocks of windows, {BOOTSTRAP} resamples): "
          f"brier [{low[0]:+.4f}, {high[0]:+.4f}], auc [{low[1]:+.4f}, {high[1]:+.4f}]")
    low, high = paired_bootstrap(test, probabilities["analytic, daily closes"], probabilities["learned (HGB)"],
                                 rng=np.random.default_rng(args.seed))
    print(f"learned − analytic (daily closes), same: brier [{low[0]:+.4f}, {high[0]:+.4f}], "
          f"auc [{low[1]:+.4f}, {high[1]:+.4f}]")
    n = 1_000_000
    rng_d = np.random.default_rng(0)
    down, up = rng_d.uniform(0.01, 0.9, n), rng_d.uniform(0.01, 0.9, n)
    vol = rng_d.uniform(0.01, 0.08, n)
    began = time.perf_counter()
    analytic_breach_probability(down, np.full(n, np.nan), vol, float(horizon))
    one_sided = time.perf_counter() - began
    began = time.perf_counter()
    analytic_breach_probability(down, up, vol, float(horizon))
    two_sided = time.perf_counter() - began
    print(f"analytic throughput: one barrier {n / one_sided / 1e6:.1f} M accounts/s (baseline), two barriers "
          f"{n / two_sided / 1e6:.1f} M accounts/s, ratio {two_sided / one_sided:.1f}× the one-barrier time")
    a, learned = reports["analytic (driftless)"], reports["learned (HGB)"]
    print(f"breach brier_analytic={a.brier:.4f} brier_learned={learned.brier:.4f} auc_analytic={a.auc:.4f} "
          f"auc_learned={learned.auc:.4f}")


if __name__ == "__main__":
    main()

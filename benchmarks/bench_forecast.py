"""Benchmark: which volatility model forecasts BTC and ETH best out of sample, by how much, and at what cost.

    .venv/bin/python benchmarks/bench_forecast.py [--test-from 2023-01-01] [--horizons 1,7] [--refit-days 30]
                                                  [--refit-study]

Data (``$CCM_DATA_DIR``, default ``../shared/data``): Yahoo daily closes ``budydeveloper_crypto-dataset/
{BTC,ETH}-USD_1d.csv`` (BTC from 2014-09-17, ETH from 2017-11-09, to 2025-02-11). Models are fitted on every day
before ``--test-from`` and refitted on an expanding window every ``--refit-days`` days through the test period
(``ccm.analysis.forecast.rolling_evaluation``). For BTC the gradient-boosted model is also run with Binance funding
(``sky1241_HSBC-algo-genetic/funding_rate_BTCUSDT.csv``), Deribit DVOL (``isayggyo_new/dvol_btc.csv``) and
2-hour realised variance (``sky1241_HSBC-algo-genetic/BTC_USDT_2h.csv``) as features (``gbm+``).

Losses: QLIKE and MSE of the H-day variance forecast against the sum of squared daily log returns over the H days;
ratios < 1 beat the RiskMetrics EWMA baseline run in the same process; DM p is the Diebold–Mariano p-value of the
QLIKE difference to EWMA. ``--refit-study`` also times GARCH refitted every 1, 5 and 30 days (how much daily
refits buy).

Output: a table, then one line per asset (for the first horizon):

    forecast asset=BTC best=… qlike_ratio_vs_ewma=… mse_ratio_vs_ewma=… dm_pvalue=… horizon_days=1 seconds=…
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT), str(ROOT / "src")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from ccm.analysis.forecast import BASELINE, MODEL_NAMES, make_forecaster, qlike_test, rolling_evaluation  # noqa: E402
from ccm.cli.forecast import build_series, first_test_origin, load_daily_prices  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--test-from", default="2023-01-01")
    parser.add_argument("--horizons", default="1,7", help="comma-separated horizons in days")
    parser.add_argument("--refit-days", type=int, default=30)
    parser.add_argument("--refit-study", action="store_true")
    args = parser.parse_args()
    data = Path(os.environ.get("CCM_DATA_DIR", ROOT.parent / "shared" / "data"))
    daily = data / "budydeveloper_crypto-dataset"
    side = {"funding": data / "sky1241_HSBC-algo-genetic" / "funding_rate_BTCUSDT.csv",
            "implied_vol": data / "isayggyo_new" / "dvol_btc.csv",
            "intraday": data / "sky1241_HSBC-algo-genetic" / "BTC_USDT_2h.csv"}
    horizons = [int(h) for h in args.horizons.split(",")]
    print(f"{'asset':<5} {'H':>2} {'model':<7} {'refit':>5} {'n_test':>6} {'QLIKE':>8} {'×EWMA':>6} {'MSE':>10} "
          f"{'×EWMA':>6} {'DM p':>5} {'fits':>4} {'fit s':>6} {'total s':>7}")
    summary = []
    for asset in ("BTC", "ETH"):
        _, stamps, closes = load_daily_prices([f"{asset}={daily / f'{asset}-USD_1d.csv'}"], None)
        plain = build_series(stamps, closes, funding=None, implied_vol=None, intraday=None)
        runs = [(name, plain, args.refit_days) for name in MODEL_NAMES]
        if asset == "BTC":
            runs.append(("gbm+", build_series(stamps, closes, **side), args.refit_days))
            if args.refit_study:
                runs += [("garch", plain, step) for step in (1, 5) if step != args.refit_days]
        start = first_test_origin(stamps, args.test_from)
        for horizon in horizons:
            results = {}
            for label, series, step in runs:
                began = time.perf_counter()
                r = rolling_evaluation(make_forecaster(label.rstrip("+"), horizon_days=horizon), series,
                                       test_start=start, refit_every=step)
                results[(label, step)] = (r, time.perf_counter() - began)
            base = results[(BASELINE, args.refit_days)][0]
            for (label, step), (r, seconds) in results.items():
                dm_p = qlike_test(r, base)[1]
                print(f"{asset:<5} {horizon:>2} {label:<7} {step:>5} {r.n_test:>6} {r.qlike:>8.4f} "
                      f"{r.qlike / base.qlike:>6.3f} {r.mse:>10.3e} {r.mse / base.mse:>6.3f} {dm_p:>5.2f} "
                      f"{r.refits:>4} {r.fit_seconds:>6.2f} {seconds:>7.2f}")
            if horizon == horizons[0]:
                best, (r, seconds) = min(((k, v) for k, v in results.items() if k[1] == args.refit_days),
                                         key=lambda kv: kv[1][0].qlike)
                summary.append(f"forecast asset={asset} best={best[0]} qlike_ratio_vs_ewma={r.qlike / base.qlike:.3f} "
                               f"mse_ratio_vs_ewma={r.mse / base.mse:.3f} dm_pvalue={qlike_test(r, base)[1]:.2f} "
                               f"horizon_days={horizon} seconds={seconds:.2f}")
    print("\n".join(summary))


if __name__ == "__main__":
    main()

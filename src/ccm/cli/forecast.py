"""``ccm forecast``: which volatility model forecasts an asset best, out of sample, and what it forecasts now."""

from __future__ import annotations

import csv
import json
from enum import StrEnum
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ccm.cli.output import Format, exit_on_error, progress
from ccm.errors import InputError

DAY = 86400
DEFAULT_TEST_DAYS = 365
FUNDING_COLUMNS = ("funding_rate", "fundingrate", "funding rate", "interest_1h", "rate", "value")
IMPLIED_VOL_COLUMNS = ("dvol", "dvol_close", "close", "iv", "implied_vol", "value")
SIDE_TIME_COLUMNS = ("timestamp", "date", "datetime", "time", "snapped_at")


class ModelChoice(StrEnum):
    EWMA = "ewma"
    GARCH = "garch"
    GJR = "gjr"
    GBM = "gbm"
    ALL = "all"


def _is_single_asset_file(spec: str) -> bool:
    """A per-asset layout (Yahoo, Binance, CoinGecko, …: a close or price column) rather than a wide CSV."""
    path = Path(spec)
    if "=" in spec and not path.exists():
        return False
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False  # read_prices reports it with its location
    return any(h.strip().lower() in ("close", "price") for h in header)


def load_daily_prices(specs: list[str], asset: str | None) -> tuple[str, np.ndarray, np.ndarray]:
    """(asset, POSIX seconds (n,), daily closes (n,)) from PRICES as ``ccm replay --prices`` takes them; one file
    in a per-asset layout (e.g. ``BTC-USD_1d.csv``) is read as that asset. Days must follow each other."""
    from ccm.io.prices import read_asset_file, read_prices

    if len(specs) == 1 and _is_single_asset_file(specs[0]):
        stamps, prices = read_asset_file(specs[0])
        name = asset or Path(specs[0]).stem
        source = specs[0]
    else:
        history = read_prices(specs)
        if asset is None:
            if len(history.assets) != 1:
                raise InputError(f"the prices hold {len(history.assets)} assets {list(history.assets)}",
                                 record="--asset", hint="choose one with --asset")
            asset = history.assets[0]
        if asset not in history.assets:
            raise InputError(f"asset {asset!r} is not in the prices {list(history.assets)}", record="--asset")
        stamps, prices = history.posix_seconds, history.prices[:, history.assets.index(asset)]
        name, source = asset, ", ".join(specs)
    steps = np.diff(stamps)
    if steps.size and (steps != DAY).any():
        k = int(np.flatnonzero(steps != DAY)[0])
        raise InputError(f"need one price per day without gaps: {np.datetime64(int(stamps[k]), 's')} is followed by "
                         f"{np.datetime64(int(stamps[k + 1]), 's')}", file=source, field="timestamp",
                         hint="give a daily close history (e.g. budydeveloper_crypto-dataset/BTC-USD_1d.csv); "
                              "intraday prices go to --intraday")
    if prices.shape[0] < 3:
        raise InputError(f"need a longer daily history, got {prices.shape[0]} prices", file=source)
    return name, stamps, prices


def read_side_series(path: Path, *, names: tuple[str, ...], what: str) -> tuple[np.ndarray, np.ndarray]:
    """(POSIX seconds (m,), values (m,)) of a CSV ``time,value`` (the value column found by ``names``) or a JSON
    array of ``[timestamp_ms, value]`` pairs."""
    from ccm.io.files import require_file
    from ccm.io.prices import parse_timestamp

    require_file(path, what=what)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the {what} file: {err}", file=file) from None
    if path.suffix.lower() == ".json":
        try:
            pairs = json.loads(text)
            stamps = [parse_timestamp(str(p[0])) for p in pairs]
            values = [float(p[1]) for p in pairs]
        except (ValueError, TypeError, IndexError, KeyError, OverflowError) as err:
            raise InputError(f"expected a JSON array of (timestamp_ms, value) pairs ({err})", file=file) from None
    else:
        rows = list(csv.reader(text.splitlines()))
        if not rows:
            raise InputError(f"the {what} file is empty", file=file)
        header = [h.strip().lower() for h in rows[0]]
        time_col = next((header.index(n) for n in SIDE_TIME_COLUMNS if n in header), None)
        value_col = next((header.index(n) for n in names if n in header), None)
        if time_col is None or value_col is None:
            raise InputError(f"unrecognised {what} layout {rows[0]}", file=file, record="header",
                             hint=f"need a time column ({', '.join(SIDE_TIME_COLUMNS)}) and one of {', '.join(names)}")
        stamps, values = [], []
        for line, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            try:
                stamps.append(parse_timestamp(row[time_col]))
            except (ValueError, OverflowError, IndexError):
                raise InputError("unreadable timestamp", file=file, record=f"row {line}",
                                 field=rows[0][time_col]) from None
            try:
                values.append(float(row[value_col]))
            except (ValueError, IndexError):
                raise InputError("not a number", file=file, record=f"row {line}", field=rows[0][value_col]) from None
    array = np.asarray(values, dtype=float)
    if not array.size:
        raise InputError(f"no {what} values", file=file)
    if not np.isfinite(array).all():
        first = int(np.flatnonzero(~np.isfinite(array))[0])
        raise InputError("values must be finite", file=file, record=f"value {first + 1}")
    return np.asarray(stamps, dtype=np.int64), array


def build_series(stamps: np.ndarray, prices: np.ndarray, *, funding: Path | None, implied_vol: Path | None,
                 intraday: Path | None):
    """The DailySeries (returns of day t dated by stamps[t + 1]) with the optional side information."""
    from ccm.analysis.forecast import DailySeries, intraday_realised_variance
    from ccm.analysis.forecast.features import daily_values
    from ccm.io.prices import read_asset_file
    from ccm.scenario.ewma_filter import log_returns

    returns = log_returns(prices[:, None])[:, 0]
    days = stamps[1:]
    extra, names = [], []
    if funding is not None:
        f_stamps, f_values = read_side_series(funding, names=FUNDING_COLUMNS, what="funding rate")
        extra.append(daily_values(days, f_stamps, f_values, how="sum"))
        names.append("funding_daily")
    if implied_vol is not None:
        v_stamps, v_values = read_side_series(implied_vol, names=IMPLIED_VOL_COLUMNS, what="implied volatility")
        if (v_values <= 0).any():
            raise InputError("implied volatility must be > 0", file=str(implied_vol))
        # DVOL is annualised per cent: (v / 100)² / 365 is the daily variance it implies
        extra.append(daily_values(days, v_stamps, (v_values / 100.0) ** 2 / 365.0, how="last"))
        names.append("implied_var_daily")
    realised = None
    if intraday is not None:
        bar_stamps, bar_prices = read_asset_file(intraday)
        realised = intraday_realised_variance(days, bar_stamps, bar_prices)
    for column, name in zip(extra, names, strict=True):
        if np.isnan(column).all():
            raise InputError(f"the {name} series does not overlap the price history's days", record="--funding / "
                             "--implied-vol", hint="use files covering the same dates")
    return DailySeries(returns=returns, realised=realised, extra=np.column_stack(extra) if extra else None,
                       extra_names=tuple(names))


def first_test_origin(stamps: np.ndarray, test_from: str | None) -> int:
    """First test origin: the first return dated on or after ``test_from`` (default: the last 365 days)."""
    from ccm.io.prices import parse_timestamp

    n = stamps.shape[0] - 1
    if test_from is None:
        return max(1, n - DEFAULT_TEST_DAYS)
    try:
        moment = parse_timestamp(test_from)
    except (ValueError, OverflowError):
        raise InputError(f"unreadable date {test_from!r}", record="--test-from", hint="use an ISO date") from None
    origin = int(np.searchsorted(stamps[1:], moment))
    if origin >= n:
        raise InputError(f"--test-from {test_from} is after the last price ({np.datetime64(int(stamps[-1]), 's')})",
                         record="--test-from")
    return origin


def forecast_document(asset: str, stamps: np.ndarray, results: dict, baseline, *, test_start: int,
                      refit_days: int, series) -> dict:
    """The JSON document: the required ``asset, horizon_days, models[model, qlike, mse, n_test], best`` and more."""
    from ccm.analysis.forecast import DAYS_PER_YEAR, qlike_test

    horizon = baseline.horizon_days
    models = []
    for name, r in results.items():
        daily = float(np.sqrt(r.latest_variance / horizon))
        dm_stat, dm_p = qlike_test(r, baseline)
        models.append({"model": name, "qlike": r.qlike, "mse": r.mse, "n_test": r.n_test,
                       "qlike_ratio_vs_ewma": r.qlike / baseline.qlike, "mse_ratio_vs_ewma": r.mse / baseline.mse,
                       "dm_stat_vs_ewma": dm_stat, "dm_pvalue_vs_ewma": dm_p,
                       "n_zero_realised": r.n_zero_realised, "refits": r.refits,
                       "fit_seconds": round(r.fit_seconds, 3),
                       "latest_daily_vol": daily, "latest_annualised_vol": daily * np.sqrt(DAYS_PER_YEAR)})
    day = lambda t: str(np.datetime64(int(stamps[t + 1]), "s").astype("datetime64[D]"))  # noqa: E731 (return t's date)
    return {
        "asset": asset, "horizon_days": horizon, "models": models,
        "best": min(models, key=lambda m: m["qlike"])["model"],
        "best_by": "qlike",
        "test_from": day(test_start), "test_to": day(results[next(iter(results))].origins[-1]),
        "refit_days": refit_days,
        "latest_as_of": day(series.n_days - 1),
        "features": list(series.extra_names) + (["intraday_realised"] if series.realised is not None else []),
        "units": "qlike and mse on the variance of the horizon's summed daily log returns (decimal², mse in "
                 "decimal⁴); latest_daily_vol = sqrt(forecast variance / horizon_days), decimal; annualised × √365; "
                 "realised proxy = sum of squared daily log returns over the horizon",
    }


def forecast_table(doc: dict) -> Table:
    table = Table(title=f"{doc['asset']}: {doc['horizon_days']}-day variance forecasts, out of sample "
                        f"{doc['test_from']} → {doc['test_to']} (refit every {doc['refit_days']} days)",
                  header_style="bold", title_justify="left")
    for col in ("model", "QLIKE", "× EWMA", "DM p", "MSE", "× EWMA", "tests", "refits", "fit s", "vol now (daily)",
                "annualised"):
        table.add_column(col, justify="left" if col == "model" else "right", no_wrap=True)
    for m in doc["models"]:
        style = "bold green" if m["model"] == doc["best"] else ""
        table.add_row(f"[{style}]{m['model']}[/]" if style else m["model"], f"{m['qlike']:.4f}",
                      f"{m['qlike_ratio_vs_ewma']:.3f}", f"{m['dm_pvalue_vs_ewma']:.2f}", f"{m['mse']:.3e}",
                      f"{m['mse_ratio_vs_ewma']:.3f}", f"{m['n_test']:,}", f"{m['refits']:,}",
                      f"{m['fit_seconds']:.2f}", f"{m['latest_daily_vol']:.2%}", f"{m['latest_annualised_vol']:.1%}")
    return table


def print_forecast(console: Console, doc: dict) -> None:
    console.print(forecast_table(doc))
    console.print(f"[dim]best by QLIKE: {doc['best']}; × EWMA < 1 beats RiskMetrics; DM p: Diebold–Mariano "
                  f"p-value of the QLIKE difference to EWMA (small p: the difference is unlikely to be luck). "
                  f"{doc['units']}.[/]")


def forecast(
    prices: list[str] = typer.Argument(..., help="Daily prices: one CSV (a per-asset layout such as Yahoo "
                                       "BTC-USD_1d.csv, or a wide timestamp,BTC,ETH,… file) or ASSET=FILE pairs, as "
                                       "for ccm replay --prices."),
    asset: str | None = typer.Option(None, "--asset", "-a", help="The asset to forecast (needed when PRICES hold "
                                     "several; names a single per-asset file)."),
    model: ModelChoice = typer.Option(ModelChoice.ALL, "--model", help="Model to evaluate, or all."),
    horizon_days: int = typer.Option(1, "--horizon-days", "-H", help="Forecast the variance of the next H days' "
                                     "return."),
    test_from: str | None = typer.Option(None, "--test-from", help="First day of the out-of-sample test (ISO date); "
                                         "models are fitted on the days before it, then refitted on an expanding "
                                         "window. Default: the last 365 days."),
    refit_days: int = typer.Option(30, "--refit-days", help="Refit every N days of the test (30 ≈ monthly)."),
    funding: Path | None = typer.Option(None, "--funding", help="Perpetual funding rates (CSV timestamp,"
                                        "funding_rate, or JSON \\[\\[ms, value], …]): the day's sum is a feature "
                                        "of gbm."),
    implied_vol: Path | None = typer.Option(None, "--implied-vol", help="Implied-volatility index, e.g. Deribit "
                                            "DVOL (CSV date,dvol or JSON \\[\\[ms, value], …], annualised per cent): a "
                                            "feature of gbm."),
    intraday: Path | None = typer.Option(None, "--intraday", help="Intraday prices (e.g. 2-hour BTC_USDT_2h.csv): "
                                         "gbm's realised-variance features use the sum of squared intraday returns."),
    fmt: Format = typer.Option(Format.TABLE, "--format", "-f", help="table for people, json for machines."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout (atomically)."),
) -> None:
    """Forecast an asset's volatility with EWMA (RiskMetrics 0.94), GARCH(1,1), GJR-GARCH and gradient boosting on
    HAR features; compare them out of sample (QLIKE, MSE, and their ratios to EWMA) and show each one's forecast now.

    Example: [bold]ccm forecast BTC=BTC-USD_1d.csv --test-from 2023-01-01 --horizon-days 1 -f json[/bold]
    """
    from ccm.analysis.forecast import BASELINE, MODEL_NAMES, make_forecaster, rolling_evaluation
    from ccm.cli.output import emit

    with exit_on_error():
        if horizon_days < 1:
            raise InputError(f"horizon must be ≥ 1 day, got {horizon_days}", record="--horizon-days")
        if refit_days < 1:
            raise InputError(f"refit step must be ≥ 1 day, got {refit_days}", record="--refit-days")
        name, stamps, closes = load_daily_prices(prices, asset)
        series = build_series(stamps, closes, funding=funding, implied_vol=implied_vol, intraday=intraday)
        start = first_test_origin(stamps, test_from)
        chosen = MODEL_NAMES if model is ModelChoice.ALL else (model.value,)
        results = {}
        with progress(fmt is Format.TABLE or out is not None) as bar:
            for choice in dict.fromkeys((BASELINE, *chosen)):
                task = bar.add_task(choice, total=None)
                results[choice] = rolling_evaluation(
                    make_forecaster(choice, horizon_days=horizon_days), series, test_start=start,
                    refit_every=refit_days, on_refit=lambda done, total, t=task: bar.update(t, completed=done,
                                                                                                  total=total))
        baseline = results[BASELINE]
        shown = {k: results[k] for k in chosen}
        doc = forecast_document(name, stamps, shown, baseline, test_start=start, refit_days=refit_days,
                                series=series)
        emit(fmt, out, doc=doc, table=lambda console: print_forecast(console, doc))

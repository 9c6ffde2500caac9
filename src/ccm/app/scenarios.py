"""Scenario sets by name, as ``ccm stress``, ``ccm recommend``, ``ccm reserves`` and the service's stress jobs
take them: the built-in historical and hypothetical libraries, Monte Carlo and historical simulation from a
price history, or a user's scenario file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ccm.app.histories import price_specs
from ccm.errors import InputError
from ccm.io.files import require_file

SOURCES = ("historical", "hypothetical", "montecarlo", "histsim", "all")
SCENARIO_FILE_SUFFIXES = (".json", ".yaml", ".yml", ".csv")


def library_scenarios(source: str, assets: tuple[str, ...], stable: np.ndarray, *, offered: tuple[str, ...] = SOURCES):
    """The ScenarioSet of ``source`` for ``assets`` (stable: bool mask (n_assets,), stables do not move): historical
    (built-in crypto crashes), hypothetical (standard shocks), all (both), or a scenario file. ``offered`` lists
    the sources the command takes, for the error on an unknown one."""
    from ccm.io.scenarios import load_scenarios
    from ccm.scenario import ScenarioSet, historical_events, standard_hypotheticals

    stable_names = {a for a, s in zip(assets, stable, strict=True) if s}
    if source == "historical":
        return historical_events(assets, stable=stable_names)
    if source == "hypothetical":
        return standard_hypotheticals(assets, stable_names)
    if source == "all":
        return ScenarioSet.concat([historical_events(assets, stable=stable_names),
                                   standard_hypotheticals(assets, stable_names)])
    path = Path(source)
    if not path.exists() and (path.suffix.lower() in SCENARIO_FILE_SUFFIXES or os.sep in source or "/" in source):
        require_file(path, what="scenario")  # a mistyped file name, not an unknown library name
    if not path.exists():
        raise InputError(f"unknown scenario source {source!r}", record="--scenarios",
                         hint=f"use one of {', '.join(offered)} or a scenario file (.json, .yaml, .csv)")
    return load_scenarios(source)


def scenario_label(source: str, offered: tuple[str, ...] = SOURCES) -> str:
    """How a result document names ``source``: the library name, or the scenario file's name without its folder."""
    return source if source in offered else Path(source).name


def build_scenarios(source: str, ctx, *, prices: list[str] | None, paths: int, seed: int, horizon_days: float,
                    distribution: str):
    """The ScenarioSet named by ``source`` (a library name, montecarlo, histsim or a scenario file) for the book of
    ``ctx``."""
    assets = ctx.book.assets
    if source in ("montecarlo", "histsim"):
        from ccm.io.prices import read_prices
        from ccm.scenario import historical_simulation, monte_carlo_from_prices

        specs = price_specs(prices, assets, ctx.haircuts.stable)
        if not specs:
            raise InputError(f"{source} needs a price history and none was found", record="--prices",
                             hint="pass --prices BTC=btc.csv --prices ETH=eth.csv (or one wide CSV), "
                                  "or set CCM_DATA_DIR to the shared market data")
        history = read_prices(specs)  # a bad row is an input error: a dropped day would make a 2-day return look daily
        if source == "histsim":
            return historical_simulation(history.timestamps, history.prices, history.assets,
                                         horizon_days=max(1, round(horizon_days)))
        return monte_carlo_from_prices(history.prices, history.assets, paths=paths,
                                       rng=np.random.default_rng(seed), horizon_days=horizon_days,
                                       distribution=distribution)
    return library_scenarios(source, assets, ctx.haircuts.stable)


__all__ = ["SCENARIO_FILE_SUFFIXES", "SOURCES", "build_scenarios", "library_scenarios", "scenario_label"]

"""Built-in library of historical crypto stress events as a ScenarioSet (kind "historical").

Every number below is a constant computed once from the public price files in ``../shared/data`` (the
directory ``CCM_DATA_DIR`` points to); the comment beside each names its file and the rule. A test
(``tests/scenario/test_historical.py``) recomputes each constant from those files when they are present.

Rules (the same for every event)
--------------------------------
* **Price returns** are close-to-close over the event window: from the close of the day *before* the first
  day to the close of the last day, ``close(last) / close(first − 1 day) − 1``. Source: the Yahoo Finance daily
  files ``budydeveloper_crypto-dataset/<ASSET>-USD_1d.csv`` (UTC days; ``Date,Close,High,Low,Open,Volume``),
  which cover all fourteen assets below from 2017-11-09 (SOL from 2020-04-10, MATIC 2019-04-28, AVAX 2020-07-13,
  DOT 2020-08-20, USDC 2018-10-08).
* **Depegging stablecoins** (``low_assets`` of an event): a daily close hides an intraday depeg, so their
  return is ``min(Low over the window days) / close(first − 1 day) − 1`` from the same file.
* **Assets the data does not cover at the event date** (SOL, AVAX, DOT in March 2020) are absent from the
  event's ``returns``; in the ScenarioSet they follow BTC (the same proxy rule as ``ScenarioSet.for_assets``).
* **Vol moves** are the relative change of the Deribit DVOL index over the same window,
  ``DVOL(last) / DVOL(first − 1 day) − 1`` (DVOL rows are daily closes labelled with the UTC day they close).
  BTC: ``isayggyo_new/dvol_btc.csv`` (``date,dvol``, from 2021-03-24, some gaps), else
  ``kalyar197_eth-dashboard/dvol_btc.json`` (``[timestamp_ms, value]``, from 2022-11-06). ETH:
  ``marcinzieba4-bot_Straddle_With_Hedge/dvol_eth.csv`` (``date,dvol_close``, from 2023-01-01). Where no ETH
  DVOL covers the window, ETH takes the BTC move; other non-stable assets (no liquid listed options) always take
  the BTC move; stablecoins take 0. Before DVOL existed (2020-03-12) the BTC move is a documented assumption.
* **Haircut and liquidity multipliers** are judgement, not data: they say how much harder collateral was to
  sell. They are listed per event with the reason. A liquidity multiplier scales average daily volume
  (0.5 = half the depth), a haircut multiplier scales the collateral haircut.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ccm.scenario.base import ScenarioSet
from ccm.scenario.hypothetical import DEFAULT_STABLECOINS

#: Every asset that appears in at least one event, in column order.
HISTORICAL_ASSETS: tuple[str, ...] = (
    "BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "ADA", "USDC", "USDT", "LTC", "LINK", "AVAX", "DOT", "MATIC",
)
#: Stablecoins of the library: no vol move, never proxied by BTC.
HISTORICAL_STABLECOINS: frozenset[str] = frozenset({"USDC", "USDT"})

PRICE_SOURCE = "budydeveloper_crypto-dataset/{asset}-USD_1d.csv"
DVOL_BTC_CSV = "isayggyo_new/dvol_btc.csv"
DVOL_BTC_JSON = "kalyar197_eth-dashboard/dvol_btc.json"
DVOL_ETH_CSV = "marcinzieba4-bot_Straddle_With_Hedge/dvol_eth.csv"


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoricalEvent:
    """One stress event and its per-asset moves.

    Attributes
    ----------
    key : short identifier (``"ftx"``).
    name : descriptive scenario name, starting with the first day.
    first_day, last_day : the event window, ISO dates (UTC days, inclusive).
    returns : asset → close-to-close return over the window (see the module docstring).
    low_assets : assets whose return uses the window's lowest Low instead of the last close.
    btc_vol_move : relative change of BTC DVOL over the window.
    btc_vol_source : the DVOL file it came from, or None when it is an assumption.
    eth_vol_move : relative change of ETH DVOL, or None when ETH takes the BTC move.
    haircut_multipliers, liquidity_multipliers : asset → factor (judgement; unlisted assets: 1).
    note : what happened and why the window and multipliers are what they are.
    """

    key: str
    name: str
    first_day: str
    last_day: str
    returns: Mapping[str, float]
    low_assets: tuple[str, ...] = ()
    btc_vol_move: float
    btc_vol_source: str | None
    eth_vol_move: float | None = None
    haircut_multipliers: Mapping[str, float] = field(default_factory=dict)
    liquidity_multipliers: Mapping[str, float] = field(default_factory=dict)
    note: str = ""


_NON_STABLE = tuple(a for a in HISTORICAL_ASSETS if a not in HISTORICAL_STABLECOINS)


def _each(assets: Sequence[str], value: float) -> dict[str, float]:
    return dict.fromkeys(assets, value)


HISTORICAL_EVENTS: tuple[HistoricalEvent, ...] = (
    HistoricalEvent(
        key="black-thursday",
        name="2020-03-12 Black Thursday (COVID crash)",
        first_day="2020-03-12",
        last_day="2020-03-12",
        # Yahoo closes, close 2020-03-11 → close 2020-03-12 (PRICE_SOURCE). The one-day window is chosen because
        # 03-12 is the crash day; 03-13 rebounded close-to-close (BTC −29.7% over 03-12..13) although its intraday
        # low was deeper. SOL/AVAX/DOT were not trading yet. The stablecoin closes are as Yahoo prints them
        # (USDT/USDC traded at a premium on some venues that day).
        returns={
            "BTC": -0.37169538560117077,
            "ETH": -0.42347221465293294,
            "BNB": -0.4190461152486469,
            "XRP": -0.3289875909106468,
            "DOGE": -0.29624547811248125,
            "ADA": -0.3956719959237812,
            "USDC": 0.043352271066756654,
            "USDT": 0.054844537125092074,
            "LTC": -0.3617732392248725,
            "LINK": -0.45913036657215944,
            "MATIC": -0.5103128363436777,
        },
        # Assumption (no DVOL before 2021-03-24): implied vols doubled. Deribit BTC at-the-money vol went from
        # roughly 60% to well over 100% that week; +100% is a round, conservative figure.
        btc_vol_move=1.0,
        btc_vol_source=None,
        # Judgement: order books emptied (BitMEX went offline, Maker auctions cleared at zero), so collateral was
        # hard to sell: haircuts ×1.5 and depth halved on every non-stable asset.
        haircut_multipliers=_each(_NON_STABLE, 1.5),
        liquidity_multipliers=_each(_NON_STABLE, 0.5),
        note="COVID liquidity crash; BTC −37% in a day",
    ),
    HistoricalEvent(
        key="may-2021",
        name="2021-05-19 China mining ban crash",
        first_day="2021-05-19",
        last_day="2021-05-19",
        # Yahoo closes, close 2021-05-18 → close 2021-05-19 (PRICE_SOURCE).
        returns={
            "BTC": -0.13766122609163733,
            "ETH": -0.2720034941722024,
            "SOL": -0.37208767607875237,
            "BNB": -0.3326563093673738,
            "XRP": -0.3271577941439642,
            "DOGE": -0.3003307884791516,
            "ADA": -0.2600942792737907,
            "USDC": -9.202791497531226e-05,
            "USDT": 0.0009353953010085014,
            "LTC": -0.3567286431879725,
            "LINK": -0.37238777659712874,
            "AVAX": -0.3649504367064662,
            "DOT": -0.37933517385744975,
            "MATIC": -0.3239030572174416,
        },
        # DVOL_BTC_CSV: 117.01 (2021-05-18) → 124.83 (2021-05-19).
        btc_vol_move=0.06683189470985385,
        btc_vol_source=DVOL_BTC_CSV,
        # Judgement: exchange outages and a cascade of long liquidations: haircuts ×1.25, depth ×0.75.
        haircut_multipliers=_each(_NON_STABLE, 1.25),
        liquidity_multipliers=_each(_NON_STABLE, 0.75),
        note="leveraged-long liquidation cascade; intraday lows were about twice the close-to-close falls",
    ),
    HistoricalEvent(
        key="luna",
        name="2022-05-09 LUNA/UST collapse",
        first_day="2022-05-09",
        last_day="2022-05-12",
        # Yahoo closes, close 2022-05-08 → close 2022-05-12 (PRICE_SOURCE); USDT (which wobbled to 0.9485 on
        # 2022-05-12) is a depegging stablecoin: min Low over 05-09..05-12 ÷ close 2022-05-08 − 1.
        returns={
            "BTC": -0.14714097852410757,
            "ETH": -0.2207615737588925,
            "SOL": -0.40596277002533654,
            "BNB": -0.2419577653772128,
            "XRP": -0.32005710620778294,
            "DOGE": -0.33440946767880886,
            "ADA": -0.35942440437505163,
            "USDC": 0.0005719164015087763,
            "USDT": -0.05137555710907937,
            "LTC": -0.314692565052231,
            "LINK": -0.34241739573049224,
            "AVAX": -0.4107761154688516,
            "DOT": -0.34017928171039313,
            "MATIC": -0.3826221736282649,
        },
        low_assets=("USDT",),
        # DVOL_BTC_CSV: 68.59 (2022-05-08) → 114.58 (2022-05-12).
        btc_vol_move=0.6705059046508237,
        btc_vol_source=DVOL_BTC_CSV,
        # Judgement: the depegging stablecoin ×2 haircut and half depth (as in the USDC event); alts ×1.25.
        haircut_multipliers={**_each(_NON_STABLE, 1.25), "USDT": 2.0},
        liquidity_multipliers={**_each(_NON_STABLE, 0.75), "USDT": 0.5},
        note="algorithmic stablecoin death spiral; contagion to USDT's peg",
    ),
    HistoricalEvent(
        key="celsius",
        name="2022-06-13 Celsius freeze",
        first_day="2022-06-13",
        last_day="2022-06-13",
        # Yahoo closes, close 2022-06-12 → close 2022-06-13 (PRICE_SOURCE).
        returns={
            "BTC": -0.15974726027617203,
            "ETH": -0.16650362093294369,
            "SOL": -0.08297454922123437,
            "BNB": -0.13066998879277247,
            "XRP": -0.10040231279610712,
            "DOGE": -0.16188451878348564,
            "ADA": -0.06788216980091455,
            "USDC": 0.00038502714083743506,
            "USDT": -0.00048646381908934444,
            "LTC": -0.10219191487281654,
            "LINK": -0.0716528830292451,
            "AVAX": -0.07864906499289659,
            "DOT": -0.059036074404339,
            "MATIC": -0.14747697231928014,
        },
        # DVOL_BTC_CSV: 93.99 (2022-06-12) → 106.0 (2022-06-13).
        btc_vol_move=0.12777955101606553,
        btc_vol_source=DVOL_BTC_CSV,
        # Judgement: lender withdrawals frozen, stETH discount: haircuts ×1.25, depth ×0.75 on non-stables.
        haircut_multipliers=_each(_NON_STABLE, 1.25),
        liquidity_multipliers=_each(_NON_STABLE, 0.75),
        note="crypto lender freezes withdrawals",
    ),
    HistoricalEvent(
        key="ftx",
        name="2022-11-08 FTX collapse",
        first_day="2022-11-08",
        last_day="2022-11-09",
        # Yahoo closes, close 2022-11-07 → close 2022-11-09 (PRICE_SOURCE). FTT itself is not in the data.
        returns={
            "BTC": -0.22919371991200388,
            "ETH": -0.29862559241706166,
            "SOL": -0.5290465043303223,
            "BNB": -0.20818518534281394,
            "XRP": -0.2847998540389457,
            "DOGE": -0.33253665628195017,
            "ADA": -0.2137787832975947,
            "USDC": 1.8948155700915237e-05,
            "USDT": -0.0014939095145932724,
            "LTC": -0.2511917357649742,
            "LINK": -0.3003016580418417,
            "AVAX": -0.28505785250293036,
            "DOT": -0.2398769306336116,
            "MATIC": -0.35070891723673714,
        },
        # DVOL_BTC_CSV (the same values are in DVOL_BTC_JSON): 59.48 (2022-11-07) → 114.72 (2022-11-09).
        btc_vol_move=0.9287155346334903,
        btc_vol_source=DVOL_BTC_CSV,
        # Judgement: a venue failed: haircuts ×1.5 and half depth on non-stables; exchange tokens (BNB) ×2.
        haircut_multipliers={**_each(_NON_STABLE, 1.5), "BNB": 2.0},
        liquidity_multipliers=_each(_NON_STABLE, 0.5),
        note="exchange insolvency; SOL (FTX-linked) −53%",
    ),
    HistoricalEvent(
        key="usdc-depeg",
        name="2023-03-10 USDC depeg (SVB failure)",
        first_day="2023-03-10",
        last_day="2023-03-11",
        # Yahoo closes, close 2023-03-09 → close 2023-03-11 (PRICE_SOURCE); USDC is the depegging stablecoin:
        # min Low over 03-10..03-11 (0.8774 on 2023-03-11) ÷ close 2023-03-09 − 1 (its close, 0.9715, hides the
        # depeg).
        returns={
            "BTC": 0.013229307452320205,
            "ETH": 0.030553368547764803,
            "SOL": 0.05302104126595375,
            "BNB": 0.0023992897547653325,
            "XRP": -0.014237009545664536,
            "DOGE": 0.009198763637390028,
            "ADA": -0.007591711690106195,
            "USDC": -0.12260702673544988,
            "USDT": 0.0077040678534474605,
            "LTC": -0.09154173906852858,
            "LINK": 0.008002496182946128,
            "AVAX": 0.016314933737527015,
            "DOT": 0.023601318657946457,
            "MATIC": 0.04817768518921839,
        },
        low_assets=("USDC",),
        # DVOL_BTC_CSV: 54.39 (2023-03-09) → 59.82 (2023-03-11); DVOL_ETH_CSV: 60.78 → 68.47.
        btc_vol_move=0.09983452840595697,
        btc_vol_source=DVOL_BTC_CSV,
        eth_vol_move=0.12652188219809135,
        # Judgement: the depegging stablecoin's haircut ×2 and its depth halved; other assets unchanged.
        haircut_multipliers={"USDC": 2.0},
        liquidity_multipliers={"USDC": 0.5},
        note="USDC reserves stuck at Silicon Valley Bank; USDC traded down to 0.877",
    ),
    HistoricalEvent(
        key="yen-carry",
        name="2024-08-05 yen carry-trade unwind",
        first_day="2024-08-05",
        last_day="2024-08-05",
        # Yahoo closes, close 2024-08-04 → close 2024-08-05 (PRICE_SOURCE).
        returns={
            "BTC": -0.07098647891315102,
            "ETH": -0.10020575290203382,
            "SOL": -0.0593298007488855,
            "BNB": -0.06521050530126005,
            "XRP": -0.06482663730673321,
            "DOGE": -0.08897845894305234,
            "ADA": -0.08950159107238731,
            "USDC": 4.607572787285186e-05,
            "USDT": 0.0006852554760368168,
            "LTC": -0.09908857916866098,
            "LINK": -0.1260133011427923,
            "AVAX": -0.07906320657371657,
            "DOT": -0.10153359621343516,
            "MATIC": -0.08525670146232966,
        },
        # DVOL_BTC_JSON (DVOL_BTC_CSV lacks 2024-08-04): 56.13 (2024-08-04) → 63.08 (2024-08-05);
        # DVOL_ETH_CSV: 68.27 → 76.22.
        btc_vol_move=0.12381970425797251,
        btc_vol_source=DVOL_BTC_JSON,
        eth_vol_move=0.11644939211952554,
        # Judgement: a fast, broad deleveraging in thin Monday-Asia hours: depth ×0.75, haircuts ×1.25.
        haircut_multipliers=_each(_NON_STABLE, 1.25),
        liquidity_multipliers=_each(_NON_STABLE, 0.75),
        note="global risk-off after the BoJ hike; intraday lows about twice the close-to-close falls",
    ),
)


def historical_events(
    assets: Sequence[str] | None = None,
    *,
    stable: Collection[str] = DEFAULT_STABLECOINS,
    events: Sequence[str] | None = None,
    proxy: str | None = "BTC",
) -> ScenarioSet:
    """The built-in historical events as one ScenarioSet (kind "historical", ``dates`` = each first day).

    Parameters
    ----------
    assets : the columns (default :data:`HISTORICAL_ASSETS`). Assets the library lacks follow ``proxy``
        unless they are in ``stable`` (then they do not move), as in :meth:`ScenarioSet.for_assets`.
    stable : stablecoins among ``assets`` (never proxied).
    events : keys of the events to include (default all, in date order).
    proxy : the asset that stands in for uncovered ones (also inside an event: SOL in 2020 follows BTC).

    Returns
    -------
    ScenarioSet with one scenario per event.
    """
    chosen = HISTORICAL_EVENTS
    if events is not None:
        by_key = {e.key: e for e in HISTORICAL_EVENTS}
        unknown = [k for k in events if k not in by_key]
        if unknown:
            raise ValueError(f"unknown historical events {unknown}; known: {sorted(by_key)}")
        chosen = tuple(by_key[k] for k in events)
    n, m = len(chosen), len(HISTORICAL_ASSETS)
    returns = np.zeros((n, m))
    vols = np.zeros((n, m))
    haircuts = np.ones((n, m))
    liquidity = np.ones((n, m))
    for s, event in enumerate(chosen):
        anchor = event.returns.get(proxy, 0.0) if proxy is not None else 0.0
        for a, asset in enumerate(HISTORICAL_ASSETS):
            is_stable = asset in HISTORICAL_STABLECOINS
            returns[s, a] = event.returns.get(asset, 0.0 if is_stable else anchor)
            if not is_stable:
                vols[s, a] = event.eth_vol_move if asset == "ETH" and event.eth_vol_move is not None \
                    else event.btc_vol_move
            haircuts[s, a] = event.haircut_multipliers.get(asset, 1.0)
            liquidity[s, a] = event.liquidity_multipliers.get(asset, 1.0)
    library = ScenarioSet(
        assets=HISTORICAL_ASSETS, names=tuple(e.name for e in chosen), price_returns=returns, vol_shifts=vols,
        haircut_multipliers=haircuts, liquidity_multipliers=liquidity,
        dates=tuple(e.first_day for e in chosen), kind="historical",
    )
    if assets is None:
        return library
    assets = tuple(assets)
    return library.for_assets(assets, [a in stable for a in assets], proxy=proxy)

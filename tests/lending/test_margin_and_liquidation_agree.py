"""The lending margin model and the liquidation step read the same parameters and the same health factor.

On random lending books under each DeFi preset (Aave with eMode categories assigned to random accounts,
Compound, Maker, Liquity in normal mode), three computations must agree account by account:

* the health factor of the margin path (``risk.margin.lending.health_factor`` → ``CoverageResult.health_factor``),
* the health factor of the liquidation path (``params_from_config`` + ``lending_positions`` + ``health_factor_of``),
* and "liquidatable" (HF < 1 with debt) against "coverage ratio < 1" of the margin model, which the lending
  model's maintenance margin Σ c (1 − LT) makes the same boundary (module docstring of risk.margin.lending).

The books are drawn with numpy from a seeded generator; each draw is a different mix of collateral assets,
debt sizes and eMode membership, including accounts with no debt and accounts exactly at risk.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ccm.book import Account
from ccm.enums import MarginModelName
from ccm.io.config import load_config
from ccm.lending.cascade import lending_positions
from ccm.lending.liquidation import health_factor_of, liquidatable, params_from_config
from ccm.lending.rules import AaveRules, EModeCategory
from ccm.risk.coverage import compute_coverage
from ccm.risk.margin.lending import health_factor
from tests.reference.builders import AS_OF
from tests.reference.harness import engine_context

PRICES = {"ETH": 3_000.0, "WETH": 3_000.0, "BTC": 60_000.0, "USDC": 1.0, "DAI": 1.0, "LUSD": 1.0}
COLLATERAL = {"aave-v3": ("WETH", "BTC", "USDC"), "compound-v3": ("ETH", "BTC"), "maker": ("ETH", "BTC"),
              "liquity-v1": ("ETH",)}
DEBT = {"aave-v3": ("DAI", "USDC"), "compound-v3": ("USDC",), "maker": ("DAI",), "liquity-v1": ("LUSD",)}


def random_accounts(protocol: str, rng: np.random.Generator, n: int) -> list[Account]:
    accounts = []
    for i in range(n):
        holdings = {a: float(rng.uniform(0.1, 5.0) * 60_000 / PRICES[a]) for a in COLLATERAL[protocol]
                    if rng.random() < 0.7} or {COLLATERAL[protocol][0]: 10.0}
        value = sum(q * PRICES[a] for a, q in holdings.items())
        if rng.random() < 0.85:  # most accounts borrow, some well past their threshold
            debt_asset = DEBT[protocol][int(rng.integers(len(DEBT[protocol])))]
            owed = value * float(rng.uniform(0.2, 1.1))
            holdings[debt_asset] = holdings.get(debt_asset, 0.0) - owed / PRICES[debt_asset]
        accounts.append(Account(id=f"acct-{i:03d}", collateral=holdings, margin_model=MarginModelName.LENDING))
    return accounts


def preset_config(protocol: str, rng: np.random.Generator, ids: list[str]):
    config = load_config(preset=protocol)
    if protocol == "liquity-v1":  # normal mode: the liquidation step and the margin model share the rule
        config = replace(config, protocol=replace(config.protocol, system_tcr=10.0))
    if protocol == "aave-v3":
        emode = {"eth-correlated": EModeCategory(ltv=0.90, liquidation_threshold=0.93, liquidation_bonus=0.01,
                                                 assets=("WETH",)),
                 "stables": EModeCategory(ltv=0.93, liquidation_threshold=0.95, liquidation_bonus=0.01,
                                          assets=("USDC", "DAI"))}
        members = {acct: str(rng.choice(list(emode))) for acct in ids if rng.random() < 0.4}
        assert isinstance(config.protocol, AaveRules)
        config = replace(config, protocol=replace(config.protocol, emode=emode, account_emode=members))
    return config


@pytest.mark.parametrize("protocol", ["aave-v3", "compound-v3", "maker", "liquity-v1"])
@pytest.mark.parametrize("seed", range(4))
def test_margin_and_liquidation_paths_agree(protocol: str, seed: int):
    rng = np.random.default_rng(1_000 * seed + len(protocol))
    accounts = random_accounts(protocol, rng, 60)
    ids = [a.id for a in accounts]
    config = preset_config(protocol, rng, ids)
    ctx = engine_context([], accounts, PRICES, {}, AS_OF, config)
    assets = ctx.book.assets
    prices = np.array([PRICES[a] for a in assets])

    margin_hf = health_factor(ctx)
    result = compute_coverage(ctx)  # reports no debt (HF = +inf) as null
    np.testing.assert_array_equal(result.health_factor, np.where(np.isinf(margin_hf), np.nan, margin_hf))

    params = params_from_config(config, assets, ctx.book.account_ids)
    rows, collateral, debt, _ = lending_positions(ctx.book.balances, prices, params.liquidation_threshold)
    lt = params.liquidation_threshold[rows] if params.liquidation_threshold.ndim > 1 else params.liquidation_threshold
    liquidation_hf = health_factor_of(collateral, debt, prices, lt)

    borrowers = np.flatnonzero(np.isfinite(margin_hf))
    np.testing.assert_array_equal(rows, borrowers)  # the same accounts carry debt on both paths
    np.testing.assert_allclose(liquidation_hf, margin_hf[rows], rtol=1e-12)

    # liquidatable (HF < 1 with debt) ⇔ coverage below 1, away from the boundary itself
    clear = np.abs(liquidation_hf - 1.0) > 1e-9
    below = liquidatable(collateral, debt, prices, lt)
    np.testing.assert_array_equal(below[clear], (result.coverage_ratio[rows] < 1.0)[clear])
    assert below.any() and (~below).any(), "a draw must hold both liquidatable and safe borrowers"
    if protocol == "aave-v3":
        assert np.ndim(params.liquidation_threshold) == 2  # eMode members got their category's LT

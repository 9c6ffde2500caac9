"""A lending protocol's liquidation cascade along price paths, and Monte Carlo liquidations / bad debt at risk.

Cascade (one path; every array op also runs over a leading batch of paths). Prices start at ``p_0``; at each
step s:

1. **Market move.** ``p ← p × (1 + r_s)`` (the path's simple return for the step).
2. **Rounds to a fixed point.** Liquidate every liquidatable account once under the protocol's rules
   (:func:`ccm.lending.liquidation.liquidate`); what was seized is sold into the market at once, and the net
   USD sold per asset ``N_a = sold_a × p_a`` moves the price by the square-root law

       Δp/p = −k · σ_a · √(N_a / ADV_a)

   (:func:`ccm.market.impact.impact_move` with ``impact_scale = k σ_a / √ADV_a``, σ the *daily* volatility,
   as :func:`ccm.stress.cascade.impact_scale` builds from a config's ``impact_coefficient``, ``volatility``
   and ``adv_usd``; the move is clipped at −99%). The sale executes along a linear book at the average price
   ``p (1 + Δ/2)``; ``|N Δ| / 2`` is the impact cost (the liquidators' slippage). Repeat with the moved prices
   until a round liquidates no one or ``max_rounds`` is reached; an Aave account may be liquidated again in a
   later round while it stays below HF 1.
3. The impacted price is where the next step starts (impact is permanent: no recovery within the horizon).

Reported per step: liquidation events, liquidated value (collateral seized from the liquidated borrowers, USD
at the round's pre-sale price; Liquity's redistributed collateral apart, as it stays with other troves), debt
repaid and bad debt (per protocol, see :mod:`ccm.lending.liquidation`), prices, cumulative price impact.

Risk (Gauntlet / Chaos Labs style, reference/defi.md §4): over Monte Carlo price paths, **VaR** = the
empirical quantile (``numpy.quantile(..., method="inverted_cdf")``, a value one path actually produced) of the
path's total bad debt, **LaR** (liquidations at risk) = the same quantile of the path's total liquidated value;
at 95% (Gauntlet VaR/LaR, Chaos Labs VaR) and 99% (Chaos Labs EVaR, Chainrisk). Paths: zero-drift multivariate
log-normal steps with a daily covariance Σ (EWMA by default, :func:`ccm.scenario.montecarlo.estimate_covariance`),
drawn by :func:`ccm.scenario.montecarlo.monte_carlo` with horizon ``dt`` per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ccm._typing import BoolArray, FloatArray, IntArray
from ccm.division import guarded_ratio
from ccm.errors import InputError
from ccm.lending.liquidation import LIQUITY_V1, PARAMS, LiquidationParams, liquidatable_under, liquidate
from ccm.market.impact import impact_move
from ccm.scenario.montecarlo import monte_carlo

CONFIDENCE = (0.95, 0.99)
#: Collateral cells (paths × accounts × assets) per Monte Carlo chunk: bounds memory to a few tens of MB.
CHUNK_CELLS = 2_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolCascadeResult:
    """A cascade along price paths (… = batch of paths, S = steps, n = accounts, A = assets; USD).

    Attributes
    ----------
    liquidations : int (…, S), liquidation events per step (an account liquidated twice counts twice).
    liquidated_usd : (…, S), collateral seized from liquidated borrowers, at the pre-sale price of its round.
    redistributed_usd : (…, S), Liquity: collateral passed to other troves with redistributed debt (not in
        ``liquidated_usd`` until a trove holding it is liquidated: no coin counts twice).
    debt_repaid_usd, bad_debt_usd, protocol_fee_usd, liquidator_profit_usd, impact_cost_usd : (…, S).
    rounds : int (…, S), rounds that liquidated someone.
    prices : (…, S + 1, A), row 0 the start, row s after step s and its liquidations.
    impact : (…, A), Π over rounds of (1 + impact move) − 1: the price change due to liquidations alone.
    accounts_liquidated : int (…), distinct accounts liquidated at least once.
    pending : int (…), accounts still below HF 1 at the end (round cap, or an Aave dust-blocked call).
    collateral_after : (…, n, A); debt_after : (…, n).
    """

    liquidations: IntArray
    liquidated_usd: FloatArray
    redistributed_usd: FloatArray
    debt_repaid_usd: FloatArray
    bad_debt_usd: FloatArray
    protocol_fee_usd: FloatArray
    liquidator_profit_usd: FloatArray
    impact_cost_usd: FloatArray
    rounds: IntArray
    prices: FloatArray
    impact: FloatArray
    accounts_liquidated: IntArray
    pending: IntArray
    collateral_after: FloatArray
    debt_after: FloatArray

    @property
    def total_liquidations(self) -> IntArray:
        return self.liquidations.sum(axis=-1)

    @property
    def total_liquidated_usd(self) -> FloatArray:
        return self.liquidated_usd.sum(axis=-1)

    @property
    def total_bad_debt_usd(self) -> FloatArray:
        return self.bad_debt_usd.sum(axis=-1)


def run_protocol_cascade(
    collateral: FloatArray,
    debt_usd: FloatArray,
    prices: FloatArray,
    returns: FloatArray,
    params: LiquidationParams,
    *,
    impact_scale: FloatArray,
    debt_assets: FloatArray | None = None,
    stability_pool_usd: FloatArray | float = 0.0,
    max_rounds: int = 50,
) -> ProtocolCascadeResult:
    """Run the cascade (module docstring) along one or a batch of price paths.

    Parameters
    ----------
    collateral : ndarray (n_accounts, n_assets), coins; or (…, n_accounts, n_assets) per path.
    debt_usd : ndarray (n_accounts,) or (…, n_accounts), USD.
    prices : ndarray (n_assets,), USD at the start.
    returns : ndarray (…, n_steps, n_assets), simple returns of each step (> −1).
    params : the protocol's liquidation rules.
    impact_scale : ndarray (n_assets,), k σ_daily / √ADV per asset (0 = the asset does not move).
    debt_assets : optional ndarray (n_accounts, n_assets) or (…, n_accounts, n_assets), the borrowed coins;
        then the debt is revalued at every round's prices (``debt_usd`` must equal ``debt_assets @ prices``) and
        a liquidation repays every borrowed asset of the account pro rata. None = the debt is a stablecoin.
        The liquidators' purchases of the debt asset do not move its price.
    stability_pool_usd : Liquity's Stability Pool, scalar or (…).
    max_rounds : at most this many liquidation rounds per step.
    """
    r = np.asarray(returns, dtype=float)
    scale = np.asarray(impact_scale, dtype=float)
    if r.ndim < 2 or r.shape[-1] != params.n_assets:
        raise InputError(f"returns must have shape (…, n_steps, {params.n_assets}), got {r.shape}", record=PARAMS,
                         field="returns")
    if not np.all(np.isfinite(r)) or np.any(r <= -1.0):
        raise InputError("returns must be finite and > −1", record=PARAMS, field="returns")
    if scale.shape != (params.n_assets,) or not np.all(scale >= 0) or np.any(np.isnan(scale)):
        raise InputError(f"impact_scale must be {params.n_assets} numbers ≥ 0", record=PARAMS, field="impact_scale")
    if max_rounds < 1:
        raise InputError("max_rounds must be ≥ 1", record=PARAMS, field="max_rounds")
    batch, n_steps = r.shape[:-2], r.shape[-2]
    n_paths = int(np.prod(batch, dtype=np.int64))
    a = params.n_assets
    q0 = np.asarray(collateral, dtype=float)
    if q0.ndim < 2 or q0.shape[-1] != a:
        raise InputError(f"collateral must have shape (…, n_accounts, {a}), got {q0.shape}", record=PARAMS,
                         field="collateral")
    n = q0.shape[-2]
    # Internally one flat path axis B; reshaped to the caller's batch at the end.
    q = np.broadcast_to(q0, batch + (n, a)).reshape(n_paths, n, a).copy()
    debt = np.broadcast_to(np.asarray(debt_usd, dtype=float), batch + (n,)).reshape(n_paths, n).copy()
    p = np.broadcast_to(np.asarray(prices, dtype=float), (n_paths, a)).copy()
    pool = np.broadcast_to(np.asarray(stability_pool_usd, dtype=float), batch).reshape(n_paths).copy()
    steps = r.reshape(n_paths, n_steps, a)
    dq = None
    if debt_assets is not None:
        d0 = np.asarray(debt_assets, dtype=float)
        if d0.shape[-2:] != (n, a) or not np.all(np.isfinite(d0)) or np.any(d0 < 0):
            raise InputError(f"debt_assets must be coins ≥ 0 of shape (…, {n}, {a}), got {d0.shape}", record=PARAMS,
                             field="debt_assets")
        dq = np.broadcast_to(d0, batch + (n, a)).reshape(n_paths, n, a).copy()
        if not np.allclose(np.matmul(dq, p[..., None])[..., 0], debt, rtol=1e-9, atol=1e-6):
            raise InputError("debt_usd must equal debt_assets @ prices", record=PARAMS, field="debt_usd")

    per_step = {name: np.zeros((n_paths, n_steps)) for name in (
        "liquidated_usd", "redistributed_usd", "debt_repaid_usd", "bad_debt_usd", "protocol_fee_usd",
        "liquidator_profit_usd", "impact_cost_usd")}
    count = np.zeros((n_paths, n_steps), dtype=np.int64)
    rounds = np.zeros((n_paths, n_steps), dtype=np.int64)
    impact = np.ones((n_paths, a))
    ever = np.zeros((n_paths, n), dtype=bool)
    path = [p.copy()]
    coupled = params.protocol == LIQUITY_V1  # Stability Pool order and redistribution tie a path's accounts
    per_account = params.liquidation_threshold.ndim > 1 or params.bonus.ndim > 1 or params.protocol_fee.ndim > 1

    def flat(acc: IntArray) -> LiquidationParams:
        """The rules for a flat batch of (path, account) entries, (m, 1, A) per-account arrays."""
        if not per_account:
            return params
        sub = params.for_accounts(acc)
        return replace(sub, **{k: getattr(sub, k)[:, None, :] if getattr(sub, k).ndim > 1 else getattr(sub, k)
                               for k in ("liquidation_threshold", "bonus", "protocol_fee")})
    for s in range(n_steps):
        p = p * (1.0 + steps[:, s, :])
        live = np.arange(n_paths)  # paths whose prices moved since their accounts were last checked
        for _ in range(max_rounds):
            if dq is not None:  # borrowed coins revalued at the moved prices
                debt[live] = np.matmul(dq[live], p[live][..., None])[..., 0]
            at, acc = np.nonzero(liquidatable_under(q[live], debt[live], p[live], params))
            at = live[at]
            if at.size == 0:
                break
            if coupled:
                rows = np.unique(at)
                out = liquidate(q[rows], debt[rows], p[rows], params, stability_pool_usd=pool[rows])
                if dq is not None:
                    dq[rows] *= _ratio_after(debt[rows], out.debt_after)[..., None]
                q[rows], debt[rows], pool[rows] = out.collateral_after, out.debt_after, out.stability_pool_after_usd
                hit = out.liquidated
                ever[rows] |= hit
                owner = np.repeat(rows, n)
                sold = np.zeros((n_paths, a))
                sold[rows] = out.sold
            else:  # accounts are independent: liquidate only the eligible ones, one flat batch
                out = liquidate(q[at, acc][:, None, :], debt[at, acc][:, None], p[at], flat(acc))
                if dq is not None:
                    dq[at, acc] *= _ratio_after(debt[at, acc], out.debt_after[:, 0])[:, None]
                q[at, acc], debt[at, acc] = out.collateral_after[:, 0], out.debt_after[:, 0]
                hit = out.liquidated[:, 0]
                ever[at, acc] |= hit
                owner = at
                sold = np.zeros((n_paths, a))
                np.add.at(sold, at, out.sold)
            if not hit.any():
                break
            for name in ("debt_repaid_usd", "bad_debt_usd", "protocol_fee_usd", "liquidator_profit_usd"):
                per_step[name][:, s] += np.bincount(owner, getattr(out, name).ravel(), minlength=n_paths)
            per_step["liquidated_usd"][:, s] += np.bincount(owner, out.seized_usd.ravel(), minlength=n_paths)
            per_step["redistributed_usd"][:, s] += np.bincount(owner, out.redistributed_collateral_usd.ravel(),
                                                               minlength=n_paths)
            hits = np.bincount(owner, hit.ravel(), minlength=n_paths).astype(np.int64)
            count[:, s] += hits
            rounds[:, s] += hits > 0
            sold_usd = sold * p
            move = impact_move(sold_usd, scale)
            per_step["impact_cost_usd"][:, s] += (np.abs(sold_usd * move) / 2.0).sum(axis=-1)
            p = p * (1.0 + move)
            impact = impact * (1.0 + move)
            live = np.flatnonzero(hits > 0)  # elsewhere neither prices nor balances changed
        path.append(p.copy())
    pending = liquidatable_under(q, debt, p, params).sum(axis=-1)
    return ProtocolCascadeResult(
        liquidations=count.reshape(batch + (n_steps,)), rounds=rounds.reshape(batch + (n_steps,)),
        prices=np.stack(path, axis=-2).reshape(batch + (n_steps + 1, a)), impact=(impact - 1.0).reshape(batch + (a,)),
        accounts_liquidated=ever.sum(axis=-1).reshape(batch), pending=pending.reshape(batch),
        collateral_after=q.reshape(batch + (n, a)), debt_after=debt.reshape(batch + (n,)),
        **{name: v.reshape(batch + (n_steps,)) for name, v in per_step.items()})


def _ratio_after(before: FloatArray, after: FloatArray) -> FloatArray:
    """after / before where before > 0, else 0: how much of each borrowed coin is left."""
    return guarded_ratio(after, before, otherwise=0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidationRiskResult:
    """Monte Carlo liquidations and bad debt over a horizon (USD; one entry per confidence level).

    Attributes
    ----------
    confidence : the levels, e.g. (0.95, 0.99).
    bad_debt_var : VaR of the path's total bad debt at each level.
    liquidations_at_risk : LaR: the same quantile of the path's liquidated value (collateral seized).
    liquidation_count_at_risk : the same quantile of the path's number of liquidations.
    paths, horizon_days, steps : the simulation.
    bad_debt, liquidated_usd, redistributed_usd, impact_cost_usd : (paths,) per path totals;
    liquidations : int (paths,).
    worst_price_impact : (n_assets,), the most negative cumulative impact any path saw.
    """

    confidence: tuple[float, ...]
    bad_debt_var: FloatArray
    liquidations_at_risk: FloatArray
    liquidation_count_at_risk: FloatArray
    paths: int
    horizon_days: float
    steps: int
    bad_debt: FloatArray
    liquidated_usd: FloatArray
    liquidations: IntArray
    redistributed_usd: FloatArray
    impact_cost_usd: FloatArray
    worst_price_impact: FloatArray

    @property
    def expected_bad_debt(self) -> float:
        return float(self.bad_debt.mean())

    @property
    def expected_liquidated_usd(self) -> float:
        return float(self.liquidated_usd.mean())


def simulate_step_returns(assets: Sequence[str], covariance: FloatArray, *, paths: int, steps: int,
                          step_days: float, rng: np.random.Generator, distribution: str = "normal") -> FloatArray:
    """Simple returns of ``paths`` paths of ``steps`` independent steps of ``step_days`` each, (paths, steps,
    n_assets): zero-drift log-normal (or Student-t) steps with covariance ``step_days × Σ`` (Σ daily), drawn
    with :func:`ccm.scenario.montecarlo.monte_carlo`."""
    if int(steps) < 1:
        raise InputError("steps must be ≥ 1", record="model", field="steps")
    draws = monte_carlo(assets, covariance, paths=int(paths) * int(steps), rng=rng, horizon_days=step_days,
                        distribution=distribution)
    return draws.price_returns.reshape(int(paths), int(steps), len(tuple(assets)))


def empirical_quantile(values: FloatArray, confidence: Sequence[float]) -> FloatArray:
    """The ``inverted_cdf`` quantile: the smallest observed value with at least ``c`` of the paths at or below."""
    return np.quantile(np.asarray(values, dtype=float), list(confidence), method="inverted_cdf")


def liquidations_at_risk(
    collateral: FloatArray,
    debt_usd: FloatArray,
    prices: FloatArray,
    assets: Sequence[str],
    covariance: FloatArray,
    params: LiquidationParams,
    *,
    impact_scale: FloatArray,
    paths: int,
    rng: np.random.Generator,
    debt_assets: FloatArray | None = None,
    horizon_days: float = 1.0,
    steps_per_day: int = 1,
    stability_pool_usd: float = 0.0,
    confidence: Sequence[float] = CONFIDENCE,
    distribution: str = "normal",
    max_rounds: int = 50,
    on_chunk=None,
) -> LiquidationRiskResult:
    """Monte Carlo VaR of bad debt and liquidations at risk (module docstring).

    Parameters
    ----------
    collateral : (n_accounts, n_assets) coins; debt_usd : (n_accounts,) USD; prices : (n_assets,) USD.
    assets : the n_assets names; covariance : (n_assets, n_assets) daily log-return covariance.
    params, impact_scale, debt_assets, stability_pool_usd, max_rounds : as :func:`run_protocol_cascade`.
    paths : Monte Carlo paths; rng : the generator; horizon_days : the horizon (1 = 24 h).
    steps_per_day : cascade steps per day (the horizon is split into ⌈horizon × steps_per_day⌉ equal steps).
    confidence : quantile levels, each in (0, 1).
    on_chunk : optional callback(done_paths, total_paths) for progress.

    Paths are drawn first, then cascaded in chunks of at most ``CHUNK_CELLS`` collateral cells.
    """
    conf = tuple(float(c) for c in confidence)
    if not conf or not all(0.0 < c < 1.0 for c in conf):
        raise InputError("confidence levels must be in (0, 1)", record="model", field="confidence")
    if not horizon_days > 0 or int(steps_per_day) < 1:
        raise InputError("horizon_days must be > 0 and steps_per_day ≥ 1", record="model", field="horizon_days")
    if int(paths) < 1:
        raise InputError("paths must be ≥ 1", record="model", field="paths")
    steps = max(1, int(np.ceil(horizon_days * int(steps_per_day) - 1e-9)))
    returns = simulate_step_returns(assets, covariance, paths=paths, steps=steps, step_days=horizon_days / steps,
                                    rng=rng, distribution=distribution)
    q = np.asarray(collateral, dtype=float)
    chunk = max(1, CHUNK_CELLS // max(1, q.size))
    bad, liq, count, cost, impact, moved = [], [], [], [], [], []
    for start in range(0, int(paths), chunk):
        res = run_protocol_cascade(q, debt_usd, prices, returns[start:start + chunk], params,
                                   impact_scale=impact_scale, debt_assets=debt_assets,
                                   stability_pool_usd=stability_pool_usd,
                                   max_rounds=max_rounds)
        bad.append(res.total_bad_debt_usd)
        liq.append(res.total_liquidated_usd)
        count.append(res.total_liquidations)
        cost.append(res.impact_cost_usd.sum(axis=-1))
        moved.append(res.redistributed_usd.sum(axis=-1))
        impact.append(res.impact)
        if on_chunk is not None:
            on_chunk(min(int(paths), start + chunk), int(paths))
    bad_all, liq_all, count_all = np.concatenate(bad), np.concatenate(liq), np.concatenate(count)
    return LiquidationRiskResult(
        confidence=conf,
        bad_debt_var=empirical_quantile(bad_all, conf),
        liquidations_at_risk=empirical_quantile(liq_all, conf),
        liquidation_count_at_risk=empirical_quantile(count_all, conf),
        paths=int(paths), horizon_days=float(horizon_days), steps=steps,
        bad_debt=bad_all, liquidated_usd=liq_all, liquidations=count_all, impact_cost_usd=np.concatenate(cost),
        redistributed_usd=np.concatenate(moved),
        worst_price_impact=np.concatenate(impact).min(axis=0))


def lending_positions(balances, prices: FloatArray, liquidation_threshold: FloatArray,
                      accounts: BoolArray | None = None) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """The lending side of a book's balances: (rows, collateral, debt_usd, debt_assets) of the accounts with debt.

    Parameters
    ----------
    balances : scipy.sparse matrix (n_accounts, n_assets), signed coin balances (a Book's ``balances``).
    prices : (n_assets,) USD; liquidation_threshold : (n_assets,) or per account (n_accounts, n_assets).
    accounts : optional bool (n_accounts,), the accounts to consider (e.g. those on the lending model).

    Returns
    -------
    rows : int (m,), the accounts with debt; collateral : (m, n_assets) coins, positive balances of assets
    with LT > 0 (others cannot be seized: a base-asset supply, zero-weight assets); debt_usd : (m,), Σ of the
    negative balances at ``prices``; debt_assets : (m, n_assets) coins borrowed (the negative balances, > 0).
    """
    bal = balances.tocsr()
    debt = np.asarray(bal.multiply(-1.0).maximum(0.0) @ np.asarray(prices, dtype=float), dtype=float).ravel()
    rows = np.flatnonzero((debt > 0) if accounts is None else (debt > 0) & np.asarray(accounts, dtype=bool))
    dense = np.asarray(bal[rows].toarray(), dtype=float)
    lt = np.asarray(liquidation_threshold, dtype=float)
    collateral = np.where((lt[rows] if lt.ndim > 1 else lt) > 0, np.maximum(dense, 0.0), 0.0)
    return rows.astype(np.int64), collateral, debt[rows], np.maximum(-dense, 0.0)


__all__ = ["CONFIDENCE", "LiquidationRiskResult", "ProtocolCascadeResult", "empirical_quantile",
           "lending_positions", "liquidations_at_risk", "run_protocol_cascade", "simulate_step_returns"]

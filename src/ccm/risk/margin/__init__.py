"""Margin models: each maps a RiskContext (and optional per-account moves) to a Requirement.

The registry maps a model name to its function; :func:`margin_requirement` applies each account's
model to its rows (a loop over the few models, never over accounts or positions).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ccm._typing import FloatArray
from ccm.book.book import nonzeros_of_rows
from ccm.enums import MARGIN_MODELS, MarginModelName
from ccm.risk.context import RiskContext
from ccm.risk.margin.base import Requirement
from ccm.risk.margin.derive_pmrm import derive_pmrm_requirement
from ccm.risk.margin.lending import lending_requirement
from ccm.risk.margin.portfolio import portfolio_requirement
from ccm.risk.margin.standard import standard_requirement
from ccm.risk.margin.var import var_margin

ModelFunction = Callable[[RiskContext, FloatArray | None], Requirement]

MODELS: dict[MarginModelName, ModelFunction] = {
    MarginModelName.STANDARD: standard_requirement,
    MarginModelName.PORTFOLIO: portfolio_requirement,
    MarginModelName.LENDING: lending_requirement,
    MarginModelName.VAR: var_margin,  # needs ctx.history (RiskContext.build(..., history=))
    MarginModelName.DERIVE_PMRM: derive_pmrm_requirement,
}


def margin_requirement(ctx: RiskContext, moves: FloatArray | None = None) -> Requirement:
    """Requirement of every account under its own model.

    ``moves``: None, (n_accounts,) or (B, n_accounts) uniform moves (see ``RiskContext``); the IM and MM
    arrays have shape (n_accounts,) or (B, n_accounts) accordingly. Drivers are meaningful without moves.
    """
    codes = np.unique(ctx.model_code)
    if codes.shape[0] == 1:
        return MODELS[MARGIN_MODELS[int(codes[0])]](ctx, moves)
    lead = () if moves is None or moves.ndim == 1 else (moves.shape[0],)
    initial = np.zeros(lead + (ctx.n_accounts,))
    maintenance = np.zeros(lead + (ctx.n_accounts,))
    pos_driver = np.zeros(ctx.book.positions.nnz)
    bal_driver = np.zeros(ctx.book.balances.nnz)
    for code in codes:  # the few margin models, not accounts
        rows = np.flatnonzero(ctx.model_code == code)
        req = MODELS[MARGIN_MODELS[int(code)]](ctx.take(rows), None if moves is None else moves[..., rows])
        initial[..., rows] = req.initial
        maintenance[..., rows] = req.maintenance
        if moves is None:
            pos_driver[nonzeros_of_rows(ctx.book.positions.indptr, rows)] = req.position_driver
            bal_driver[nonzeros_of_rows(ctx.book.balances.indptr, rows)] = req.balance_driver
    return Requirement(initial=initial, maintenance=maintenance, position_driver=pos_driver,
                       balance_driver=bal_driver)


__all__ = ["MODELS", "Requirement", "margin_requirement"]

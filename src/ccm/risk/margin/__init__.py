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
from ccm.risk.margin.lending import lending_requirement
from ccm.risk.margin.portfolio import portfolio_requirement
from ccm.risk.margin.standard import standard_requirement

ModelFunction = Callable[[RiskContext, FloatArray | None], Requirement]

MODELS: dict[MarginModelName, ModelFunction] = {
    MarginModelName.STANDARD: standard_requirement,
    MarginModelName.PORTFOLIO: portfolio_requirement,
    MarginModelName.LENDING: lending_requirement,
}


def margin_requirement(ctx: RiskContext, moves: FloatArray | None = None) -> Requirement:
    """Requirement of every account under its own model, shape (n_accounts,) arrays."""
    codes = np.unique(ctx.model_code)
    if codes.shape[0] == 1:
        return MODELS[MARGIN_MODELS[int(codes[0])]](ctx, moves)
    out = Requirement.zeros(ctx.n_accounts, ctx.book.positions.nnz, ctx.book.balances.nnz)
    for code in codes:
        rows = np.flatnonzero(ctx.model_code == code)
        sub = ctx.take(rows)
        req = MODELS[MARGIN_MODELS[int(code)]](sub, None if moves is None else moves[rows])
        out.initial[rows] = req.initial
        out.maintenance[rows] = req.maintenance
        out.position_driver[nonzeros_of_rows(ctx.book.positions.indptr, rows)] = req.position_driver
        out.balance_driver[nonzeros_of_rows(ctx.book.balances.indptr, rows)] = req.balance_driver
    return out


__all__ = ["MODELS", "Requirement", "margin_requirement"]

"""Serialise :class:`~ccm.lending.metrics.LendingResult`: extra per-account keys of lending accounts and
the ``lending`` section (protocol, Liquity system state, liquidation-drop table) of the metrics JSON."""

from __future__ import annotations

from typing import Any

import numpy as np

from ccm.io.numbers import json_number
from ccm.lending.metrics import LendingResult, drop_table


def lending_account_fields(lending: LendingResult) -> list[dict[str, Any]]:
    """Per account (in result order): ``borrowing_capacity``, ``available_to_borrow``, ``liquidation_drop``
    and ``liquidation_price`` ({asset: USD price at which HF = 1, others fixed}); null for other accounts."""
    n = lending.health_factor.shape[0]
    prices: list[dict[str, float]] = [{} for _ in range(n)]
    for k in np.flatnonzero(np.isfinite(lending.liquidation_price)):
        prices[lending.balance_account[k]][lending.assets[lending.balance_asset[k]]] = float(
            lending.liquidation_price[k])
    is_lending = ~np.isnan(lending.debt_usd)
    return [
        {
            "borrowing_capacity": json_number(lending.borrowing_capacity[i]),
            "available_to_borrow": json_number(lending.available_to_borrow[i]),
            "liquidation_drop": json_number(lending.liquidation_drop[i]),
            "liquidation_price": prices[i] if is_lending[i] else None,
        }
        for i in range(n)
    ]


def lending_system_record(lending: LendingResult) -> dict[str, Any]:
    """The document's ``lending`` section."""
    table = drop_table(lending)
    return {
        "protocol": lending.protocol,
        "accounts": int(np.count_nonzero(~np.isnan(lending.debt_usd))),
        "total_debt": json_number(np.nansum(lending.debt_usd)),
        "recovery_mode": lending.recovery_mode,
        "tcr": json_number(lending.tcr),
        "liquidatable_by_drop": [
            {"drop": float(d), "accounts": int(a), "debt": float(debt), "collateral": float(c)}
            for d, a, debt, c in zip(table.drops, table.accounts, table.debt_usd, table.collateral_usd, strict=True)
        ],
    }

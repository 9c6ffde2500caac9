"""Shared fixtures for the io tests: a small book document that uses every feature of the format."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

BOOK: dict[str, Any] = {
    "instruments": [
        {"id": "BTC-PERPETUAL", "type": "perpetual", "underlying": "BTC", "settlement": "inverse"},
        {
            "id": "BTC-28MAR25",
            "type": "future",
            "underlying": "BTC",
            "settlement": "inverse",
            "expiry": "2025-03-28T08:00:00Z",
        },
        {
            "id": "BTC-28MAR25-90000-C",
            "type": "option",
            "underlying": "BTC",
            "settlement": "inverse",
            "expiry": "2025-03-28T08:00:00+00:00",
            "strike": 90000,
            "right": "call",
        },
        {"id": "ETH_USDC-PERPETUAL", "type": "perpetual", "underlying": "ETH"},
        {
            "id": "SOL_USDC-27JUN25-150-P",
            "type": "option",
            "underlying": "SOL",
            "settlement_asset": "USDC",
            "expiry": "2025-06-27T08:00:00.250000Z",
            "strike": 150.5,
            "right": "put",
        },
        {"id": "BTC_USDT", "type": "spot", "underlying": "BTC", "settlement_asset": "USDT"},
    ],
    "accounts": [
        {
            "id": "acc-1",
            "margin_model": "standard",
            "collateral": {"BTC": 1.25, "USDC": 10000.1},
            "positions": [
                {"instrument": "BTC-PERPETUAL", "quantity": -50000, "entry_price": 84000.5},
                {"instrument": "BTC-PERPETUAL", "quantity": 10000},
                {"instrument": "BTC-28MAR25", "quantity": 1000, "entry_price": 86000},
                {"instrument": "ETH_USDC-PERPETUAL", "quantity": 3.3, "entry_price": 2100.25},
            ],
        },
        {
            "id": "acc-2",
            "margin_model": "portfolio",
            "collateral": {"BTC": 2.0, "ETH": 10},
            "positions": [
                {"instrument": "BTC-28MAR25-90000-C", "quantity": -1.5},
                {"instrument": "SOL_USDC-27JUN25-150-P", "quantity": 20},
                {"instrument": "BTC-28MAR25-90000-C", "quantity": 0.5},
            ],
        },
        {"id": "acc-3", "margin_model": "lending", "collateral": {"ETH": 5, "USDC": -7000.0}},
        {
            "id": "acc-4",
            "collateral": {"SOL": 100},
            "positions": [{"instrument": "BTC_USDT", "quantity": 0.1}],
        },
        {"id": "acc-5"},
    ],
}


@pytest.fixture
def book_doc() -> dict[str, Any]:
    """A fresh deep copy of the sample book document (tests mutate it)."""
    return copy.deepcopy(BOOK)


def _write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def write_json():
    """``write_json(path, data) -> path``."""
    return _write_json


@pytest.fixture
def book_json(tmp_path: Path, book_doc: dict[str, Any]) -> Path:
    return _write_json(tmp_path / "book.json", book_doc)

"""Kill an engine that writes through the store mid-stream, restart it from the store: its state equals a
from-scratch evaluation of the original book plus every committed fill, and no acknowledged fill is lost."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

from ccm.book import Account, Instrument, Position, build_book
from ccm.enums import InstrumentType, MarginModelName, OptionRight, Settlement
from ccm.io.book import load_book
from ccm.io.config import load_config
from ccm.io.market import load_market
from ccm.risk.metrics import evaluate
from ccm.store import open_store
from ccm.store.live import LiveBook
from tests.store.test_store_crash import run_and_kill

ROOT = Path(__file__).resolve().parents[2]
BOOK, MARKET = ROOT / "examples" / "book.json", ROOT / "examples" / "market.json"
WRITER = Path(__file__).with_name("live_writer.py")
_spec = importlib.util.spec_from_file_location("ccm_test_live_writer", WRITER)
_writer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_writer)


def _kill_after(url: str, acks: int) -> list[tuple[int, int]]:
    return run_and_kill([sys.executable, str(WRITER), url, str(BOOK), str(MARKET)], acks, cwd=ROOT)


def _reference_book(fills: list[tuple]):
    """The example book with every fill appended as a position at its price (build_book merges them)."""
    doc = json.loads(BOOK.read_text())
    instruments = [Instrument(id=i["id"], type=InstrumentType(i["type"]), underlying=i["underlying"],
                              settlement=Settlement(i.get("settlement", "linear")),
                              settlement_asset=i.get("settlement_asset", "USDC"),
                              expiry=datetime.fromisoformat(i["expiry"]) if "expiry" in i else None,
                              strike=i.get("strike"), right=OptionRight(i["right"]) if "right" in i else None)
                   for i in doc["instruments"]]
    extra: dict[str, list[Position]] = {}
    for account, instrument, quantity, price, _at in fills:
        extra.setdefault(account, []).append(Position(instrument=instrument, quantity=quantity, entry_price=price))
    accounts = [Account(id=a["id"], collateral=a.get("collateral", {}),
                        margin_model=MarginModelName(a["margin_model"]) if "margin_model" in a else None,
                        positions=tuple(Position(instrument=p["instrument"], quantity=p["quantity"],
                                                 entry_price=p.get("entry_price")) for p in a.get("positions", []))
                        + tuple(extra.get(a["id"], [])))
                for a in doc["accounts"]]
    return build_book(instruments, accounts)


def test_restarted_engine_has_every_acknowledged_fill(store_url):
    first = _kill_after(store_url, 40)
    second = _kill_after(store_url, 20)  # the restarted writer rebuilt itself and carried on
    acked = dict(first + second)
    assert min(s for s, _ in second) > max(s for s, _ in first)

    store = open_store(store_url)
    try:
        records = store.audit()
        seqs = [r.seq for r in records]
        assert seqs == list(range(1, len(seqs) + 1))
        assert set(acked) <= set(seqs) and len(seqs) - max(acked) <= 1
        fills = [_writer.fill(seq) for seq in seqs]  # seq i carries fill i (the writer numbers from last_seq)
        for record, (account, instrument, quantity, price, at) in zip(records, fills, strict=True):
            assert (record.account, record.instrument, record.quantity, record.price, record.at) == (
                account, instrument, quantity, price, at)
        market, config = load_market(MARKET), load_config(None)
        live = LiveBook.open(store, market, config)
    finally:
        store.close()
    expected = evaluate(_reference_book(fills), market, config, with_distance=False).result
    got = live.engine.metrics
    assert list(got.account_ids) == list(expected.account_ids)
    for name in ("equity", "adjusted_equity", "initial_margin", "maintenance_margin"):
        np.testing.assert_allclose(getattr(got, name), getattr(expected, name), rtol=1e-9, atol=1e-6)
    assert load_book(BOOK).n_accounts == got.n_accounts

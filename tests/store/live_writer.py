"""Test helper: a LiveBook (engine + store) trading until killed, printing ``seq i`` per acknowledged fill.

    python live_writer.py URL BOOK MARKET

Fill ``i`` is :func:`fill` — the test recomputes it from ``i``. The example book is saved first if the store
has none, so a restart continues on the same book.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from ccm.io.book import load_book_columns
from ccm.io.config import load_config
from ccm.io.market import load_market
from ccm.store import open_store
from ccm.store.live import LiveBook

ACCOUNTS = ("trader-btc-long", "trader-eth-short", "basis-btc", "mm-options-1", "idle")
INSTRUMENTS = (("BTC-PERPETUAL", 97_000.0, 1_000.0), ("ETH_USDC-PERPETUAL", 2_650.0, 0.5),
               ("BTC-28MAR25-100000-C", 0.05, 0.1))
BASE = datetime(2025, 2, 10, 8, tzinfo=UTC)


def fill(i: int) -> tuple[str, str, float, float, datetime]:
    instrument, price, lot = INSTRUMENTS[i % len(INSTRUMENTS)]
    side = 1 if i % 2 else -1
    return ACCOUNTS[i % len(ACCOUNTS)], instrument, side * lot * (1 + i % 4), price * (1 + (i % 7 - 3) / 1000), \
        BASE + timedelta(milliseconds=i)


def main(url: str, book: str, market: str) -> None:
    store = open_store(url)
    if not store.books():
        store.save_book(load_book_columns(book), name="example")
    live = LiveBook.open(store, load_market(market), load_config(None))
    i = live.last_seq
    while True:
        i += 1
        seq = live.trade(*fill(i))
        sys.stdout.write(f"{seq} {i}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(*sys.argv[1:4])

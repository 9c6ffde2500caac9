"""Test helper: append trades to a store until killed, printing ``seq i`` for each acknowledged one.

    python store_writer.py URL

Trade ``i`` (1, 2, 3, …) is account ``acc-{i % 7}``, instrument ``BTC-PERPETUAL``, quantity ``i``,
price ``1000 + i / 8``, at ``2021-05-19T00:00:00Z + i ms``: the test recomputes them from ``i``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from ccm.store import open_store

BASE = datetime(2021, 5, 19, tzinfo=UTC)


def trade(i: int) -> tuple[str, str, float, float, datetime]:
    return f"acc-{i % 7}", "BTC-PERPETUAL", float(i), 1000.0 + i / 8, BASE + timedelta(milliseconds=i)


def main(url: str) -> None:
    store = open_store(url)
    i = 0
    while True:
        i += 1
        seq = store.append_trade(*trade(i))
        sys.stdout.write(f"{seq} {i}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])

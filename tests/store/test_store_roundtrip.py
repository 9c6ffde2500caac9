"""Round trips of books, the audit log, snapshots and alerts through SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from ccm.errors import InputError
from ccm.io.book import book_to_dict
from ccm.store import AuditRecord, StoreError, rebuild

T0 = datetime(2021, 5, 19, 12, 0, tzinfo=UTC)


# --- books ------------------------------------------------------------------------------------------------

def test_book_round_trip(store, columns):
    book_id = store.save_book(columns, "venue")
    loaded = store.load_book(book_id)
    assert book_to_dict(loaded) == book_to_dict(columns)
    # and the same Book comes out of both (an independent check of the columns → document → columns path)
    a, b = columns.build(), loaded.build()
    assert list(a.account_ids) == list(b.account_ids) and a.assets == b.assets
    np.testing.assert_array_equal(a.positions.toarray(), b.positions.toarray())
    np.testing.assert_array_equal(a.balances.toarray(), b.balances.toarray())
    np.testing.assert_array_equal(a.instruments.strike, b.instruments.strike)
    np.testing.assert_array_equal(a.instruments.expiry_s, b.instruments.expiry_s)
    np.testing.assert_array_equal(a.margin_model, b.margin_model)


def test_latest_book_and_book_list(store, columns):
    first = store.save_book(columns, "first", at=T0)
    second = store.save_book(columns, "second", at=T0 + timedelta(hours=1))
    assert second > first
    assert store.book_info().id == second and store.book_info(first).name == "first"
    assert [(b.id, b.name) for b in store.books()] == [(first, "first"), (second, "second")]
    assert store.book_info(first).created_at == T0
    assert book_to_dict(store.load_book()) == book_to_dict(columns)


def test_missing_book_is_an_input_error(store, columns):
    with pytest.raises(InputError, match="holds no book"):
        store.load_book()
    with pytest.raises(InputError, match="holds no book"):
        rebuild(store)
    store.save_book(columns, "venue")
    with pytest.raises(InputError, match="no book with id 99"):
        store.load_book(99)


# --- audit log --------------------------------------------------------------------------------------------

def test_audit_round_trip_in_seq_order(store, columns):
    assert store.append_trade("x", "BTC-PERPETUAL", 1.0, 50_000.0, T0) == 1  # before any book
    book_id = store.save_book(columns, "venue")
    # a record appended with an earlier time still goes after: the log is ordered by acknowledgement
    assert store.append_transfer("x", "USDC", -2500.5, T0 - timedelta(days=1)) == 2
    assert store.append_trade("y", "BTC-28MAR25", -0.25, 61_000.5, T0 + timedelta(seconds=1)) == 3
    records = store.audit()
    assert records == [
        AuditRecord(seq=1, at=T0, kind="trade", account="x", instrument="BTC-PERPETUAL", asset=None,
                    quantity=1.0, price=50_000.0, book_id=None),
        AuditRecord(seq=2, at=T0 - timedelta(days=1), kind="transfer", account="x", instrument=None, asset="USDC",
                    quantity=-2500.5, price=None, book_id=book_id),
        AuditRecord(seq=3, at=T0 + timedelta(seconds=1), kind="trade", account="y", instrument="BTC-28MAR25",
                    asset=None, quantity=-0.25, price=61_000.5, book_id=book_id),
    ]
    assert [r.seq for r in store.audit(since_seq=1)] == [2, 3]
    assert store.audit(since_seq=3) == [] and store.last_seq() == 3


def test_audit_seq_is_dense_over_many_appends(store):
    seqs = [store.append_trade(f"a{k % 5}", "BTC-PERPETUAL", float(k), 100.0 + k, T0) for k in range(50)]
    assert seqs == list(range(1, 51))
    assert [r.quantity for r in store.audit()] == [float(k) for k in range(50)]


def test_times_are_utc_and_naive_times_are_refused(store):
    plus2 = timezone(timedelta(hours=2))
    store.append_trade("a", "BTC-PERPETUAL", 1.0, 1.0, datetime(2021, 5, 19, 14, 0, tzinfo=plus2))
    (record,) = store.audit()
    assert record.at == T0 and record.at.tzinfo == UTC
    with pytest.raises(InputError, match="naive"):
        store.append_trade("a", "BTC-PERPETUAL", 1.0, 1.0, datetime(2021, 5, 19))
    default = store.append_transfer("a", "BTC", 1.0)
    assert store.audit(since_seq=default - 1)[0].at.tzinfo == UTC


@pytest.mark.parametrize("args, field", [
    (("", "BTC-PERPETUAL", 1.0, 1.0), "account"),
    (("a", "BTC-PERPETUAL", float("nan"), 1.0), "quantity"),
    (("a", "BTC-PERPETUAL", 1.0, 0.0), "price"),
    (("a", "BTC-PERPETUAL", 1.0, float("inf")), "price"),
])
def test_bad_trades_are_refused_and_not_logged(store, args, field):
    with pytest.raises(InputError) as info:
        store.append_trade(*args)
    assert info.value.field == field
    assert store.audit() == []


def test_rebuild_gives_the_latest_book_and_the_records_after_it(store, columns):
    store.append_trade("mm-1", "BTC-PERPETUAL", 1.0, 60_000.0, T0)
    store.save_book(columns, "checkpoint")  # includes seq 1
    store.append_trade("mm-1", "BTC-PERPETUAL", 2.0, 60_100.0, T0)
    store.append_transfer("dir-2", "USDC", 5_000.0, T0)
    book, records = rebuild(store)
    assert book_to_dict(book) == book_to_dict(columns)
    assert [r.seq for r in records] == [2, 3]
    # a book saved by an engine that has applied only up to seq 2
    store.save_book(columns, "engine state", through_seq=2)
    assert [r.seq for r in rebuild(store)[1]] == [3]


# --- snapshots --------------------------------------------------------------------------------------------

def _metrics():
    return {
        "account": np.array(["a", "b", "c", "d"]),
        "adjusted_equity": np.array([150.0, 90.0, -5.0, 10.0]),
        "maintenance_margin": np.array([100.0, 100.0, 50.0, 0.0]),
        "initial_margin": np.array([150.0, 150.0, 75.0, 0.0]),
        "coverage_ratio": np.array([1.5, 0.9, -0.1, np.inf]),  # d: unbounded
        "status": np.array([0, 3, 4, 0]),  # codes into ccm.enums.STATUSES
    }


SYSTEM = {"total_adjusted_equity": 245.0, "total_maintenance_margin": 250.0, "system_coverage_ratio": 0.98,
          "total_shortfall": 65.0, "accounts_by_status": {"healthy": 2, "liquidation": 1, "bankrupt": 1}}


def test_snapshot_round_trip(store):
    assert store.write_snapshots(T0, system=SYSTEM, **_metrics()) == 4
    m = _metrics()
    m["adjusted_equity"] = m["adjusted_equity"] * 2
    m["status"] = np.array(["healthy", "healthy", "warning", "healthy"])
    store.write_snapshots(T0 + timedelta(hours=1), system={**SYSTEM, "system_coverage_ratio": float("inf")}, **m)

    history = store.account_history("b")
    assert [(s.at, s.adjusted_equity, s.status) for s in history] == [
        (T0, 90.0, "liquidation"), (T0 + timedelta(hours=1), 180.0, "healthy")]
    assert (history[0].maintenance_margin, history[0].initial_margin, history[0].coverage_ratio) == (100, 150, 0.9)
    assert [s.coverage_ratio for s in store.account_history("d")] == [None, None]
    assert [s.status for s in store.account_history("c")] == ["bankrupt", "warning"]
    assert [s.at for s in store.account_history("a", start=T0 + timedelta(minutes=1))] == [T0 + timedelta(hours=1)]
    assert [s.at for s in store.account_history("a", end=T0)] == [T0]
    assert store.account_history("nobody") == []

    system = store.system_history()
    assert [s.at for s in system] == [T0, T0 + timedelta(hours=1)]
    assert system[0].accounts_by_status == SYSTEM["accounts_by_status"]
    assert (system[0].system_coverage_ratio, system[1].system_coverage_ratio) == (0.98, None)
    assert system[0].total_shortfall == 65.0 and system[0].total_maintenance_margin == 250.0
    assert [s.at for s in store.system_history(T0 + timedelta(seconds=1), T0 + timedelta(days=1))] == [
        T0 + timedelta(hours=1)]


def test_snapshot_of_the_same_instant_twice_is_refused_whole(store):
    store.write_snapshots(T0, system=SYSTEM, **_metrics())
    later = T0 + timedelta(hours=1)
    m = _metrics()
    m["account"] = np.array(["e", "f", "a", "g"])
    store.write_snapshots(later, **m)
    with pytest.raises(StoreError, match="already stored"):
        store.write_snapshots(later, system=SYSTEM, **_metrics())  # a, b, c, d: 'a' collides
    assert store.account_history("b") == [store.account_history("b")[0]] and len(store.system_history()) == 1


def test_bad_snapshot_input_is_refused(store):
    m = _metrics()
    m["maintenance_margin"] = np.array([1.0, np.nan, 1.0, 1.0])
    with pytest.raises(InputError) as info:
        store.write_snapshots(T0, **m)
    assert info.value.field == "maintenance_margin" and info.value.record == "account b"
    with pytest.raises(InputError, match="unknown status"):
        store.write_snapshots(T0, **{**_metrics(), "status": np.array(["healthy", "fine", "healthy", "healthy"])})
    with pytest.raises(InputError, match="lacks total_shortfall"):
        store.write_snapshots(T0, system={k: v for k, v in SYSTEM.items() if k != "total_shortfall"})
    assert store.account_history("a") == [] and store.system_history() == []


# --- alerts -----------------------------------------------------------------------------------------------

def test_alert_round_trip(store):
    first = store.append_alert("coverage_below_warning", {"coverage_ratio": np.float64(1.19), "threshold": 1.2},
                               account="a", at=T0)
    second = store.append_alert("system_coverage", {"system_coverage_ratio": float("inf"), "n": np.int64(3),
                                                    "at": T0}, at=T0 + timedelta(minutes=5))
    third = store.append_alert("decline_rate", {"drop": 0.31, "window_s": 3600}, account="b",
                               at=T0 + timedelta(minutes=10))
    assert first < second < third
    every = store.alerts()
    assert [(a.id, a.account, a.rule) for a in every] == [
        (first, "a", "coverage_below_warning"), (second, None, "system_coverage"), (third, "b", "decline_rate")]
    assert every[0].values == {"coverage_ratio": 1.19, "threshold": 1.2} and every[0].at == T0
    assert every[1].values == {"system_coverage_ratio": None, "n": 3, "at": "2021-05-19T12:00:00Z"}
    assert [a.id for a in store.alerts(since=T0 + timedelta(minutes=5))] == [second, third]
    assert [a.id for a in store.alerts(account="b")] == [third]
    assert store.alerts(since=T0 + timedelta(minutes=6), account="a") == []


def test_concurrent_appenders_get_distinct_dense_seqs(store):
    """Appenders on several connections at once: every seq handed out once, none skipped."""
    from concurrent.futures import ThreadPoolExecutor

    def append(worker: int) -> list[int]:
        return [store.append_trade(f"w{worker}", "BTC-PERPETUAL", float(k), 100.0, T0) for k in range(25)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        seqs = [seq for batch in pool.map(append, range(4)) for seq in batch]
    assert sorted(seqs) == list(range(1, 101))
    records = store.audit()
    assert [r.seq for r in records] == list(range(1, 101))
    for worker in range(4):  # each worker's own trades are logged in the order it made them
        assert [r.quantity for r in records if r.account == f"w{worker}"] == [float(k) for k in range(25)]


def test_status_enum_members_are_accepted(store):
    from ccm.enums import Status

    m = _metrics()
    m["status"] = np.array([Status.HEALTHY, Status.LIQUIDATION, Status.BANKRUPT, Status.MARGIN_CALL], dtype=object)
    store.write_snapshots(T0, **m)
    assert [store.account_history(a)[0].status for a in "abcd"] == ["healthy", "liquidation", "bankrupt",
                                                                     "margin_call"]

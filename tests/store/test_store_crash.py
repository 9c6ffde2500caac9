"""Kill a writer with SIGKILL mid-stream, reopen the store: every acknowledged trade is there, in order,
without holes, and a restarted writer continues the sequence."""

from __future__ import annotations

import importlib.util
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from ccm.store import open_store, rebuild

WRITER = Path(__file__).with_name("store_writer.py")
_spec = importlib.util.spec_from_file_location("ccm_test_store_writer", WRITER)
_writer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_writer)
trade = _writer.trade  # what the writer appends as its i-th trade

ACKS_BEFORE_KILL = 200
TIMEOUT_S = 60


def _read_acks(proc: subprocess.Popen, wanted: int) -> bytes:
    """Output of the writer until ``wanted`` acknowledgements arrived (or the writer died)."""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    buffer = b""
    deadline = time.monotonic() + TIMEOUT_S
    while buffer.count(b"\n") < wanted:
        assert time.monotonic() < deadline, "the writer acknowledged too few trades in time"
        if not selector.select(timeout=1):
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        buffer += chunk
    selector.close()
    return buffer


def _run_and_kill(url: str) -> list[tuple[int, int]]:
    return run_and_kill([sys.executable, str(WRITER), url], ACKS_BEFORE_KILL)


def run_and_kill(command: list[str], acks: int, **popen) -> list[tuple[int, int]]:
    """Start a writer that prints ``seq i`` per acknowledged write, SIGKILL it after ``acks`` lines, and return
    every complete acknowledgement it printed (a torn last line is none)."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)
    try:
        buffer = _read_acks(proc, acks)
        assert proc.poll() is None, f"the writer died by itself: {proc.stderr.read().decode()}"
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: the writer is appending as fast as it can
        proc.wait(timeout=TIMEOUT_S)
        buffer += proc.stdout.read()  # acknowledgements printed before the kill count too
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    complete = buffer[: buffer.rfind(b"\n") + 1].decode().splitlines()  # a torn last line is no acknowledgement
    return [(int(seq), int(i)) for seq, i in (line.split() for line in complete)]


def _check(store, acks: list[tuple[int, int]]) -> None:
    records = {r.seq: r for r in store.audit()}
    for seq, i in acks:
        record = records.get(seq)
        assert record is not None, f"acknowledged seq {seq} was lost"
        account, instrument, quantity, price, at = trade(i)
        assert (record.kind, record.account, record.instrument, record.quantity, record.price, record.at) == (
            "trade", account, instrument, quantity, price, at)
    seqs = sorted(records)
    assert seqs == list(range(1, len(seqs) + 1)), "the audit sequence has holes"
    # at most the one in-flight trade can be stored without its acknowledgement having been printed
    assert max(s for s, _ in acks) <= len(seqs) <= max(s for s, _ in acks) + 1


def test_no_acknowledged_trade_is_lost_when_the_writer_is_killed(store_url, columns):
    with open_store(store_url) as store:
        book_id = store.save_book(columns, "venue")

    first = _run_and_kill(store_url)
    assert len(first) >= ACKS_BEFORE_KILL
    assert [s for s, _ in first] == list(range(1, len(first) + 1))  # acknowledged in order, densely

    with open_store(store_url) as store:
        _check(store, first)
        stored_after_first = store.last_seq()

    # restart: a second writer continues the sequence where the stored log ends, and is killed too
    second = _run_and_kill(store_url)
    assert second[0][0] == stored_after_first + 1
    with open_store(store_url) as store:
        _check(store, first + second)
        book, records = rebuild(store)
        assert store.book_info().id == book_id and len(records) == store.last_seq()
        assert all(r.book_id == book_id for r in records)

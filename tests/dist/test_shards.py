"""Account shards and scenario chunks: contiguous, covering, balanced."""

from __future__ import annotations

import numpy as np
import pytest

from ccm.dist.shards import SHARD_ACCOUNTS_MAX, default_shards, ranges, shard_book


@pytest.mark.parametrize(("n", "parts"), [(10, 3), (7, 7), (5, 9), (1, 4), (1_000_001, 8)])
def test_ranges_cover_every_item_once_in_order(n, parts):
    out = ranges(n, parts)
    assert len(out) == min(n, parts)
    assert out[0].start == 0 and out[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(out[:-1], out[1:], strict=True))
    sizes = [s.stop - s.start for s in out]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


def test_nothing_to_split_gives_one_empty_range():
    assert ranges(0, 4) == [slice(0, 0)]
    with pytest.raises(ValueError):
        ranges(3, 0)


def test_default_shards_two_per_worker_and_bounded_in_size():
    assert default_shards(3_000, 2) == 4
    assert default_shards(10 * SHARD_ACCOUNTS_MAX + 1, 2) == 11
    assert default_shards(0, 0) == 2


def test_shards_of_a_book_are_its_rows(venue):
    _, book = venue
    parts = ranges(book.n_accounts, 3)
    subs = shard_book(book, parts)
    assert np.array_equal(np.concatenate([s.account_ids for s in subs]), book.account_ids)
    assert sum(s.positions.nnz for s in subs) == book.positions.nnz
    assert sum(s.balances.nnz for s in subs) == book.balances.nnz
    middle = subs[1]
    rows = np.arange(parts[1].start, parts[1].stop)
    assert (middle.positions != book.positions[rows]).nnz == 0
    assert (middle.balances != book.balances[rows]).nnz == 0

"""Local clusters: one thread per worker process, without Dask's malloc trim threshold; bad options refused."""

from __future__ import annotations

import os

import pytest

from ccm.dist.cluster import WORKER_ENV_UNSET, cluster_client, worker_count
from ccm.errors import InputError


def _environment() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in (*WORKER_ENV_UNSET, "OMP_NUM_THREADS")}


def test_local_cluster_workers_start_without_the_trim_threshold():
    with cluster_client(workers=1) as client:
        assert worker_count(client) == 1
        (env,) = client.run(_environment).values()
        (threads,) = client.nthreads().values()
    assert env["MALLOC_TRIM_THRESHOLD_"] is None
    assert env["OMP_NUM_THREADS"] == "1" and threads == 1  # the rest of Dask's worker settings are kept


@pytest.mark.parametrize(("scheduler", "workers", "message"), [
    ("tcp://127.0.0.1:1", 2, "not both"), (None, None, "needs --scheduler or --workers"),
    ("127.0.0.1:8786", None, "no protocol"), (None, 0, "must be ≥ 1"),
])
def test_bad_options_are_input_errors(scheduler, workers, message):
    with pytest.raises(InputError, match=message), cluster_client(scheduler, workers):
        pass

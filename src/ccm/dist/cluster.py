"""Connect to a Dask cluster: an existing scheduler (``tcp://HOST:PORT``) or a local cluster of N processes."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import dask
from distributed import Client, LocalCluster, as_completed

from ccm.errors import CcmError, InputError

#: Seconds to wait for a scheduler (and its first worker) before giving up.
CONNECT_TIMEOUT_S = 20
#: Variables Dask's nanny sets in its workers that ccm's local clusters leave unset. With
#: ``MALLOC_TRIM_THRESHOLD_`` set, glibc stops raising its mmap threshold, so every chunk's large temporaries
#: are mapped fresh and page-faulted again: measured 1.5× the CPU of a stress run (250k accounts × 200
#: scenarios: 4.95 s against 3.22 s in one process with and without it).
WORKER_ENV_UNSET = ("MALLOC_TRIM_THRESHOLD_",)
#: Re-runs of a task that raised (a worker that died is handled by the scheduler, which reassigns its
#: tasks up to ``distributed.scheduler.allowed-failures`` times, 3 by default).
TASK_RETRIES = 2


def local_cluster(workers: int) -> LocalCluster:
    """``workers`` worker processes, one thread each (the numerical core is single-threaded numpy/numba).

    The scheduler's HTTP server (dashboard) on a free port, so runs side by side do not collide; processes so
    a worker's death is isolated. Workers start without Dask's ``MALLOC_TRIM_THRESHOLD_`` (see
    :data:`WORKER_ENV_UNSET`).
    """
    unset = {f"distributed.nanny.pre-spawn-environ.{name}": None for name in WORKER_ENV_UNSET}
    with dask.config.set(unset):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")


@contextmanager
def cluster_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Client]:
    """A Client on ``scheduler`` or, without it, on a new local cluster of ``workers`` processes (closed on exit).

    Raises InputError (record ``--scheduler`` / ``--workers``) for both or neither, a bad address, or a
    scheduler that cannot be reached or has no worker.
    """
    if scheduler is not None and workers is not None:
        raise InputError("give --scheduler or --workers, not both", record="--scheduler",
                         hint="--scheduler uses an existing cluster; --workers N starts a local one")
    if scheduler is None and workers is None:
        raise InputError("a cluster needs --scheduler or --workers", record="--scheduler")
    if workers is not None:
        if workers < 1:
            raise InputError(f"--workers must be ≥ 1, got {workers}", record="--workers")
        with local_cluster(workers) as cluster, Client(cluster) as client:
            yield client
        return
    if "://" not in scheduler:
        raise InputError(f"scheduler address {scheduler!r} has no protocol", record="--scheduler",
                         hint="use tcp://HOST:PORT (the address `dask scheduler` prints)")
    try:
        client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}", record="--scheduler",
                         hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`") from None
    try:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except TimeoutError:
            raise InputError(f"the Dask scheduler at {scheduler} has no worker", record="--scheduler",
                             hint=f"start workers with `dask worker {scheduler}`") from None
        yield client
    finally:
        client.close()


def worker_count(client: Client) -> int:
    """Workers currently connected to the client's scheduler."""
    return len(client.scheduler_info(n_workers=-1)["workers"])


def broadcast(client: Client, value: Any) -> Any:
    """``value`` copied once to every worker (a Future to pass to tasks); replicas survive a worker's loss."""
    return client.scatter(value, broadcast=True, hash=False)


@dataclass(frozen=True, slots=True)
class _InputFailure:
    """A task's bad-input error, returned as its value (the same input fails the same way on every attempt)."""

    error: CcmError


def _guarded(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with a CcmError returned as an :class:`_InputFailure` instead of raised (no retry)."""
    try:
        return fn(*args)
    except CcmError as error:
        return _InputFailure(error)


def run_tasks(
    client: Client,
    fn: Callable[..., Any],
    arguments: Sequence[tuple],
    *,
    name: str,
    retries: int = TASK_RETRIES,
    on_done: Callable[[int, int], None] | None = None,
) -> list[Any]:
    """``fn(*args)`` for each tuple of ``arguments`` on the cluster; results in the order of ``arguments``.

    Arguments that are not Futures travel inside the task (so the scheduler can run the task again on
    another worker if its worker dies). Keys are explicit (no hashing of large arguments). A task that
    raises is retried ``retries`` times, then its exception is raised here. ``on_done(done, total)`` after
    each finished task (progress). A task that raises a CcmError (bad input: the same on every attempt) is not
    retried: the first such error is raised here, as in one process.
    """
    token = uuid4().hex[:12]
    with warnings.catch_warnings():  # large tasks are deliberate: a shard inside its task can be re-run anywhere
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        futures = [client.submit(_guarded, fn, *args, key=f"ccm-{name}-{token}-{k}", retries=retries, pure=False)
                   for k, args in enumerate(arguments)]
    try:
        for done, _ in enumerate(as_completed(futures), start=1):
            if on_done is not None:
                on_done(done, len(futures))
        results = client.gather(futures)
    finally:
        client.cancel(futures)
    failed = next((r.error for r in results if isinstance(r, _InputFailure)), None)
    if failed is not None:
        raise failed
    return results


__all__ = ["CONNECT_TIMEOUT_S", "TASK_RETRIES", "WORKER_ENV_UNSET", "broadcast", "cluster_client", "local_cluster",
           "run_tasks", "worker_count"]

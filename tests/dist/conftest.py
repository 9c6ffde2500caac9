"""One small local Dask cluster (2 worker processes, one thread each) and a demo venue for the dist tests."""

from __future__ import annotations

import numpy as np
import pytest

from ccm.dist.cluster import local_cluster
from ccm.io.config import load_config
from ccm.synthetic import generate_venue

ACCOUNTS = 2_000


@pytest.fixture(scope="session")
def cluster():
    with local_cluster(2) as running:
        yield running


@pytest.fixture(scope="session")
def client(cluster):
    from distributed import Client

    with Client(cluster) as connected:
        yield connected


@pytest.fixture(scope="session")
def venue():
    """The demo venue (a few thousand accounts of every archetype) and its book."""
    generated = generate_venue(ACCOUNTS, rng=np.random.default_rng(20250210))
    return generated, generated.columns.build()


@pytest.fixture(scope="session")
def config():
    return load_config(None)

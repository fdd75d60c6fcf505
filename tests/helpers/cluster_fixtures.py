"""PostgreSQL and Ray for the tests, started once per test run (conftest.py imports these).

`postgres_server`: a throwaway PostgreSQL (generation.cluster.localpg) for the session; `pg_url`:
a fresh database on it for one test. `ray_session`: one local Ray for the whole run (starting one
takes 3 s on an idle machine, 15 s on a busy one), with slots for GPU workers as a custom resource;
`ray_nodes` is the same Ray as a cluster a test can add nodes to. Each test's cluster gets its own
name (namespace, actors, channels) and shuts its actors down after itself.
"""

from __future__ import annotations

import os
import uuid

import pytest

RAY_WORKER_SLOTS = 4  # the most workers a test's cluster runs at once


@pytest.fixture(scope="session")
def postgres_server():
    from generation.cluster.localpg import LocalPostgres, find_bindir

    if find_bindir() is None:
        why = "PostgreSQL is not installed (.ci/run installs it: apt-get install -y postgresql)"
        if os.environ.get("IMAGINE_REQUIRE_POSTGRES"):
            pytest.fail(why)
        pytest.skip(why)
    server = LocalPostgres()
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
async def pg_url(postgres_server):
    """A new database for this test; dropped afterwards."""
    from generation.cluster.localpg import create_database, drop_database

    name = f"test_{uuid.uuid4().hex[:12]}"
    url = await create_database(postgres_server, name)
    yield url
    await drop_database(postgres_server, name)


@pytest.fixture(scope="session")
def ray_nodes():
    """A local Ray started once for the test run, as a `ray.cluster_utils.Cluster` (this process is
    its driver): a head node with GPU-worker slots (a custom resource), to which a test can add and
    remove nodes."""
    pytest.importorskip("ray")
    import ray
    from ray.cluster_utils import Cluster

    from generation.cluster.runtime import WORKER_RESOURCE

    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 2,
            "resources": {WORKER_RESOURCE: RAY_WORKER_SLOTS},
            "include_dashboard": False,
        },
    )
    # (workers' logs stay in Ray's session folder, /tmp/ray/session_latest/logs, not in the test output)
    ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="session")
def ray_session(ray_nodes):
    """The address of the test run's Ray."""
    import ray

    return ray.get_runtime_context().gcs_address

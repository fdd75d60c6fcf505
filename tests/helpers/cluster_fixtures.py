"""PostgreSQL and Ray for the tests, started once per test run (conftest.py imports these).

`postgres_server`: a throwaway PostgreSQL (generation.cluster.localpg) for the session; `pg_url`:
a fresh database on it for one test. `ray_session`: one local Ray for the whole run (starting one
takes about 3 s), with slots for GPU workers as a custom resource; each test's cluster gets its own
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
def ray_session():
    """The address of a local Ray started once for the test run (this process is its driver)."""
    ray = pytest.importorskip("ray")
    from generation.cluster.runtime import WORKER_RESOURCE

    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            resources={WORKER_RESOURCE: RAY_WORKER_SLOTS},
            include_dashboard=False,
            logging_level="WARNING",
            log_to_driver=True,
        )
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()

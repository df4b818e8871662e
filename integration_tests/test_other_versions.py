"""The same checks on other PostgreSQL versions, in containers (testcontainers), where Docker runs.

Skipped, with the reason, where testcontainers is not installed (`pip install '.[docker]'`) or no
Docker engine answers — as on the project's CI machines. Images: TVIEWS_TEST_PG_IMAGES
(comma-separated, default postgres:14-alpine,postgres:16-alpine,postgres:17-alpine).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import REPO, DbtProject, divergences, unique_schema  # noqa: E402
from oracle import run  # noqa: E402
from pgtarget import PgTarget  # noqa: E402

IMAGES = [i.strip() for i in os.environ.get(
    "TVIEWS_TEST_PG_IMAGES", "postgres:14-alpine,postgres:16-alpine,postgres:17-alpine").split(",") if i.strip()]


def _docker_available() -> str | None:
    """None when containers can be started, else why not."""
    try:
        import docker  # type: ignore[import-untyped]
        import testcontainers.postgres  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return "testcontainers is not installed (pip install '.[docker]')"
    try:
        docker.from_env().ping()
    except Exception as e:  # noqa: BLE001 - any failure to reach the engine means: no Docker here
        return f"no Docker engine answers ({type(e).__name__})"
    return None


@pytest.fixture(params=IMAGES, scope="module")
def container_pg(request: pytest.FixtureRequest) -> Iterator[PgTarget]:
    reason = _docker_available()
    if reason:
        pytest.skip(reason)
    from testcontainers.postgres import PostgresContainer  # type: ignore[import-untyped]

    with PostgresContainer(request.param, username="postgres", password="postgres", dbname="postgres") as pgc:
        yield PgTarget(pgc.get_container_host_ip(), int(pgc.get_exposed_port(5432)), "postgres", "postgres",
                       "postgres", f"container {request.param}")


def test_example_and_oracle_on_other_versions(container_pg: PgTarget) -> None:
    """On each PostgreSQL version: the example builds and the random oracle finds no divergence."""
    project = DbtProject(container_pg, REPO, REPO, unique_schema())
    try:
        project.run("run-operation", "tviews.example_setup")
        project.run("build")
        with psycopg.connect(container_pg.dsn, autocommit=True) as conn:
            assert divergences(conn, project.schema) == []
            assert run(conn, unique_schema("tvo"), 150, seed=3) == 0
    finally:
        shutil.rmtree(REPO / "target" / project.schema, ignore_errors=True)

"""Seeded random transactions over the example blog: every tview stays equal to its SELECT.

TVIEWS_WORKLOAD_TXNS sets the number of transactions per seed (default 300), TVIEWS_WORKLOAD_SEED
adds a seed of your own to the fixed ones. A failure reports the seed, the failing transaction and
the path of the full log; `python integration_tests/workload.py --seed N --transactions T` replays
it on a fresh build (same seed, same starting data, same transactions).
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
import pytest
from conftest import DbtProject, divergences
from workload import PROJECTS, Workload

pytestmark = [pytest.mark.db, pytest.mark.dbt]

TRANSACTIONS = int(os.environ.get("TVIEWS_WORKLOAD_TXNS", "300"))
SEEDS = [20260101, 7] + ([int(os.environ["TVIEWS_WORKLOAD_SEED"])] if os.environ.get("TVIEWS_WORKLOAD_SEED") else [])


@pytest.mark.parametrize("seed", SEEDS)
def test_random_workload_on_the_example(example_project: DbtProject, conn: psycopg.Connection[Any], seed: int) -> None:
    example_project.run("build")
    assert divergences(conn, example_project.schema) == []
    spec = PROJECTS["example"].workload(example_project.app_schema, example_project.schema)
    with psycopg.connect(example_project.pg.dsn, autocommit=True) as c:
        w = Workload(c, spec, seed)
        w.run(TRANSACTIONS)  # raises WorkloadFailure (seed, log, divergent rows) on the first divergence
    if TRANSACTIONS >= 200:  # the run did exercise what it claims to
        kinds = ["insert", "copy", "upsert", "update", "update_fk", "update_key", "delete", "truncate", "cte",
                 "commit", "rollback", "rollback_to", "release", "settings", "refused"]
        kinds += ["merge"] if conn.info.server_version >= 150000 else []
        assert [k for k in kinds if not w.stats.get(k)] == [], w.stats
        for table in spec.tables:
            written = {k: w.stats.get(f"{k}:{table}", 0) for k in ("insert", "update", "update_fk", "delete")}
            assert written["insert"] and written["delete"] and written["update"] + written["update_fk"], (table, w.stats)
        assert w.in_txn_checks > 0
    assert divergences(conn, example_project.schema) == []

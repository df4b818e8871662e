"""A second dbt project, written as a new user would, installs the package and keeps every shape exact.

integration_tests/shapes_project installs this repository with `packages: [{local: ../..}]`, uses
the `tviews` adapter from its own profiles.yml, creates a shop's source tables with its own
run-operation, and defines tviews of every shape the analysis supports (see the comment at the
top of each model). The test builds it from scratch (deps, setup, build), checks a few computed
values, then drives the random workload over the shop's tables and requires zero divergences.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from conftest import DbtProject, divergences, tview_count, unique_schema
from pgtarget import PgTarget
from workload import PROJECTS, Workload, dbt

pytestmark = [pytest.mark.db, pytest.mark.dbt]

SHAPES = PROJECTS["shapes"]
TRANSACTIONS = int(os.environ.get("TVIEWS_WORKLOAD_TXNS", "300"))
SEED = int(os.environ.get("TVIEWS_WORKLOAD_SEED", "20260102"))


@pytest.fixture()
def shapes(pg: PgTarget, conn: psycopg.Connection[Any]) -> Iterator[DbtProject]:
    project = DbtProject(pg, SHAPES.project_dir, SHAPES.project_dir, unique_schema("tvs"))
    dbt(SHAPES.project_dir, pg.profile_env(project.schema), project.schema, "deps", quiet=True)
    project.run("run-operation", SHAPES.setup_operation)
    yield project
    for s in (project.schema, project.schema + SHAPES.source_suffix):
        conn.execute(f'drop schema if exists "{s}" cascade')
    conn.execute("select tviews.gc()")
    shutil.rmtree(SHAPES.project_dir / "target" / project.schema, ignore_errors=True)


def test_shapes_project_builds_and_stays_exact_under_random_writes(shapes: DbtProject,
                                                                   conn: psycopg.Connection[Any]) -> None:
    result = shapes.run("build")
    s = shapes.schema
    shop = f'"{s}{SHAPES.source_suffix}"'
    models = ("tv_order", "tv_order_line", "tv_product", "tv_category", "tv_customer_stats",
              "tv_customer_spend", "tv_product_sales", "tv_review")
    assert {k: v for k, v in result.statuses().items() if k in models} == {
        "tv_order": "SELECT 3", "tv_order_line": "SELECT 5", "tv_product": "SELECT 4", "tv_category": "SELECT 4",
        "tv_customer_stats": "SELECT 3", "tv_customer_spend": "SELECT 1", "tv_product_sales": "SELECT 4",
        "tv_review": "SELECT 5"}
    assert tview_count(conn, s) == len(models)
    assert conn.execute("select tview_name, key_columns from tviews.tview where tview_schema = %s order by 1",
                        (s,)).fetchall() == [
        ("tv_category", ["pk_category"]), ("tv_customer_spend", ["fk_customer"]),
        ("tv_customer_stats", ["pk_customer"]), ("tv_order", ["id"]), ("tv_order_line", ["fk_order", "line_no"]),
        ("tv_product", ["sku"]), ("tv_product_sales", ["sku"]), ("tv_review", ["pk_review"])]
    assert divergences(conn, s) == []

    def one(sql: str) -> Any:
        return conn.execute(sql.replace("{s}", f'"{s}"').replace("{shop}", shop)).fetchone()[0]

    # a few values computed by each shape, then moved by writes
    assert one("select total from {s}.tv_order where pk_order = 1") == Decimal("165.00")
    assert one("select latest_reviews from {s}.tv_product where sku = 'BK-001'") == [
        {"rating": 5, "by": "Chen"}, {"rating": 2, "by": "anonymous"}, {"rating": 4, "by": "Brian"}]
    assert one("select (parent_name, grandparent_name)::text from {s}.tv_category where pk_category = 3") \
        == "(computing,books)"
    assert one("select statuses from {s}.tv_customer_stats where pk_customer = 2") == ["new", "cancelled"]
    assert one("select spend from {s}.tv_customer_spend where fk_customer = 1") == Decimal("355.50")
    assert one("select category from {s}.tv_product where sku = 'XX-001'") == "uncategorized"
    conn.execute(f"update {shop}.tb_category set name = 'DB' where pk_category = 3")
    conn.execute(f"update {shop}.tb_order set status = 'paid' where pk_order = 3")
    conn.execute(f"insert into {shop}.tb_review (fk_product, fk_customer, rating, body, created_at) "
                 "values (1, 1, 1, 'Changed my mind.', '2026-04-01')")
    conn.execute(f"update {shop}.tb_order_line set quantity = 10 where (fk_order, line_no) = (1, 1)")
    assert divergences(conn, s) == []
    assert one("select category from {s}.tv_order_line where (fk_order, line_no) = (1, 1)") == "DB"
    assert one("select units from {s}.tv_product_sales where sku = 'BK-001'") == 10
    assert one("select spend from {s}.tv_customer_spend where fk_customer = 2") == Decimal("29.97")
    assert one("select (review_count, avg_rating, latest_reviews->0->>'by')::text from {s}.tv_product "
               "where sku = 'BK-001'") == "(5,3.40,Ada)"

    spec = SHAPES.workload(s + SHAPES.source_suffix, s)
    with psycopg.connect(shapes.pg.dsn, autocommit=True) as c:
        w = Workload(c, spec, SEED)
        w.run(TRANSACTIONS)  # raises WorkloadFailure (seed, log, divergent rows) on the first divergence
    for kind in ("insert", "update", "update_fk", "update_key", "delete", "upsert", "rollback_to", "release"):
        assert w.stats.get(kind, 0) > 0, (kind, w.stats)
    for table in spec.tables:
        assert w.stats.get(f"update:{table}", 0) + w.stats.get(f"insert:{table}", 0) > 0, (table, w.stats)
    assert divergences(conn, s) == []
    assert tview_count(conn, s) == len(models)

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
from workload import PROJECTS, Workload, dbt, text_divergences

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
    built = {"tv_order": "SELECT 3", "tv_order_line": "SELECT 5", "tv_product": "SELECT 4", "tv_category": "SELECT 4",
             "tv_customer_stats": "SELECT 3", "tv_customer_spend": "SELECT 1", "tv_product_sales": "SELECT 4",
             "tv_review": "SELECT 5", "tv_customer_flags": "SELECT 1", "tv_category_rollup": "SELECT 0",
             "tv_order_summary": "SELECT 4", "tv_sku_report": "SELECT 5", "tv_review_rank": "SELECT 3"}
    assert {k: v for k, v in result.statuses().items() if k.startswith("tv_")} == built
    assert tview_count(conn, s) == len(built)
    assert conn.execute("select tview_name, key_columns from tviews.tview where tview_schema = %s order by 1",
                        (s,)).fetchall() == [
        ("tv_category", ["pk_category"]), ("tv_category_rollup", ["pk_category"]),
        ("tv_customer_flags", ["pk_customer"]), ("tv_customer_spend", ["fk_customer"]),
        ("tv_customer_stats", ["pk_customer"]), ("tv_order", ["id"]), ("tv_order_line", ["fk_order", "line_no"]),
        ("tv_order_summary", ["pk_order"]), ("tv_product", ["sku"]), ("tv_product_sales", ["sku"]),
        ("tv_review", ["pk_review"]), ("tv_review_rank", ["pk_review"]), ("tv_sku_report", ["sku"])]
    assert divergences(conn, s) == []
    # the window tview is recomputed by partition (the analysis' rewrite passed the install's check)
    assert conn.execute("select recompute is not null from tviews.tview where tview_schema = %s "
                        "and tview_name = 'tv_review_rank'", (s,)).fetchone()[0]

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
    assert one("select array_agg(pk_customer) from {s}.tv_customer_flags") == [1]  # only Ada: UK is a VIP country
    assert one("select (lines, amount, categories)::text from {s}.tv_order_summary where pk_order = 1") \
        == '(2,165.00,"databases, games")'
    assert one("select (name, active, units)::text from {s}.tv_sku_report where sku = 'BK-OLD'") == "(\"Out of print\",f,0)"
    conn.execute(f"update {shop}.tb_category set name = 'DB' where pk_category = 3")
    conn.execute(f"update {shop}.tb_order set status = 'paid' where pk_order = 3")
    conn.execute(f"insert into {shop}.tb_review (fk_product, fk_customer, rating, body, created_at) "
                 "values (1, 1, 1, 'Changed my mind.', '2026-04-01')")
    conn.execute(f"update {shop}.tb_order_line set quantity = 10 where (fk_order, line_no) = (1, 1)")
    conn.execute(f"update {shop}.tb_product set fk_category = 3 where sku = 'BK-002'")  # a group passes HAVING
    conn.execute(f"update {shop}.tb_customer set country = 'UK' where pk_customer = 2")  # IN over other rows
    assert divergences(conn, s) == []
    assert one("select (products, total_price)::text from {s}.tv_category_rollup where pk_category = 3") \
        == "(2,235.50)"
    # Brian joins (a paid order, and UK is a VIP country); Ada leaves (her review rated 1)
    assert one("select array_agg(pk_customer order by 1) from {s}.tv_customer_flags") == [2]
    assert one("select (lines, amount)::text from {s}.tv_order_summary where pk_order = 1") == "(2,570.00)"
    assert one("select units from {s}.tv_sku_report where sku = 'BK-001'") == 10
    conn.execute(f"insert into {shop}.tb_review (fk_product, fk_customer, rating, body, created_at) "
                 "values (3, null, 2, 'golf', '2026-04-02')")  # NOT IN (.., NULL) empties the tview
    assert divergences(conn, s) == []
    assert one("select count(*) from {s}.tv_customer_flags") == 0
    conn.execute(f"delete from {shop}.tb_review where body = 'golf'")
    assert one("select count(*) from {s}.tv_customer_flags") == 1
    assert one("select category from {s}.tv_order_line where (fk_order, line_no) = (1, 1)") == "DB"
    assert one("select units from {s}.tv_product_sales where sku = 'BK-001'") == 10
    assert one("select spend from {s}.tv_customer_spend where fk_customer = 2") == Decimal("29.97")
    assert one("select (review_count, avg_rating, latest_reviews->0->>'by')::text from {s}.tv_product "
               "where sku = 'BK-001'") == "(5,3.40,Ada)"

    spec = SHAPES.workload(s + SHAPES.source_suffix, s)
    with psycopg.connect(shapes.pg.dsn, autocommit=True) as c:
        w = Workload(c, spec, SEED)
        w.run(TRANSACTIONS)  # raises WorkloadFailure (seed, log, divergent rows) on the first divergence
    if TRANSACTIONS >= 200:  # the run did exercise what it claims to
        kinds = ["insert", "copy", "upsert", "update", "update_fk", "update_key", "delete", "cte",
                 "rollback_to", "release"]
        assert [k for k in kinds if not w.stats.get(k)] == [], w.stats
        for table in spec.tables:
            written = {k: w.stats.get(f"{k}:{table}", 0) for k in ("insert", "update", "update_fk", "delete")}
            assert written["insert"] and written["delete"] and written["update"] + written["update_fk"], (table, w.stats)
    assert divergences(conn, s) == []
    assert tview_count(conn, s) == len(built)


def test_values_equal_but_not_identical_reach_the_tview(shapes: DbtProject, conn: psycopg.Connection[Any]) -> None:
    """A write that replaces a value by an equal one that prints differently (numeric 45.00 -> 45.000,
    jsonb 1.5 -> 1.50, json with other spacing) must show in the tview exactly as its SELECT shows it."""
    shapes.run("build")
    s = shapes.schema
    shop = f'"{s}{SHAPES.source_suffix}"'

    def one(sql: str) -> Any:
        return conn.execute(sql.replace("{s}", f'"{s}"').replace("{shop}", shop)).fetchone()[0]

    conn.execute(f"update {shop}.tb_customer set prefs = '{{\"lang\":\"en\"}}' where pk_customer = 1")  # json: no `=`
    conn.execute(f"update {shop}.tb_order_line set unit_price = round(unit_price, 3) where (fk_order, line_no) = (1, 1)")
    conn.execute(f"update {shop}.tb_product set attrs = '{{\"pages\": 880, \"weight\": 1.50}}' where sku = 'BK-001'")
    assert divergences(conn, s) == []  # equal under jsonb comparison, which is what tviews.diff uses
    assert one("select unit_price::text from {shop}.tb_order_line where (fk_order, line_no) = (1, 1)") == "45.000"
    seen = {
        "tv_customer_flags.prefs": one("select prefs::text from {s}.tv_customer_flags where pk_customer = 1"),
        "tv_product.attrs": one("select attrs::text from {s}.tv_product where sku = 'BK-001'"),
        "tv_order_line.(unit_price, amount)": one(
            "select (unit_price, amount)::text from {s}.tv_order_line where (fk_order, line_no) = (1, 1)"),
        "tv_order.total": one("select total::text from {s}.tv_order where pk_order = 1"),
    }
    assert seen == {
        "tv_customer_flags.prefs": '{"lang":"en"}',
        "tv_product.attrs": '{"pages": 880, "weight": 1.50}',
        "tv_order_line.(unit_price, amount)": "(45.000,45.000)",
        "tv_order.total": "165.000",
    }
    assert text_divergences(conn, s) == []

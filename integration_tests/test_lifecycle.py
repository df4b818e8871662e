"""The life of a tview model across dbt runs, in a consumer project that installs the package.

Each test copies integration_tests/consumer_project to a temporary directory (so it can rewrite
model files), points packages.yml at this repository and works in its own schemas.

Shared helpers and fixtures live in consumer.py.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from pathlib import Path

import psycopg
import pytest
from conftest import divergences, unique_schema
from pgtarget import PgTarget

from consumer import (  # noqa: F401 - shared helpers and fixtures
    CONSUMER,
    EXAMPLE_MODELS,
    ConsumerProject,
    make_template,
    copy_project,
    consumer_template,
    mconn,
    consumer,
    q,
    one,
    schema_exists,
    relation_oid,
    catalog_rows,
    tviews_triggers,
    owned_by,
    expected_triggers,
    generated_functions,
    expected_functions,
    tview_functions,
    assert_maintenance_exact,
    model_result,
    customer_sql,
    TV_ORDER_ONE_SOURCE,
)


def test_consumer_project_builds_only_its_own_models(consumer: ConsumerProject, mconn) -> None:
    """dbt build in a project that installs the package builds its own tviews and none of the package's example models."""
    res = consumer.run("build")
    assert set(res.statuses()) >= {"tv_customer", "tv_order", "tv_region"}
    assert not any(name in res.statuses() for name in EXAMPLE_MODELS)
    tables = {r[0] for r in q(mconn, "select table_name::text from information_schema.tables "
                                     "where table_schema = %s", consumer.schema)}
    assert tables == {"tv_customer", "tv_order", "tv_region"}
    assert not any(q(mconn, "select 1 from information_schema.tables where table_name = any(%s) "
                            "and table_schema like %s", list(EXAMPLE_MODELS), consumer.schema + "%"))
    assert catalog_rows(mconn, [consumer.schema]) == {f"{consumer.schema}.{n}" for n in ("tv_customer", "tv_order", "tv_region")}
    assert divergences(mconn, consumer.schema) == []
    assert_maintenance_exact(mconn, consumer)


def test_second_run_is_a_noop_on_a_large_table(pg: PgTarget, consumer_template: Path, tmp_path: Path, mconn) -> None:
    """A second dbt run with the same SQL and config keeps every tview (same OID and relfilenode) and takes seconds on 200k rows."""
    project = copy_project(pg, consumer_template, tmp_path / "project")
    try:
        project.setup(rows=100_000)  # 100k customers, 200k orders
        t0 = time.monotonic()
        project.run("run")
        first = time.monotonic() - t0
        assert one(mconn, f'select count(*) from "{project.schema}".tv_order') == 200_000
        before = {n: relation_oid(mconn, project.schema, n) for n in ("tv_customer", "tv_order", "tv_region")}
        t0 = time.monotonic()
        second = project.run("run")
        elapsed = time.monotonic() - t0
        print(f"\n200k-row tv_order: first dbt run {first:.1f}s, second (no-op) dbt run {elapsed:.1f}s")
        assert second.statuses() == {n: "KEEP (unchanged)" for n in before}
        after = {n: relation_oid(mconn, project.schema, n) for n in before}
        assert after == before
    finally:
        project.drop_all(mconn)


def test_changed_sql_rebuilds_and_replaces_maintenance(consumer: ConsumerProject, mconn) -> None:
    """Changing a model's SQL rebuilds it with the new content, replaces its triggers and functions by exactly the new set, and maintenance keeps working."""
    consumer.run("run")
    s, src = consumer.schema, consumer.src_schema
    old_oid = relation_oid(mconn, s, "tv_order")
    old_functions = expected_functions(mconn, schemas=[s])
    all_functions_before = generated_functions(mconn)
    assert len([t for t in tviews_triggers(mconn, [src]) if owned_by("tv_order", t[1])]) == 8

    consumer.write_model("tv_order", TV_ORDER_ONE_SOURCE)
    res = consumer.run("run")
    assert res.statuses()["tv_order"] == "SELECT 6"
    assert res.statuses()["tv_customer"] == "KEEP (unchanged)"
    assert relation_oid(mconn, s, "tv_order") != old_oid
    new_sql = (f'select o.pk_order, o.fk_customer, o.amount * 2, upper(o.status) from "{src}".tb_order o '
               f"where o.status <> 'cancelled'")
    assert model_result(mconn, f'select * from "{s}".tv_order') == model_result(mconn, new_sql)
    assert divergences(mconn, s) == []

    # exactly the new set: 4 triggers on tb_order for tv_order, none left on tb_customer
    trig = tviews_triggers(mconn, [src])
    assert {t for t in trig if owned_by("tv_order", t[1])} == {
        t for t in expected_triggers(mconn, [s]) if owned_by("tv_order", t[1])}
    assert [t for t in trig if owned_by("tv_order", t[1]) and t[0] == f"{src}.tb_customer"] == []
    assert len([t for t in trig if owned_by("tv_order", t[1])]) == 4
    new_functions = expected_functions(mconn, schemas=[s])
    assert generated_functions(mconn) == (all_functions_before - old_functions) | new_functions
    assert len(new_functions) == len(old_functions) - 2  # tv_order lost its tb_customer trigger and key functions
    assert_maintenance_exact(mconn, consumer)

    # maintenance after the rebuild
    mconn.execute(f'insert into "{src}".tb_order values (100, 1, 10, \'open\'), (101, 2, 20, \'cancelled\')')
    mconn.execute(f'update "{src}".tb_order set amount = amount + 1 where pk_order = 1')
    mconn.execute(f'update "{src}".tb_customer set name = \'renamed\' where pk_customer = 2')
    assert model_result(mconn, f'select * from "{s}".tv_order') == model_result(mconn, new_sql)
    assert one(mconn, f'select double_amount from "{s}".tv_order where pk_order = 100') == 20
    assert divergences(mconn, s) == []


def test_changed_config_and_full_refresh_rebuild(consumer: ConsumerProject, mconn) -> None:
    """A change of unique_key or indexes rebuilds the tview; --full-refresh rebuilds it (new OID) even when nothing changed."""
    consumer.run("run")
    s = consumer.schema
    path = consumer.model_path("tv_order")
    original = path.read_text()
    oid0 = relation_oid(mconn, s, "tv_order")

    path.write_text(original.replace("unique_key='pk_order'", "unique_key=['pk_order', 'fk_customer']"))
    res = consumer.run("run", "-s", "tv_order")
    assert res.statuses() == {"tv_order": "SELECT 6"}
    oid1 = relation_oid(mconn, s, "tv_order")
    assert oid1 != oid0
    assert one(mconn, "select key_columns from tviews.tview where tview_schema = %s and tview_name = 'tv_order'",
               s) == ["pk_order", "fk_customer"]

    path.write_text(original.replace("unique_key='pk_order'",
                                     "unique_key='pk_order', indexes=[{'columns': ['status']}]"))
    res = consumer.run("run", "-s", "tv_order")
    assert res.statuses() == {"tv_order": "SELECT 6"}
    oid2 = relation_oid(mconn, s, "tv_order")
    assert oid2 != oid1
    assert one(mconn, "select count(*) from pg_index i join pg_attribute a on a.attrelid = i.indrelid "
                      "and a.attnum = i.indkey[0] where i.indrelid = %s::regclass and i.indnatts = 1 "
                      "and a.attname = 'status'", f'"{s}".tv_order') == 1
    assert one(mconn, "select key_columns from tviews.tview where tview_schema = %s and tview_name = 'tv_order'",
               s) == ["pk_order"]

    assert consumer.run("run", "-s", "tv_order").statuses() == {"tv_order": "KEEP (unchanged)"}
    assert relation_oid(mconn, s, "tv_order") == oid2

    res = consumer.run("run", "--full-refresh")
    assert set(res.statuses().values()) == {"SELECT 6", "SELECT 3"}
    assert relation_oid(mconn, s, "tv_order") != oid2
    assert divergences(mconn, s) == []
    assert_maintenance_exact(mconn, consumer)
    mconn.execute(f'delete from "{consumer.src_schema}".tb_customer where pk_customer = 3')
    assert one(mconn, f'select count(*) from "{s}".tv_order') == 4
    assert divergences(mconn, s) == []


def test_rebuilding_a_tview_keeps_dependent_tview_maintained(consumer: ConsumerProject, mconn) -> None:
    """After tv_customer (read by tv_region) is rebuilt, writes to its sources still reach both tviews."""
    consumer.run("run")
    s, src = consumer.schema, consumer.src_schema
    region_oid = relation_oid(mconn, s, "tv_region")
    path = consumer.model_path("tv_customer")
    path.write_text(path.read_text().replace("c.region,", "c.region,\n    c.note,"))
    res = consumer.run("run", "-s", "tv_customer")
    assert res.statuses() == {"tv_customer": "SELECT 3"}
    assert relation_oid(mconn, s, "tv_region") == region_oid
    assert one(mconn, "select tviews.is_intact(%s, 'tv_region')", s) is True
    assert divergences(mconn, s) == []

    # customer 1 is in region 'south' (1 % 3 + 1 = 2)
    total0 = one(mconn, f'select order_total from "{s}".tv_region where region = \'south\'')
    mconn.execute(f'insert into "{src}".tb_order values (200, 1, 1000, \'open\')')
    mconn.execute(f'update "{src}".tb_customer set note = \'vip\' where pk_customer = 1')
    assert one(mconn, f'select order_total from "{s}".tv_customer where pk_customer = 1') == 1000 + 1.5 + 2.5
    assert one(mconn, f'select note from "{s}".tv_customer where pk_customer = 1') == "vip"
    assert one(mconn, f'select order_total from "{s}".tv_region where region = \'south\'') == total0 + 1000
    mconn.execute(f'insert into "{src}".tb_customer values (10, \'new\', \'west\', null)')
    assert one(mconn, f'select customer_count from "{s}".tv_region where region = \'west\'') == 1
    assert divergences(mconn, s) == []
    assert_maintenance_exact(mconn, consumer)
    # the next full run keeps both
    assert set(consumer.run("run").statuses().values()) == {"KEEP (unchanged)"}


@pytest.mark.parametrize("materialized", ["table", "view"])
def test_switching_away_from_tview_removes_maintenance(consumer: ConsumerProject, mconn, materialized: str) -> None:
    """A model switched from tview to table or view leaves no trigger, catalog row or generated function behind, and writes to its sources still work."""
    consumer.run("run")
    s, src = consumer.schema, consumer.src_schema
    own_functions = tview_functions(mconn, s, "tv_order")
    assert len(own_functions) == 7  # apply, full, diff, and per source (2) a trigger and a key function
    path = consumer.model_path("tv_order")
    path.write_text(path.read_text().replace("materialized='tview', unique_key='pk_order'",
                                             f"materialized='{materialized}'"))
    consumer.run("run")
    assert one(mconn, "select relkind from pg_class where oid = %s::regclass", f'"{s}".tv_order') == (
        "r" if materialized == "table" else "v")
    assert [t for t in tviews_triggers(mconn, [s, src]) if owned_by("tv_order", t[1]) or t[0] == f"{s}.tv_order"] == []
    assert f"{s}.tv_order" not in catalog_rows(mconn, [s])
    assert generated_functions(mconn) & own_functions == set()
    assert_maintenance_exact(mconn, consumer)

    mconn.execute(f'insert into "{src}".tb_customer values (10, \'new\', \'west\', null)')
    mconn.execute(f'insert into "{src}".tb_order values (100, 10, 5, \'open\')')
    mconn.execute(f'update "{src}".tb_order set status = \'paid\'')
    mconn.execute(f'delete from "{src}".tb_order where pk_order = 1')
    assert one(mconn, f'select count(*) from "{s}".tv_order') == 6
    assert divergences(mconn, s) == []


def test_tview_on_a_table_model_stays_exact_when_the_table_is_rebuilt(consumer: ConsumerProject, mconn) -> None:
    """When a model read by a tview is switched to `table`, the tview stays exact and maintained, also after `dbt run -s` rebuilds only the table."""
    consumer.run("run")
    s, src = consumer.schema, consumer.src_schema
    path = consumer.model_path("tv_customer")
    path.write_text(path.read_text().replace("materialized='tview', unique_key='pk_customer'", "materialized='table'"))
    consumer.run("run")
    assert f"{s}.tv_customer" not in catalog_rows(mconn, [s])
    assert one(mconn, "select tviews.is_intact(%s, 'tv_region')", s) is True
    assert divergences(mconn, s) == []

    mconn.execute(f'insert into "{src}".tb_order values (100, 1, 1000, \'open\')')  # reaches tv_customer on its next build
    consumer.run("run", "-s", "tv_customer")
    assert one(mconn, f'select order_total from "{s}".tv_customer where pk_customer = 1') == 1004
    assert one(mconn, "select tviews.is_intact(%s, 'tv_region')", s) is True, (
        "rebuilding the table model dropped the triggers of the tview that reads it")
    assert divergences(mconn, s) == []
    assert one(mconn, f'select order_total from "{s}".tv_region where region = \'south\'') == 1004
    assert_maintenance_exact(mconn, consumer)


def test_broken_maintenance_is_repaired_by_the_next_run(consumer: ConsumerProject, mconn) -> None:
    """A tview whose source trigger was dropped by hand is not kept as is: the next dbt run rebuilds it and it is exact again."""
    consumer.run("run")
    s, src = consumer.schema, consumer.src_schema
    trigger = next(t for t in sorted(tviews_triggers(mconn, [src])) if owned_by("tv_order", t[1])
                   and t[1].endswith("_ins") and t[0] == f"{src}.tb_order")
    mconn.execute(f'drop trigger "{trigger[1]}" on "{src}".tb_order')
    assert one(mconn, "select tviews.is_intact(%s, 'tv_order')", s) is False
    mconn.execute(f'insert into "{src}".tb_order values (100, 1, 5, \'open\')')
    res = consumer.run("run")
    assert res.statuses()["tv_order"] == "SELECT 7"
    assert res.statuses()["tv_customer"] == "KEEP (unchanged)"
    assert one(mconn, "select tviews.is_intact(%s, 'tv_order')", s) is True
    mconn.execute(f'insert into "{src}".tb_order values (101, 1, 5, \'open\')')
    assert one(mconn, f'select count(*) from "{s}".tv_order') == 8
    assert divergences(mconn, s) == []
    assert_maintenance_exact(mconn, consumer)


def test_cleanup_after_removing_a_model(consumer: ConsumerProject, mconn) -> None:
    """Removing a model file then `run-operation tviews.cleanup` removes its triggers, functions and catalog row and keeps its table; drop_tables: true drops it too."""
    consumer.run("run")
    s, src = consumer.schema, consumer.src_schema
    order_functions = tview_functions(mconn, s, "tv_order")
    assert len(order_functions) == 7
    consumer.remove_model("tv_order")
    consumer.run("run-operation", "tviews.cleanup")
    assert relation_oid(mconn, s, "tv_order") is not None  # table kept
    assert one(mconn, f'select count(*) from "{s}".tv_order') == 6
    assert catalog_rows(mconn, [s]) == {f"{s}.tv_customer", f"{s}.tv_region"}
    assert [t for t in tviews_triggers(mconn, [s, src]) if owned_by("tv_order", t[1]) or t[0] == f"{s}.tv_order"] == []
    assert generated_functions(mconn) & order_functions == set()
    assert_maintenance_exact(mconn, consumer)
    mconn.execute(f'insert into "{src}".tb_order values (100, 1, 5, \'open\')')  # the kept table is a plain table now
    mconn.execute(f'delete from "{s}".tv_order where pk_order = 1')

    consumer.remove_model("tv_region")
    consumer.run("run-operation", "tviews.cleanup", "--args", "{drop_tables: true}")
    assert relation_oid(mconn, s, "tv_region") is None
    assert relation_oid(mconn, s, "tv_order") is not None  # already not a tview: left alone
    assert catalog_rows(mconn, [s]) == {f"{s}.tv_customer"}
    assert_maintenance_exact(mconn, consumer)
    mconn.execute(f'update "{src}".tb_order set amount = 0')
    assert divergences(mconn, s) == []
    res = consumer.run("run-operation", "tviews.cleanup")  # nothing left to remove: no error either
    assert catalog_rows(mconn, [s]) == {f"{s}.tv_customer"}, res.text


def test_cleanup_leaves_other_targets_alone(pg: PgTarget, consumer_template: Path, tmp_path: Path, mconn) -> None:
    """`run-operation tviews.cleanup` for one target (schema) does not remove the maintenance of the same project's tviews in another target's schema of the same database."""
    dev = copy_project(pg, consumer_template, tmp_path / "dev", prefix="tvdev")
    prod = dataclasses.replace(dev, schema=unique_schema("tvprod"), extra_schemas=[])
    try:
        for p in (dev, prod):
            p.setup()
            p.run("run")
        dev.remove_model("tv_region")  # dev drops a model; prod still has it
        dev.run("run-operation", "tviews.cleanup")
        assert catalog_rows(mconn, [dev.schema]) == {f"{dev.schema}.tv_customer", f"{dev.schema}.tv_order"}
        assert catalog_rows(mconn, [prod.schema]) == {f"{prod.schema}.{n}" for n in ("tv_customer", "tv_order", "tv_region")}
        for n in ("tv_customer", "tv_order", "tv_region"):
            assert one(mconn, "select tviews.is_intact(%s, %s)", prod.schema, n) is True, n
        mconn.execute(f'insert into "{prod.src_schema}".tb_order values (100, 1, 5, \'open\')')
        assert divergences(mconn, prod.schema) == []
    finally:
        dev.drop_all(mconn)
        prod.drop_all(mconn)


def test_failed_build_leaves_nothing_behind_in_a_fresh_database(pg: PgTarget, consumer_template: Path,
                                                               tmp_path: Path, mconn) -> None:
    """A failing first build (unsupported SQL, then a key with duplicates) in a fresh database leaves no table, catalog row, trigger or runtime schema."""
    dbname = f"tviews_c_fresh_{secrets.token_hex(4)}"
    mconn.execute(f'create database "{dbname}"')
    try:
        project = copy_project(dataclasses.replace(pg, dbname=dbname), consumer_template, tmp_path / "project")
        for m in ("tv_customer", "tv_order", "tv_region"):
            project.remove_model(m)
        project.setup()
        with psycopg.connect(project.pg.dsn, autocommit=True) as fresh:
            project.write_model("tv_bad", "{{ config(materialized='tview', unique_key='pk_customer') }}\n"
                                          "select c.pk_customer, now() as seen_at from {{ source('shop', 'tb_customer') }} c")
            res = project.run("run", expect_ok=False)
            assert "depends on the clock" in res.text
            project.remove_model("tv_bad")
            project.write_model("tv_dup", "{{ config(materialized='tview', unique_key='fk_customer') }}\n"
                                          "select o.fk_customer, o.amount from {{ source('shop', 'tb_order') }} o")
            res = project.run("run", expect_ok=False)
            assert "not unique" in res.text
            for name in ("tv_bad", "tv_dup"):
                assert relation_oid(fresh, project.schema, name) is None
                assert q(fresh, "select 1 from pg_class where relname like %s", name + "%") == []
            assert not schema_exists(fresh, "tviews"), "the runtime schema outlived the failed build"
            assert tviews_triggers(fresh, [project.schema, project.src_schema]) == set()
            assert q(fresh, "select 1 from pg_trigger where tgname like 'tviews%%'") == []
            # the database still works normally, and a correct model builds afterwards
            fresh.execute(f'insert into "{project.src_schema}".tb_order values (100, 1, 5, \'open\')')
        project.write_model("tv_dup", "{{ config(materialized='tview', unique_key='pk_order') }}\n"
                                      "select o.pk_order, o.amount from {{ source('shop', 'tb_order') }} o")
        assert project.run("run").statuses() == {"tv_dup": "SELECT 7"}
    finally:
        mconn.execute(f'drop database if exists "{dbname}" with (force)')


def test_failed_rebuild_keeps_the_previous_tview(consumer: ConsumerProject, mconn) -> None:
    """A rebuild that fails (duplicate key) leaves the previous tview, its catalog row and its maintenance as they were."""
    consumer.run("run")
    s, src = consumer.schema, consumer.src_schema
    oid = relation_oid(mconn, s, "tv_order")
    triggers = tviews_triggers(mconn, [s, src])
    functions = generated_functions(mconn)
    consumer.write_model("tv_order", "{{ config(materialized='tview', unique_key='fk_customer') }}\n"
                                     "select o.fk_customer, o.amount from {{ source('shop', 'tb_order') }} o")
    res = consumer.run("run", "-s", "tv_order", expect_ok=False)
    assert "not unique" in res.text
    assert relation_oid(mconn, s, "tv_order") == oid
    assert tviews_triggers(mconn, [s, src]) == triggers
    assert generated_functions(mconn) == functions
    assert q(mconn, "select relname from pg_class where relnamespace = %s::regnamespace "
                    "and relname like '%%dbt_%%'", s) == []
    mconn.execute(f'insert into "{src}".tb_order values (100, 1, 5, \'open\')')
    assert one(mconn, f'select count(*) from "{s}".tv_order') == 7
    assert divergences(mconn, s) == []


def test_runtime_schema_is_configurable(pg: PgTarget, consumer_template: Path, tmp_path: Path, mconn) -> None:
    """With --vars '{tviews_schema: <name>}' the catalog, generated functions and trigger functions all live in that schema."""
    project = copy_project(pg, consumer_template, tmp_path / "project")
    rt = f"tvrt_{secrets.token_hex(4)}"
    vars_ = json.dumps({"tviews_schema": rt})
    try:
        project.setup()
        default_before = generated_functions(mconn, "tviews")
        project.run("build", "--vars", vars_)
        s, src = project.schema, project.src_schema
        assert one(mconn, "select obj_description(%s::regnamespace, 'pg_namespace')", rt).startswith("dbt-tviews runtime")
        assert catalog_rows(mconn, [s], rt) == {f"{s}.{n}" for n in ("tv_customer", "tv_order", "tv_region")}
        assert catalog_rows(mconn, [s], "tviews") == set()
        assert generated_functions(mconn, "tviews") == default_before
        assert generated_functions(mconn, rt) == expected_functions(mconn, rt) != set()
        assert tviews_triggers(mconn, [s, src]) == expected_triggers(mconn, [s, src], rt)
        trigger_fn_schemas = {r[0] for r in q(mconn, r"""
            select distinct p.pronamespace::regnamespace::text from pg_trigger g join pg_proc p on p.oid = g.tgfoid
            join pg_class c on c.oid = g.tgrelid where g.tgname like 'tviews\_%%'
            and c.relnamespace = any(array[%s::regnamespace, %s::regnamespace])""", s, src)}
        assert trigger_fn_schemas == {rt}
        mconn.execute(f'insert into "{src}".tb_order values (100, 1, 5, \'open\')')
        mconn.execute(f'update "{src}".tb_customer set name = \'x\' where pk_customer = 1')
        rows = q(mconn, f'select t.tview_name, d.problem from "{rt}".tview t, '
                        f'lateral "{rt}".diff(t.tview_schema, t.tview_name) d where t.tview_schema = %s', s)
        assert rows == []
        assert set(project.run("run", "--vars", vars_).statuses().values()) == {"KEEP (unchanged)"}
    finally:
        project.drop_all(mconn, runtime=rt)
        mconn.execute(f'drop schema if exists "{rt}" cascade')


def test_unrelated_source_column_changes_keep_maintenance(consumer: ConsumerProject, mconn) -> None:
    """Adding, dropping, renaming or retyping source columns no model reads does not break maintenance."""
    consumer.run("run")
    s, src = consumer.schema, consumer.src_schema
    mconn.execute(f'alter table "{src}".tb_customer add column email text')
    mconn.execute(f'alter table "{src}".tb_customer alter column note type varchar(100)')
    mconn.execute(f'alter table "{src}".tb_customer rename column note to remark')
    mconn.execute(f'alter table "{src}".tb_order add column shipped_at timestamptz default \'2026-01-01\'')
    mconn.execute(f'alter table "{src}".tb_customer drop column remark')
    mconn.execute(f'insert into "{src}".tb_customer (pk_customer, name, region, email) values (10, \'n\', \'west\', \'n@x\')')
    mconn.execute(f'insert into "{src}".tb_order (pk_order, fk_customer, amount) values (100, 10, 7)')
    mconn.execute(f'update "{src}".tb_customer set email = \'changed\', name = \'renamed\' where pk_customer = 1')
    mconn.execute(f'update "{src}".tb_order set shipped_at = null, amount = 3 where pk_order = 2')
    mconn.execute(f'delete from "{src}".tb_order where pk_order = 3')
    assert one(mconn, f'select customer_name from "{s}".tv_order where pk_order = 1') == "renamed"
    assert one(mconn, f'select order_total from "{s}".tv_region where region = \'west\'') == 7
    assert model_result(mconn, f'select * from "{s}".tv_customer') == model_result(mconn, customer_sql(src))
    assert divergences(mconn, s) == []
    res = consumer.run("run")
    assert res.success
    assert divergences(mconn, s) == []

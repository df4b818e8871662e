"""Shared by the consumer-project tests: a copy of integration_tests/consumer_project per test,
its fixtures, and queries that list the maintenance objects (catalog rows, triggers, functions)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import REPO, DbtProject, unique_schema
from pgtarget import PgTarget

CONSUMER = Path(__file__).resolve().parent / "consumer_project"
EXAMPLE_MODELS = ("tv_post", "tv_comment", "tv_user", "tv_tag")

# --------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class ConsumerProject(DbtProject):
    """A private copy of consumer_project, run in schema `schema` (sources in `<schema>_src`)."""

    extra_schemas: list[str] = dataclasses.field(default_factory=list)

    @property
    def src_schema(self) -> str:
        return self.schema + "_src"

    def model_path(self, name: str) -> Path:
        return self.project_dir / "models" / f"{name}.sql"

    def write_model(self, name: str, sql: str) -> None:
        self.model_path(name).write_text(sql)

    def remove_model(self, name: str) -> None:
        self.model_path(name).unlink()

    def setup(self, rows: int = 3) -> None:
        self.run("run-operation", "consumer_setup", "--args", json.dumps({"rows": rows}))

    def drop_all(self, conn: psycopg.Connection[Any], runtime: str = "tviews") -> None:
        for s in (self.schema, self.src_schema, *self.extra_schemas):
            conn.execute(f'drop schema if exists "{s}" cascade')
        if conn.execute("select to_regprocedure(%s) is not null", (f'"{runtime}".gc()',)).fetchone()[0]:  # type: ignore[index]
            conn.execute(f'select "{runtime}".gc()')


def make_template(pg: PgTarget, root: Path) -> Path:
    """consumer_project copied to `root`, packages.yml pointing at this repository, `dbt deps` done."""
    shutil.copytree(CONSUMER, root, ignore=shutil.ignore_patterns("target", "dbt_packages", "logs",
                                                                   "package-lock.yml"))
    (root / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
    from dbt.cli.main import dbtRunner

    # `dbt deps` takes no --target-path, so it is invoked directly rather than via DbtProject.run
    res = dbtRunner().invoke(["deps", "--project-dir", str(root), "--profiles-dir", str(root)])
    assert res.success, f"dbt deps failed: {res.exception}"
    assert (root / "dbt_packages" / "tviews").exists()
    return root


def copy_project(pg: PgTarget, template: Path, dest: Path, prefix: str = "tvc") -> ConsumerProject:
    """A fresh copy of the prepared template (dbt_packages included) in `dest`, with its own schema."""
    shutil.copytree(template, dest, symlinks=True, ignore=shutil.ignore_patterns("target", "logs"))
    return ConsumerProject(pg, dest, dest, unique_schema(prefix))


@pytest.fixture(scope="module")
def consumer_template(pg: PgTarget, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_template(pg, tmp_path_factory.mktemp("consumer") / "template")


@pytest.fixture(scope="module")
def mconn(pg: PgTarget) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection shared by a module's fixtures and tests."""
    with psycopg.connect(pg.dsn, autocommit=True) as c:
        yield c


@pytest.fixture()
def consumer(pg: PgTarget, consumer_template: Path, tmp_path: Path,
             mconn: psycopg.Connection[Any]) -> Iterator[ConsumerProject]:
    """A private copy of the consumer project with its source tables created (3 customers), not built."""
    project = copy_project(pg, consumer_template, tmp_path / "project")
    project.setup()
    yield project
    project.drop_all(mconn)


def q(conn: psycopg.Connection[Any], sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return list(conn.execute(sql, params).fetchall())


def one(conn: psycopg.Connection[Any], sql: str, *params: Any) -> Any:
    row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def schema_exists(conn: psycopg.Connection[Any], schema: str) -> bool:
    return bool(one(conn, "select to_regnamespace(%s) is not null", schema))


def relation_oid(conn: psycopg.Connection[Any], schema: str, name: str) -> tuple[int, int] | None:
    """(pg_class.oid, relfilenode) of a relation, None when it does not exist."""
    row = conn.execute("select c.oid::bigint, c.relfilenode::bigint from pg_class c "
                       "where c.oid = to_regclass(format('%%I.%%I', %s::text, %s::text))",
                       (schema, name)).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def catalog_rows(conn: psycopg.Connection[Any], schemas: list[str], runtime: str = "tviews") -> set[str]:
    """'schema.name' of every catalog entry in `schemas` (empty when the runtime does not exist)."""
    if not one(conn, "select to_regclass(%s) is not null", f'"{runtime}".tview'):
        return set()
    return {r[0] for r in q(conn, f'select tview_schema || \'.\' || tview_name from "{runtime}".tview '
                                  "where tview_schema = any(%s)", schemas)}


def tviews_triggers(conn: psycopg.Connection[Any], schemas: list[str]) -> set[tuple[str, str]]:
    """(table, trigger) for every trigger named tviews_% on a table in `schemas`."""
    return set(q(conn, r"""
        select n.nspname || '.' || c.relname, g.tgname::text
        from pg_trigger g join pg_class c on c.oid = g.tgrelid join pg_namespace n on n.oid = c.relnamespace
        where not g.tgisinternal and g.tgname like 'tviews\_%%' and n.nspname = any(%s)""", schemas))


def owned_by(tview: str, trigger: str) -> bool:
    """Is `trigger` one of the source triggers that maintain `tview` (tviews_[<depth>_]<tview>_<hash>_<op>)?"""
    return re.fullmatch(rf"tviews_(\d\d_)?{re.escape(tview)}_[0-9a-f]{{8}}_(ins|upd|del|trn)", trigger) is not None


def expected_triggers(conn: psycopg.Connection[Any], schemas: list[str], runtime: str = "tviews") -> set[tuple[str, str]]:
    """The triggers the catalog says tviews in `schemas` need: 4 per source, a guard per tview."""
    if not one(conn, "select to_regclass(%s) is not null", f'"{runtime}".tview'):
        return set()
    rt = f'"{runtime}"'
    return set(q(conn, f"""
        select s.source_schema || '.' || s.source_name,
               (s.trigger_name || x)::text
        from {rt}.tview t join {rt}.tview_source s using (tview_id),
             unnest(array['_ins', '_upd', '_del', '_trn']) x
        where t.tview_schema = any(%s) or s.source_schema = any(%s)
        union all
        select t.tview_schema || '.' || t.tview_name, 'tviews_guard' from {rt}.tview t
        where t.tview_schema = any(%s)""", schemas, schemas, schemas))


def generated_functions(conn: psycopg.Connection[Any], runtime: str = "tviews") -> set[str]:
    """Names of every generated (per-tview) function in the runtime schema."""
    return {r[0] for r in q(conn, r"""
        select proname::text from pg_proc where pronamespace = to_regnamespace(%s)
          and proname ~ '__(apply|full|diff|recompute|src_[0-9]+|keys_[0-9]+)$'""", runtime)}


def expected_functions(conn: psycopg.Connection[Any], runtime: str = "tviews",
                       schemas: list[str] | None = None) -> set[str]:
    """The generated functions the catalog accounts for (of tviews in `schemas`, or of every tview)."""
    if not one(conn, "select to_regclass(%s) is not null", f'"{runtime}".tview'):
        return set()
    rt = f'"{runtime}"'
    where = "where t.tview_schema = any(%s)" if schemas is not None else ""
    params = (schemas,) if schemas is not None else ()
    return {r[0] for r in q(conn, f"""
        select (t.base_name || x)::text from {rt}.tview t, unnest(array['__apply', '__full', '__diff']) x {where}
        union all
        select t.base_name || '__recompute' from {rt}.tview t {where} {'and' if where else 'where'} t.recompute is not null
        union all
        select s.function_name::text from {rt}.tview t join {rt}.tview_source s using (tview_id) {where}
        union all
        select t.base_name || '__keys_' || s.source_no from {rt}.tview t join {rt}.tview_source s using (tview_id) {where}""",
                            *(params * 4))}


def tview_functions(conn: psycopg.Connection[Any], schema: str, name: str, runtime: str = "tviews") -> set[str]:
    """The generated functions of one tview, per the catalog: apply, full, diff, recompute, and per
    source its trigger function and key function."""
    rt = f'"{runtime}"'
    return {r[0] for r in q(conn, f"""
        select (t.base_name || x)::text from {rt}.tview t, unnest(array['__apply', '__full', '__diff']) x
        where t.tview_schema = %s and t.tview_name = %s
        union all
        select t.base_name || '__recompute' from {rt}.tview t
        where t.tview_schema = %s and t.tview_name = %s and t.recompute is not null
        union all
        select s.function_name::text from {rt}.tview t join {rt}.tview_source s using (tview_id)
        where t.tview_schema = %s and t.tview_name = %s
        union all
        select t.base_name || '__keys_' || s.source_no from {rt}.tview t join {rt}.tview_source s using (tview_id)
        where t.tview_schema = %s and t.tview_name = %s""", *((schema, name) * 4))}


def assert_maintenance_exact(conn: psycopg.Connection[Any], project: ConsumerProject, runtime: str = "tviews") -> None:
    """Triggers on the project's tables and generated functions are exactly what the catalog needs."""
    schemas = [project.schema, project.src_schema, *project.extra_schemas]
    assert tviews_triggers(conn, schemas) == expected_triggers(conn, schemas, runtime)
    assert generated_functions(conn, runtime) == expected_functions(conn, runtime), "orphan or missing functions"


def model_result(conn: psycopg.Connection[Any], sql: str) -> list[tuple[Any, ...]]:
    return sorted(q(conn, sql), key=repr)


# The SELECTs of the consumer's models, as plain SQL over a source schema (to compare contents).
def customer_sql(src: str) -> str:
    return (f'select c.pk_customer, c.name, c.region, '
            f'(select count(*) from "{src}".tb_order o where o.fk_customer = c.pk_customer), '
            f'(select coalesce(sum(o.amount), 0) from "{src}".tb_order o where o.fk_customer = c.pk_customer) '
            f'from "{src}".tb_customer c')


TV_ORDER_ONE_SOURCE = """{{ config(materialized='tview', unique_key='pk_order') }}
-- changed: no join any more, a computed column
select o.pk_order, o.fk_customer, o.amount * 2 as double_amount, upper(o.status) as status
from {{ source('shop', 'tb_order') }} o
where o.status <> 'cancelled'
"""


# --------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------

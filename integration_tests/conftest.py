"""Fixtures shared by the integration tests: a real PostgreSQL and real dbt invocations."""

from __future__ import annotations

import dataclasses
import json
import secrets
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from pgtarget import PgTarget, resolve, temporary_env  # noqa: E402

import tviews  # noqa: E402
from tviews.pgcatalog import load_catalog  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pg() -> Iterator[PgTarget]:
    """A database of its own on the resolved server, so nothing else there (a user's tviews in
    the same runtime schema) can disturb the tests, and the tests leave nothing behind."""
    server = resolve(prefer_local=True)
    name = f"tviews_test_{secrets.token_hex(4)}"
    with psycopg.connect(server.dsn, autocommit=True) as c:
        c.execute(f'create database "{name}"')
    target = dataclasses.replace(server, dbname=name)
    print(f"\nintegration tests on PostgreSQL {target.server_version()} ({target.kind}), database {name}")
    yield target
    with psycopg.connect(server.dsn, autocommit=True) as c:
        c.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture()
def conn(pg: PgTarget) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg.dsn, autocommit=True) as c:
        yield c


@dataclass
class DbtResult:
    success: bool
    results: list[Any]
    messages: list[str]
    exception: BaseException | None

    def statuses(self) -> dict[str, str]:
        """node name -> status message shown on the run line (e.g. 'SELECT 3', 'KEEP (unchanged)')."""
        out = {}
        for r in self.results:
            out[r.node.name] = r.message or str(r.status)
        return out

    @property
    def text(self) -> str:
        return "\n".join(self.messages)


@dataclass
class DbtProject:
    """A dbt project run with dbt's programmatic runner against the test database."""

    pg: PgTarget
    project_dir: Path
    profiles_dir: Path
    schema: str
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def app_schema(self) -> str:
        return self.schema + "_app"

    def run(self, *args: str, expect_ok: bool | None = True) -> DbtResult:
        from dbt.cli.main import dbtRunner

        messages: list[str] = []

        def on_event(event: Any) -> None:
            try:
                messages.append(event.info.msg)
            except Exception:  # noqa: BLE001 - some events carry no text
                pass

        target_path = self.project_dir / "target" / self.schema
        cli = [*args, "--project-dir", str(self.project_dir), "--profiles-dir", str(self.profiles_dir)]
        if args[0] not in ("deps", "clean"):  # they take no --target-path
            cli += ["--target-path", str(target_path)]
        with temporary_env({**self.pg.profile_env(self.schema), **self.extra_env,
                   "DBT_LOG_PATH": str(target_path / "logs"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}):
            res = dbtRunner(callbacks=[on_event]).invoke(cli)
        results = list(getattr(res.result, "results", []) or [])
        out = DbtResult(bool(res.success), results, messages, res.exception)
        if expect_ok is True and not out.success:
            raise AssertionError(f"dbt {' '.join(args)} failed:\n" + out.text[-6000:])
        if expect_ok is False and out.success:
            raise AssertionError(f"dbt {' '.join(args)} unexpectedly succeeded:\n" + out.text[-3000:])
        return out

    def drop(self, conn: psycopg.Connection[Any]) -> None:
        for s in (self.schema, self.app_schema):
            conn.execute(f'drop schema if exists "{s}" cascade')
        conn.execute("select tviews.gc()") if conn.execute(
            "select to_regprocedure('tviews.gc()') is not null").fetchone()[0] else None  # type: ignore[index]


def unique_schema(prefix: str = "tvt") -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


@pytest.fixture()
def example_project(pg: PgTarget, conn: psycopg.Connection[Any]) -> Iterator[DbtProject]:
    """The repository's example blog project, in a fresh schema, source tables created, not built."""
    project = DbtProject(pg, REPO, REPO, unique_schema())
    project.run("run-operation", "tviews.example_setup")
    yield project
    project.drop(conn)
    shutil.rmtree(REPO / "target" / project.schema, ignore_errors=True)


def divergences(conn: psycopg.Connection[Any], schema: str) -> list[tuple[Any, ...]]:
    """Every row where a tview in `schema` differs from its SELECT (empty when all are exact)."""
    rows = conn.execute(
        "select t.tview_name, d.problem, d.row_data from tviews.tview t, "
        "lateral tviews.diff(t.tview_schema, t.tview_name) d where t.tview_schema = %s",
        (schema,),
    ).fetchall()
    return list(rows)


def tview_count(conn: psycopg.Connection[Any], schema: str) -> int:
    return int(conn.execute("select count(*) from tviews.tview where tview_schema = %s", (schema,)).fetchone()[0])  # type: ignore[index]


def install_tview(conn: psycopg.Connection[Any], schema: str, name: str, sql: str, key: list[str] | None,
                  options: dict[str, Any] | None = None, runtime: str = "tviews",
                  **plan_overrides: Any) -> dict[str, Any]:
    """Build a tview without dbt, as the materialization does: analyse, prepare() (registers it and
    binds its SELECT), CREATE TABLE AS from the bound SELECT with maintenance's settings, install().
    `plan_overrides` replace entries of the plan (to test what the runtime does with them)."""
    def query(q: str, params: Any) -> list[tuple[Any, ...]]:
        return conn.execute(q, params).fetchall()

    plan = tviews.analyze(sql, model=name, unique_key=key, catalog=load_catalog(query, sql, name)).to_dict()
    plan.update(plan_overrides)
    rt = sql_ident(runtime)
    with conn.transaction():
        bound = conn.execute(f"select {rt}.prepare(%s, %s, %s, %s, 'h', null, %s)",
                             (schema, name, json.dumps(plan), sql, json.dumps(options or {}))).fetchone()[0]  # type: ignore[index]
        conn.execute("select set_config('search_path', %s, true), set_config('row_security', 'off', true)",
                     (bound["search_path"],))
        conn.execute(f'create table "{schema}"."{name}" as select * from {bound["relation"]}')
        conn.execute("select set_config('search_path', %s, true), set_config('row_security', %s, true)",
                     (bound["restore"]["search_path"], bound["restore"]["row_security"]))
        conn.execute(f"select {rt}.install(%s, %s)", (schema, name))
    return plan


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'

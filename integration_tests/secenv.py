"""Roles, schemas and attacker tooling for the security tests (test_security.py).

Every test gets two fresh roles in a database private to the module:

  owner     a NON-superuser with LOGIN and CREATE on the database. It owns the app schema, the source
            tables, the tviews and a runtime schema of its own (`tviews.runtime_sql(<runtime>)` run
            as the owner). Its session search_path is left at the server default `"$user", public`.
  attacker  a low-privilege LOGIN role: USAGE on the app schema and, per test, SELECT/INSERT/UPDATE/
            DELETE on source tables (CREATE on `public` or on the database only where a test grants
            it). It owns a home schema named after itself holding `spy_log`, a table anyone may
            insert into, and `spy(what)`, a function that records `current_user` there and then tries
            to grant the attacker rights only the owner could grant. Planted objects call spy():
            a row whose `who` is the owner means attacker code ran with the owner's rights.

Roles are dropped (DROP OWNED BY ...; DROP ROLE ...) by the fixture's finalizer, even on failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import tviews
from conftest import install_tview
from pgtarget import PgTarget
from psycopg.conninfo import make_conninfo


def qi(name: str) -> str:
    """A quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


def ql(text: str) -> str:
    """A quoted literal."""
    return "'" + text.replace("'", "''") + "'"


@dataclass
class SecEnv:
    target: PgTarget  # the module's database, as the superuser
    admin: psycopg.Connection[Any]  # superuser, autocommit
    tag: str
    conns: list[psycopg.Connection[Any]] = field(default_factory=list)
    _owner_conn: psycopg.Connection[Any] | None = None
    _attacker_conn: psycopg.Connection[Any] | None = None
    _runtime_ready: bool = False

    # -- names ---------------------------------------------------------------------------------

    @property
    def owner(self) -> str:
        return f"tvsec_owner_{self.tag}"

    @property
    def attacker(self) -> str:
        return f"tvsec_attacker_{self.tag}"

    @property
    def app(self) -> str:
        """The application schema (owned by the owner): sources and tviews."""
        return f"tvsec_app_{self.tag}"

    @property
    def runtime(self) -> str:
        """The owner's own runtime schema."""
        return f"tvsec_rt_{self.tag}"

    @property
    def spy_schema(self) -> str:
        """The attacker's home schema (holds spy_log and spy())."""
        return self.attacker

    def spy(self, what: str) -> str:
        """A SQL boolean expression (always true) that records who evaluated it."""
        return f"{qi(self.spy_schema)}.spy({ql(what)})"

    # -- connections ---------------------------------------------------------------------------

    def connect(self, role: str, autocommit: bool = True) -> psycopg.Connection[Any]:
        conn = psycopg.connect(make_conninfo(self.target.dsn, user=role), autocommit=autocommit)
        self.conns.append(conn)
        return conn

    @property
    def owner_conn(self) -> psycopg.Connection[Any]:
        if self._owner_conn is None:
            self._owner_conn = self.connect(self.owner)
        return self._owner_conn

    @property
    def attacker_conn(self) -> psycopg.Connection[Any]:
        if self._attacker_conn is None:
            self._attacker_conn = self.connect(self.attacker)
        return self._attacker_conn

    def close(self) -> None:
        for c in self.conns:
            with contextlib.suppress(Exception):  # best effort at teardown
                c.close()
        self.conns.clear()

    # -- grants the tests hand out -------------------------------------------------------------

    def grant_writer(self, *tables: str, role: str | None = None) -> None:
        """The attacker (or `role`) may read and write these app tables, nothing more."""
        for t in tables:
            self.owner_conn.execute(f"grant select, insert, update, delete on {qi(self.app)}.{qi(t)} "
                                    f"to {qi(role or self.attacker)}")

    def grant_public_create(self, role: str | None = None) -> None:
        """CREATE on schema public, as PostgreSQL <= 14 gave every role by default."""
        self.admin.execute(f"grant create on schema public to {qi(role or self.attacker)}")

    def grant_database_create(self, role: str | None = None) -> None:
        self.admin.execute(f"grant create on database {qi(self.target.dbname)} to {qi(role or self.attacker)}")

    def grant_runtime_usage(self, role: str | None = None) -> None:
        self.ensure_runtime()
        self.owner_conn.execute(f"grant usage on schema {qi(self.runtime)} to {qi(role or self.attacker)}")

    # -- building tviews as the owner ----------------------------------------------------------

    def ensure_runtime(self) -> None:
        if not self._runtime_ready:
            self.owner_conn.execute(tviews.runtime_sql(self.runtime))  # type: ignore[arg-type]
            self._runtime_ready = True

    def build_tview(self, name: str, sql: str, key: list[str], schema: str | None = None) -> dict[str, Any]:
        """install_tview's steps (analyse -> CREATE TABLE AS -> install()), as the owner, with the
        owner's runtime schema and the owner's default search_path."""
        self.ensure_runtime()
        conn = self.owner_conn
        schema = schema or self.app

        return install_tview(conn, schema, name, sql, key, runtime=self.runtime)

    def base_name(self, name: str, schema: str | None = None) -> str:
        return str(self.admin.execute(f"select base_name from {qi(self.runtime)}.tview "  # type: ignore[index]
                                      "where tview_schema = %s and tview_name = %s",
                                      (schema or self.app, name)).fetchone()[0])

    # -- what the tests check ------------------------------------------------------------------

    def spy_rows(self) -> list[tuple[str, str, str]]:
        """(who, session_user, what) of every spy() call so far."""
        return [tuple(r) for r in self.admin.execute(  # type: ignore[misc]
            f"select who::text, sess::text, what from {qi(self.spy_schema)}.spy_log order by at").fetchall()]

    def spy_rows_as(self, role: str) -> list[tuple[str, str, str]]:
        return [r for r in self.spy_rows() if r[0] == role]

    def attacker_privileges(self) -> set[str]:
        """Every right the attacker holds on what the owner owns, its role attributes and memberships."""
        rows = self.admin.execute(
            """
            with o as (select oid from pg_roles where rolname = %(owner)s),
                 a as (select oid, rolname from pg_roles where rolname = %(att)s)
            select 'schema ' || n.nspname || ' ' || p
            from pg_namespace n, o, unnest(array['CREATE', 'USAGE']) p
            where n.nspowner = o.oid and has_schema_privilege(%(att)s, n.oid, p)
            union all
            select 'table ' || c.oid::regclass::text || ' ' || p
            from pg_class c, o, unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                             'REFERENCES', 'TRIGGER']) p
            where c.relowner = o.oid and c.relkind in ('r', 'p', 'v', 'm')
              and has_table_privilege(%(att)s, c.oid, p)
            union all
            select 'member of ' || r.rolname from pg_roles r, a
            where r.oid <> a.oid and pg_has_role(a.oid, r.oid, 'MEMBER')
            union all
            select 'attribute ' || x from pg_roles r, a,
                 lateral (values ('SUPERUSER', r.rolsuper), ('CREATEROLE', r.rolcreaterole),
                                 ('BYPASSRLS', r.rolbypassrls), ('CREATEDB', r.rolcreatedb)) v(x, has)
            where r.oid = a.oid and v.has
            """, {"owner": self.owner, "att": self.attacker}).fetchall()
        return {r[0] for r in rows}

    def diff_as_owner(self, name: str, schema: str | None = None) -> list[tuple[Any, ...]]:
        return list(self.owner_conn.execute(f"select problem, row_data::text from {qi(self.runtime)}.diff(%s, %s)",
                                            (schema or self.app, name)).fetchall())

    def reference_rows(self, select_sql: str) -> list[str]:
        """Rows (as jsonb text, sorted) of a SELECT read by the superuser with search_path =
        pg_catalog, pg_temp: unqualified functions and operators are the built-in ones."""
        with self.admin.transaction():
            self.admin.execute("set local search_path = pg_catalog, pg_temp")
            return sorted(r[0] for r in self.admin.execute(
                f"select to_jsonb(x)::text from ({select_sql}) x").fetchall())  # type: ignore[arg-type]

    def rows_vs_reference(self, name: str, reference_sql: str, schema: str | None = None) -> list[str]:
        """Differences between the tview's rows and `reference_sql` (the SELECT as the owner meant it,
        tables qualified), both read by the superuser (see reference_rows)."""
        schema = schema or self.app
        actual = Counter(self.reference_rows(f"select * from {qi(schema)}.{qi(name)}"))
        expected = Counter(self.reference_rows(reference_sql))
        out = [f"missing from tview: {r}" for r in sorted((expected - actual).elements())]
        out += [f"extra in tview: {r}" for r in sorted((actual - expected).elements())]
        return out

    def problems_after_attack(self, name: str, reference_sql: str, privileges_before: set[str]) -> list[str]:
        """Everything that shows the attack worked: attacker code ran as the owner, the attacker
        gained rights, the tview differs from its SELECT (checked before diff() as the owner, which
        would itself evaluate planted objects)."""
        problems = [f"attacker code ran as the owner: {r}" for r in self.spy_rows_as(self.owner)]
        problems += [f"attacker gained: {p}" for p in sorted(self.attacker_privileges() - privileges_before)]
        problems += [f"tview vs its SELECT: {p}" for p in self.rows_vs_reference(name, reference_sql)]
        diff = self.diff_as_owner(name)
        problems += [f"{self.runtime}.diff as the owner: {d}" for d in diff]
        return problems


def _setup_roles(env: SecEnv) -> None:
    a = env.admin
    a.execute(f"create role {qi(env.owner)} login")
    a.execute(f"create role {qi(env.attacker)} login")
    a.execute(f"grant create on database {qi(env.target.dbname)} to {qi(env.owner)}")
    a.execute(f"create schema {qi(env.app)} authorization {qi(env.owner)}")
    a.execute(f"grant usage on schema {qi(env.app)} to {qi(env.attacker)}")
    a.execute(f"create schema {qi(env.spy_schema)} authorization {qi(env.attacker)}")
    att = env.attacker_conn
    s = qi(env.spy_schema)
    att.execute(f"create table {s}.spy_log (who name not null, sess name not null, what text, "
                "at timestamptz not null default clock_timestamp())")
    # Records who runs it, then tries to hand the attacker rights that only the owner can grant.
    att.execute(f"""
        create function {s}.spy(what text) returns boolean language plpgsql as $spy$
        begin
            insert into {s}.spy_log (who, sess, what) values (current_user, session_user, what);
            begin
                execute format('grant create, usage on schema %I to %I', {ql(env.app)}, {ql(env.attacker)});
                execute format('grant all on all tables in schema %I to %I', {ql(env.app)}, {ql(env.attacker)});
            exception when others then null;
            end;
            return true;
        end $spy$""")
    att.execute(f"grant usage on schema {s} to public")
    att.execute(f"grant select, insert on {s}.spy_log to public")
    att.execute(f"grant execute on function {s}.spy(text) to public")


def _wait_sessions_gone(admin: psycopg.Connection[Any], roles: list[str], timeout: float = 10.0) -> None:
    """Closed sessions end asynchronously (and drop their temp objects as they go): wait for the
    roles' backends to be gone before DROP OWNED, which cannot drop another session's temp objects.
    A session still open after `timeout` (one a test left behind) is terminated: the roles are ours."""
    deadline = time.monotonic() + timeout
    sql = "select pid from pg_stat_activity where usename = any(%s) and pid <> pg_backend_pid()"
    while admin.execute(sql, (roles,)).fetchone():
        if time.monotonic() > deadline:
            for (pid,) in admin.execute(sql, (roles,)).fetchall():
                admin.execute("select pg_terminate_backend(%s, 5000)", (pid,))
            break
        time.sleep(0.02)


def _drop_roles(admin: psycopg.Connection[Any], roles: list[str]) -> None:
    existing = [r for r in roles if admin.execute("select 1 from pg_roles where rolname = %s", (r,)).fetchone()]
    if existing:
        admin.execute("drop owned by " + ", ".join(qi(r) for r in existing) + " cascade")
        for r in existing:
            admin.execute(f"drop role {qi(r)}")


@pytest.fixture(scope="module", name="secdb")
def secdb_fixture(pg: PgTarget) -> Iterator[PgTarget]:
    """A database private to the module: objects the attacker plants in `public` reach nothing else."""
    name = f"tvsec_{secrets.token_hex(4)}"
    with psycopg.connect(pg.dsn, autocommit=True) as c:
        c.execute(f"create database {qi(name)}")  # type: ignore[arg-type]
    target = dataclasses.replace(pg, dbname=name)
    try:
        yield target
    finally:
        with psycopg.connect(pg.dsn, autocommit=True) as c:
            c.execute(f"drop database if exists {qi(name)} with (force)")  # type: ignore[arg-type]


@pytest.fixture(name="sec")
def sec_fixture(secdb: PgTarget) -> Iterator[SecEnv]:
    """Fresh owner and attacker roles, the app schema and the attacker's spy; all dropped afterwards."""
    admin = psycopg.connect(secdb.dsn, autocommit=True)
    env = SecEnv(secdb, admin, secrets.token_hex(4))
    try:
        _setup_roles(env)
        yield env
    finally:
        env.close()
        _wait_sessions_gone(admin, [env.owner, env.attacker])
        _drop_roles(admin, [env.owner, env.attacker])
        admin.close()

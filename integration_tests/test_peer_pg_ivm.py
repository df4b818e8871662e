"""pg_ivm's regression suite as an independent corpus: every view is rejected at build or stays exact.

Each view of peer_pg_ivm.py is built as a tview the way the materialization does (analyse, CREATE
TABLE AS, tviews.install(); conftest.install_tview) on fresh tables. A build that fails (the
analysis raises TviewError, or PostgreSQL / install() raises an SQLSTATE) is an acceptable outcome.
A built tview then gets pg_ivm's own DML steps and RANDOM_STATEMENTS seeded random writes, with
tviews.diff() checked after every statement: any difference fails that view's test.

A failure names the first divergent statement and what caused the difference:
- "NULL key": the SELECT now has a row whose unique key is NULL, which the tview cannot hold;
- "duplicate key": the SELECT now has two rows with one key, the tview keeps one;
- "maintenance": rows differ for keys that are valid (non-NULL, unique) in the SELECT.

Report and minimisation (not part of the test run):
    .venv/bin/python integration_tests/test_peer_pg_ivm.py [--minimize] [view_id ...]
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import sys
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus

sys.path.insert(0, str(Path(__file__).parent))
import tviews  # noqa: E402
from conftest import divergences, install_tview, unique_schema  # noqa: E402
from peer_pg_ivm import FIXTURES, VIEWS, View  # noqa: E402
from pgtarget import PgTarget  # noqa: E402

pytestmark = [pytest.mark.db]

RANDOM_STATEMENTS = 20
TV = "tv"  # the tview's name in its schema
_DDL = re.compile(r"^\s*(ALTER|CREATE|DROP)\b", re.I)
_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.I)


@dataclass
class Event:
    """A check after a statement found the tview different from its SELECT."""
    index: int        # position in the statement list
    statement: str
    tview: str
    missing: int      # rows of the SELECT absent from the tview
    extra: int        # rows of the tview absent from the SELECT
    causes: list[str]
    sample: list[str]


@dataclass
class Outcome:
    view: View
    built: bool = False
    stage: str = ""           # where the build failed: analysis / create table as / install
    rejection: str = ""
    crash: bool = False       # the build failed with an exception that is neither TviewError nor SQLSTATE
    statements: list[str] = field(default_factory=list)  # what ran, in order
    events: list[Event] = field(default_factory=list)
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # writes maintenance refused
    source_errors: int = 0    # writes the source tables refused (constraints), no tview involved
    unverifiable: list[tuple[int, str]] = field(default_factory=list)  # diff() failed (no DDL pending)


def random_dml(view: View, n: int) -> list[str]:
    """`n` seeded random INSERT/UPDATE/DELETE (some no-op UPDATEs, writable CTEs, TRUNCATEs) on the
    tables the view reads, with values drawn from the fixture's small domains (NULL included)."""
    domains = FIXTURES[view.fixture].domains
    text = " ".join([view.sql] + [p[1] for p in view.prereq])
    tables = [t for t in domains if re.search(rf"\b{t}\b", text, re.I)] + list(view.extra_tables)
    if not tables or n <= 0:
        return []
    rng = __import__("random").Random(zlib.crc32(view.id.encode()))

    def cond(table: str) -> str:
        col = rng.choice(list(domains[table]))
        val = rng.choice(domains[table][col])
        return f"{col} IS NULL" if val == "NULL" else f"{col} = {val}"

    def insert(table: str) -> str:
        cols = domains[table]
        rows = ", ".join("(" + ", ".join(rng.choice(v) for v in cols.values()) + ")"
                         for _ in range(rng.randint(1, 3)))
        return f"INSERT INTO {table} ({', '.join(cols)}) VALUES {rows}"

    def update(table: str) -> str:
        cols = list(domains[table])
        sets = rng.sample(cols, rng.randint(1, min(2, len(cols))))
        return f"UPDATE {table} SET " + ", ".join(f"{c} = {rng.choice(domains[table][c])}" for c in sets) + \
            f" WHERE {cond(table)}"

    out: list[str] = []
    for _ in range(n):
        t = rng.choice(tables)
        kind = rng.choices(["insert", "update", "noop", "delete", "cte", "truncate"], [5, 4, 1, 3, 1, 0.3])[0]
        if kind == "insert":
            out.append(insert(t))
        elif kind == "update":
            out.append(update(t))
        elif kind == "noop":
            c = rng.choice(list(domains[t]))
            out.append(f"UPDATE {t} SET {c} = {c} WHERE {cond(t)}")
        elif kind == "delete":
            out.append(f"DELETE FROM {t} WHERE {cond(t)}")
        elif kind == "cte":
            t2 = rng.choice(tables)
            out.append(f"WITH w1 AS ({insert(t)} RETURNING 0), w2 AS (DELETE FROM {t2} WHERE {cond(t2)} "
                       f"RETURNING 0), w3 AS ({update(t2)} RETURNING 0) SELECT")
        else:
            out.append(f"TRUNCATE {t}")
    return out


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _in_tx(conn: psycopg.Connection[Any]) -> bool:
    return conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR)


def _guarded(conn: psycopg.Connection[Any], fn: Any) -> Any:
    """Run fn(); inside a transaction, within a savepoint so that an error does not abort it."""
    if not _in_tx(conn):
        return fn()
    conn.execute("SAVEPOINT peer_check")
    try:
        result = fn()
    except psycopg.Error:
        conn.execute("ROLLBACK TO SAVEPOINT peer_check")
        raise
    conn.execute("RELEASE SAVEPOINT peer_check")
    return result


def compare(conn: psycopg.Connection[Any], schema: str, sql: str, key: tuple[str, ...] | None,
            name: str, search_path: str) -> tuple[list[str], list[str], list[str]]:
    """The tview `name` against `sql`, in Python: (rows missing from it, extra rows in it, causes).
    Causes: the SELECT has a NULL or a duplicate key (the tview cannot hold those rows), and/or
    rows differ for keys that are valid in the SELECT ("maintenance")."""
    def work() -> tuple[list[str], list[str], list[str]]:
        if _in_tx(conn):
            conn.execute("SELECT set_config('search_path', %s, true)", (search_path,))
        fresh = [json.loads(r[0]) for r in conn.execute(
            f"select to_jsonb(peer_d)::text from ({sql}) peer_d").fetchall()]
        table = [json.loads(r[0]) for r in conn.execute(
            f"select to_jsonb(peer_t)::text from {_q(schema)}.{_q(name)} peer_t").fetchall()]
        as_text = lambda rows: Counter(json.dumps(r, sort_keys=True) for r in rows)  # noqa: E731
        missing = list((as_text(fresh) - as_text(table)).elements())
        extra = list((as_text(table) - as_text(fresh)).elements())
        if not (missing or extra):
            return [], [], []
        if not key:
            return missing, extra, ["maintenance"]
        keys = Counter(tuple(json.dumps(r.get(k)) for k in key) for r in fresh)
        causes = []
        if any(any(r.get(k) is None for k in key) for r in fresh):
            causes.append("NULL key")
        if any(c > 1 for c in keys.values()):
            causes.append("duplicate key")
        bad = {k for k, c in keys.items() if c > 1 or "null" in k}

        def valid(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [r for r in rows if tuple(json.dumps(r.get(k)) for k in key) not in bad]
        if as_text(valid(fresh)) != as_text(valid(table)):
            causes.append("maintenance")
        return missing, extra, causes
    try:
        return _guarded(conn, work)
    except psycopg.Error as e:
        return [], [], [f"unclassified ({e.sqlstate}: {e.diag.message_primary})"]


def run_view(conn: psycopg.Connection[Any], view: View, *, statements: list[str] | None = None,
             random_n: int = RANDOM_STATEMENTS, stop_at_first: bool = False, drop: bool = False) -> Outcome:
    """Build `view` as a tview on a fresh copy of its fixture, run its statements (pg_ivm's steps,
    then seeded random DML, unless `statements` is given) and check diff() after each. The schema
    stays (its database is dropped at the end: much cheaper than a DROP SCHEMA per view) unless `drop`."""
    out = Outcome(view)
    schema = unique_schema("pgivm")
    search_path = f"{_q(schema)}, public"
    conn.execute(f"create schema {_q(schema)}")
    try:
        conn.execute(f"set search_path = {search_path}")
        conn.execute(FIXTURES[view.fixture].setup)
        for name, sql, key in view.prereq:
            install_tview(conn, schema, name, sql, list(key))
        try:
            key = list(view.key) if view.key is not None else None
            install_tview(conn, schema, TV, view.sql, key)  # type: ignore[arg-type]
        except tviews.TviewError as e:
            out.stage, out.rejection = "analysis", str(e).splitlines()[0]
            return out
        except (psycopg.Error,) as e:
            built_table = conn.execute("select to_regclass(%s) is not null",
                                       (f"{_q(schema)}.{TV}",)).fetchone()[0]  # type: ignore[index]
            out.stage = "install" if built_table else "create table as"
            out.rejection = f"{e.sqlstate}: {e.diag.message_primary}"
            return out
        except Exception as e:  # noqa: BLE001 - the analysis must raise TviewError, nothing else
            out.stage, out.crash = "analysis", True
            out.rejection = f"crashed with {type(e).__name__}: {e}"
            return out
        out.built = True
        subst = {"{tv}": f"{_q(schema)}.{TV}", "{tv_name}": TV, "{schema}": schema}
        todo = statements if statements is not None else list(view.steps) + random_dml(view, random_n)
        tv_defs = {TV: (view.sql, view.key), **{p[0]: (p[1], p[2]) for p in view.prereq}}
        ddl_in_tx = False
        for index, raw in enumerate(todo):
            stmt = raw
            for k, v in subst.items():
                stmt = stmt.replace(k, v)
            out.statements.append(raw)
            # Nothing to check when nothing can have changed: BEGIN / SAVEPOINT / RELEASE, or a
            # statement that failed (rolled back, to its savepoint inside a transaction).
            changed = not re.match(r"^\s*(BEGIN|SAVEPOINT|RELEASE)\b", stmt, re.I)
            if _CONTROL.match(stmt):
                try:
                    conn.execute(stmt)
                except psycopg.Error as e:
                    out.refused.append((index, e.sqlstate or "", f"control: {e.diag.message_primary}"))
                    if conn.info.transaction_status == TransactionStatus.INERROR:
                        conn.execute("ROLLBACK")
            else:
                try:
                    _guarded(conn, lambda: conn.execute(stmt))
                except psycopg.Error as e:
                    changed = False
                    if "tviews" in (e.diag.context or "") or e.sqlstate == "55000":
                        out.refused.append((index, e.sqlstate or "", e.diag.message_primary or ""))
                    else:
                        out.source_errors += 1
                else:
                    if _DDL.match(stmt) and _in_tx(conn):
                        ddl_in_tx = True  # the SELECT may not even parse until the ROLLBACK
            if not _in_tx(conn):
                ddl_in_tx = False
            if not changed:
                continue
            diverged = False
            try:
                rows = _guarded(conn, lambda: divergences(conn, schema))
            except psycopg.Error as e:
                if ddl_in_tx:
                    continue
                # diff() cannot check this tview: compare in Python, and report that it failed.
                out.unverifiable.append((index, f"{e.sqlstate}: {e.diag.message_primary}"))
                for name, (sql, key) in tv_defs.items():
                    missing, extra, causes = compare(conn, schema, sql, key, name, search_path)
                    if missing or extra or causes:
                        diverged = True
                        out.events.append(Event(index, raw, name, len(missing), len(extra), causes,
                                                [f"missing from tview: {r}" for r in missing[:2]]
                                                + [f"extra in tview: {r}" for r in extra[:2]]))
            else:
                for name in sorted({r[0] for r in rows}):
                    diverged = True
                    sql, key = tv_defs.get(name, ("", None))
                    mine = [r for r in rows if r[0] == name]
                    out.events.append(Event(
                        index, raw, name,
                        missing=sum(r[1] == "missing from tview" for r in mine),
                        extra=sum(r[1] == "extra in tview" for r in mine),
                        causes=compare(conn, schema, sql, key, name, search_path)[2],
                        sample=[f"{r[1]}: {json.dumps(r[2])}" for r in mine[:4]]))
            if diverged and stop_at_first:
                break
        return out
    finally:
        if _in_tx(conn):
            conn.execute("ROLLBACK")
        conn.execute("reset search_path")
        if drop:
            conn.execute(f"drop schema {_q(schema)} cascade")
            conn.execute("select tviews.gc()")


def describe(out: Outcome) -> str:
    v = out.view
    lines = [f"{v.id} ({v.origin}; construct: {v.construct}; pg_ivm: {v.pg_ivm})",
             f"  SQL: {v.sql}", f"  key: {', '.join(v.key or ())}"]
    first = out.events[0]
    lines.append(f"  first divergence after statement #{first.index}: {first.statement}")
    lines.append(f"  tview {first.tview}: {first.missing} missing, {first.extra} extra; "
                 f"cause: {', '.join(first.causes)}")
    lines += [f"    {s}" for s in first.sample]
    maint = [e for e in out.events if "maintenance" in e.causes]
    if maint and maint[0] is not first:
        lines.append(f"  first 'maintenance' divergence after statement #{maint[0].index}: "
                     f"{maint[0].statement}")
        lines += [f"    {s}" for s in maint[0].sample]
    prefix = [s for s in out.statements[: first.index + 1]]
    lines.append("  statements up to it:")
    lines += [f"    {s};" for s in prefix]
    return "\n".join(lines)


@contextmanager
def peer_database(server: PgTarget) -> Iterator[psycopg.Connection[Any]]:
    """A database of its own with the runtime installed, dropped at the end (with all the schemas
    the views were built in)."""
    name = f"tviews_peer_{secrets.token_hex(4)}"
    with psycopg.connect(server.dsn, autocommit=True) as c:
        c.execute(f'create database "{name}"')
    try:
        with psycopg.connect(dataclasses.replace(server, dbname=name).dsn, autocommit=True) as conn:
            conn.execute(tviews.runtime_sql("tviews"))
            # Speed only: unanalysed cross joins look expensive to the planner (JIT would cost ~0.3 s
            # a statement), and this database is thrown away (no need to wait for WAL flushes).
            conn.execute("set jit = off")
            conn.execute("set synchronous_commit = off")
            yield conn
    finally:
        with psycopg.connect(server.dsn, autocommit=True) as c:
            c.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="module")
def peer_conn(pg: PgTarget) -> Iterator[psycopg.Connection[Any]]:
    with peer_database(pg) as conn:
        yield conn


@pytest.mark.parametrize("view", VIEWS, ids=[v.id for v in VIEWS])
def test_pg_ivm_view_is_rejected_or_stays_exact(peer_conn: psycopg.Connection[Any], view: View) -> None:
    """A view of pg_ivm's regression suite is rejected at build, or equals its SELECT after every
    statement of pg_ivm's DML and of seeded random DML."""
    out = run_view(peer_conn, view)
    assert not out.crash, f"the build failed without a TviewError or an SQLSTATE: {out.rejection}"
    assert not out.events, "built, then went stale:\n" + describe(out)
    assert not out.unverifiable, f"built, but tviews.diff() fails on it: {out.unverifiable[0][1]}"


def test_the_harness_sees_a_stale_tview(peer_conn: psycopg.Connection[Any]) -> None:
    """A tview made stale on purpose (a write that bypasses the guard) is reported as a maintenance
    divergence at that statement, and the corpus's random DML is not empty."""
    view = next(v for v in VIEWS if v.id == "mv_ivm_agg")
    assert len(random_dml(view, RANDOM_STATEMENTS)) == RANDOM_STATEMENTS
    out = run_view(peer_conn, view, statements=[
        "INSERT INTO mv_base_a VALUES (6, 60)",
        "ALTER TABLE {tv} DISABLE TRIGGER tviews_guard",
        "DELETE FROM {tv} WHERE i = 1",
        "ALTER TABLE {tv} ENABLE TRIGGER tviews_guard",
    ])
    assert out.built
    assert [(e.index, e.causes) for e in out.events[:1]] == [(2, ["maintenance"])]


# ------------------------------------------------------------------------------ report (CLI)

def _diverges_like(conn: psycopg.Connection[Any], view: View, stmts: list[str], causes: set[str]) -> bool:
    out = run_view(conn, view, statements=stmts, stop_at_first=True, drop=True)
    return bool(out.events) and bool(causes & set(out.events[0].causes))


def minimize(conn: psycopg.Connection[Any], out: Outcome) -> list[str]:
    """A short statement list (greedy: chunks, then single statements) that still diverges with the
    cause of `out`'s first "maintenance" divergence, or else of its first divergence."""
    maint = [e for e in out.events if "maintenance" in e.causes]
    first = maint[0] if maint else out.events[0]
    causes = set(first.causes) & {"maintenance"} or set(first.causes)
    seq = out.statements[: first.index + 1]
    chunk = max(1, len(seq) // 2)
    while chunk >= 1:
        i = 0
        while i < len(seq):
            cand = seq[:i] + seq[i + chunk:]
            if cand and _diverges_like(conn, out.view, cand, causes):
                seq = cand
            else:
                i += chunk
        chunk //= 2
    return seq


def main(argv: list[str]) -> None:
    from pgtarget import resolve

    do_min = "--minimize" in argv
    ids = [a for a in argv if not a.startswith("--")]
    with peer_database(resolve(prefer_local=True)) as conn:
        outs = [run_view(conn, v) for v in VIEWS if not ids or v.id in ids]
        built = [o for o in outs if o.built]
        stale = [o for o in built if o.events]
        print(f"views: {len(outs)}, built: {len(built)}, rejected: {len(outs) - len(built)}, "
              f"stale: {len(stale)}")
        groups: dict[str, list[str]] = {}
        for o in outs:
            if not o.built:
                msg = re.sub(r"tview tv: ", "", o.rejection)
                groups.setdefault(f"[{o.stage}] {msg}", []).append(o.view.id)
        print("\nREJECTED")
        for msg, vs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            print(f"  {len(vs):3d}  {msg}\n        {', '.join(vs)}")
        print("\nBUILT AND EXACT")
        print("  " + ", ".join(o.view.id for o in built if not o.events))
        refused = [o for o in built if o.refused]
        if refused:
            print("\nWRITES REFUSED BY MAINTENANCE (loud, not stale)")
            for o in refused:
                kinds = Counter(f"{s}: {m}" for _, s, m in o.refused)
                print(f"  {o.view.id}: " + "; ".join(f"{n}x {k}" for k, n in kinds.items()))
        unv = [o for o in built if o.unverifiable]
        if unv:
            print("\nSTATEMENTS AFTER WHICH diff() FAILED")
            for o in unv:
                print(f"  {o.view.id}: {len(o.unverifiable)}x {o.unverifiable[0][1]}")
        print("\nSTALE")
        by_construct: dict[str, list[Outcome]] = {}
        for o in stale:
            by_construct.setdefault(o.view.construct, []).append(o)
        for construct, os_ in sorted(by_construct.items()):
            print(f"\n== {construct}")
            for o in os_:
                print(describe(o))
                if do_min:
                    seq = minimize(conn, o)
                    m = run_view(conn, o.view, statements=seq, stop_at_first=True)
                    print("  minimized:")
                    print("\n".join(f"    {s};" for s in seq))
                    if m.events:
                        e = m.events[0]
                        print(f"    -> {e.missing} missing, {e.extra} extra; cause {', '.join(e.causes)}")
                        print("\n".join(f"       {s}" for s in e.sample))


if __name__ == "__main__":
    main(sys.argv[1:])

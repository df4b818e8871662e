"""Two single-statement writers that reach the same tviews in different orders do not deadlock.

tv_b reads tv_a, which reads a; tv_c reads a and b. A write to a maintains tv_a, then tv_b (from
inside tv_a's maintenance), then tv_c; a write to b maintains tv_c, then tv_b. Maintenance locks the
tviews a statement can reach in one global order first, so the second writer waits instead of
deadlocking. (Found by an independent project; slow() only widens the window.)
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import tviews
from conftest import divergences, install_tview, unique_schema
from pgtarget import PgTarget


def install(conn: Any, schema: str, name: str, sql: str) -> None:
    install_tview(conn, schema, name, sql, ["id"])


def test_writers_reaching_tviews_in_opposite_orders_do_not_deadlock(pg: PgTarget, conn: Any) -> None:
    schema = unique_schema("tvl")
    s = f'"{schema}"'
    conn.execute(f"create schema {s}")
    try:
        conn.execute(f"create table {s}.a (id int primary key, v int)")
        conn.execute(f"create table {s}.b (id int primary key, a_id int references {s}.a, w int)")
        conn.execute(f"insert into {s}.a values (1, 1), (2, 2)")
        conn.execute(f"insert into {s}.b values (1, 1, 10), (2, 2, 20)")
        conn.execute(f"create function {s}.slow(x int) returns int language plpgsql immutable "
                     "as $$ begin perform pg_sleep(0.5); return x; end $$")
        conn.execute(tviews.runtime_sql("tviews"))
        install(conn, schema, "tv_a", f"select a.id, a.v from {s}.a a")
        install(conn, schema, "tv_b", f"select t.id, {s}.slow(t.v) as v, (select count(*) from {s}.b b "
                                      f"where b.a_id = t.id) as n from {s}.tv_a t")
        install(conn, schema, "tv_c", f"select a.id, (select sum(b.w) from {s}.b b where b.a_id = a.id) as s from {s}.a a")

        errors: list[str] = []
        first_started = threading.Event()

        def write(sql: str, started: threading.Event | None = None) -> None:
            try:
                with psycopg.connect(pg.dsn, autocommit=True) as c:
                    if started is not None:
                        started.set()
                    c.execute(sql)
            except psycopg.Error as e:
                errors.append(f"{sql}: {e}")

        one = threading.Thread(target=write, args=(f"insert into {s}.a values (3, 3)", first_started))
        one.start()
        first_started.wait()
        threading.Event().wait(0.3)  # the first writer is inside tv_b's slow recompute
        two = threading.Thread(target=write, args=(f"update {s}.b set a_id = 2 where id = 1",))
        two.start()
        one.join()
        two.join()
        assert errors == []
        assert divergences(conn, schema) == []
    finally:
        conn.execute(f"drop schema if exists {s} cascade")
        conn.execute("select tviews.gc()")

"""Each statement recomputes every affected tview exactly once, in dependency order.

A chain with diamonds: tv_a reads tb_post; tv_b reads tb_post and tv_a; tv_c reads tb_post and
tv_b. A statement on tb_post reaches tv_b twice (directly, and through tv_a's maintenance) and tv_c
three ways; the maintenance functions must still run once per tview. Counted with
pg_stat_xact_user_functions (track_functions = 'all'), in the writing transaction.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from conftest import divergences, unique_schema
from oracle import Oracle

SHAPES: dict[str, tuple[list[str] | None, str]] = {
    "tv_a": (["pk_post"], "select p.pk_post, p.title, p.score from {s}.tb_post p"),
    "tv_b": (["pk_post"], """select p.pk_post, a.title || '/' || p.score as label
        from {s}.tb_post p join {s}.tv_a a on a.pk_post = p.pk_post"""),
    "tv_c": (["pk_post"], """select b.pk_post, b.label, p.published, (select count(*) from {s}.tv_a a
        where a.score = p.score) as same_score from {s}.tv_b b join {s}.tb_post p on p.pk_post = b.pk_post"""),
}


@pytest.fixture()
def chain(conn: Any) -> Any:
    schema = unique_schema("tvx")
    Oracle(conn, schema, random.Random(0), []).create(SHAPES)
    yield schema
    conn.execute(f'drop schema if exists "{schema}" cascade')
    conn.execute("select tviews.gc()")


def calls(conn: Any, schema: str) -> dict[str, int]:
    """Calls of each tview's apply() and full() so far in this transaction, by tview and kind."""
    conn.execute("select pg_stat_clear_snapshot()")  # statistics are cached per transaction
    rows = conn.execute(
        """select t.tview_name || ':' || right(f.funcname, 5), f.calls
           from tviews.tview t join pg_stat_xact_user_functions f
             on f.schemaname = 'tviews' and f.funcname in (t.base_name || '__apply', t.base_name || '__full')
           where t.tview_schema = %s""", (schema,)).fetchall()
    return dict(rows)


@pytest.mark.parametrize("statement, expected", [
    ("update {s}.tb_post set title = title || 'x', score = score + 1 where pk_post in (1, 2, 3)",
     {"tv_a:apply": 1, "tv_b:apply": 1, "tv_c:apply": 1}),
    ("insert into {s}.tb_post (pk_post, fk_user, title, score) values (100, 1, 'new', 3), (101, 2, 'two', 4)",
     {"tv_a:apply": 1, "tv_b:apply": 1, "tv_c:apply": 1}),
    ("delete from {s}.tb_post where pk_post in (4, 5)", {"tv_a:apply": 1, "tv_b:apply": 1, "tv_c:apply": 1}),
    # tv_a and tv_b read neither column: only tv_c works, once
    ("update {s}.tb_post set published = not published where pk_post = 6", {"tv_c:apply": 1}),
    ("truncate {s}.tb_post cascade", {"tv_a:_full": 1, "tv_b:_full": 1, "tv_c:_full": 1}),
])
def test_one_statement_recomputes_each_tview_once(conn: Any, chain: str, statement: str,
                                                  expected: dict[str, int]) -> None:
    conn.execute("begin")
    try:
        conn.execute("set local track_functions = 'all'")
        conn.execute(statement.format(s=f'"{chain}"'))
        assert calls(conn, chain) == expected
        assert divergences(conn, chain) == []  # already exact inside the transaction
        # Nothing is left over for the next statement: it costs each tview one apply() again.
        before = calls(conn, chain)
        if conn.execute(f'update "{chain}".tb_post set title = title || \'z\' where pk_post = 1').rowcount:
            after = calls(conn, chain)
            assert {k: after[k] - before.get(k, 0) for k in after if k.endswith("apply")} == \
                {"tv_a:apply": 1, "tv_b:apply": 1, "tv_c:apply": 1}
    finally:
        conn.execute("rollback")
    assert divergences(conn, chain) == []


def test_a_failed_statement_leaves_no_keys_behind(conn: Any, chain: str) -> None:
    """A failed statement inside a savepoint leaves no keys behind for the next statement."""
    s = f'"{chain}"'
    conn.execute("begin")
    try:
        conn.execute("savepoint sp")
        with pytest.raises(Exception):
            conn.execute(f"update {s}.tb_post set title = title || 'x', fk_user = -1 where pk_post = 1")
        conn.execute("rollback to savepoint sp")
        assert conn.execute("select coalesce(current_setting('tviews.origin', true), '')").fetchone()[0] == ""
        conn.execute(f"update {s}.tb_post set title = title || 'y' where pk_post = 2")
        assert divergences(conn, chain) == []
        conn.execute("commit")
    finally:
        if conn.info.transaction_status != 0:
            conn.execute("rollback")
    assert divergences(conn, chain) == []

"""Window functions: a write recomputes the partitions it touches, and only those.

The randomized oracle (oracle.py, tv_window* shapes) proves exactness over random transactions;
these tests pin what it cannot see: the recompute reads the touched partitions through indexes
rather than the whole table, and a recompute SELECT that disagrees with the model is not trusted.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import tviews
from conftest import divergences, install_tview, unique_schema

ROWS = 20000
SQL = """select s.pk_score, s.fk_player, s.points,
    rank() over (partition by s.fk_player order by s.points desc, s.pk_score) as rank_of_player,
    sum(s.points) over (partition by s.fk_player) as player_total
    from {s}.tb_score s"""


@pytest.fixture()
def scores(conn: Any) -> Any:
    schema = unique_schema("tvw")
    s = f'"{schema}"'
    conn.execute(f"create schema {s}")
    conn.execute(f"create table {s}.tb_score (pk_score int primary key, fk_player int, points int not null)")
    conn.execute(f"create index on {s}.tb_score (fk_player)")
    conn.execute(f"insert into {s}.tb_score select g, nullif(g % 2000, 0), g % 97 from generate_series(1, {ROWS}) g")
    conn.execute(f"analyze {s}.tb_score")
    conn.execute(tviews.runtime_sql("tviews"))
    yield schema
    conn.execute(f"drop schema if exists {s} cascade")
    conn.execute("select tviews.gc()")


def build(conn: Any, schema: str, recompute: str | None = "plan") -> None:
    overrides = {} if recompute == "plan" else {"recompute": recompute}
    install_tview(conn, schema, "tv_rank", SQL.format(s=f'"{schema}"'), ["pk_score"], **overrides)


def reads(conn: Any, schema: str) -> int:
    """Rows of tb_score read by sequential and index scans (counts not yet flushed to the shared
    statistics, which include earlier transactions of this session: compare differences)."""
    conn.execute("select pg_stat_clear_snapshot()")
    return conn.execute("select seq_tup_read + coalesce(idx_tup_fetch, 0) from pg_stat_xact_user_tables "
                        "where schemaname = %s "
                        "and relname = 'tb_score'", (schema,)).fetchone()[0]


def test_a_write_reads_the_touched_partitions_not_the_table(conn: Any, scores: str) -> None:
    build(conn, scores)
    assert conn.execute("select recompute is not null from tviews.tview where tview_schema = %s",
                        (scores,)).fetchone()[0]
    s = f'"{scores}"'
    conn.execute("begin")
    try:
        before = reads(conn, scores)
        conn.execute(f"update {s}.tb_score set points = points + 50 where pk_score = 4321")  # player 321
        conn.execute(f"update {s}.tb_score set fk_player = 7 where pk_score = 4322")  # moves: two partitions
        conn.execute(f"insert into {s}.tb_score values ({ROWS + 1}, null, 5)")  # the NULL partition
        conn.execute(f"delete from {s}.tb_score where pk_score = 2000")  # the NULL partition again
        assert reads(conn, scores) - before < ROWS / 10  # about 10 rows per partition, not the table
        assert divergences(conn, scores) == []
        conn.execute("commit")
    finally:
        if conn.info.transaction_status != 0:
            conn.execute("rollback")
    assert divergences(conn, scores) == []


def test_a_recompute_select_that_disagrees_is_replaced_by_the_definition(conn: Any, scores: str) -> None:
    """The runtime samples the rewritten SELECT against the built table; if it differs, it warns
    and maintains the tview from the model's SELECT itself."""
    wrong = SQL.format(s=f'"{scores}"').replace("s.points,", "s.points + 1,") + " where s.pk_score = any($1)"
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    build(conn, scores, recompute=wrong)
    assert any("partition-restricted recompute differs" in n for n in notices), notices
    assert conn.execute("select recompute from tviews.tview where tview_schema = %s", (scores,)).fetchone()[0] is None
    conn.execute(f'update "{scores}".tb_score set points = 0 where pk_score = 11')
    assert divergences(conn, scores) == []


def test_no_recompute_for_windows_the_key_cannot_reach(conn: Any, scores: str) -> None:
    """A window in a CTE read through a correlated subquery: recomputed whole, still exact."""
    s = f'"{scores}"'
    sql = f"""with ranked as (select sc.fk_player, sc.points, row_number() over (partition by sc.fk_player
                  order by sc.points desc, sc.pk_score) as r from {s}.tb_score sc)
              select p.pk_player, (select max(r.points) from ranked r where r.fk_player = p.pk_player and r.r <= 2) as top
              from (select distinct fk_player as pk_player from {s}.tb_score where fk_player < 50) p"""
    assert install_tview(conn, scores, "tv_top", sql, ["pk_player"])["recompute"] is None
    conn.execute(f"update {s}.tb_score set points = 1000 where pk_score = 10")
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(f"insert into {s}.tb_score values (10, 1, 1)")
    assert divergences(conn, scores) == []

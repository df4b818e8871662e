"""install() refuses a table whose key does not identify its rows, and says which row."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
import tviews
from conftest import unique_schema
from tviews.pgcatalog import load_catalog


@pytest.mark.parametrize("rows, error, detail", [
    ("(1, 'a'), (null, 'b')", psycopg.errors.NotNullViolation, "(NULL, b)"),
    ("(1, 'a'), (1, 'a'), (2, 'b')", psycopg.errors.UniqueViolation, "(1, a)"),
])
def test_a_key_that_does_not_identify_rows_is_refused_with_an_example(conn: Any, rows: str, error: type,
                                                                      detail: str) -> None:
    schema = unique_schema("tvk")
    s = f'"{schema}"'
    conn.execute(f"create schema {s}")
    try:
        conn.execute(f"create table {s}.src (k int, t text)")
        conn.execute(f"insert into {s}.src values {rows}")
        conn.execute(tviews.runtime_sql("tviews"))
        sql = f"select x.k, x.t from {s}.src x"

        def query(q: str, params: Any) -> list[tuple[Any, ...]]:
            return conn.execute(q, params).fetchall()

        plan = tviews.analyze(sql, model="tv_k", unique_key=["k", "t"], catalog=load_catalog(query, sql, "tv_k"))
        conn.execute(f"create table {s}.tv_k as {sql}")
        with pytest.raises(error) as info:
            conn.execute("select tviews.install(%s, 'tv_k', %s, %s, 'h')", (schema, json.dumps(plan.to_dict()), sql))
        assert "tv_k" in info.value.diag.message_primary
        assert detail in (info.value.diag.message_detail or ""), info.value.diag.message_detail
        assert info.value.diag.message_hint
        assert conn.execute("select count(*) from tviews.tview where tview_schema = %s", (schema,)).fetchone()[0] == 0
    finally:
        conn.execute(f"drop schema if exists {s} cascade")

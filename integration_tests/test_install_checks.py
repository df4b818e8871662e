"""install() refuses a table whose key does not identify its rows, and says which row. NULL is a key
value like any other (GROUP BY and DISTINCT make one group of NULLs), so two NULL keys collide."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import tviews
from conftest import install_tview, unique_schema


@pytest.mark.parametrize("rows, error, detail", [
    ("(1, 'a'), (null, 'b'), (null, 'b')", psycopg.errors.UniqueViolation, "(NULL, b)"),
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
        with pytest.raises(error) as info:
            install_tview(conn, schema, "tv_k", f"select x.k, x.t from {s}.src x", ["k", "t"])
        assert "tv_k" in info.value.diag.message_primary
        assert detail in (info.value.diag.message_detail or ""), info.value.diag.message_detail
        assert info.value.diag.message_hint
        assert conn.execute("select count(*) from tviews.tview where tview_schema = %s", (schema,)).fetchone()[0] == 0
    finally:
        conn.execute(f"drop schema if exists {s} cascade")

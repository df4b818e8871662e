"""Shapes that independent tests found building and then going silently stale (issue 7), each
built as a tview, written to, and checked against its SELECT after every statement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import tviews
from conftest import divergences, install_tview, unique_schema

SCHEMA = """
create table {s}.grp (pk_grp int primary key, name text);
create table {s}.usr (pk_usr int primary key, fk_grp int references {s}.grp, name text, kind text);
create table {s}.post (pk_post int primary key, fk_usr int references {s}.usr on delete set null,
                       title text, category text);
create table {s}.note (pk_note int primary key, fk_post int references {s}.post on delete cascade, body text);
create table {s}."Order" ("OrderNo" int primary key, "Amount" numeric);
create table {s}.mv_base_a (id int primary key, v text);
insert into {s}.grp values (1, 'g1'), (2, 'g2');
insert into {s}.usr values (1, 1, 'ann', 'a'), (2, 2, 'bob', 'b'), (3, null, 'cy', null);
insert into {s}.post values (1, 1, 'p1', 'x'), (2, 2, 'p2', null), (3, null, 'p3', 'y'), (4, 3, 'p4', 'x');
insert into {s}.note values (1, 1, 'spam one'), (2, 1, 'ok'), (3, 2, 'ok');
insert into {s}."Order" values (1, 10), (2, 20);
insert into {s}.mv_base_a values (1, 'a');
"""


@pytest.fixture()
def db(conn: psycopg.Connection[Any]) -> Iterator[str]:
    schema = unique_schema("tvdv")
    conn.execute(f'create schema "{schema}"')
    conn.execute(SCHEMA.format(s=f'"{schema}"'))
    conn.execute(tviews.runtime_sql("tviews"))
    yield schema
    conn.execute(f'drop schema "{schema}" cascade')
    conn.execute("select tviews.gc()")


def exact_after_each(conn: psycopg.Connection[Any], schema: str, writes: list[str]) -> None:
    assert divergences(conn, schema) == [], "differs right after the build"
    for sql in writes:
        conn.execute(sql.format(s=f'"{schema}"'))
        assert divergences(conn, schema) == [], f"differs from its SELECT after: {sql}"


WRITES = [
    "update {s}.usr set name = name || '!' where pk_usr = 1",
    "update {s}.post set fk_usr = null where pk_post = 1",
    "update {s}.post set fk_usr = 2 where pk_post = 3",
    "insert into {s}.usr values (4, 2, 'dee', null)",
    "update {s}.usr set fk_grp = null where pk_usr = 2",
    "update {s}.grp set name = 'G2' where pk_grp = 2",
    "insert into {s}.post values (5, 4, 'p5', null), (6, null, 'p6', null)",
    "update {s}.note set body = 'spam two' where pk_note = 3",
    "insert into {s}.note values (4, 4, 'spam'), (5, 5, 'ok')",
    "delete from {s}.note where body like 'spam%'",
    "update {s}.post set category = null",
    "delete from {s}.usr where pk_usr = 3",
    "delete from {s}.post where pk_post in (1, 2)",
    "update {s}.grp set pk_grp = 3 where pk_grp = 1 and not exists (select 1 from {s}.usr where fk_grp = 1)",
]


@pytest.mark.parametrize("sql", [
    # the form pg_get_viewdef prints
    "select p.pk_post, p.title, u.name, g.name as grp from (({s}.post p join {s}.usr u on u.pk_usr = p.fk_usr) "
    "join {s}.grp g on g.pk_grp = u.fk_grp)",
    "select p.pk_post, u.name, g.name as grp from {s}.post p join ({s}.usr u join {s}.grp g on g.pk_grp = u.fk_grp) "
    "on u.pk_usr = p.fk_usr",
    "select p.pk_post, u.name, g.name as grp from {s}.post p join ({s}.usr u left join {s}.grp g on g.pk_grp = u.fk_grp) "
    "on u.pk_usr = p.fk_usr",
], ids=["left-deep", "right-nested-inner", "right-nested-left"])
def test_parenthesized_joins_are_maintained(conn: Any, db: str, sql: str) -> None:
    """A FROM clause with parenthesized joins maintains every table in it (they used to get no triggers)."""
    install_tview(conn, db, "tv", sql.format(s=f'"{db}"'), ["pk_post"])
    exact_after_each(conn, db, WRITES)


@pytest.mark.parametrize("sql, key", [
    ("select p.pk_post, u.name as usr, g.name as grp from {s}.post p left join {s}.usr u on u.pk_usr = p.fk_usr "
     "left join {s}.grp g on g.pk_grp = u.fk_grp", ["pk_post"]),
    # the key reads tables joined through the NULL-extended side: (post, NULL, NULL) rows come and go
    ("select p.pk_post, coalesce(u.name, '-') as usr, coalesce(g.name, '-') as grp, count(n.pk_note) as notes "
     "from {s}.post p left join {s}.usr u on u.pk_usr = p.fk_usr left join {s}.grp g on g.pk_grp = u.fk_grp "
     "left join {s}.note n on n.fk_post = p.pk_post group by 1, 2, 3", ["pk_post", "usr", "grp"]),
    ("select g.name as grp, u.name as usr, count(p.pk_post) as posts from {s}.grp g "
     "full join {s}.usr u on u.fk_grp = g.pk_grp left join {s}.post p on p.fk_usr = u.pk_usr group by 1, 2",
     ["grp", "usr"]),
], ids=["left-chain", "left-chain-key-through-nullable", "full-then-left"])
def test_chains_of_outer_joins_are_maintained(conn: Any, db: str, sql: str, key: list[str]) -> None:
    """Chains and mixes of three or more outer joins, with keys read through NULL-extended sides, stay exact."""
    install_tview(conn, db, "tv", sql.format(s=f'"{db}"'), key)
    exact_after_each(conn, db, WRITES)


def test_anti_join_on_a_non_key_column_is_maintained(conn: Any, db: str) -> None:
    """LEFT JOIN note ON <non-key column> .. WHERE note.body IS NULL (an anti-join) stays exact as spam comes and goes."""
    install_tview(conn, db, "tv", f'select p.pk_post, p.title from "{db}".post p left join "{db}".note n '
                                  f"on n.fk_post = p.pk_post and n.body like 'spam%' where n.body is null", ["pk_post"])
    exact_after_each(conn, db, WRITES)


@pytest.mark.parametrize("sql, key", [
    ("select p.category, count(*) as n, min(p.title) as first from {s}.post p group by p.category", ["category"]),
    ("select distinct u.kind, u.fk_grp from {s}.usr u", ["kind", "fk_grp"]),
], ids=["group-by", "distinct"])
def test_null_group_keys_that_appear_after_the_build_are_maintained(conn: Any, db: str, sql: str, key: list[str]) -> None:
    """A NULL group key or DISTINCT value is one row of the tview like any other, also when it first appears after the build."""
    conn.execute(f'update "{db}".post set category = \'x\' where category is null')
    install_tview(conn, db, "tv", sql.format(s=f'"{db}"'), key)
    exact_after_each(conn, db, WRITES + ["update {s}.post set category = 'z' where category is null",
                                         "update {s}.post set category = null where pk_post = 4",
                                         "update {s}.usr set kind = null"])
    assert conn.execute(f'select count(*) from "{db}".tv where {key[0]} is null').fetchone()[0] > 0  # type: ignore[index]


@pytest.mark.parametrize("sql", [
    "select p.pk_post, p.title, (select min(n.pk_note) from {s}.note n) as first_note from {s}.post p",
    "select p.pk_post, p.title from {s}.post p where p.pk_post <= (select count(*) from {s}.note)",
    "select p.pk_post, s.i from {s}.post p, generate_series(1, (select count(*) from {s}.grp)) as s(i)",
], ids=["select-list", "where", "function-argument-in-from"])
def test_uncorrelated_scalar_subqueries_are_maintained_or_refused(conn: Any, db: str, sql: str) -> None:
    """An uncorrelated scalar subquery (every row depends on it) is maintained, or refused at build; never built and left stale."""
    try:
        install_tview(conn, db, "tv", sql.format(s=f'"{db}"'), ["pk_post", "i"] if " s.i" in sql else ["pk_post"])
    except (tviews.TviewError, psycopg.errors.FeatureNotSupported):
        return
    exact_after_each(conn, db, WRITES + ["insert into {s}.grp values (9, 'g9')", "delete from {s}.grp where pk_grp = 9"])


def test_a_data_modifying_cte_is_refused_before_anything_runs(conn: Any, db: str) -> None:
    """A model with `WITH d AS (DELETE ...)` is refused by the analysis; the DELETE never runs."""
    with pytest.raises(tviews.UnsupportedConstruct, match="data-modifying"):
        install_tview(conn, db, "tv", f'with d as (delete from "{db}".note returning fk_post) '
                                      f'select p.pk_post from "{db}".post p', ["pk_post"])
    assert conn.execute(f'select count(*) from "{db}".note').fetchone()[0] == 3  # type: ignore[index]


def test_mixed_case_names_are_resolved_as_postgresql_does(conn: Any, db: str) -> None:
    """Quoted upper-case columns ("OrderNo") resolve, and unquoted mixed-case names (mv_base_A) fold to lower case."""
    install_tview(conn, db, "tv_order", f'select o."OrderNo", o."Amount" * 2 as double from "{db}"."Order" o', ["OrderNo"])
    install_tview(conn, db, "tv_base", f'select b.id, upper(b.v) as v from "{db}".mv_base_A b', ["id"])
    exact_after_each(conn, db, ['insert into {s}."Order" values (3, 30)', 'update {s}."Order" set "Amount" = 0',
                                "insert into {s}.mv_base_a values (2, 'b')", "update {s}.mv_base_A set v = 'z'"])


def test_a_write_that_breaks_the_key_fails_instead_of_dropping_a_row(conn: Any, db: str) -> None:
    """A write after the build that makes two rows of the SELECT share the key fails with 23505 naming the tview; the tview stays exact."""
    install_tview(conn, db, "tv", f'select u.name, u.kind from "{db}".usr u', ["name"])
    with pytest.raises(psycopg.errors.UniqueViolation, match="tv: the unique key is not unique"):
        conn.execute(f"insert into \"{db}\".usr values (9, null, 'ann', 'z')")
    install_tview(conn, db, "tv_all", f'select u.kind from "{db}".usr u where u.kind is not null', ["kind"])
    with pytest.raises(psycopg.errors.UniqueViolation, match="tv_all: the unique key is not unique"):
        conn.execute(f"insert into \"{db}\".usr values (9, null, 'dee', 'a')")
    assert divergences(conn, db) == []

"""DDL on the sources of a tview (and on tviews) never leaves a tview silently different from its SELECT.

A schema change that maintenance cannot follow must be refused (an error naming the tview), or it
must leave the tview loudly broken: writes that would not keep it exact fail with an error naming
it, `tviews.is_intact()` says false, `dbt run` rebuilds it, and `tviews.repair()` / `tviews.gc()`
bring things back to a clean state without orphans. Also: a dump restored into a database of
another name keeps maintaining its tviews.

Built with install_tview (no dbt) except where dbt itself is under test (dump/restore with dbt,
drift seen by `dbt run`).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import tviews
from conftest import divergences, install_tview, unique_schema
from pgtarget import PgTarget

from consumer import (  # noqa: F401 - shared fixtures
    ConsumerProject,
    consumer,
    consumer_template,
    copy_project,
    mconn,
)

# --------------------------------------------------------------------------------------------------
# Shop schema and tviews
# --------------------------------------------------------------------------------------------------

# Short names: varchar(5) must fit them, so a refused retype is refused because of the tview.
SHOP = """
create table {s}.tb_customer (
    pk_customer int primary key,
    name   text not null,
    region text not null,
    note   text,
    a      int,
    b      int
);
create table {s}.tb_order (
    pk_order    int primary key,
    fk_customer int not null references {s}.tb_customer on delete cascade,
    amount      numeric(12, 2) not null,
    status      text not null default 'open',
    memo        text
);
create index on {s}.tb_order (fk_customer);
create table {s}.tb_region (region text primary key, label text not null);
insert into {s}.tb_customer values (1, 'ann', 'north', null, 1, 10), (2, 'bob', 'south', 'x', 2, 20),
                                   (3, 'cy', 'north', null, 3, 30);
insert into {s}.tb_order values (1, 1, 10.50, 'open', null), (2, 1, 2.25, 'paid', 'm'), (3, 2, 7.00, 'open', null),
                                (4, 3, 1.00, 'paid', null);
insert into {s}.tb_region values ('north', 'N'), ('south', 'S'), ('west', 'W');
"""

# One row per customer: the customer's own columns and a correlated subquery over the orders.
TV_CUSTOMER = """select c.pk_customer, c.name, c.region, c.a, c.b,
    (select count(*) from {s}.tb_order o where o.fk_customer = c.pk_customer) as n_orders,
    (select coalesce(sum(o.amount), 0) from {s}.tb_order o where o.fk_customer = c.pk_customer) as total
from {s}.tb_customer c"""

# One row per order, joined to its customer.
TV_ORDER = """select o.pk_order, o.amount, o.status, c.name as customer_name
from {s}.tb_order o join {s}.tb_customer c on c.pk_customer = o.fk_customer"""

# A tview on tv_customer, joined to a second source.
TV_REGION = """select c.region, r.label, count(*) as customers, sum(c.total) as total
from {s}.tv_customer c join {s}.tb_region r on r.region = c.region
group by c.region, r.label"""

# A whole-row reference: the tview's value depends on every column of the source.
TV_DOC = """select p.pk_customer, to_jsonb(p) as doc from {s}.tb_customer p"""

KEYS = {"tv_customer": ["pk_customer"], "tv_order": ["pk_order"], "tv_region": ["region"],
        "tv_doc": ["pk_customer"]}
SQL = {"tv_customer": TV_CUSTOMER, "tv_order": TV_ORDER, "tv_region": TV_REGION, "tv_doc": TV_DOC}


@pytest.fixture()
def shop(conn: Any) -> Iterator[str]:
    """A schema with the shop's source tables (3 customers, 4 orders, 3 regions) and the runtime; no tview yet."""
    schema = unique_schema("tvd")
    s = f'"{schema}"'
    conn.execute(f"create schema {s}")
    conn.execute(SHOP.format(s=s))
    conn.execute(tviews.runtime_sql("tviews"))
    yield schema
    conn.execute(f"drop schema if exists {s} cascade")
    conn.execute("select tviews.gc()")


def build(conn: Any, schema: str, *names: str) -> None:
    for name in names:
        install_tview(conn, schema, name, SQL[name].format(s=f'"{schema}"'), KEYS[name])


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def one(conn: Any, sql: str, *params: Any) -> Any:
    row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def diff(conn: Any, schema: str, name: str) -> list[tuple[Any, ...]]:
    return list(conn.execute("select problem, row_data from tviews.diff(%s, %s)", (schema, name)).fetchall())


def is_intact(conn: Any, schema: str, name: str) -> bool:
    return bool(one(conn, "select tviews.is_intact(%s, %s)", schema, name))


def is_registered(conn: Any, schema: str, name: str) -> bool:
    return bool(one(conn, "select count(*) from tviews.tview where tview_schema = %s and tview_name = %s",
                    schema, name))


def base_name(conn: Any, schema: str, name: str) -> str:
    return str(one(conn, "select base_name from tviews.tview where tview_schema = %s and tview_name = %s",
                   schema, name))


def error_text(e: psycopg.Error) -> str:
    """The primary message and the DETAIL of a server error."""
    return f"{e.diag.message_primary or ''}\n{e.diag.message_detail or ''}"


def refused(conn: Any, ddl: str, tview: str) -> None:
    """`ddl` must raise, with the tview's name in its message or DETAIL."""
    with pytest.raises(psycopg.Error) as info:
        conn.execute(ddl)
    assert tview in error_text(info.value), (
        f"{ddl!r} was refused, but the error does not name {tview}: {error_text(info.value)}")


def exact_or_refused(conn: Any, schema: str, tview: str, sql: str) -> bool:
    """Run a write: it must fail with an error whose message names the tview, or succeed and leave
    the tview equal to its SELECT. Returns whether it succeeded."""
    try:
        conn.execute(sql)
    except psycopg.Error as e:
        assert tview in (e.diag.message_primary or ""), (
            f"{sql!r} failed with an error whose message does not name {tview}: {error_text(e)}")
        return False
    assert diff(conn, schema, tview) == [], f"{sql!r} succeeded and left {tview} different from its SELECT"
    return True


def assert_writes_exact(conn: Any, schema: str, tviews_: list[str], writes: list[str]) -> None:
    """Every write succeeds and every tview listed stays equal to its SELECT."""
    for sql in writes:
        conn.execute(sql)
        for tv in tviews_:
            assert diff(conn, schema, tv) == [], f"after {sql!r}, {tv} differs from its SELECT"


def generated_of(conn: Any, base: str) -> list[str]:
    """Functions in the runtime schema whose name starts with a tview's base_name."""
    return [r[0] for r in conn.execute(
        "select proname::text from pg_proc where pronamespace = 'tviews'::regnamespace "
        "and left(proname, length(%s)) = %s order by 1", (base, base)).fetchall()]


def triggers_of(conn: Any, tview: str, base: str) -> list[tuple[str, str]]:
    """(table, trigger) of every trigger, on any table of the database, that maintains the tview:
    named after it, or calling one of its generated functions."""
    return [(r[0], r[1]) for r in conn.execute(r"""
        select g.tgrelid::regclass::text, g.tgname::text
        from pg_trigger g join pg_proc p on p.oid = g.tgfoid
        where not g.tgisinternal
          and (g.tgname ~ ('^tviews_(\d\d_)?' || %s || '_[0-9a-f]{8}_(ins|upd|del|trn)$')
               or left(p.proname, length(%s)) = %s)
        order by 1, 2""", (re.escape(tview), base, base)).fetchall()]


def assert_no_orphans(conn: Any, schema: str, tview: str, base: str) -> None:
    """After gc(): a tview no longer registered has no generated function and no trigger left
    anywhere; no catalog entry names a table that does not exist; a registered tview whose source
    is missing is reported broken by is_intact()."""
    if not is_registered(conn, schema, tview):
        assert generated_of(conn, base) == [], f"functions of the unregistered {tview} left behind"
        assert triggers_of(conn, tview, base) == [], f"triggers of the unregistered {tview} left behind"
        assert one(conn, "select count(*) from tviews.tview_source s where not exists "
                         "(select from tviews.tview t where t.tview_id = s.tview_id)") == 0
    missing = conn.execute("select tview_schema, tview_name from tviews.tview "
                           "where to_regclass(format('%%I.%%I', tview_schema, tview_name)) is null", ()).fetchall()
    assert missing == [], f"catalog entries of tviews whose table is gone: {missing}"
    broken = conn.execute("""
        select distinct t.tview_name::text from tviews.tview t join tviews.tview_source s using (tview_id)
        where t.tview_schema = %s and to_regclass(format('%%I.%%I', s.source_schema, s.source_name)) is null
          and tviews.is_intact(t.tview_schema, t.tview_name)""", (schema,)).fetchall()
    assert broken == [], f"tviews with a missing source reported intact: {broken}"


def assert_not_silently_stale(conn: Any, schema: str, tview: str, other_writes: list[str]) -> None:
    """After gc(): the tview is no longer a tview, or is_intact() is false and writes to its
    remaining sources fail."""
    if not is_registered(conn, schema, tview):
        return
    assert not is_intact(conn, schema, tview), f"{tview} lost a source but is_intact() says true"
    for sql in other_writes:
        with pytest.raises(psycopg.Error):
            conn.execute(sql)


# --------------------------------------------------------------------------------------------------
# A. Retyping a column a tview reads is refused
# --------------------------------------------------------------------------------------------------

RETYPES = [
    ("tb_order", "amount", "double precision", "tv_order"),
    ("tb_customer", "name", "varchar(5)", "tv_order"),
    ("tb_customer", "name", "varchar(5)", "tv_customer"),
    ("tb_order", "fk_customer", "bigint", "tv_customer"),
]


@pytest.mark.parametrize("table, column, new_type, tview", RETYPES,
                         ids=[f"{t}.{c}->{ty.split('(')[0].replace(' ', '_')}-{v}" for t, c, ty, v in RETYPES])
def test_retyping_a_read_column_is_refused(conn: Any, shop: str, table: str, column: str, new_type: str,
                                           tview: str) -> None:
    """ALTER COLUMN ... TYPE on a source column a tview reads raises an error naming the tview, and the tview stays maintained exactly."""
    s = f'"{shop}"'
    build(conn, shop, tview)
    refused(conn, f'alter table {s}."{table}" alter column "{column}" type {new_type}', tview)
    assert is_intact(conn, shop, tview)
    assert_writes_exact(conn, shop, [tview], [
        f"insert into {s}.tb_customer values (4, 'dee', 'south', null, 4, 40)",
        f"insert into {s}.tb_order values (5, 4, 3.50, 'open')",
        f"update {s}.tb_order set amount = amount + 1 where pk_order = 1",
        f"update {s}.tb_customer set name = 'al' where pk_customer = 1",
        f"delete from {s}.tb_order where pk_order = 3",
    ])


# --------------------------------------------------------------------------------------------------
# B. Dropping a column a tview reads
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table, column, tview", [
    ("tb_customer", "name", "tv_order"),
    ("tb_customer", "b", "tv_customer"),
    ("tb_order", "amount", "tv_customer"),
])
def test_dropping_a_read_column_is_refused(conn: Any, shop: str, table: str, column: str, tview: str) -> None:
    """DROP COLUMN (without CASCADE) of a source column a tview reads raises an error naming the tview, and the tview stays maintained exactly."""
    s = f'"{shop}"'
    build(conn, shop, tview)
    refused(conn, f'alter table {s}."{table}" drop column "{column}"', tview)
    assert is_intact(conn, shop, tview)
    assert_writes_exact(conn, shop, [tview], [
        f"insert into {s}.tb_customer values (4, 'dee', 'south', null, 4, 40)",
        f"insert into {s}.tb_order values (5, 4, 3.50, 'open')",
        f"update {s}.tb_customer set name = 'al', b = 11 where pk_customer = 1",
        f"delete from {s}.tb_order where pk_order = 3",
    ])


@pytest.mark.parametrize("table, column, tview, other_writes", [
    ("tb_customer", "name", "tv_order", ["insert into {s}.tb_order values (5, 2, 3.50, 'open')",
                                         "update {s}.tb_order set amount = 1 where pk_order = 1",
                                         "delete from {s}.tb_order where pk_order = 3"]),
    ("tb_order", "amount", "tv_customer", ["insert into {s}.tb_customer values (4, 'dee', 'south', null, 4, 40)",
                                           "update {s}.tb_customer set name = 'al' where pk_customer = 1",
                                           "delete from {s}.tb_customer where pk_customer = 3"]),
], ids=["tb_customer.name-tv_order", "tb_order.amount-tv_customer"])
def test_dropping_a_read_column_with_cascade_breaks_the_tview_loudly(conn: Any, shop: str, table: str, column: str,
                                                                     tview: str, other_writes: list[str]) -> None:
    """After DROP COLUMN ... CASCADE of a column a tview reads: is_intact() is false, writes to its other source raise, and gc() leaves no orphan."""
    s = f'"{shop}"'
    build(conn, shop, tview)
    base = base_name(conn, shop, tview)
    conn.execute(f'alter table {s}."{table}" drop column "{column}" cascade')
    assert not is_intact(conn, shop, tview), "a tview whose SELECT can no longer run is reported intact"
    writes = [w.format(s=s) for w in other_writes]
    if one(conn, "select to_regclass(%s)", f"{s}.{tview}") is not None:
        for sql in writes:  # its SELECT reads the dropped column: it cannot be kept exact
            with pytest.raises(psycopg.Error):
                conn.execute(sql)
    conn.execute("select tviews.gc()")
    assert_no_orphans(conn, shop, tview, base)
    assert_not_silently_stale(conn, shop, tview, writes)


# --------------------------------------------------------------------------------------------------
# C. Renaming a column a tview reads, or a source table
# --------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Rename:
    ddl: list[str]              # the rename ({s}: the quoted schema)
    writes: list[str]           # writes to the sources afterwards
    undo: list[str] | None = None   # DDL that reverts it
    after_repair: list[str] | None = None  # writes once repaired, when not `writes`


RENAMES: dict[str, Rename] = {
    "column": Rename(
        ["alter table {s}.tb_customer rename column name to full_name"],
        ["update {s}.tb_customer set full_name = 'al' where pk_customer = 1",
         "insert into {s}.tb_customer (pk_customer, full_name, region) values (4, 'dee', 'south')",
         "delete from {s}.tb_customer where pk_customer = 2"],
        ["alter table {s}.tb_customer rename column full_name to name"],
    ),
    "join-column": Rename(
        ["alter table {s}.tb_order rename column fk_customer to customer_id"],
        ["insert into {s}.tb_order (pk_order, customer_id, amount) values (5, 2, 3.50)",
         "update {s}.tb_order set customer_id = 3 where pk_order = 1",
         "delete from {s}.tb_order where pk_order = 4"],
        ["alter table {s}.tb_order rename column customer_id to fk_customer"],
    ),
    "column-then-new-column-of-the-old-name": Rename(
        ["alter table {s}.tb_customer rename column name to name_old",
         "alter table {s}.tb_customer add column name text"],
        ["update {s}.tb_customer set name_old = 'al' where pk_customer = 1",
         "update {s}.tb_customer set name = 'new' where pk_customer = 2",
         "insert into {s}.tb_customer (pk_customer, name_old, region) values (4, 'dee', 'south')"],
    ),
    "swap-two-columns": Rename(
        ["alter table {s}.tb_customer rename column a to tmp",
         "alter table {s}.tb_customer rename column b to a",
         "alter table {s}.tb_customer rename column tmp to b"],
        ["update {s}.tb_customer set a = a + 100 where pk_customer = 1",
         "update {s}.tb_customer set b = b + 100 where pk_customer = 2",
         "insert into {s}.tb_customer (pk_customer, name, region, a, b) values (4, 'dee', 'south', 4, 40)"],
        ["alter table {s}.tb_customer rename column a to tmp",
         "alter table {s}.tb_customer rename column b to a",
         "alter table {s}.tb_customer rename column tmp to b"],
    ),
    "table": Rename(
        ["alter table {s}.tb_order rename to tb_order_renamed"],
        ["insert into {s}.tb_order_renamed values (5, 2, 3.50, 'open')",
         "update {s}.tb_order_renamed set amount = 1 where pk_order = 1",
         "delete from {s}.tb_order_renamed where pk_order = 3",
         "update {s}.tb_customer set name = 'al' where pk_customer = 1"],
        ["alter table {s}.tb_order_renamed rename to tb_order"],
    ),
    # the SELECT now reads the new, empty table: the triggers left on the old one must not keep
    # maintaining the tview from it as if nothing happened
    "table-then-new-table-of-the-old-name": Rename(
        ["alter table {s}.tb_order rename to tb_order_old",
         "create table {s}.tb_order (like {s}.tb_order_old including all)"],
        ["insert into {s}.tb_order_old values (5, 2, 3.50, 'open')",
         "update {s}.tb_order_old set amount = 1 where pk_order = 1",
         "update {s}.tb_customer set name = 'al' where pk_customer = 1"],
        after_repair=["insert into {s}.tb_order values (10, 2, 1.00, 'open')",
                      "update {s}.tb_order set amount = 2 where pk_order = 10",
                      "insert into {s}.tb_order_old values (5, 2, 3.50, 'open')",
                      "update {s}.tb_customer set name = 'al' where pk_customer = 1",
                      "delete from {s}.tb_order where pk_order = 10"],
    ),
}


def apply_rename(conn: Any, schema: str, variant: str) -> Rename:
    """Run the variant's DDL; return it with {s} filled in."""
    s = f'"{schema}"'
    r = RENAMES[variant]
    for stmt in r.ddl:
        conn.execute(stmt.format(s=s))
    fill = lambda xs: None if xs is None else [x.format(s=s) for x in xs]  # noqa: E731
    return Rename(fill(r.ddl), fill(r.writes), fill(r.undo), fill(r.after_repair))  # type: ignore[arg-type]


@pytest.mark.parametrize("variant", list(RENAMES))
def test_writes_after_a_rename_keep_the_tview_exact_or_fail_naming_it(conn: Any, shop: str, variant: str) -> None:
    """After a source column or table rename, each write keeps the tview exact or fails with an error naming it, and is_intact() is false whenever writes fail."""
    build(conn, shop, "tv_customer")
    r = apply_rename(conn, shop, variant)
    intact = is_intact(conn, shop, "tv_customer")
    for sql in r.writes:
        if not exact_or_refused(conn, shop, "tv_customer", sql):
            assert not intact, f"{sql!r} fails, but is_intact() said true after the rename"
            assert not is_intact(conn, shop, "tv_customer")


# repair() binds the model's SQL anew, by name, as dbt run would: a name the SQL uses that now
# denotes another table or column (a table replaced by a new one, a new column taking an old name,
# swapped names) is followed, and the tview recomputed. A name that no longer exists (a plain
# rename) needs the model to change (dbt run) or the rename to be undone; until then the tview stays
# reported broken and writes fail naming it.
REPAIRABLE = {"table-then-new-table-of-the-old-name", "column-then-new-column-of-the-old-name", "swap-two-columns"}


@pytest.mark.parametrize("variant", sorted(REPAIRABLE))
def test_repair_after_a_name_now_denotes_another_object_restores_exact_maintenance(conn: Any, shop: str, variant: str) -> None:
    """After a name the SELECT uses comes to denote another table or column, tviews.repair() binds the SELECT to it: intact and exact."""
    build(conn, shop, "tv_customer")
    r = apply_rename(conn, shop, variant)
    conn.execute("select tviews.repair()")
    assert is_intact(conn, shop, "tv_customer"), "repair() left the tview broken"
    assert diff(conn, shop, "tv_customer") == [], "repair() left the tview different from its SELECT"
    assert_writes_exact(conn, shop, ["tv_customer"], r.after_repair or r.writes)


@pytest.mark.parametrize("variant", sorted(set(RENAMES) - REPAIRABLE))
def test_repair_cannot_follow_a_rename_the_sql_names_and_says_so(conn: Any, shop: str, variant: str) -> None:
    """After a rename of a column or table the model's SQL names, tviews.repair() leaves the tview reported broken, and writes keep failing naming it or keep it exact."""
    build(conn, shop, "tv_customer")
    r = apply_rename(conn, shop, variant)
    conn.execute("select tviews.repair()")
    assert not is_intact(conn, shop, "tv_customer")
    for sql in r.writes:
        exact_or_refused(conn, shop, "tv_customer", sql)


@pytest.mark.parametrize("variant", [v for v, r in RENAMES.items() if r.undo is not None])
def test_reverting_a_rename_restores_exact_maintenance(conn: Any, shop: str, variant: str) -> None:
    """A rename followed by its reverse leaves the tview intact and every write keeps it exact."""
    build(conn, shop, "tv_customer")
    undo = apply_rename(conn, shop, variant).undo
    assert undo is not None
    for stmt in undo:
        conn.execute(stmt)
    assert is_intact(conn, shop, "tv_customer")
    s = f'"{shop}"'
    assert_writes_exact(conn, shop, ["tv_customer"], [
        f"update {s}.tb_customer set name = 'al', a = 7, b = 70 where pk_customer = 1",
        f"insert into {s}.tb_customer values (4, 'dee', 'south', null, 4, 40)",
        f"insert into {s}.tb_order values (5, 4, 3.50, 'open')",
        f"update {s}.tb_order set fk_customer = 2 where pk_order = 1",
        f"delete from {s}.tb_order where pk_order = 4",
    ])


# --------------------------------------------------------------------------------------------------
# D. Unrelated columns; whole-row references
# --------------------------------------------------------------------------------------------------


def test_adding_and_dropping_unrelated_columns_keeps_maintenance(conn: Any, shop: str) -> None:
    """Adding or dropping source columns no tview reads keeps writes working and the tviews exact."""
    s = f'"{shop}"'
    build(conn, shop, "tv_customer", "tv_order")
    conn.execute(f"alter table {s}.tb_customer add column email text default 'x@y'")
    conn.execute(f"alter table {s}.tb_order add column shipped_at date")
    conn.execute(f"alter table {s}.tb_customer drop column note")
    conn.execute(f"alter table {s}.tb_order drop column memo")
    assert is_intact(conn, shop, "tv_customer")
    assert is_intact(conn, shop, "tv_order")
    assert_writes_exact(conn, shop, ["tv_customer", "tv_order"], [
        f"insert into {s}.tb_customer (pk_customer, name, region, email, a, b) values (4, 'dee', 'west', 'd@e', 4, 40)",
        f"insert into {s}.tb_order (pk_order, fk_customer, amount, shipped_at) values (5, 4, 3.50, '2026-01-01')",
        f"update {s}.tb_customer set email = 'changed' where pk_customer = 1",
        f"update {s}.tb_customer set name = 'al', email = 'z' where pk_customer = 2",
        f"update {s}.tb_order set shipped_at = '2026-02-02', amount = 9 where pk_order = 2",
        f"delete from {s}.tb_order where pk_order = 3",
        f"delete from {s}.tb_customer where pk_customer = 3",
    ])
    assert divergences(conn, shop) == []


def test_adding_a_column_under_a_whole_row_reference_is_refused_or_followed(conn: Any, shop: str) -> None:
    """Adding a column to a source read through a whole-row reference (to_jsonb(p)) is refused with an error naming the tview, or the tview still equals its SELECT."""
    s = f'"{shop}"'
    build(conn, shop, "tv_doc")
    try:
        conn.execute(f"alter table {s}.tb_customer add column email text default 'x@y'")
    except psycopg.Error as e:
        assert "tv_doc" in error_text(e), f"the ALTER was refused, but the error does not name tv_doc: {error_text(e)}"
        assert_writes_exact(conn, shop, ["tv_doc"], [
            f"update {s}.tb_customer set name = 'al' where pk_customer = 1"])
        return
    assert diff(conn, shop, "tv_doc") == [], "the new column shows in to_jsonb(p) but not in the tview"
    assert_writes_exact(conn, shop, ["tv_doc"], [
        f"update {s}.tb_customer set email = 'z' where pk_customer = 1",
        f"insert into {s}.tb_customer (pk_customer, name, region) values (4, 'dee', 'west')"])


# --------------------------------------------------------------------------------------------------
# E. Dropping a source table, or a tview, with CASCADE
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dropped, other_writes", [
    ("tb_order", ["insert into {s}.tb_customer values (4, 'dee', 'south', null, 4, 40)",
                  "update {s}.tb_customer set name = 'al' where pk_customer = 1",
                  "delete from {s}.tb_customer where pk_customer = 3"]),
    ("tb_customer", ["insert into {s}.tb_order (pk_order, fk_customer, amount) values (5, 1, 3.50)",
                     "update {s}.tb_order set amount = 1 where pk_order = 1",
                     "delete from {s}.tb_order where pk_order = 3"]),
], ids=["tb_order", "tb_customer"])
def test_dropping_a_source_table_leaves_no_orphan_and_no_stale_tview(conn: Any, shop: str, dropped: str,
                                                                    other_writes: list[str]) -> None:
    """After DROP TABLE <source> CASCADE and gc(): no orphan, and the tview is gone or reported broken with writes to its other source failing."""
    s = f'"{shop}"'
    build(conn, shop, "tv_customer")
    base = base_name(conn, shop, "tv_customer")
    conn.execute(f'drop table {s}."{dropped}" cascade')
    conn.execute("select tviews.gc()")
    assert_no_orphans(conn, shop, "tv_customer", base)
    assert_not_silently_stale(conn, shop, "tv_customer", [w.format(s=s) for w in other_writes])


def test_dropping_a_tview_with_cascade_leaves_nothing_and_no_stale_tview_on_it(conn: Any, shop: str) -> None:
    """After DROP TABLE <tview> CASCADE and gc(): no catalog row, function or trigger of it remains, and the tview built on it is gone or reported broken with writes to its other source failing."""
    s = f'"{shop}"'
    build(conn, shop, "tv_customer", "tv_region")
    base = base_name(conn, shop, "tv_customer")
    assert triggers_of(conn, "tv_customer", base) != []  # the helper sees them while they exist
    conn.execute(f"drop table {s}.tv_customer cascade")
    conn.execute("select tviews.gc()")
    assert not is_registered(conn, shop, "tv_customer")
    assert one(conn, "select count(*) from tviews.tview_source where source_schema = %s "
                     "and source_name = 'tv_customer' and tview_id not in (select tview_id from tviews.tview "
                     "where tview_schema = %s and tview_name = 'tv_region')", shop, shop) == 0
    assert generated_of(conn, base) == []
    assert triggers_of(conn, "tv_customer", base) == []
    assert_no_orphans(conn, shop, "tv_customer", base)
    assert_not_silently_stale(conn, shop, "tv_region", [
        f"insert into {s}.tb_region values ('east', 'E')",
        f"update {s}.tb_region set label = 'North' where region = 'north'",
        f"delete from {s}.tb_region where region = 'south'",
    ])


# --------------------------------------------------------------------------------------------------
# F. Dump and restore into a database of another name
# --------------------------------------------------------------------------------------------------


def _create_db(server: PgTarget, name: str) -> PgTarget:
    with psycopg.connect(server.dsn, autocommit=True) as c:
        c.execute(f'create database "{name}"')
    return dataclasses.replace(server, dbname=name)


def _drop_db(server: PgTarget, name: str) -> None:
    with psycopg.connect(server.dsn, autocommit=True) as c:
        c.execute(f'drop database if exists "{name}" with (force)')


def dump_and_restore(source: PgTarget, dest_name: str, tmp: Path) -> PgTarget:
    """pg_dump -Fc the source database, create `dest_name` on the same server, pg_restore into it."""
    dump = tmp / f"{source.dbname}.dump"
    res = subprocess.run(["pg_dump", "-Fc", "-f", str(dump), "-d", source.dsn], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    dest = _create_db(dataclasses.replace(source, dbname="postgres"), dest_name)
    res = subprocess.run(["pg_restore", "-d", dest.dsn, str(dump)], capture_output=True, text=True)
    assert res.returncode == 0, f"pg_restore failed:\n{res.stderr}"
    return dest


def test_restore_into_a_database_of_another_name_keeps_maintenance(pg: PgTarget, tmp_path: Path) -> None:
    """Tviews built with three-part names (one on another tview, one with a correlated subquery), dumped and restored into a database of another name, are intact there and stay exact under writes to every source."""
    server = dataclasses.replace(pg, dbname="postgres")
    tag = secrets.token_hex(4)
    a_name, b_name = f"tviews_dump_a_{tag}", f"tviews_dump_b_{tag}"
    try:
        a = _create_db(server, a_name)
        schema = "app"
        with psycopg.connect(a.dsn, autocommit=True) as ca:
            ca.execute(f"create schema {schema}")
            ca.execute(SHOP.format(s=schema))
            ca.execute(tviews.runtime_sql("tviews"))
            three = f'"{a_name}"."{schema}"'  # as dbt compiles a source or ref
            for name in ("tv_customer", "tv_order", "tv_region"):
                install_tview(ca, schema, name, SQL[name].format(s=three), KEYS[name])
            assert divergences(ca, schema) == []
        b = dump_and_restore(a, b_name, tmp_path)
        with psycopg.connect(b.dsn, autocommit=True) as cb:
            names = [r[0] for r in cb.execute("select tview_name::text from tviews.tview where tview_schema = %s "
                                              "order by 1", (schema,)).fetchall()]
            assert names == ["tv_customer", "tv_order", "tv_region"]
            for name in names:
                assert is_intact(cb, schema, name), f"{name} is not intact after the restore"
            assert divergences(cb, schema) == []
            assert_writes_exact(cb, schema, names, [
                f"insert into {schema}.tb_customer values (4, 'dee', 'west', null, 4, 40)",
                f"insert into {schema}.tb_order values (5, 4, 3.50, 'open')",
                f"update {schema}.tb_order set amount = amount + 1 where pk_order = 1",
                f"update {schema}.tb_customer set name = 'al', region = 'south' where pk_customer = 1",
                f"update {schema}.tb_region set label = 'North' where region = 'north'",
                f"delete from {schema}.tb_order where pk_order = 3",
                f"delete from {schema}.tb_customer where pk_customer = 3",
                f"truncate {schema}.tb_region cascade",
            ])
        # the original database is untouched and still maintained
        with psycopg.connect(a.dsn, autocommit=True) as ca:
            ca.execute(f"insert into {schema}.tb_order values (5, 2, 1.00, 'open')")
            assert divergences(ca, schema) == []
    finally:
        _drop_db(server, b_name)
        _drop_db(server, a_name)


@pytest.fixture(scope="module")
def restored_consumer(pg: PgTarget, consumer_template: Path,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ConsumerProject, Path]]:
    """The consumer project (tv_region on tv_customer) built by dbt in a database of its own, and its pg_dump -Fc."""
    server = dataclasses.replace(pg, dbname="postgres")
    a_name = f"tviews_dbt_a_{secrets.token_hex(4)}"
    tmp = tmp_path_factory.mktemp("restore")
    try:
        a = _create_db(server, a_name)
        project = copy_project(a, consumer_template, tmp / "project")
        project.setup()
        project.run("run")
        dump = tmp / "a.dump"
        res = subprocess.run(["pg_dump", "-Fc", "-f", str(dump), "-d", a.dsn], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        yield project, dump
    finally:
        _drop_db(server, a_name)


@pytest.mark.parametrize("args", [(), ("--full-refresh",)], ids=["run", "full-refresh"])
def test_dbt_run_after_a_restore_into_another_database(pg: PgTarget, restored_consumer: tuple[ConsumerProject, Path],
                                                       args: tuple[str, ...]) -> None:
    """After restoring a dbt-built project into a database of another name, `dbt run` (and `dbt run --full-refresh`) against it succeeds, also for the tview on a tview, and writes keep every tview exact."""
    project, dump = restored_consumer
    server = dataclasses.replace(pg, dbname="postgres")
    b_name = f"tviews_dbt_b_{secrets.token_hex(4)}"
    try:
        b = _create_db(server, b_name)
        res = subprocess.run(["pg_restore", "-d", b.dsn, str(dump)], capture_output=True, text=True)
        assert res.returncode == 0, f"pg_restore failed:\n{res.stderr}"
        in_b = dataclasses.replace(project, pg=b)
        in_b.run("run", *args)
        s, src = in_b.schema, in_b.src_schema
        with psycopg.connect(b.dsn, autocommit=True) as cb:
            for name in ("tv_customer", "tv_order", "tv_region"):
                assert is_intact(cb, s, name), name
            assert_writes_exact(cb, s, ["tv_customer", "tv_order", "tv_region"], [
                f'insert into "{src}".tb_customer values (10, \'new\', \'west\', null)',
                f'insert into "{src}".tb_order values (100, 10, 5, \'open\')',
                f'update "{src}".tb_customer set name = \'renamed\' where pk_customer = 1',
                f'delete from "{src}".tb_order where pk_order = 2',
            ])
    finally:
        _drop_db(server, b_name)


# --------------------------------------------------------------------------------------------------
# H. dbt run sees drift
# --------------------------------------------------------------------------------------------------

# name: (DDL on the sources, tviews whose maintenance it breaks). {src}: the quoted source schema.
DRIFT: dict[str, tuple[list[str], list[str]]] = {
    "rename-column": (["alter table {src}.tb_customer rename column region to area"], ["tv_customer"]),
    "rename-then-new-column-of-the-old-name": (["alter table {src}.tb_customer rename column name to name_old",
                                                "alter table {src}.tb_customer add column name text"],
                                               ["tv_customer", "tv_order"]),
    "swap-two-columns": (["alter table {src}.tb_customer rename column name to tmp",
                          "alter table {src}.tb_customer rename column region to name",
                          "alter table {src}.tb_customer rename column tmp to region"],
                         ["tv_customer", "tv_order"]),
}


@pytest.mark.parametrize("variant", list(DRIFT))
def test_dbt_run_does_not_keep_a_tview_whose_source_drifted(consumer: ConsumerProject, mconn: Any,
                                                           variant: str) -> None:
    """After a source column rename that broke maintenance, `dbt run` of the unchanged project does not report KEEP (unchanged) for the tviews reading it: it rebuilds them (exact) or fails loudly."""
    consumer.run("run")
    src = f'"{consumer.src_schema}"'
    ddl, affected = DRIFT[variant]
    for stmt in ddl:
        mconn.execute(stmt.format(src=src))
    res = consumer.run("run", expect_ok=None)
    statuses = res.statuses()
    for name in affected:
        assert statuses.get(name) != "KEEP (unchanged)", f"{name} kept as is after {variant}: {statuses}"
    if res.success:
        assert divergences(mconn, consumer.schema) == []

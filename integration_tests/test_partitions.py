"""Partitioned and inherited sources: writes made directly to a partition or child reach the tviews.

PostgreSQL fires a partitioned table's statement-level triggers only for statements on the parent:
an INSERT, UPDATE, DELETE or TRUNCATE naming a partition (or a sub-partition, or an inheritance
child) bypasses them. A tview reading the parent must still be kept exact, including for a
partition created after the tview was built (or be reported broken until tviews.repair()).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import tviews
from conftest import install_tview, unique_schema

# tb_event is range partitioned by day: 2024 is a plain partition, 2025 is itself list partitioned
# by kind (2025_a, 2025_b).
EVENTS = """
create table {s}.tb_account (pk_account int primary key, name text not null);
create table {s}.tb_event (
    pk_event   int  not null,
    fk_account int  not null,
    kind       text not null,
    amount     int  not null,
    day        date not null,
    primary key (pk_event, day, kind)
) partition by range (day);
create table {s}.tb_event_2024 partition of {s}.tb_event for values from ('2024-01-01') to ('2025-01-01');
create table {s}.tb_event_2025 partition of {s}.tb_event for values from ('2025-01-01') to ('2026-01-01')
    partition by list (kind);
create table {s}.tb_event_2025_a partition of {s}.tb_event_2025 for values in ('a');
create table {s}.tb_event_2025_b partition of {s}.tb_event_2025 for values in ('b');
create index on {s}.tb_event (fk_account);
insert into {s}.tb_account values (1, 'ann'), (2, 'bob'), (3, 'cy');
insert into {s}.tb_event values (1, 1, 'a', 10, '2024-03-01'), (2, 2, 'b', 20, '2024-06-01'),
    (3, 1, 'a', 30, '2025-02-01'), (4, 2, 'b', 40, '2025-03-01'), (5, 3, 'a', 50, '2025-04-01');
"""

# One row per event (the partitioned table in the root FROM) and one per account (the partitioned
# table in a correlated subquery).
TV_EVENT = """select e.pk_event, e.day, e.kind, e.amount, a.name
from {s}.tb_event e join {s}.tb_account a on a.pk_account = e.fk_account"""
TV_ACCOUNT = """select a.pk_account, a.name,
    (select count(*) from {s}.tb_event e where e.fk_account = a.pk_account) as n,
    (select coalesce(sum(e.amount), 0) from {s}.tb_event e where e.fk_account = a.pk_account) as total
from {s}.tb_account a"""
TVIEWS = ("tv_event", "tv_account")


@pytest.fixture()
def events(conn: Any) -> Iterator[str]:
    """A schema with the partitioned tb_event, tb_account, and the two tviews on them built."""
    schema = unique_schema("tvp")
    s = f'"{schema}"'
    conn.execute(f"create schema {s}")
    conn.execute(EVENTS.format(s=s))
    conn.execute(tviews.runtime_sql("tviews"))
    install_tview(conn, schema, "tv_event", TV_EVENT.format(s=s), ["pk_event"])
    install_tview(conn, schema, "tv_account", TV_ACCOUNT.format(s=s), ["pk_account"])
    yield schema
    conn.execute(f"drop schema if exists {s} cascade")
    conn.execute("select tviews.gc()")


def diff(conn: Any, schema: str, name: str) -> list[tuple[Any, ...]]:
    return list(conn.execute("select problem, row_data from tviews.diff(%s, %s)", (schema, name)).fetchall())


def is_intact(conn: Any, schema: str, name: str) -> bool:
    return bool(conn.execute("select tviews.is_intact(%s, %s)", (schema, name)).fetchone()[0])  # type: ignore[index]


def assert_writes_exact(conn: Any, schema: str, names: tuple[str, ...], writes: list[str]) -> None:
    """Every write succeeds and every tview listed stays equal to its SELECT."""
    for sql in writes:
        conn.execute(sql)
        for name in names:
            assert diff(conn, schema, name) == [], f"after {sql!r}, {name} differs from its SELECT"


def direct_writes(s: str, part: str, day: str, kind: str, first_pk: int) -> list[str]:
    """INSERT, UPDATE, DELETE and TRUNCATE naming the partition `part` (rows of `day` and `kind`)."""
    return [
        f"insert into {s}.{part} values ({first_pk}, 3, '{kind}', 7, '{day}'), ({first_pk + 1}, 1, '{kind}', 8, '{day}')",
        f"update {s}.{part} set amount = amount + 100 where pk_event = {first_pk}",
        f"update {s}.{part} set fk_account = 2 where pk_event = {first_pk + 1}",
        f"delete from {s}.{part} where pk_event = {first_pk}",
        f"truncate {s}.{part}",
    ]


@pytest.mark.parametrize("part, day, kind", [
    ("tb_event_2024", "2024-08-01", "b"),
    ("tb_event_2025", "2025-08-01", "a"),      # a partition that is itself partitioned
    ("tb_event_2025_b", "2025-09-01", "b"),    # a sub-partition
])
def test_direct_writes_to_a_partition_are_maintained(conn: Any, events: str, part: str, day: str, kind: str) -> None:
    """INSERT, UPDATE, DELETE and TRUNCATE naming a partition (or sub-partition) of a partitioned source keep the tviews on the parent exact."""
    s = f'"{events}"'
    assert_writes_exact(conn, events, TVIEWS, direct_writes(s, part, day, kind, 100))


def test_writes_through_the_parent_are_maintained(conn: Any, events: str) -> None:
    """Writes to the partitioned parent, including a row moving between partitions and a TRUNCATE, keep the tviews exact."""
    s = f'"{events}"'
    assert_writes_exact(conn, events, TVIEWS, [
        f"insert into {s}.tb_event values (100, 3, 'b', 5, '2025-05-05'), (101, 1, 'a', 6, '2024-05-05')",
        f"update {s}.tb_event set day = '2025-06-01', kind = 'b' where pk_event = 1",  # 2024 -> 2025_b
        f"update {s}.tb_account set name = 'al' where pk_account = 1",
        f"delete from {s}.tb_event where pk_event = 2",
        f"truncate {s}.tb_event",
    ])


def test_a_partition_created_after_the_build_is_maintained_or_reported(conn: Any, events: str) -> None:
    """A partition created after the build: inserts through the parent are exact; direct writes are exact or fail naming the tview (is_intact() false then); after tviews.repair() direct writes are maintained exactly."""
    s = f'"{events}"'
    conn.execute(f"create table {s}.tb_event_2026 partition of {s}.tb_event "
                 "for values from ('2026-01-01') to ('2027-01-01')")
    assert_writes_exact(conn, events, TVIEWS, [
        f"insert into {s}.tb_event values (200, 1, 'a', 9, '2026-02-02')",
        f"update {s}.tb_event set amount = 10 where pk_event = 200",
    ])
    intact = {name: is_intact(conn, events, name) for name in TVIEWS}
    sql = f"insert into {s}.tb_event_2026 values (201, 2, 'b', 11, '2026-03-03')"
    try:
        conn.execute(sql)
    except psycopg.Error as e:
        named = [name for name in TVIEWS if name in (e.diag.message_primary or "")]
        assert named, f"{sql!r} failed with an error that names no tview: {e.diag.message_primary}"
        assert not any(intact[n] for n in named), f"direct writes to the new partition fail, but is_intact() said {intact}"
    else:
        for name in TVIEWS:
            assert diff(conn, events, name) == [], f"{sql!r} succeeded and left {name} different from its SELECT"

    conn.execute("select tviews.repair()")
    for name in TVIEWS:
        assert is_intact(conn, events, name), f"{name} not intact after repair()"
        assert diff(conn, events, name) == [], f"{name} differs from its SELECT after repair()"
    assert_writes_exact(conn, events, TVIEWS, direct_writes(s, "tb_event_2026", "2026-04-04", "a", 300))


def test_a_sub_partition_created_after_the_build_is_maintained_after_repair(conn: Any, events: str) -> None:
    """A sub-partition added under the sub-partitioned 2025 partition after the build is maintained exactly for direct writes once tviews.repair() ran."""
    s = f'"{events}"'
    conn.execute(f"create table {s}.tb_event_2025_c partition of {s}.tb_event_2025 for values in ('c')")
    conn.execute("select tviews.repair()")
    for name in TVIEWS:
        assert is_intact(conn, events, name), f"{name} not intact after repair()"
    assert_writes_exact(conn, events, TVIEWS, direct_writes(s, "tb_event_2025_c", "2025-10-10", "c", 400))


# --------------------------------------------------------------------------------------------------
# Inheritance
# --------------------------------------------------------------------------------------------------

ANIMALS = """
create table {s}.tb_animal (pk_animal int primary key, name text not null, legs int not null);
create table {s}.tb_dog (good boolean not null default true) inherits ({s}.tb_animal);
insert into {s}.tb_animal values (1, 'worm', 0), (2, 'bird', 2);
insert into {s}.tb_dog values (3, 'rex', 4, true), (4, 'fido', 4, false);
"""


def test_a_source_with_inheritance_children_is_refused_or_maintained(conn: Any) -> None:
    """A tview reading a table with inheritance children is refused at build with an error naming it, or direct writes to the child keep it exact."""
    schema = unique_schema("tvi")
    s = f'"{schema}"'
    conn.execute(f"create schema {s}")
    try:
        conn.execute(ANIMALS.format(s=s))
        conn.execute(tviews.runtime_sql("tviews"))
        sql = f"select x.pk_animal, x.name, x.legs from {s}.tb_animal x"
        try:
            install_tview(conn, schema, "tv_animal", sql, ["pk_animal"])
        except (tviews.TviewError, psycopg.Error) as e:
            text = str(e) if isinstance(e, tviews.TviewError) else (e.diag.message_primary or "")
            assert "tv_animal" in text, f"the build was refused with an error that does not name tv_animal: {text}"
            assert conn.execute("select count(*) from tviews.tview where tview_schema = %s",
                                (schema,)).fetchone()[0] == 0
            return
        assert_writes_exact(conn, schema, ("tv_animal",), [
            f"insert into {s}.tb_dog values (5, 'rover', 4, true)",
            f"update {s}.tb_dog set name = 'rex2' where pk_animal = 3",
            f"delete from {s}.tb_dog where pk_animal = 4",
            f"insert into {s}.tb_animal values (6, 'snake', 0)",
            f"update {s}.tb_animal set legs = 3 where pk_animal = 5",  # a child's row, through the parent
            f"truncate {s}.tb_dog",
        ])
    finally:
        conn.execute(f"drop schema if exists {s} cascade")
        conn.execute("select tviews.gc()")


def test_detaching_a_partition_or_disabling_triggers_is_reported(conn: Any, events: str) -> None:
    """DETACH PARTITION (the SELECT loses rows without a write) and disabled triggers make is_intact() false; repair() restores an exact tview."""
    s = f'"{events}"'
    conn.execute(f"alter table {s}.tb_event detach partition {s}.tb_event_2024")
    assert not is_intact(conn, events, "tv_event")
    assert list(conn.execute("select * from tviews.repair()").fetchall())
    assert is_intact(conn, events, "tv_event") and diff(conn, events, "tv_event") == []
    conn.execute(f"alter table {s}.tb_account disable trigger all")
    assert not is_intact(conn, events, "tv_event")
    conn.execute(f"alter table {s}.tb_account enable trigger all")
    assert is_intact(conn, events, "tv_event")

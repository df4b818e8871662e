"""A seeded random workload over the source tables of tviews, checking the tviews after every transaction.

The generator reads the structure of the source tables from pg_catalog (columns, types, primary
keys, unique constraints, foreign keys and their actions) and takes a `WorkloadSpec` for what the
catalog cannot say: which tables to write, how many rows to keep around, and value generators for
columns with CHECK constraints or special meaning. It then produces transactions of:

  single and multi-row INSERT (also INSERT .. ON CONFLICT DO UPDATE / DO NOTHING), COPY, MERGE
  (PostgreSQL 15+), UPDATE of plain columns (per-row values, expressions, same-value no-ops, the
  same number at another scale), of foreign keys (join keys) and of primary keys (cascading where
  the FKs say so), DELETE (cascading to children), occasional TRUNCATE (CASCADE when referenced),
  data-modifying WITH (several writes, same or other tables, one statement), several statements over
  several tables, SAVEPOINT with ROLLBACK TO and RELEASE, whole ROLLBACKs, and now and then other
  session settings (TimeZone, DateStyle, IntervalStyle, extra_float_digits).

Foreign keys are respected by picking existing parent keys inside the transaction. Statements the
generator cannot guarantee to be valid (a key change a NO ACTION foreign key may refuse, a composite
key that may collide) run inside a savepoint; a constraint error raised *by a source table* is
rolled back and logged, any other error (e.g. from maintenance) fails the run. After every
transaction, and now and then inside one, every tview in the checked schema must equal its SELECT
(tviews.diff; with strict=True / --strict also identical as text, see text_divergences).

Runs the same for the same seed and the same starting state (every value comes from the seed,
every choice from rows read in key order).

CLI (builds a fresh schema with dbt, then soaks it; prints `N divergent rows over T transactions`):
    python integration_tests/workload.py --transactions 10000 --seed 7 [--project example|shapes]
        [--dsn DSN] [--schema S --no-build] [--strict] [--keep-going] [--keep]

Use from Python on any schema: Workload(conn, WorkloadSpec(source_schema, tview_schema,
{table: TableSpec(...)}), seed).run(n).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.types.json import Json, Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgtarget import temporary_env  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
# session settings a writer may have; maintenance must not depend on them
SESSION_SETTINGS = (
    ("TimeZone", ("Pacific/Chatham", "America/St_Johns", "Asia/Kathmandu", "UTC")),
    ("DateStyle", ("SQL, DMY", "German", "Postgres, MDY", "ISO, YMD")),
    ("IntervalStyle", ("sql_standard", "postgres_verbose", "iso_8601")),
    ("extra_float_digits", ("0", "-3", "3")),
)


def qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------------------------------
# Specs and the catalog
# --------------------------------------------------------------------------------------------------


@dataclass
class TableSpec:
    """How to write one source table. The structure itself comes from the catalog."""

    weight: float = 1.0
    target_rows: int = 30
    # column -> generator of a value (use for CHECK constraints and meaningful domains)
    values: dict[str, Callable[[random.Random], Any]] = field(default_factory=dict)
    # columns never updated
    frozen: frozenset[str] = frozenset()
    truncate: bool = True


@dataclass
class WorkloadSpec:
    source_schema: str  # where the written tables live
    tview_schema: str  # whose tviews are checked
    tables: dict[str, TableSpec]
    truncate_rate: float = 0.01  # per statement


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # format_type()
    nullable: bool
    identity: str  # '', 'a' (always) or 'd' (by default)
    generated: bool  # GENERATED ALWAYS AS (..) STORED
    sequence: str | None  # serial / identity sequence, if any

    @property
    def omit_on_insert(self) -> bool:
        return bool(self.identity) or self.generated or self.sequence is not None


@dataclass(frozen=True)
class ForeignKey:
    table: str  # referencing table, as regclass text (schema-qualified where needed)
    column: str
    ref_table: str  # referenced table, as regclass text
    ref_column: str
    on_update: str  # pg_constraint.confupdtype: a no action, r restrict, c cascade, n set null, d set default
    on_delete: str


@dataclass
class TableInfo:
    name: str
    columns: list[Column]
    key: tuple[str, ...]
    uniques: list[tuple[str, ...]]  # other than the key
    fks: list[ForeignKey]  # outgoing
    referenced_by: list[ForeignKey]  # incoming

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def fk(self, column: str) -> ForeignKey | None:
        return next((f for f in self.fks if f.column == column), None)

    @property
    def unique_columns(self) -> set[str]:
        """Columns that must hold a new value on their own (single-column unique, not a FK)."""
        return {u[0] for u in [*self.uniques, self.key] if len(u) == 1 and self.fk(u[0]) is None}

    @property
    def may_collide(self) -> bool:
        """A multi-column unique constraint fed by random choices: inserts may conflict."""
        return any(len(u) > 1 for u in [*self.uniques, self.key])

    def key_order(self) -> str:
        return ", ".join(qi(k) for k in self.key)


def read_catalog(conn: psycopg.Connection[Any], schema: str, tables: Sequence[str]) -> dict[str, TableInfo]:
    out: dict[str, TableInfo] = {}
    for name in tables:
        rel = f"{qi(schema)}.{qi(name)}"
        cols = [
            Column(n, t, not notnull, ident, gen == "s", seq)
            for n, t, notnull, ident, gen, seq in conn.execute(
                "select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity, "
                "a.attgenerated, pg_get_serial_sequence(%s, a.attname) "
                "from pg_attribute a where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped "
                "order by a.attnum", (rel, rel)).fetchall()
        ]
        cons = conn.execute(
            "select c.contype, c.conrelid = %s::regclass, c.confrelid = %s::regclass, "
            "  array(select a.attname from unnest(c.conkey) with ordinality k(n, o) "
            "  join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.o)::text[], "
            "  array(select a.attname from unnest(c.confkey) with ordinality k(n, o) "
            "  join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.o)::text[], "
            "  c.conrelid::regclass::text, c.confrelid::regclass::text, c.confupdtype, c.confdeltype "
            "from pg_constraint c where (c.conrelid = %s::regclass and c.contype in ('p', 'u', 'f')) "
            "   or (c.confrelid = %s::regclass and c.contype = 'f') order by c.conname",
            (rel, rel, rel, rel)).fetchall()
        key: tuple[str, ...] = ()
        uniques: list[tuple[str, ...]] = []
        fks: list[ForeignKey] = []
        incoming: list[ForeignKey] = []
        for contype, outgoing, incoming_, conkey, confkey, conrel, confrel, upd, dele in cons:
            if contype == "p":
                key = tuple(conkey)
            elif contype == "u":
                uniques.append(tuple(conkey))
            else:
                if len(conkey) != 1:
                    raise NotImplementedError(f"{rel}: multi-column foreign keys are not generated")
                fk = ForeignKey(conrel, conkey[0], confrel, confkey[0], upd, dele)
                if outgoing:
                    fks.append(fk)
                if incoming_:
                    incoming.append(fk)
        if not key:
            raise NotImplementedError(f"{rel} has no primary key")
        out[name] = TableInfo(name, cols, key, uniques, fks, incoming)
    return out


# --------------------------------------------------------------------------------------------------
# Divergences
# --------------------------------------------------------------------------------------------------


def divergences(conn: psycopg.Connection[Any], schema: str) -> list[tuple[Any, ...]]:
    """Every row where a tview in `schema` differs from its SELECT (the same check as conftest)."""
    return list(conn.execute(
        "select t.tview_name, d.problem, d.row_data from tviews.tview t, "
        "lateral tviews.diff(t.tview_schema, t.tview_name) d where t.tview_schema = %s order by 1, 2",
        (schema,)).fetchall())


def text_divergences(conn: psycopg.Connection[Any], schema: str) -> list[tuple[Any, ...]]:
    """Like divergences(), but rows must be *identical*, not only equal: compared as text.

    tviews.diff compares through jsonb, where 1.5 = 1.50 and '1 day' = '24 hours'; a client reading
    the tview sees the difference. Runs each tview's deployed SELECT with its pinned settings.
    """
    out: list[tuple[Any, ...]] = []
    tviews = conn.execute("select tview_name, definition, settings from tviews.tview where tview_schema = %s "
                          "order by 1", (schema,)).fetchall()
    for name, definition, settings in tviews:
        in_txn = conn.info.transaction_status == TransactionStatus.INTRANS
        conn.execute("SAVEPOINT tv_strict" if in_txn else "BEGIN")
        try:
            for k, v in sorted(settings.items()):
                conn.execute("select set_config(%s, %s, true)", (k, v))
            tv = f"{qi(schema)}.{qi(name)}"
            out += conn.execute(
                f"select %s::text, 'missing from tview', r from (select d::text r from ({definition}) d "
                f"except all select t::text from {tv} t) a "
                f"union all select %s::text, 'extra in tview', r from (select t::text r from {tv} t "
                f"except all select d::text from ({definition}) d) b", (name, name)).fetchall()
        finally:
            conn.execute("ROLLBACK TO SAVEPOINT tv_strict" if in_txn else "ROLLBACK")
            if in_txn:
                conn.execute("RELEASE SAVEPOINT tv_strict")
    return out


class WorkloadFailure(AssertionError):
    pass


class _Tolerated(Exception):
    pass


# --------------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------------


class Workload:
    def __init__(self, conn: psycopg.Connection[Any], spec: WorkloadSpec, seed: int, strict: bool = False) -> None:
        if not conn.autocommit:
            raise ValueError("the workload drives its own BEGIN/COMMIT: pass an autocommit connection")
        self.conn = conn
        self.cur = psycopg.ClientCursor(conn)  # statements are logged exactly as sent
        self.spec = spec
        self.seed = seed
        self.strict = strict  # also require text-identical rows (text_divergences)
        self.rng = random.Random(seed)
        self.nonce = self.rng.getrandbits(20)
        self.counter = 0
        self.info = read_catalog(conn, spec.source_schema, list(spec.tables))
        self.regclass = {conn.execute("select %s::regclass::text", (self.rel(t),)).fetchone()[0]: t  # type: ignore[index]
                         for t in self.info}
        self.log: list[str] = []  # the current transaction
        self.history: list[list[str]] = []  # every transaction so far
        self.stats: dict[str, int] = {}
        self.in_txn_checks = 0
        self.collecting: list[tuple[str, bool]] | None = None
        self.has_merge = conn.info.server_version >= 150000

    # -- helpers ------------------------------------------------------------------------------

    def rel(self, table: str) -> str:
        return f"{qi(self.spec.source_schema)}.{qi(table)}"

    def count(self, what: str) -> None:
        self.stats[what] = self.stats.get(what, 0) + 1

    def next_id(self) -> int:
        self.counter += 1
        return self.counter

    def execute(self, sql: str, params: Sequence[Any] | None = None, may_fail: bool = False) -> int:
        text = self.cur.mogrify(sql, params) if params is not None else sql
        if self.collecting is not None:  # building a data-modifying WITH: run later, as one statement
            self.collecting.append((text, may_fail))
            return 0
        if not may_fail:
            self.log.append(text + ";")
            self.cur.execute(text)
            return self.cur.rowcount
        self.log.append("SAVEPOINT tv_try; " + text + ";")
        self.cur.execute("SAVEPOINT tv_try")
        try:
            self.cur.execute(text)
        except (psycopg.errors.IntegrityError, psycopg.errors.CardinalityViolation) as e:
            # only errors of the written tables themselves: a constraint of a source table, or
            # (in a data-modifying WITH) ON CONFLICT meeting a row another part already changed,
            # raised by the statement itself and not from inside a trigger
            if isinstance(e, psycopg.errors.CardinalityViolation):
                if e.diag.context is not None:
                    raise
            elif e.diag.schema_name != self.spec.source_schema:
                raise
            self.cur.execute("ROLLBACK TO SAVEPOINT tv_try")
            self.log.append(f"  -- refused: {e.diag.table_name or ''} {e.sqlstate} {e.diag.message_primary}; "
                            "ROLLBACK TO SAVEPOINT tv_try")
            self.count("refused")
            return 0
        self.cur.execute("RELEASE SAVEPOINT tv_try")
        self.log.append("  -- RELEASE SAVEPOINT tv_try")
        return self.cur.rowcount

    def rows(self, table: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        cols = ", ".join(qi(c) for c in columns)
        return self.conn.execute(f"select {cols} from {self.rel(table)} order by {cols}").fetchall()

    def keys(self, table: str) -> list[tuple[Any, ...]]:
        return self.rows(table, self.info[table].key)

    def parent_values(self, fk: ForeignKey) -> list[Any]:
        return [r[0] for r in self.conn.execute(
            f"select distinct {qi(fk.ref_column)} from {fk.ref_table} order by 1").fetchall()]

    def sample(self, items: Sequence[Any], k: int) -> list[Any]:
        return self.rng.sample(list(items), min(k, len(items)))

    def how_many(self) -> int:
        return self.rng.choice((1, 1, 1, 2, 3, 5, 8))

    # -- values -------------------------------------------------------------------------------

    def value(self, table: str, col: Column, parents: dict[str, list[Any]], fresh_unique: bool = True) -> Any:
        info = self.info[table]
        spec = self.spec.tables[table]
        fk = info.fk(col.name)
        if fk is not None:
            options = parents.setdefault(col.name, self.parent_values(fk))
            if col.nullable and (not options or self.rng.random() < 0.1):
                return None
            if not options:
                raise LookupError(col.name)
            return self.rng.choice(options)
        unique = col.name in info.unique_columns
        if col.name in spec.values and not unique:
            return spec.values[col.name](self.rng)
        if col.nullable and not unique and col.name not in info.key and self.rng.random() < 0.1:
            return None
        return self.random_value(col.type, unique and fresh_unique)

    def random_value(self, type_: str, unique: bool = False) -> Any:
        r = self.rng
        base = type_.split("(")[0]
        if base in ("integer", "bigint", "smallint"):
            return 1_000_000 + self.next_id() if unique else r.randint(0, 20)
        if base == "numeric":
            return Decimal(1_000_000 + self.next_id()) if unique else Decimal(r.randint(0, 9999)).scaleb(-2)
        if base in ("double precision", "real"):
            return float(self.next_id()) if unique else r.randint(0, 400) / 4
        if base in ("text", "character varying", "character"):
            word = r.choice(WORDS)
            return f"{word}-{self.nonce}-{self.next_id()}" if unique else word if r.random() < 0.5 \
                else f"{word} {r.choice(WORDS)}"
        if base == "boolean":
            return r.random() < 0.6
        if base == "timestamp with time zone":
            return EPOCH + dt.timedelta(hours=r.randint(0, 24 * 30))
        if base == "timestamp without time zone":
            return (EPOCH + dt.timedelta(hours=r.randint(0, 24 * 30))).replace(tzinfo=None)
        if base == "date":
            return EPOCH.date() + dt.timedelta(days=r.randint(0, 60))
        if base == "uuid":
            return uuid.UUID(int=r.getrandbits(128), version=4)
        if base in ("jsonb", "json"):
            # numbers that are equal but print differently (1, 1.0, 1.00), and for json (kept as
            # written) different spacing
            n = r.randint(0, 3)
            template = r.choice(('{{"k": "{k}", "n": {n}}}', '{{"k":"{k}","n":{n}}}', '{{ "n" : {n} , "k" : "{k}" }}'))
            doc = template.format(k=r.choice(WORDS), n=r.choice((str(n), f"{n}.0", f"{n}.00")))
            return (Jsonb if base == "jsonb" else Json)(doc, dumps=lambda d: d)
        if base == "text[]":
            return [r.choice(WORDS) for _ in range(r.randint(0, 3))]
        if base == "integer[]":
            return [r.randint(0, 9) for _ in range(r.randint(0, 3))]
        raise NotImplementedError(f"no random value for type {type_}: give a generator in TableSpec.values")

    def literal(self, value: Any, type_: str) -> str:
        if value is None:
            return f"NULL::{type_}"
        text = self.cur.mogrify("%s", (value,))
        return text if text.endswith("'") is False and "::" in text.rsplit("'", 1)[-1] else f"{text}::{type_}"

    def insertable(self, table: str) -> list[Column]:
        return [c for c in self.info[table].columns if not c.omit_on_insert]

    def new_rows(self, table: str, n: int) -> tuple[list[Column], list[list[Any]]] | None:
        cols = self.insertable(table)
        parents: dict[str, list[Any]] = {}
        rows = []
        try:
            for _ in range(n):
                rows.append([self.value(table, c, parents) for c in cols])
        except LookupError:
            return None  # a parent table is empty
        return cols, rows

    def where_keys(self, table: str, keys: Sequence[tuple[Any, ...]], alias: str = "") -> str:
        info = self.info[table]
        prefix = f"{alias}." if alias else ""
        cols = [info.column(k) for k in info.key]
        if len(cols) == 1:
            items = ", ".join(self.literal(k[0], cols[0].type) for k in keys)
            return f"{prefix}{qi(cols[0].name)} IN ({items})"
        tuples = ", ".join("(" + ", ".join(self.literal(v, c.type) for v, c in zip(k, cols)) + ")" for k in keys)
        return f"({', '.join(prefix + qi(c.name) for c in cols)}) IN ({tuples})"

    def may_be_refused(self, table: str, action: str, column: str | None = None,
                       seen: frozenset[str] = frozenset()) -> bool:
        """Can deleting (or changing the key of) rows of `table` fail on a foreign key?

        Only plain cascades are safe. NO ACTION/RESTRICT refuse referenced rows; and PostgreSQL
        itself refuses some statements where a SET NULL/SET DEFAULT and a CASCADE reach the same
        row (the row updated by SET NULL is checked against a parent the cascade already removed),
        e.g. DELETE of two users where a comment of one is on a post of the other."""
        for f in self.info[table].referenced_by:
            if column is not None and f.ref_column != column:
                continue
            rule = f.on_delete if action == "delete" else f.on_update
            if rule != "c":
                return True
            child = self.regclass.get(f.table)
            if child is None:
                return True  # a table the workload does not know
            if child not in seen and child != table and self.may_be_refused(
                    child, action, None if action == "delete" else f.column, seen | {table}):
                return True
        return False

    # -- statements ---------------------------------------------------------------------------

    def op_insert(self, table: str) -> bool:
        made = self.new_rows(table, self.how_many())
        if made is None:
            return False
        cols, rows = made
        values = ", ".join("(" + ", ".join(self.literal(v, c.type) for v, c in zip(row, cols)) + ")" for row in rows)
        col_list = ", ".join(qi(c.name) for c in cols)
        if not cols:
            self.execute(f"INSERT INTO {self.rel(table)} DEFAULT VALUES")
            return True
        conflict = " ON CONFLICT DO NOTHING" if self.info[table].may_collide else ""
        self.execute(f"INSERT INTO {self.rel(table)} ({col_list}) VALUES {values}{conflict}")
        return True

    def op_copy(self, table: str) -> bool:
        info = self.info[table]
        if info.may_collide:
            return False  # COPY has no ON CONFLICT
        made = self.new_rows(table, self.rng.randint(1, 6))
        if made is None:
            return False
        cols, rows = made
        col_list = ", ".join(qi(c.name) for c in cols)
        stmt = f"COPY {self.rel(table)} ({col_list}) FROM STDIN"
        shown = [[v.obj if isinstance(v, (Json, Jsonb)) else v for v in row] for row in rows]
        self.log.append(f"{stmt};  -- rows: {shown!r}")
        with self.cur.copy(stmt) as cp:
            for row in rows:
                cp.write_row(row)
        return True

    def op_upsert(self, table: str) -> bool:
        """INSERT .. ON CONFLICT (key) DO UPDATE: existing keys (and new ones, where the key is ours)."""
        info = self.info[table]
        key_cols = [info.column(k) for k in info.key]
        existing = self.sample(self.keys(table), self.how_many())
        own_key = not any(c.omit_on_insert for c in key_cols)
        if not existing and not own_key:
            return False
        if any(c.identity == "a" for c in key_cols):
            return False
        cols = [c for c in info.columns if not c.generated and not (c.omit_on_insert and c.name not in info.key)]
        parents: dict[str, list[Any]] = {}
        rows: list[list[Any]] = []
        try:
            for k in existing:
                by_key = dict(zip(info.key, k))
                rows.append([by_key[c.name] if c.name in by_key else self.value(table, c, parents) for c in cols])
            if own_key:
                made = self.new_rows(table, self.rng.randint(0, 2))
                if made is not None:
                    new_cols, new_rows = made
                    for r in new_rows:
                        d = dict(zip((c.name for c in new_cols), r))
                        rows.append([d[c.name] for c in cols])
        except LookupError:
            return False
        # one row per key, or DO UPDATE would have to touch a row twice
        key_at = [i for i, c in enumerate(cols) if c.name in info.key]
        unique_rows: dict[tuple[Any, ...], list[Any]] = {}
        for row in rows:
            unique_rows.setdefault(tuple(row[i] for i in key_at), row)
        rows = list(unique_rows.values())
        if not rows:
            return False
        updatable = [c for c in cols if c.name not in info.key and c.name not in self.spec.tables[table].frozen]
        values = ", ".join("(" + ", ".join(self.literal(v, c.type) for v, c in zip(row, cols)) + ")" for row in rows)
        action = ("DO UPDATE SET " + ", ".join(f"{qi(c.name)} = excluded.{qi(c.name)}" for c in updatable)
                  if updatable else "DO NOTHING")
        may_fail = any(len(u) > 1 for u in info.uniques)
        self.execute(f"INSERT INTO {self.rel(table)} ({', '.join(qi(c.name) for c in cols)}) VALUES {values} "
                     f"ON CONFLICT ({info.key_order()}) {action}", may_fail=may_fail)
        return True

    def op_update(self, table: str) -> bool:
        """Plain columns: one value per row, an expression, or the same value written back."""
        info = self.info[table]
        spec = self.spec.tables[table]
        candidates = [c for c in info.columns if c.name not in info.key and info.fk(c.name) is None
                      and not c.generated and c.name not in spec.frozen]
        keys = self.sample(self.keys(table), self.how_many())
        if not candidates or not keys:
            return False
        cols = self.sample(candidates, self.rng.choice((1, 1, 2)))
        mode = self.rng.random()
        numeric = [c for c in candidates if c.type == "numeric"]
        if mode < 0.05 and numeric:  # the same number with another scale: equal, but prints differently
            c = self.rng.choice(numeric)
            self.execute(f"UPDATE {self.rel(table)} SET {qi(c.name)} = "
                         f"{self.rng.choice(('trim_scale({})', 'round({}, 3)')).format(qi(c.name))}"
                         f" WHERE {self.where_keys(table, keys)}")
            self.count("rescale")
        elif mode < 0.15:  # same values: a write that changes nothing
            sets = ", ".join(f"{qi(c.name)} = {qi(c.name)}" for c in cols)
            self.execute(f"UPDATE {self.rel(table)} SET {sets} WHERE {self.where_keys(table, keys)}")
        elif mode < 0.35 and all(_expression(c) and c.name not in info.unique_columns and c.name not in spec.values
                                 for c in cols):  # columns with a generator may have a CHECK
            sets = ", ".join(f"{qi(c.name)} = {_expression(c)}" for c in cols)
            self.execute(f"UPDATE {self.rel(table)} SET {sets} WHERE {self.where_keys(table, keys)}")
        else:  # one new value per row, through a VALUES list
            key_cols = [info.column(k) for k in info.key]
            parents: dict[str, list[Any]] = {}
            rows = []
            for k in keys:
                rows.append("(" + ", ".join([self.literal(v, c.type) for v, c in zip(k, key_cols)]
                                            + [self.literal(self.value(table, c, parents), c.type) for c in cols]) + ")")
            names = [f"k{i}" for i in range(len(key_cols))] + [f"v{i}" for i in range(len(cols))]
            sets = ", ".join(f"{qi(c.name)} = v.v{i}" for i, c in enumerate(cols))
            match = " AND ".join(f"t.{qi(c.name)} = v.k{i}" for i, c in enumerate(key_cols))
            self.execute(f"UPDATE {self.rel(table)} AS t SET {sets} FROM (VALUES {', '.join(rows)}) "
                         f"AS v({', '.join(names)}) WHERE {match}",
                         may_fail=any(c.name in info.unique_columns for c in cols) and info.may_collide)
        return True

    def op_update_fk(self, table: str) -> bool:
        """Join keys: point rows at other (existing) parents."""
        info = self.info[table]
        fks = [f for f in info.fks if f.column not in self.spec.tables[table].frozen]
        keys = self.sample(self.keys(table), self.how_many())
        if not fks or not keys:
            return False
        fk = self.rng.choice(fks)
        col = info.column(fk.column)
        parents = self.parent_values(fk)
        if not parents:
            return False
        may_fail = fk.column in info.key or info.may_collide
        if self.rng.random() < 0.5:  # all to one parent
            value = None if col.nullable and self.rng.random() < 0.15 else self.rng.choice(parents)
            self.execute(f"UPDATE {self.rel(table)} SET {qi(col.name)} = {self.literal(value, col.type)} "
                         f"WHERE {self.where_keys(table, keys)}", may_fail=may_fail)
        else:
            key_cols = [info.column(k) for k in info.key]
            rows = ", ".join("(" + ", ".join([self.literal(v, c.type) for v, c in zip(k, key_cols)]
                                             + [self.literal(self.rng.choice(parents), col.type)]) + ")"
                             for k in keys)
            names = [f"k{i}" for i in range(len(key_cols))] + ["v"]
            match = " AND ".join(f"t.{qi(c.name)} = v.k{i}" for i, c in enumerate(key_cols))
            self.execute(f"UPDATE {self.rel(table)} AS t SET {qi(col.name)} = v.v FROM (VALUES {rows}) "
                         f"AS v({', '.join(names)}) WHERE {match}", may_fail=may_fail)
        return True

    def op_update_key(self, table: str) -> bool:
        """Primary keys change: new values, cascading to children where the FKs say so."""
        info = self.info[table]
        keys = self.sample(self.keys(table), self.rng.choice((1, 1, 2, 3)))
        if not keys:
            return False
        changeable = [info.column(k) for k in info.key if info.fk(k) is None and info.column(k).identity != "a"]
        if not changeable:
            return False
        col = self.rng.choice(changeable)
        if col.sequence is not None:
            new = f"nextval('{col.sequence}')"
        elif col.type in ("integer", "bigint", "smallint", "numeric"):
            new = f"{qi(col.name)} + {1_000_000 + self.next_id() * 1000}"
        elif col.type in ("text", "character varying"):
            new = f"{qi(col.name)} || '~{self.next_id()}'"
        elif col.type == "uuid":
            new = f"md5({qi(col.name)}::text || '{self.nonce}-{self.next_id()}')::uuid"
        else:
            return False
        blocked = self.may_be_refused(table, "update", col.name)
        self.execute(f"UPDATE {self.rel(table)} SET {qi(col.name)} = {new} WHERE {self.where_keys(table, keys)}",
                     may_fail=blocked or info.may_collide or col.sequence is None)
        return True

    def op_delete(self, table: str) -> bool:
        keys = self.sample(self.keys(table), self.how_many())
        if not keys:
            return False
        blocked = self.may_be_refused(table, "delete")
        self.execute(f"DELETE FROM {self.rel(table)} WHERE {self.where_keys(table, keys)}", may_fail=blocked)
        return True

    def op_truncate(self, table: str) -> bool:
        info = self.info[table]
        if not self.spec.tables[table].truncate:
            return False
        cascade = " CASCADE" if any(self.regclass.get(f.table) != table for f in info.referenced_by) else ""
        self.execute(f"TRUNCATE {self.rel(table)}{cascade}")
        return True

    # -- transactions -------------------------------------------------------------------------

    def pick_table(self) -> str:
        tables = list(self.spec.tables)
        return self.rng.choices(tables, [self.spec.tables[t].weight for t in tables])[0]

    def ops(self, table: str) -> list[tuple[Callable[[str], bool], float, str]]:
        spec = self.spec.tables[table]
        n = self.conn.execute(f"select count(*) from {self.rel(table)}").fetchone()[0]  # type: ignore[index]
        grow = 3.0 if n < spec.target_rows / 2 else 0.3 if n > spec.target_rows * 2 else 1.0
        return [
            (self.op_insert, 0.22 * grow, "insert"),
            (self.op_copy, 0.04 * grow, "copy"),
            (self.op_upsert, 0.06, "upsert"),
            (self.op_merge, 0.05 if self.has_merge else 0.0, "merge"),
            (self.op_update, 0.25, "update"),
            (self.op_update_fk, 0.14, "update_fk"),
            (self.op_update_key, 0.05, "update_key"),
            (self.op_delete, 0.16 / grow, "delete"),
            (self.op_cte, 0.04, "cte"),
            (self.op_truncate, self.spec.truncate_rate, "truncate"),
        ]

    def statement(self) -> None:
        table = self.pick_table()
        ops = self.ops(table)
        for _ in range(8):
            fn, _w, name = self.rng.choices(ops, [w for _f, w, _n in ops])[0]
            if fn(table):
                self.count(name)
                self.count(f"{name}:{table}")
                return

    def op_cte(self, table: str) -> bool:
        """Two or three writes, to the same or other tables, as one statement (data-modifying WITH):
        one snapshot for all, the triggers of every table fire at its end."""
        if self.collecting is not None:
            return False
        allowed = {"insert", "upsert", "update", "update_fk", "update_key", "delete"}
        self.collecting = []
        try:
            for i in range(self.rng.choice((2, 2, 3))):
                t = table if i == 0 else self.pick_table()
                ops = [o for o in self.ops(t) if o[2] in allowed]
                for _ in range(8):
                    fn = self.rng.choices(ops, [w for _f, w, _n in ops])[0][0]
                    if fn(t):
                        break
            parts = self.collecting
        finally:
            self.collecting = None
        if len(parts) < 2:
            return False
        body = ",\n  ".join(f"w{i} AS ({text})" for i, (text, _f) in enumerate(parts))
        # statements under one snapshot do not see each other: a child may point at a parent
        # another part deletes, which the foreign key refuses at the end of the statement
        self.execute(f"WITH {body}\nSELECT 1", may_fail=True)
        return True

    def op_merge(self, table: str) -> bool:
        """MERGE: per source row update, delete or insert (PostgreSQL 15+)."""
        info = self.info[table]
        cols = self.insertable(table)
        key_cols = [info.column(k) for k in info.key]
        own_key = all(c in cols for c in key_cols)
        existing = self.sample(self.keys(table), self.how_many())
        made = self.new_rows(table, self.rng.randint(0, 2))
        if made is None or not cols:
            return False
        parents: dict[str, list[Any]] = {}
        rows: list[tuple[list[Any], list[Any], str]] = []  # (key values, column values, action)
        try:
            for k in existing:
                by_key = dict(zip(info.key, k))
                rows.append((list(k), [by_key.get(c.name) if c.name in by_key else self.value(table, c, parents)
                                       for c in cols], self.rng.choice("uud")))
        except LookupError:
            return False
        for r in made[1]:
            d = dict(zip((c.name for c in cols), r))
            rows.append(([d[c.name] for c in key_cols] if own_key else [None] * len(key_cols), r, "i"))
        seen: set[tuple[Any, ...]] = set()
        rows = [r for r in rows if r[2] == "i" and not own_key or (tuple(r[0]) not in seen
                                                                   and not seen.add(tuple(r[0])))]  # type: ignore[func-returns-value]
        if not rows:
            return False
        values = ", ".join(
            "(" + ", ".join([self.literal(v, c.type) for v, c in zip(k, key_cols)]
                            + [self.literal(v, c.type) for v, c in zip(vals, cols)] + [f"'{act}'"]) + ")"
            for k, vals, act in rows)
        names = [f"k{i}" for i in range(len(key_cols))] + [f"v{i}" for i in range(len(cols))] + ["act"]
        match = " AND ".join(f"t.{qi(c.name)} = s.k{i}" for i, c in enumerate(key_cols))
        frozen = self.spec.tables[table].frozen
        sets = ", ".join(f"{qi(c.name)} = s.v{i}" for i, c in enumerate(cols)
                         if c.name not in info.key and c.name not in frozen)
        update = f"WHEN MATCHED THEN UPDATE SET {sets}" if sets else "WHEN MATCHED THEN DO NOTHING"
        self.execute(
            f"MERGE INTO {self.rel(table)} AS t USING (VALUES {values}) AS s({', '.join(names)}) ON {match} "
            f"WHEN MATCHED AND s.act = 'd' THEN DELETE {update} "
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(qi(c.name) for c in cols)}) "
            f"VALUES ({', '.join(f's.v{i}' for i in range(len(cols)))})",
            may_fail=info.may_collide or self.may_be_refused(table, "delete"))
        return True

    def check(self, where: str) -> None:
        bad = divergences(self.conn, self.spec.tview_schema)
        if not bad and self.strict:
            bad = text_divergences(self.conn, self.spec.tview_schema)
        if bad:
            raise WorkloadFailure(self.report(f"{len(bad)} divergent rows {where}", bad))

    def transaction(self) -> None:
        r = self.rng
        self.log = [f"-- transaction {len(self.history) + 1} (seed {self.seed})"]
        self.history.append(self.log)
        try:
            self.execute("BEGIN")
            if r.random() < 0.1:
                name, options = r.choice(SESSION_SETTINGS)
                self.execute(f"SET LOCAL {name} = '{r.choice(options)}'")
                self.count("settings")
            savepoints = 0
            for _ in range(r.choice((1, 1, 1, 2, 2, 3, 4, 6))):
                if r.random() < 0.15:
                    savepoints += 1
                    sp = f"sp{savepoints}"
                    self.execute(f"SAVEPOINT {sp}")
                    for _ in range(r.randint(1, 3)):
                        self.statement()
                    if r.random() < 0.2:
                        self.in_txn_checks += 1
                        self.check(f"inside savepoint {sp}")
                    if r.random() < 0.5:
                        self.execute(f"ROLLBACK TO SAVEPOINT {sp}")
                        self.count("rollback_to")
                    else:
                        self.execute(f"RELEASE SAVEPOINT {sp}")
                        self.count("release")
                else:
                    self.statement()
                if r.random() < 0.1:
                    self.in_txn_checks += 1
                    self.check("inside the transaction")
            if r.random() < 0.08:
                self.execute("ROLLBACK")
                self.count("rollback")
            else:
                self.execute("COMMIT")
                self.count("commit")
        except WorkloadFailure:
            self.conn.execute("ROLLBACK")
            raise
        except psycopg.Error as e:
            self.log.append(f"  -- ERROR {e.sqlstate}: {e}")
            self.conn.execute("ROLLBACK")
            raise WorkloadFailure(self.report(f"statement failed: {e.sqlstate} {e}", [])) from e
        self.check("after the transaction")

    def run(self, transactions: int, progress: Callable[[int], None] | None = None) -> None:
        for i in range(transactions):
            self.transaction()
            if progress is not None:
                progress(i + 1)

    def report(self, problem: str, rows: Sequence[tuple[Any, ...]]) -> str:
        fd, path = tempfile.mkstemp(prefix=f"tviews-workload-{self.seed}-", suffix=".sql")
        with os.fdopen(fd, "w") as f:
            for txn in self.history:
                f.write("\n".join(txn) + "\n\n")
        shown = "\n".join(f"  {r[0]} {r[1]}: {r[2]}" for r in rows[:20])
        more = f"\n  ... and {len(rows) - 20} more" if len(rows) > 20 else ""
        recent = "\n\n".join("\n".join(t) for t in self.history[-4:-1])
        return (f"{problem}\nseed {self.seed}, transaction {len(self.history)}, "
                f"source schema {self.spec.source_schema}, tview schema {self.spec.tview_schema}\n"
                f"{shown}{more}\n\nfailing transaction:\n" + "\n".join(self.log)
                + f"\n\nthe transactions before it:\n{recent}\n\nfull log: {path}")


def _expression(col: Column) -> str | None:
    base = col.type.split("(")[0]
    return {
        "boolean": f"NOT {qi(col.name)}",
        "integer": f"{qi(col.name)} + 1",
        "bigint": f"{qi(col.name)} + 1",
        "numeric": f"{qi(col.name)} * 2",
        "text": f"{qi(col.name)} || '!'",
        "timestamp with time zone": f"{qi(col.name)} + interval '1 hour'",
        "date": f"{qi(col.name)} + 1",
    }.get(base)


# --------------------------------------------------------------------------------------------------
# The two projects of this repository
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectSpec:
    name: str
    project_dir: Path
    setup_operation: str
    source_suffix: str  # source schema = <target schema> + suffix
    needs_deps: bool
    workload: Callable[[str, str], WorkloadSpec]  # (source schema, tview schema) -> spec


def example_workload(source_schema: str, tview_schema: str) -> WorkloadSpec:
    return WorkloadSpec(source_schema, tview_schema, {
        "tb_user": TableSpec(weight=0.8, target_rows=12),
        "tb_post": TableSpec(weight=1.2, target_rows=30),
        "tb_comment": TableSpec(weight=1.0, target_rows=50),
        "tb_tag": TableSpec(weight=0.5, target_rows=8),
        "tb_post_tag": TableSpec(weight=1.0, target_rows=40),
    })


def _amount(r: random.Random) -> Decimal:
    """A price with a varying number of decimals: 45.5, 45.50, 45.500 are equal, and print differently."""
    value = Decimal(r.randint(100, 9999)).scaleb(-2)
    return value.quantize(Decimal(1).scaleb(-r.choice((1, 2, 2, 3)))) if value == value.quantize(Decimal("0.1")) \
        else value.quantize(Decimal(1).scaleb(-r.choice((2, 2, 3))))


def shapes_workload(source_schema: str, tview_schema: str) -> WorkloadSpec:
    status = ("new", "paid", "shipped", "cancelled")
    return WorkloadSpec(source_schema, tview_schema, {
        "tb_customer": TableSpec(weight=0.7, target_rows=12),
        "tb_category": TableSpec(weight=0.5, target_rows=8),
        "tb_product": TableSpec(weight=0.8, target_rows=15,
                                values={"price": lambda r: Decimal(r.randint(100, 9999)).scaleb(-2)}),
        "tb_order": TableSpec(weight=1.0, target_rows=25, values={"status": lambda r: r.choice(status)}),
        "tb_order_line": TableSpec(weight=1.3, target_rows=50,
                                   values={"quantity": lambda r: r.randint(1, 5), "unit_price": _amount}),
        "tb_review": TableSpec(weight=1.0, target_rows=30, values={"rating": lambda r: r.randint(1, 5)}),
    })


PROJECTS = {
    "example": ProjectSpec("example", REPO, "tviews.example_setup", "_app", False, example_workload),
    "shapes": ProjectSpec("shapes", HERE / "shapes_project", "shapes_setup", "_shop", True, shapes_workload),
}


# --------------------------------------------------------------------------------------------------
# CLI: build a fresh schema with dbt, then soak it
# --------------------------------------------------------------------------------------------------


def dbt(project_dir: Path, env: dict[str, str], schema: str, *args: str, quiet: bool = False) -> None:
    """One dbt invocation in `project_dir` (its own profiles.yml), target files under target/<schema>."""
    from dbt.cli.main import dbtRunner

    target = project_dir / "target" / schema
    cli = [*(["--quiet"] if quiet else []), *args, "--project-dir", str(project_dir),
           "--profiles-dir", str(project_dir)]
    if args[0] != "deps":  # deps takes no --target-path
        cli += ["--target-path", str(target)]
    with temporary_env({**env, "DBT_LOG_PATH": str(target / "logs"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}):
        res = dbtRunner().invoke(cli)
    if not res.success:
        raise RuntimeError(f"dbt {' '.join(args)} in {project_dir} failed: {res.exception or 'see the log above'}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--transactions", type=int, default=1000)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--project", choices=sorted(PROJECTS), default="example")
    p.add_argument("--schema", default=None, help="target schema (default: a fresh tvsoak_<hex>)")
    p.add_argument("--dsn", default=os.environ.get("TVIEWS_TEST_DSN"),
                   help="PostgreSQL to use (default TVIEWS_TEST_DSN, else 127.0.0.1:5432 or embedded)")
    p.add_argument("--no-build", action="store_true", help="the schema is already built: only run the workload")
    p.add_argument("--keep", action="store_true", help="keep the schemas afterwards")
    p.add_argument("--strict", action="store_true",
                   help="also require rows to be identical as text (1.5 vs 1.50 counts as a divergence)")
    p.add_argument("--keep-going", action="store_true",
                   help="after a divergence, report it, refresh the tviews and continue")
    args = p.parse_args(argv)

    sys.path.insert(0, str(HERE))
    from pgtarget import _from_dsn, resolve

    pg = _from_dsn(args.dsn, "env") if args.dsn else resolve(prefer_local=True)
    project = PROJECTS[args.project]
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    schema = args.schema or f"tvsoak_{secrets.token_hex(4)}"
    source_schema = schema + project.source_suffix
    env = pg.profile_env(schema)
    if not args.no_build:
        print(f"building {project.name} project in schema {schema} on {pg.host}:{pg.port}/{pg.dbname}")
        if project.needs_deps:
            dbt(project.project_dir, env, schema, "deps", quiet=True)
        dbt(project.project_dir, env, schema, "run-operation", project.setup_operation, "--args", "{reset: true}",
            quiet=True)
        dbt(project.project_dir, env, schema, "build", quiet=True)
    spec = project.workload(source_schema, schema)
    started = time.monotonic()
    total_bad = errors = done = 0
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        w = Workload(conn, spec, seed, strict=args.strict)
        print(f"seed {seed}: {args.transactions} transactions on {source_schema}, checking tviews in {schema}")
        try:
            while done < args.transactions:
                try:
                    w.transaction()
                    done += 1
                except WorkloadFailure as e:
                    done += 1
                    bad = divergences(conn, schema) or (text_divergences(conn, schema) if args.strict else [])
                    total_bad += len(bad)
                    errors += not bad
                    print(str(e), file=sys.stderr, flush=True)
                    if not args.keep_going:
                        break
                    for (name,) in conn.execute("select tview_name from tviews.tview where tview_schema = %s "
                                                "order by tview_id", (schema,)).fetchall():
                        conn.execute("select tviews.refresh(%s, %s)", (schema, name))
                if done % 500 == 0:
                    kinds = {k: v for k, v in sorted(w.stats.items()) if ":" not in k}
                    print(f"  {done} transactions, {total_bad} divergent rows, {time.monotonic() - started:.0f} s, "
                          f"{kinds}", flush=True)
        finally:
            if args.keep or args.no_build or total_bad or errors:
                print(f"schemas {schema} and {source_schema} kept")
            else:
                for s in (schema, source_schema):
                    conn.execute(f"drop schema if exists {qi(s)} cascade")
                conn.execute("select tviews.gc()")
                shutil.rmtree(project.project_dir / "target" / schema, ignore_errors=True)
    print(f"{total_bad} divergent rows over {done} transactions" + (f", {errors} failed statements" if errors else "")
          + f" (seed {seed}, {time.monotonic() - started:.1f} s, {w.in_txn_checks} checks inside transactions)")
    return 1 if total_bad or errors else 0


if __name__ == "__main__":
    raise SystemExit(main())

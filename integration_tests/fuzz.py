"""Grammar-based random SQL fuzzer: tviews that build and then go silently stale.

Nothing here knows which constructs the product supports. A seeded generator writes random SELECTs
over one small fixed schema (five tables with NULLable columns and join keys, a self-referencing
foreign key, many-to-many tables with composite primary keys, CASCADE / SET NULL foreign keys, the
mixed-case quoted columns "OrderNo", "CustId", "Status", "Total") and chooses for each an obvious
unique key (the identity columns of the joined rows, the GROUP BY columns, the DISTINCT columns,
the DISTINCT ON expressions, a UNION branch tag). Each query is built as a tview the way the
materialization does (analyse -> CREATE TABLE AS -> tviews.install()) in a fresh schema holding
random starting data, then random write transactions run against the sources, and after every
statement and every transaction the tview must equal its SELECT (tviews.diff is empty).

Outcomes per query:
  invalid              PostgreSQL itself rejects the generated SELECT (a generator defect; ~0)
  rejected-analysis    the analysis raised a tviews.TviewError (fine: refused at build)
  rejected-install     install() refused with a clear SQLSTATE, e.g. a non-unique key (fine)
  crashed        BUG   any other exception at build (analysis crash, install error)
  built                the tview was built; then, over its writes:
    stale        BUG   tviews.diff() not empty after a statement or a transaction
    write-crash  BUG   maintenance raised an error although, without the triggers, the same
                       writes leave the SELECT valid with a unique, non-NULL key
    write-refused      maintenance raised an error and the SELECT after the writes fails or has
                       a NULL / duplicate key: the write was rightly refused (fine, counted)

Each bug is minimized (write transactions, starting rows, then the SELECT itself: projections,
joins, conditions, subqueries, CTEs, UNION branches are dropped while the same kind of failure
persists) and printed as a reproducer: the SQL, the key, the starting rows and the writes.

The same seed gives the same queries, starting rows and writes (query n draws from
random.Random(f"{seed}:{n}")), so a bug is rerun by rerunning its seed.

--plain-names spells the mixed-case columns of `ord` in lower case everywhere: the analysis refuses
quoted mixed-case column names today, which takes every query reading `ord` out of the run.

CLI (a private database on the server the tests would use: TVIEWS_TEST_DSN, else 127.0.0.1:5432,
else embedded PostgreSQL; dropped at the end):
    python integration_tests/fuzz.py --queries 500 --writes 30 --seed 1 [--dsn DSN] [--plain-names]
        [--minimize-budget SECONDS] [--max-minimize N] [--out DIR] [--brief] [--verbose]
    python integration_tests/fuzz.py --replay DIR/bug-1-3.json [--shrink --minimize-budget 300]
It prints the counts per outcome, then every bug with its reproducer (minimized for at most
--max-minimize of them, the most different first). Exit status 1 when any bug was found.

From Python: Fuzzer(dsn, seed=1, writes=30).run(queries=100) -> Report.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import sqlglot
from sqlglot import exp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tviews
from pgtarget import resolve
from tviews.pgcatalog import load_catalog

S = "__S__"  # placeholder for the schema in generated SQL
TVIEW = "tv"
REPORT_SCHEMA = "fz"  # the schema name shown in reproducers

# --------------------------------------------------------------------------------------------------
# The schema
# --------------------------------------------------------------------------------------------------

DDL = f"""
CREATE TABLE {S}.cust (
    id int PRIMARY KEY,
    name text,
    region text,
    referrer_id int REFERENCES {S}.cust (id) ON DELETE SET NULL ON UPDATE CASCADE,
    score int
);
CREATE TABLE {S}.prod (
    id int PRIMARY KEY,
    sku text UNIQUE,
    category text,
    price numeric(6,2)
);
CREATE TABLE {S}.ord (
    "OrderNo" int PRIMARY KEY,
    "CustId" int REFERENCES {S}.cust (id) ON DELETE CASCADE ON UPDATE CASCADE,
    "Status" text,
    "Total" int,
    note text
);
CREATE TABLE {S}.item (
    order_no int NOT NULL REFERENCES {S}.ord ("OrderNo") ON DELETE CASCADE ON UPDATE CASCADE,
    line int NOT NULL,
    prod_id int REFERENCES {S}.prod (id) ON DELETE SET NULL,
    qty int,
    price numeric(6,2),
    PRIMARY KEY (order_no, line)
);
CREATE TABLE {S}.fav (
    cust_id int REFERENCES {S}.cust (id) ON DELETE CASCADE,
    prod_id int REFERENCES {S}.prod (id) ON DELETE CASCADE ON UPDATE CASCADE,
    rank int,
    note text,
    PRIMARY KEY (cust_id, prod_id)
);
"""


@dataclass(frozen=True)
class Col:
    name: str
    type: str  # int, text, num (and, for computed columns, jsonb, bool)
    domain: str | None  # values are drawn from DOMAINS[domain]; equal domains join
    nullable: bool


TABLES: dict[str, tuple[Col, ...]] = {
    "cust": (Col("id", "int", "cust_id", False), Col("name", "text", "word", True),
             Col("region", "text", "region", True), Col("referrer_id", "int", "cust_id", True),
             Col("score", "int", "small", True)),
    "prod": (Col("id", "int", "prod_id", False), Col("sku", "text", "sku", True),
             Col("category", "text", "region", True), Col("price", "num", "money", True)),
    "ord": (Col("OrderNo", "int", "ord_no", False), Col("CustId", "int", "cust_id", True),
            Col("Status", "text", "status", True), Col("Total", "int", "small", True),
            Col("note", "text", "word", True)),
    "item": (Col("order_no", "int", "ord_no", False), Col("line", "int", "line", False),
             Col("prod_id", "int", "prod_id", True), Col("qty", "int", "small", True),
             Col("price", "num", "money", True)),
    "fav": (Col("cust_id", "int", "cust_id", False), Col("prod_id", "int", "prod_id", False),
            Col("rank", "int", "small", True), Col("note", "text", "word", True)),
}
PKS: dict[str, tuple[str, ...]] = {"cust": ("id",), "prod": ("id",), "ord": ("OrderNo",),
                                    "item": ("order_no", "line"), "fav": ("cust_id", "prod_id")}
# parents before children: the order rows are inserted in
TABLE_ORDER = ("cust", "prod", "ord", "item", "fav")
# (table, column) -> (parent table, parent column); the child's rows go when the parent's do
FKS = {("cust", "referrer_id"): ("cust", "id"), ("ord", "CustId"): ("cust", "id"),
       ("item", "order_no"): ("ord", "OrderNo"), ("item", "prod_id"): ("prod", "id"),
       ("fav", "cust_id"): ("cust", "id"), ("fav", "prod_id"): ("prod", "id")}

DOMAINS: dict[str, list[Any]] = {
    "cust_id": list(range(1, 13)),
    "prod_id": list(range(1, 9)),
    "ord_no": list(range(100, 114)),
    "line": [1, 2, 3, 4],
    "small": [0, 1, 2, 3, 4, 5],
    "region": ["n", "s", "e", "w"],
    "word": ["ann", "bob", "cy", "dee"],
    "status": ["new", "paid", "sent"],
    "sku": [f"S{i}" for i in range(1, 9)],
    "money": ["0.50", "1.00", "2.25", "3.10"],
}
ID_RANGES = {"cust": range(1, 15), "prod": range(1, 11), "ord": range(100, 119)}

_PLAIN = re.compile(r"[a-z_][a-z0-9_]*")
_RESERVED = {"user", "order", "group", "select", "from", "where", "table", "limit", "all", "end", "case",
             "desc", "asc", "window", "check", "default", "primary", "references", "unique", "offset"}


def q(name: str) -> str:
    """An identifier, quoted only where PostgreSQL needs it."""
    if _PLAIN.fullmatch(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def lit(domain: str | None, type_: str, rng: random.Random) -> str:
    if domain is None:
        domain = {"int": "small", "num": "money", "text": "word"}.get(type_, "small")
    v = rng.choice(DOMAINS[domain])
    return f"'{v}'" if isinstance(v, str) and type_ == "text" else str(v)


def sql_value(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return str(v)


# "Plain names" mode spells the mixed-case columns of `ord` in lower case everywhere (DDL, rows,
# queries, writes): a soak can then go past a refusal of mixed-case names by the analysis.
MIXED_CASE = ("OrderNo", "CustId", "Status", "Total")


def renamed(text: str, plain: bool) -> str:
    if plain:
        for n in MIXED_CASE:
            text = text.replace(f'"{n}"', n.lower())
    return text


def schema_sql(text: str, schema: str) -> str:
    return text.replace(S, '"' + schema.replace('"', '""') + '"')


def shown(text: str) -> str:
    return text.replace(S, REPORT_SCHEMA)


# --------------------------------------------------------------------------------------------------
# Starting data
# --------------------------------------------------------------------------------------------------

Rows = dict[str, list[tuple[Any, ...]]]


def random_rows(rng: random.Random) -> Rows:
    """Small tables with NULLs (none at all in some cases, so that NULLs arrive only with writes)."""
    pnull = rng.choice([0.0, 0.12, 0.3])

    def maybe(v: Any) -> Any:
        return None if rng.random() < pnull else v

    def pick(domain: str) -> Any:
        return rng.choice(DOMAINS[domain])

    cust_ids = sorted(rng.sample(list(ID_RANGES["cust"]), rng.randint(3, 8)))
    cust = [(i, maybe(pick("word")), maybe(pick("region")),
             maybe(rng.choice(cust_ids)) if rng.random() < 0.7 else None, maybe(pick("small")))
            for i in cust_ids]
    prod_ids = sorted(rng.sample(list(ID_RANGES["prod"]), rng.randint(2, 6)))
    skus = rng.sample(DOMAINS["sku"], len(prod_ids))
    prod = [(i, maybe(s), maybe(pick("region")), maybe(pick("money"))) for i, s in zip(prod_ids, skus)]
    ord_nos = sorted(rng.sample(list(ID_RANGES["ord"]), rng.randint(3, 9)))
    ords = [(o, maybe(rng.choice(cust_ids)), maybe(pick("status")), maybe(pick("small")), maybe(pick("word")))
            for o in ord_nos]
    items = []
    for o in ord_nos:
        for line in sorted(rng.sample(DOMAINS["line"], rng.randint(0, 3))):
            items.append((o, line, maybe(rng.choice(prod_ids)), maybe(pick("small")), maybe(pick("money"))))
    pairs = [(c, p) for c in cust_ids for p in prod_ids]
    favs = [(c, p, maybe(pick("small")), maybe(pick("word")))
            for c, p in sorted(rng.sample(pairs, min(len(pairs), rng.randint(0, 9))))]
    return {"cust": cust, "prod": prod, "ord": ords, "item": items, "fav": favs}


def rows_sql(rows: Rows, plain: bool = False) -> list[str]:
    out = []
    for t in TABLE_ORDER:
        if rows.get(t):
            cols = ", ".join(q(c.name) for c in TABLES[t])
            values = ", ".join("(" + ", ".join(sql_value(v) for v in r) + ")" for r in rows[t])
            out.append(renamed(f"INSERT INTO {S}.{t} ({cols}) VALUES {values}", plain))
    return out


def without_rows(rows: Rows, table: str, drop: set[int]) -> Rows:
    """`rows` without the rows at positions `drop` of `table`, and without the rows that then
    reference a missing parent (the self-reference is set to NULL instead)."""
    out = {t: list(rs) for t, rs in rows.items()}
    out[table] = [r for i, r in enumerate(out[table]) if i not in drop]
    for t in TABLE_ORDER:
        cols = [c.name for c in TABLES[t]]
        for (child, col), (parent, pcol) in FKS.items():
            if child != t:
                continue
            present = {r[[c.name for c in TABLES[parent]].index(pcol)] for r in out[parent]}
            i = cols.index(col)
            if child == parent:
                out[t] = [r if r[i] is None or r[i] in present else r[:i] + (None,) + r[i + 1:] for r in out[t]]
            else:
                out[t] = [r for r in out[t] if r[i] is None or r[i] in present]
    return out


# --------------------------------------------------------------------------------------------------
# The SELECT generator
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A column visible in a scope: `alias.name`."""

    alias: str
    name: str
    type: str
    domain: str | None
    nullable: bool

    @property
    def sql(self) -> str:
        return f"{self.alias}.{q(self.name)}"

    def nulled(self) -> Ref:
        return dataclasses.replace(self, nullable=True)


@dataclass
class Item:
    """A FROM item (a table, a derived table, a CTE reference, or a join of items)."""

    sql: str
    refs: list[Ref]
    ident: list[Ref]  # columns that together identify the item's rows
    leaves: int = 1
    where: list[str] = field(default_factory=list)  # conditions the enclosing SELECT must add
    table: str | None = None  # a plain table


@dataclass
class Query:
    sql: str  # with the schema placeholder
    key: list[str]
    shape: str

    def to_dict(self) -> dict[str, Any]:
        return {"sql": self.sql, "key": self.key, "shape": self.shape}

    def renamed(self, plain: bool) -> Query:
        if not plain:
            return self
        return Query(renamed(self.sql, True), [k.lower() if k in MIXED_CASE else k for k in self.key], self.shape)


def sentinel(r: Ref) -> str:
    return {"text": "'~'", "num": "-1", "int": "-1"}.get(r.type, "-1")


class QueryGen:
    """Random SELECTs over TABLES, each with a key that is unique by construction (or, now and then,
    deliberately not: such queries are refused at install, and counted)."""

    def __init__(self, rng: random.Random):
        self.r = rng
        self.n = 0
        self.crossed = False  # one join without a condition per query at most (row counts multiply)
        self.ctes: list[tuple[str, str, list[Col], list[str]]] = []  # name, body, columns, ident

    # -- helpers --------------------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def pick(self, xs: list[Any] | tuple[Any, ...]) -> Any:
        return self.r.choice(list(xs))

    def weighted(self, options: dict[str, float]) -> str:
        return self.r.choices(list(options), weights=list(options.values()))[0]

    def alias(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix[0]}{self.n}"

    @staticmethod
    def unique_name(name: str, used: set[str]) -> str:
        base, i = name, 1
        while name in used or name.lower() in {u.lower() for u in used}:
            i += 1
            name = f"{base}_{i}"
        used.add(name)
        return name

    # -- entry ------------------------------------------------------------------------------------

    def query(self) -> Query:
        for _ in range(20):  # a choice among nothing (e.g. no int column in scope): start again
            self.n = 0
            self.ctes = []
            self.crossed = False
            shape = self.weighted({"spj": 0.42, "group": 0.2, "distinct": 0.08, "distinct_on": 0.1, "union": 0.2})
            try:
                body, key = getattr(self, f"q_{shape}")()
                break
            except IndexError:
                continue
        else:
            raise AssertionError("the generator failed 20 times in a row")
        if self.ctes:
            body = "WITH " + ", ".join(f"{n} AS ({b})" for n, b, _, _ in self.ctes) + "\n" + body
        return Query(body, key, shape)

    # -- FROM ---------------------------------------------------------------------------------------

    def table_item(self, table: str | None = None) -> Item:
        t = table or self.pick(list(TABLES))
        a = self.alias(t)
        refs = [Ref(a, c.name, c.type, c.domain, c.nullable) for c in TABLES[t]]
        return Item(f"{S}.{t} {a}", refs, [r for r in refs if r.name in PKS[t]], table=t)

    def leaf(self, depth: int) -> Item:
        roll = self.r.random()
        if depth < 2 and roll < 0.14:
            return self.derived_item(depth, cte=False)
        if depth < 2 and roll < 0.22:
            return self.derived_item(depth, cte=True)
        return self.table_item()

    def from_tree(self, depth: int, leaves: int) -> Item:
        item = self.leaf(depth)
        while item.leaves < leaves:
            if leaves - item.leaves >= 2 and self.chance(0.18):
                right = self.join(self.leaf(depth + 1), self.leaf(depth + 1),
                                  self.weighted({"INNER": 0.5, "LEFT": 0.4, "FULL": 0.1}), depth)
                right.sql = f"({right.sql})"
            else:
                right = self.leaf(depth)
            if item.leaves > 1 and self.chance(0.08):
                item.sql = f"({item.sql})"
            kind = self.weighted({"INNER": 0.3, "LEFT": 0.34, "RIGHT": 0.1, "FULL": 0.14, "CROSS": 0.04})
            item = self.join(item, right, kind, depth)
        if item.leaves > 1 and self.chance(0.07):
            item.sql = f"({item.sql})"
        return item

    def join_pairs(self, left: Item, right: Item) -> list[tuple[Ref, Ref]]:
        cands = [(lr, rr) for lr in left.refs for rr in right.refs
                 if lr.domain and lr.domain == rr.domain and lr.type == rr.type]
        if not cands:
            return []
        rid = {(x.alias, x.name) for x in right.ident}
        lid = {(x.alias, x.name) for x in left.ident}
        weights = [3.0 if (len(rid) == 1 and (rr.alias, rr.name) in rid)
                   else 2.0 if (len(lid) == 1 and (lr.alias, lr.name) in lid) else 1.0
                   for lr, rr in cands]
        pairs = [self.r.choices(cands, weights=weights)[0]]
        if self.chance(0.12):
            other = self.pick(cands)
            if other not in pairs:
                pairs.append(other)
        return pairs

    def join(self, left: Item, right: Item, kind: str, depth: int) -> Item:
        if kind == "CROSS" and self.crossed:
            kind = "INNER"
        pairs = [] if kind == "CROSS" else self.join_pairs(left, right)
        if not pairs:
            kind = "CROSS"
            self.crossed = True
        lrefs, rrefs = list(left.refs), list(right.refs)
        if kind == "CROSS":
            sql = f"{left.sql} CROSS JOIN {right.sql}"
        else:
            conds = [f"{a.sql} = {b.sql}" for a, b in pairs]
            if kind != "FULL" and self.chance(0.2):
                conds.append(self.simple_cond(rrefs if self.chance(0.6) else lrefs + rrefs))
            kw = {"INNER": self.pick(["JOIN", "INNER JOIN"]), "LEFT": self.pick(["LEFT JOIN", "LEFT OUTER JOIN"]),
                  "RIGHT": "RIGHT JOIN", "FULL": self.pick(["FULL JOIN", "FULL OUTER JOIN"])}[kind]
            sql = f"{left.sql} {kw} {right.sql} ON {' AND '.join(conds)}"
        rcover = {(x.alias, x.name) for x in right.ident} <= {(b.alias, b.name) for _, b in pairs}
        lcover = {(x.alias, x.name) for x in left.ident} <= {(a.alias, a.name) for a, _ in pairs}
        rnull = kind in ("LEFT", "FULL")
        lnull = kind in ("RIGHT", "FULL")
        if rnull:
            rrefs = [r.nulled() for r in rrefs]
        if lnull:
            lrefs = [r.nulled() for r in lrefs]
        by = {(r.alias, r.name): r for r in lrefs + rrefs}
        lident = [by[(r.alias, r.name)] for r in left.ident]
        rident = [by[(r.alias, r.name)] for r in right.ident]
        if pairs and kind in ("INNER", "LEFT") and rcover and right.ident:
            ident = lident
        elif pairs and kind in ("INNER", "RIGHT") and lcover and left.ident:
            ident = rident
        else:
            ident = lident + rident
        where = left.where + right.where
        # an anti-join: LEFT JOIN r ON <equality> WHERE r.<col> IS NULL
        if kind == "LEFT" and right.leaves == 1 and self.chance(0.25):
            joined = pairs[0][1]
            roll = self.r.random()
            if roll < 0.6:
                col = joined
            else:
                col = self.pick([r for r in right.refs if not r.nullable] or right.refs) if roll < 0.8 \
                    else self.pick(right.refs)
            where.append(f"{col.sql} IS NULL")
            if col is joined or not col.nullable:  # only unmatched left rows remain
                ident = lident
        return Item(sql, lrefs + rrefs, ident, left.leaves + right.leaves, where)

    # -- derived tables and CTEs --------------------------------------------------------------------

    def derived_item(self, depth: int, cte: bool) -> Item:
        if cte and self.ctes and self.chance(0.4):
            name, _, cols, ident = self.pick(self.ctes)  # the same CTE read again
        else:
            body, cols, ident = self.derived_body(depth + 1)
            if cte:
                name = f"cte{len(self.ctes) + 1}"
                self.ctes.append((name, body, cols, ident))
            else:
                name = ""
        a = self.alias("d")
        refs = [Ref(a, c.name, c.type, c.domain, c.nullable) for c in cols]
        sql = f"{name} {a}" if cte else f"({body}) {a}"
        return Item(sql, refs, [r for r in refs if r.name in ident])

    def derived_body(self, depth: int) -> tuple[str, list[Col], list[str]]:
        kind = self.weighted({"filter": 0.25, "group": 0.3, "distinct": 0.12, "window": 0.18, "join": 0.15})
        used: set[str] = set()
        if kind in ("filter", "window", "join"):
            item = self.table_item()
            if kind == "join":
                item = self.join(item, self.table_item(), self.weighted({"INNER": 0.5, "LEFT": 0.5}), depth)
            scope = item.refs
            outs: list[tuple[str, str, Col]] = []
            for r in item.ident:
                outs.append((r.sql, self.unique_name(r.name, used), Col(r.name, r.type, r.domain, r.nullable)))
            for r in self.r.sample(scope, min(len(scope), self.r.randint(1, 4))):
                if r in item.ident:
                    continue
                name = self.unique_name(r.name, used)
                outs.append((r.sql, name, Col(name, r.type, r.domain, r.nullable)))
            if kind == "window":
                for _ in range(self.r.randint(1, 2)):
                    sql, ty = self.window_expr(scope, item.ident)
                    name = self.unique_name("w", used)
                    outs.append((sql, name, Col(name, ty, "small" if ty == "int" else None, True)))
            if self.chance(0.35):
                sql, ty = self.value(scope, depth, item.ident)
                name = self.unique_name("v", used)
                outs.append((sql, name, Col(name, ty, None, True)))
            where = item.where + ([self.cond(scope, depth)] if self.chance(0.4) else [])
            ident = [n for (s, n, c) in outs if any(s == r.sql for r in item.ident)]
            body = (f"SELECT {', '.join(f'{s} AS {q(n)}' for s, n, _ in outs)} FROM {item.sql}"
                    + (f" WHERE {' AND '.join(where)}" if where else ""))
            return body, [c for _, _, c in outs], ident
        if kind == "distinct":
            item = self.table_item()
            chosen = self.r.sample([r for r in item.refs], self.r.randint(1, 2))
            outs2 = [(r.sql, self.unique_name(r.name, used), r) for r in chosen]
            where = [self.simple_cond(item.refs)] if self.chance(0.3) else []
            body = (f"SELECT DISTINCT {', '.join(f'{s} AS {q(n)}' for s, n, _ in outs2)} FROM {item.sql}"
                    + (f" WHERE {' AND '.join(where)}" if where else ""))
            return body, [Col(n, r.type, r.domain, r.nullable) for _, n, r in outs2], [n for _, n, _ in outs2]
        # group
        item = self.table_item()
        if self.chance(0.35):
            item = self.join(item, self.table_item(), self.weighted({"INNER": 0.5, "LEFT": 0.5}), depth)
        g = self.pick([r for r in item.refs if r.domain])
        gname = self.unique_name(g.name, used)
        outs3 = [(g.sql, gname, Col(gname, g.type, g.domain, g.nullable))]
        for _ in range(self.r.randint(1, 3)):
            sql, ty = self.aggregate(item.refs, item.ident)
            name = self.unique_name("n", used)
            outs3.append((sql, name, Col(name, ty, "small" if ty == "int" and self.chance(0.3) else None, True)))
        where = item.where + ([self.simple_cond(item.refs)] if self.chance(0.3) else [])
        having = f" HAVING {self.pick(['count(*) > 1', 'count(*) >= 1', f'max({g.sql}) IS NOT NULL'])}" \
            if self.chance(0.2) else ""
        body = (f"SELECT {', '.join(f'{s} AS {q(n)}' for s, n, _ in outs3)} FROM {item.sql}"
                + (f" WHERE {' AND '.join(where)}" if where else "") + f" GROUP BY {g.sql}{having}")
        return body, [c for _, _, c in outs3], [gname]

    # -- expressions --------------------------------------------------------------------------------

    def simple_cond(self, scope: list[Ref]) -> str:
        r = self.pick([x for x in scope if x.type in ("int", "text", "num")] or scope)
        roll = self.r.random()
        if r.type not in ("int", "text", "num") or roll < 0.2:
            return f"{r.sql} IS {self.pick(['NULL', 'NOT NULL'])}"
        if r.type == "text":
            if roll < 0.35:
                return f"{r.sql} IN ({lit(r.domain, r.type, self.r)}, {lit(r.domain, r.type, self.r)})"
            return f"{r.sql} {self.pick(['=', '<>'])} {lit(r.domain, r.type, self.r)}"
        if roll < 0.3:
            return f"coalesce({r.sql}, {lit(r.domain, r.type, self.r)}) {self.pick(['=', '>'])} {lit(r.domain, r.type, self.r)}"
        return f"{r.sql} {self.pick(['=', '<>', '<', '>', '<=', '>='])} {lit(r.domain, r.type, self.r)}"

    def cond(self, scope: list[Ref], depth: int) -> str:
        if depth > 2:
            return self.simple_cond(scope)
        kind = self.weighted({"simple": 3, "colcol": 0.7, "exists": 1.5, "in": 1.3, "scalar": 0.8, "uncorr": 0.7,
                              "or": 0.6, "not": 0.3})
        if kind == "colcol":
            pairs = [(a, b) for a in scope for b in scope if a is not b and a.domain and a.domain == b.domain
                     and a.alias != b.alias]
            if pairs:
                a, b = self.pick(pairs)
                return f"{a.sql} {self.pick(['=', '<>', 'IS DISTINCT FROM'])} {b.sql}"
            kind = "simple"
        if kind == "exists":
            sub = self.correlated_from(scope, depth)
            if sub:
                frm, conds, _ = sub
                return f"{self.pick(['EXISTS', 'NOT EXISTS'])} (SELECT 1 FROM {frm} WHERE {' AND '.join(conds)})"
            kind = "simple"
        if kind == "in":
            outer = [r for r in scope if r.domain and r.domain in _TABLE_DOMAINS]
            if outer:
                o = self.pick(outer)
                t, c = self.pick(_TABLE_DOMAINS[o.domain])
                inner = self.table_item(t)
                x = next(r for r in inner.refs if r.name == c)
                conds = []
                if self.chance(0.5):
                    conds.append(self.simple_cond(inner.refs))
                if self.chance(0.35):  # correlated IN
                    corr = [(a, b) for a in inner.refs for b in scope if a.domain and a.domain == b.domain and a is not x]
                    if corr:
                        a, b = self.pick(corr)
                        conds.append(f"{a.sql} = {b.sql}")
                return (f"{o.sql} {self.pick(['IN', 'NOT IN'])} (SELECT {x.sql} FROM {inner.sql}"
                        + (f" WHERE {' AND '.join(conds)}" if conds else "") + ")")
            kind = "simple"
        if kind == "scalar":
            sql, ty = self.scalar_subquery(scope, depth, correlated=True)
            if ty in ("int", "num"):
                return f"{sql} {self.pick(['>', '<', '=', '>='])} {self.pick([0, 1, 2])}"
            return f"{sql} IS NOT NULL"
        if kind == "uncorr":
            nums = [r for r in scope if r.type == "int" and r.domain]
            if nums:
                r = self.pick(nums)
                t, c = self.pick(_TABLE_DOMAINS[r.domain])
                x = self.alias(t)
                agg = self.pick(["min", "max"])
                return f"{r.sql} {self.pick(['>=', '<=', '=', '<>'])} (SELECT {agg}({x}.{q(c)}) FROM {S}.{t} {x})"
            kind = "simple"
        if kind == "or":
            return f"({self.cond(scope, depth + 1)} OR {self.cond(scope, depth + 1)})"
        if kind == "not":
            return f"NOT ({self.cond(scope, depth + 1)})"
        return self.simple_cond(scope)

    def correlated_from(self, scope: list[Ref], depth: int) -> tuple[str, list[str], Item] | None:
        """A table correlated to a column of `scope` by an equality: (FROM text, conditions, item)."""
        outer = [r for r in scope if r.domain and r.domain in _TABLE_DOMAINS]
        if not outer:
            return None
        o = self.pick(outer)
        t, c = self.pick(_TABLE_DOMAINS[o.domain])
        inner = self.table_item(t)
        x = next(r for r in inner.refs if r.name == c)
        conds = [f"{x.sql} = {o.sql}"]
        if self.chance(0.35):
            conds.append(self.cond(inner.refs, depth + 2) if self.chance(0.5) else self.simple_cond(inner.refs))
        return inner.sql, conds, inner

    def scalar_subquery(self, scope: list[Ref], depth: int, correlated: bool) -> tuple[str, str]:
        """A subquery returning at most one row: an aggregate, a lookup by primary key, a top-1."""
        sub = self.correlated_from(scope, depth) if correlated else None
        if sub is None:
            inner = self.table_item()
            conds = [self.simple_cond(inner.refs)] if self.chance(0.4) else []
            if self.chance(0.25):  # a lookup of one row by a literal primary key
                pk = [r for r in inner.refs if r.name in PKS[inner.table or ""]]
                conds = [f"{r.sql} = {lit(r.domain, r.type, self.r)}" for r in pk]
                v = self.pick([r for r in inner.refs if r not in pk] or inner.refs)
                return self.subq(f"SELECT {v.sql} FROM {inner.sql} WHERE {' AND '.join(conds)}"), v.type
            frm = inner.sql
        else:
            frm, conds, inner = sub
        refs = inner.refs
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        pk = [r for r in refs if r.name in PKS[inner.table or ""]]
        order_pk = ", ".join(r.sql for r in pk)
        form = self.weighted({"agg": 4, "lookup": 1, "top1": 1.2, "topn": 0.6, "nolimitorder": 0.3})
        if form == "lookup" and sub is not None and conds and len(pk) == 1 and conds[0].startswith(pk[0].sql + " ="):
            v = self.pick([r for r in refs if r not in pk])
            return self.subq(f"SELECT {v.sql} FROM {frm}{where}"), v.type
        if form == "top1":
            v = self.pick(refs)
            o = self.pick([r for r in refs if r.type in ("int", "num", "text")])
            direction = self.pick(["", " DESC", " DESC NULLS LAST", " NULLS FIRST"])
            return self.subq(f"SELECT {v.sql} FROM {frm}{where} ORDER BY {o.sql}{direction}, {order_pk} LIMIT 1"), v.type
        if form == "nolimitorder":
            v = self.pick(refs)
            return self.subq(f"SELECT {v.sql} FROM {frm}{where} LIMIT 1"), v.type
        if form == "topn":
            v = self.pick([r for r in refs if r not in pk] or refs)
            o = self.pick([r for r in refs if r.type in ("int", "num", "text")])
            d = self.alias("t")
            inner_cols = ", ".join(dict.fromkeys([v.sql, o.sql] + [r.sql for r in pk]))
            agg = self.pick([f"jsonb_agg({d}.{q(v.name)} ORDER BY {d}.{q(o.name)}, "
                             + ", ".join(f"{d}.{q(r.name)}" for r in pk) + ")",
                             f"count({d}.{q(v.name)})", f"max({d}.{q(o.name)})"])
            ty = "jsonb" if agg.startswith("jsonb") else ("int" if agg.startswith("count") else o.type)
            return self.subq(f"SELECT {agg} FROM (SELECT {inner_cols} FROM {frm}{where} "
                             f"ORDER BY {o.sql} DESC, {order_pk} LIMIT {self.pick([1, 2])}) {d}"), ty
        agg, ty = self.aggregate(refs, pk)
        if self.chance(0.3) and ty in ("int", "num"):
            agg = f"coalesce({agg}, 0)"
        return self.subq(f"SELECT {agg} FROM {frm}{where}"), ty

    @staticmethod
    def subq(sql: str) -> str:
        return f"({sql})"

    def aggregate(self, refs: list[Ref], ident: list[Ref]) -> tuple[str, str]:
        order = ", ".join(r.sql for r in ident) or refs[0].sql
        ints = [r for r in refs if r.type == "int"]
        texts = [r for r in refs if r.type == "text"]
        r = self.pick(refs)
        form = self.weighted({"count": 2, "countcol": 1, "countd": 0.7, "sum": 1.5, "minmax": 1.5, "jsonb": 1.2,
                              "string": 0.8, "boolor": 0.5, "obj": 0.6, "filter": 0.5, "array": 0.4})
        if form == "count":
            return "count(*)", "int"
        if form == "countcol":
            return f"count({r.sql})", "int"
        if form == "countd":
            return f"count(DISTINCT {r.sql})", "int"
        if form == "sum" and ints:
            return f"sum({self.pick(ints).sql})", "int"
        if form == "jsonb":
            return f"jsonb_agg({r.sql} ORDER BY {order})", "jsonb"
        if form == "string" and texts:
            return f"string_agg({self.pick(texts).sql}, ',' ORDER BY {order})", "text"
        if form == "boolor" and ints:
            return f"bool_or({self.pick(ints).sql} > {self.pick([1, 2, 3])})", "bool"
        if form == "obj":
            r2 = self.pick(refs)
            return (f"jsonb_agg(jsonb_build_object('{r.name.lower()}', {r.sql}, 'x', {r2.sql}) ORDER BY {order})",
                    "jsonb")
        if form == "filter" and ints:
            return f"count(*) FILTER (WHERE {self.simple_cond(refs)})", "int"
        if form == "array":
            return f"array_to_string(array_agg({r.sql} ORDER BY {order}), ',')", "text"
        m = self.pick([x for x in refs if x.type in ("int", "num", "text")] or refs)
        return f"{self.pick(['min', 'max'])}({m.sql})", m.type

    def window_expr(self, scope: list[Ref], ident: list[Ref]) -> tuple[str, str]:
        parts = [r for r in scope if r.type in ("int", "text", "num")]
        p = ", ".join(r.sql for r in self.r.sample(parts, min(len(parts), self.pick([1, 1, 2]))))
        order = ", ".join(r.sql for r in ident) or parts[0].sql
        ints = [r for r in scope if r.type == "int"]
        form = self.weighted({"rn": 2, "count": 1, "sum": 1, "max": 1, "rank": 0.7, "lag": 0.7, "first": 0.5})
        if form == "rn":
            return f"row_number() OVER (PARTITION BY {p} ORDER BY {order})", "int"
        if form == "count":
            return f"count(*) OVER (PARTITION BY {p})", "int"
        if form == "sum" and ints:
            return f"sum({self.pick(ints).sql}) OVER (PARTITION BY {p})", "int"
        if form == "rank":
            o = self.pick(parts)
            return f"rank() OVER (PARTITION BY {p} ORDER BY {o.sql})", "int"
        v = self.pick(parts)
        if form == "lag":
            return f"lag({v.sql}) OVER (PARTITION BY {p} ORDER BY {order})", v.type
        if form == "first":
            return f"first_value({v.sql}) OVER (PARTITION BY {p} ORDER BY {order})", v.type
        return f"max({v.sql}) OVER (PARTITION BY {p})", v.type

    def value(self, scope: list[Ref], depth: int, ident: list[Ref], windows: bool = True) -> tuple[str, str]:
        """A select-list expression over `scope` and its type."""
        kinds = {"col": 3, "coalesce": 1, "arith": 0.5, "case": 0.8, "concat": 0.5, "json": 0.8,
                 "sub": 2.2, "uncorr": 0.8, "fnarg": 0.6, "window": 0.8 if windows else 0, "exists": 0.4}
        if depth > 2:
            kinds = {"col": 1, "coalesce": 1}
        kind = self.weighted(kinds)
        r = self.pick(scope)
        if kind == "coalesce" and r.type in ("int", "text", "num"):
            return f"coalesce({r.sql}, {lit(r.domain, r.type, self.r)})", r.type
        if kind == "arith":
            ints = [x for x in scope if x.type == "int"]
            if ints:
                return f"{self.pick(ints).sql} {self.pick(['+', '*', '-'])} {self.pick([1, 2, 10])}", "int"
        if kind == "case":
            a, _ = self.value(scope, depth + 1, ident, windows=False)
            other = self.pick(["'y'", "NULL"])
            return f"CASE WHEN {self.cond(scope, depth + 1)} THEN ({a})::text ELSE {other} END", "text"
        if kind == "concat":
            texts = [x for x in scope if x.type == "text"]
            if texts:
                other = self.pick(scope)
                return f"{self.pick(texts).sql} || '-' || coalesce({other.sql}::text, '?')", "text"
        if kind == "json":
            a, _ = self.value(scope, depth + 1, ident, windows=False)
            b = self.pick(scope)
            return f"jsonb_build_object('a', {a}, '{b.name.lower()}', {b.sql})", "jsonb"
        if kind == "sub":
            return self.scalar_subquery(scope, depth + 1, correlated=True)
        if kind == "uncorr":
            return self.scalar_subquery(scope, depth + 1, correlated=False)
        if kind == "fnarg":
            sql, ty = self.scalar_subquery(scope, depth + 1, correlated=self.chance(0.7))
            if ty == "int":
                ints = [x for x in scope if x.type == "int"]
                return self.pick([f"coalesce({sql}, -1)", f"greatest({sql}, {self.pick(ints).sql if ints else 0})",
                                  f"abs({sql})"]), "int"
            return f"jsonb_build_object('s', {sql})", "jsonb"
        if kind == "window" and ident:
            return self.window_expr(scope, ident)
        if kind == "exists":
            return f"({self.cond(scope, depth + 1)})", "bool"
        return r.sql, r.type

    # -- the key ------------------------------------------------------------------------------------

    def key_projections(self, ident: list[Ref], used: set[str]) -> list[tuple[str, str]]:
        out = []
        for r in ident:
            if r.nullable and self.chance(0.85):
                out.append((f"coalesce({r.sql}, {sentinel(r)})", self.unique_name(f"k_{r.alias}_{r.name.lower()}", used)))
            else:
                out.append((r.sql, self.unique_name(r.name, used)))
        return out

    # -- query shapes -------------------------------------------------------------------------------

    def comma(self, item: Item, depth: int) -> Item:
        """`FROM <item>, <leaf> WHERE <equality>`: an inner join written with a comma."""
        right = self.leaf(depth)
        pairs = self.join_pairs(item, right)
        conds = [f"{a.sql} = {b.sql}" for a, b in pairs[:1]] if self.crossed or not self.chance(0.1) else []
        self.crossed = self.crossed or not conds
        rcover = bool(conds) and {(x.alias, x.name) for x in right.ident} <= {(pairs[0][1].alias, pairs[0][1].name)}
        ident = item.ident if rcover and right.ident else item.ident + right.ident
        return Item(f"{item.sql}, {right.sql}", item.refs + right.refs, ident, item.leaves + 1,
                    item.where + right.where + conds)

    def spj_from(self, depth: int = 0) -> Item:
        item = self.from_tree(depth, self.pick([1, 2, 2, 3, 3, 4]))
        if self.chance(0.12):
            item = self.comma(item, depth)
        return item

    def q_spj(self) -> tuple[str, list[str]]:
        item = self.spj_from()
        used: set[str] = set()
        keys = self.key_projections(item.ident, used)
        if not keys:
            return self.q_group()
        values = []
        for _ in range(self.r.randint(1, 4)):
            sql, _ = self.value(item.refs, 0, item.ident)
            values.append((sql, self.unique_name("v", used)))
        projections = keys + values
        self.r.shuffle(projections)
        where = item.where + [self.cond(item.refs, 0) for _ in range(self.pick([0, 0, 1, 1, 2]))]
        distinct = "DISTINCT " if self.chance(0.08) else ""
        sql = (f"SELECT {distinct}{', '.join(f'{s} AS {q(n)}' for s, n in projections)}\nFROM {item.sql}"
               + (f"\nWHERE {' AND '.join(where)}" if where else ""))
        return sql, [n for _, n in keys]

    def q_group(self) -> tuple[str, list[str]]:
        item = self.spj_from()
        used: set[str] = set()
        cands = [r for r in item.refs if r.type in ("int", "text", "num")]
        groups = self.r.sample(cands, min(len(cands), self.pick([1, 1, 2])))
        where = list(item.where)
        gexprs = []
        for g in groups:
            if g.nullable and self.chance(0.25):
                gexprs.append((f"coalesce({g.sql}, {sentinel(g)})", self.unique_name(f"g_{g.name.lower()}", used), None))
            else:
                gexprs.append((g.sql, self.unique_name(g.name, used), g))
                if g.nullable and self.chance(0.3):
                    where.append(f"{g.sql} IS NOT NULL")
        values = []
        for _ in range(self.r.randint(1, 3)):
            values.append((self.aggregate(item.refs, item.ident)[0], self.unique_name("a", used)))
        raw = [g for _, _, g in gexprs if g is not None]
        if raw and self.chance(0.3):  # a subquery correlated to a group column
            sql, _ = self.scalar_subquery(raw, 1, correlated=True)
            values.append((sql, self.unique_name("s", used)))
        if self.chance(0.15):
            values.append((self.scalar_subquery(item.refs, 1, correlated=False)[0], self.unique_name("u", used)))
        if self.chance(0.2):
            where.append(self.cond(item.refs, 1))
        having = f"\nHAVING {self.pick(['count(*) > 1', 'count(*) < 3', 'sum(1) >= 1'])}" if self.chance(0.2) else ""
        projections = [(s, n) for s, n, _ in gexprs] + values
        sql = (f"SELECT {', '.join(f'{s} AS {q(n)}' for s, n in projections)}\nFROM {item.sql}"
               + (f"\nWHERE {' AND '.join(where)}" if where else "")
               + f"\nGROUP BY {', '.join(s for s, _, _ in gexprs)}{having}")
        return sql, [n for _, n, _ in gexprs]

    def q_distinct(self) -> tuple[str, list[str]]:
        item = self.spj_from()
        used: set[str] = set()
        cands = [r for r in item.refs if r.type in ("int", "text", "num")]
        outs = []
        for r in self.r.sample(cands, min(len(cands), self.pick([1, 2, 2, 3]))):
            if r.nullable and self.chance(0.3):
                outs.append((f"coalesce({r.sql}, {sentinel(r)})", self.unique_name(f"d_{r.name.lower()}", used)))
            else:
                outs.append((r.sql, self.unique_name(r.name, used)))
        where = item.where + [self.cond(item.refs, 0) for _ in range(self.pick([0, 1]))]
        sql = (f"SELECT DISTINCT {', '.join(f'{s} AS {q(n)}' for s, n in outs)}\nFROM {item.sql}"
               + (f"\nWHERE {' AND '.join(where)}" if where else ""))
        return sql, [n for _, n in outs]

    def q_distinct_on(self) -> tuple[str, list[str]]:
        item = self.spj_from()
        used: set[str] = set()
        cands = [r for r in item.refs if r.type in ("int", "text", "num")]
        ons = []
        for r in self.r.sample(cands, min(len(cands), self.pick([1, 1, 2]))):
            e = f"coalesce({r.sql}, {sentinel(r)})" if r.nullable and self.chance(0.4) else r.sql
            ons.append((e, self.unique_name(r.name if e == r.sql else f"on_{r.name.lower()}", used)))
        values = [(self.value(item.refs, 0, item.ident, windows=False)[0], self.unique_name("v", used))
                  for _ in range(self.r.randint(1, 3))]
        tiebreak = self.pick(cands)
        order = [e for e, _ in ons] + [f"{tiebreak.sql}{self.pick(['', ' DESC', ' DESC NULLS LAST'])}"]
        order += [r.sql for r in item.ident]
        where = item.where + [self.cond(item.refs, 0) for _ in range(self.pick([0, 1]))]
        sql = (f"SELECT DISTINCT ON ({', '.join(e for e, _ in ons)}) "
               f"{', '.join(f'{s} AS {q(n)}' for s, n in ons + values)}\nFROM {item.sql}"
               + (f"\nWHERE {' AND '.join(where)}" if where else "") + f"\nORDER BY {', '.join(order)}")
        return sql, [n for _, n in ons]

    def union_branch(self, tag: str) -> str:
        if self.chance(0.4):
            item = self.spj_from(1)
            ints = [r for r in item.refs if r.type == "int"]
            g = self.pick(ints)
            k = f"coalesce({g.sql}, -1)" if g.nullable and self.chance(0.5) else g.sql
            v, _ = self.aggregate(item.refs, item.ident)
            where = item.where + ([self.cond(item.refs, 1)] if self.chance(0.3) else [])
            return (f"SELECT '{tag}' AS br, {k} AS k, ({v})::text AS v, count(*)::int AS w FROM {item.sql}"
                    + (f" WHERE {' AND '.join(where)}" if where else "") + f" GROUP BY {k}")
        for _ in range(6):
            item = self.spj_from(1)
            if len(item.ident) == 1 and item.ident[0].type == "int":
                break
        else:
            item = self.table_item(self.pick(["cust", "prod", "ord"]))
        r = item.ident[0]
        k = f"coalesce({r.sql}, -1)" if r.nullable else r.sql
        v, _ = self.value(item.refs, 1, item.ident)
        w, wt = self.value(item.refs, 1, item.ident)
        w = f"({w})::int" if wt in ("int", "num") else f"length(({w})::text)"
        where = item.where + ([self.cond(item.refs, 1)] if self.chance(0.4) else [])
        return (f"SELECT '{tag}' AS br, {k} AS k, ({v})::text AS v, {w} AS w FROM {item.sql}"
                + (f" WHERE {' AND '.join(where)}" if where else ""))

    def q_union(self) -> tuple[str, list[str]]:
        n = self.pick([2, 2, 2, 3])
        op = self.pick(["UNION ALL", "UNION ALL", "UNION"])
        branches = [self.union_branch(f"b{i}") for i in range(1, n + 1)]
        if self.chance(0.2):
            branches = [f"({b})" for b in branches]
        key = self.weighted({"tag": 0.75, "k": 0.15, "all": 0.1})
        return f"\n{op}\n".join(branches), {"tag": ["br", "k"], "k": ["k"], "all": ["br", "k", "v", "w"]}[key]


# domain -> (table, column) pairs with that domain, for correlated subqueries
_TABLE_DOMAINS: dict[str, list[tuple[str, str]]] = {}
for _t, _cols in TABLES.items():
    for _c in _cols:
        if _c.domain:
            _TABLE_DOMAINS.setdefault(_c.domain, []).append((_t, _c.name))


# --------------------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------------------


@dataclass
class Step:
    """One step of a write transaction. kind: stmt, savepoint, rollback_to, release, check."""

    kind: str
    sql: str = ""
    wrapped: bool = False  # run inside its own savepoint: a source constraint may refuse it

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "sql": self.sql, "wrapped": self.wrapped}


@dataclass
class Txn:
    steps: list[Step]
    end: str  # commit or rollback

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [s.to_dict() for s in self.steps], "end": self.end}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Txn:
        return Txn([Step(**s) for s in d["steps"]], d["end"])

    def text(self) -> list[str]:
        out = ["BEGIN;"]
        for s in self.steps:
            if s.kind == "stmt":
                out.append(f"  {shown(s.sql)};")
            elif s.kind == "savepoint":
                out.append("  SAVEPOINT sp;")
            elif s.kind == "rollback_to":
                out.append("  ROLLBACK TO SAVEPOINT sp;")
            elif s.kind == "release":
                out.append("  RELEASE SAVEPOINT sp;")
        out.append("COMMIT;" if self.end == "commit" else "ROLLBACK;")
        return out


STATE_SQL = f"""select
  (select coalesce(jsonb_agg(jsonb_build_array(id, referrer_id) order by id), '[]') from {S}.cust),
  (select coalesce(jsonb_agg(jsonb_build_array(id, sku) order by id), '[]') from {S}.prod),
  (select coalesce(jsonb_agg(jsonb_build_array("OrderNo", "CustId") order by "OrderNo"), '[]') from {S}.ord),
  (select coalesce(jsonb_agg(jsonb_build_array(order_no, line) order by order_no, line), '[]') from {S}.item),
  (select coalesce(jsonb_agg(jsonb_build_array(cust_id, prod_id) order by cust_id, prod_id), '[]') from {S}.fav)"""


class WriteGen:
    """Random write statements chosen against the current rows (read before each statement)."""

    def __init__(self, rng: random.Random, plain: bool = False):
        self.r = rng
        self.plain = plain

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def pick(self, xs: Any) -> Any:
        return self.r.choice(list(xs))

    def plan(self) -> tuple[int, str, int | None, bool]:
        """(statements, end, savepoint position or None, roll back to the savepoint?)"""
        n = self.r.choices([1, 2, 3, 4, 5], weights=[55, 22, 11, 7, 5])[0]
        end = "rollback" if self.chance(0.06) else "commit"
        sp = self.r.randrange(n) if n > 1 and self.chance(0.15) else None
        return n, end, sp, self.chance(0.7)

    def val(self, col: Col, pnull: float = 0.15) -> str:
        if col.nullable and self.chance(pnull):
            return "NULL"
        return lit(col.domain, col.type, self.r)

    def statement(self, state: dict[str, list[list[Any]]]) -> Step:
        step = self._statement(state)
        return dataclasses.replace(step, sql=renamed(step.sql, self.plain))

    def _statement(self, state: dict[str, list[list[Any]]]) -> Step:
        kind = self.r.choices(["insert", "update", "update_fk", "update_key", "delete", "truncate", "cte", "upsert"],
                              weights=[30, 26, 10, 6, 22, 1.2, 2.5, 2.5])[0]
        table = self.r.choices(list(TABLE_ORDER), weights=[2, 1.5, 2, 2.5, 1.5])[0]
        for _ in range(4):
            step = getattr(self, kind)(table, state)
            if step is not None:
                return step
            table = self.pick(TABLE_ORDER)
        return self.insert("cust", state) or Step("stmt", f"UPDATE {S}.cust SET score = score")

    # -- statements ---------------------------------------------------------------------------------

    def _new_row(self, table: str, state: dict[str, list[list[Any]]], taken: set[Any]) -> list[str] | None:
        cols = TABLES[table]
        cust = [c[0] for c in state["cust"]]
        prod = [p[0] for p in state["prod"]]
        if table in ID_RANGES:
            free = [i for i in ID_RANGES[table] if i not in {r[0] for r in state[table]} | taken]
            if not free:
                return None
            pk = self.pick(free)
            taken.add(pk)
            row = [str(pk)]
            for c in cols[1:]:
                if (table, c.name) in FKS:
                    parents = cust if FKS[(table, c.name)][0] == "cust" else prod
                    row.append("NULL" if not parents or self.chance(0.15) else str(self.pick(parents)))
                elif c.name == "sku":
                    used = {p[1] for p in state["prod"]} | taken
                    free_sku = [s for s in DOMAINS["sku"] if s not in used]
                    sku = self.pick(free_sku) if free_sku and not self.chance(0.2) else None
                    if sku:
                        taken.add(sku)
                    row.append(sql_value(sku))
                else:
                    row.append(self.val(c))
            return row
        if table == "item":
            ords = [o[0] for o in state["ord"]]
            lines = {(i[0], i[1]) for i in state["item"]} | taken
            free = [(o, ln) for o in ords for ln in DOMAINS["line"] if (o, ln) not in lines]
            if not free:
                return None
            o, ln = self.pick(free)
            taken.add((o, ln))
            return [str(o), str(ln), "NULL" if not prod or self.chance(0.15) else str(self.pick(prod)),
                    self.val(cols[3]), self.val(cols[4])]
        favs = {(f[0], f[1]) for f in state["fav"]} | taken
        free = [(c, p) for c in cust for p in prod if (c, p) not in favs]
        if not free:
            return None
        c, p = self.pick(free)
        taken.add((c, p))
        return [str(c), str(p), self.val(cols[2]), self.val(cols[3])]

    def insert(self, table: str, state: dict[str, list[list[Any]]]) -> Step | None:
        if table == "fav" and self.chance(0.2) and state["cust"]:  # INSERT .. SELECT .. ON CONFLICT DO NOTHING
            c = self.pick(state["cust"])[0]
            return Step("stmt", f"INSERT INTO {S}.fav (cust_id, prod_id, rank) SELECT c.id, p.id, "
                                f"{self.pick([1, 2, 'NULL'])} FROM {S}.cust c JOIN {S}.prod p ON p.category = c.region "
                                f"WHERE c.id = {c} ON CONFLICT DO NOTHING")
        taken: set[Any] = set()
        rows = []
        for _ in range(self.r.choices([1, 2, 3], weights=[65, 25, 10])[0]):
            row = self._new_row(table, state, taken)
            if row is not None:
                rows.append(row)
        if not rows:
            return None
        cols = ", ".join(q(c.name) for c in TABLES[table])
        values = ", ".join("(" + ", ".join(r) + ")" for r in rows)
        return Step("stmt", f"INSERT INTO {S}.{table} ({cols}) VALUES {values}")

    def _where(self, table: str, state: dict[str, list[list[Any]]]) -> str | None:
        rows = state[table]
        pk = PKS[table]
        roll = self.r.random()
        if rows and roll < 0.55:
            row = self.pick(rows)
            return " AND ".join(f"{q(c)} = {v}" for c, v in zip(pk, row))
        if rows and roll < 0.65 and len(pk) == 1:
            ids = {self.pick(rows)[0] for _ in range(3)}
            return f"{q(pk[0])} IN ({', '.join(str(i) for i in sorted(ids))})"
        col = self.pick([c for c in TABLES[table] if c.name not in pk])
        if col.nullable and self.chance(0.2):
            return f"{q(col.name)} IS NULL"
        return f"{q(col.name)} = {lit(col.domain, col.type, self.r)}"

    def update(self, table: str, state: dict[str, list[list[Any]]]) -> Step | None:
        plain = [c for c in TABLES[table] if c.name not in PKS[table] and (table, c.name) not in FKS]
        if not plain:
            return None
        sets = []
        for c in self.r.sample(plain, min(len(plain), self.pick([1, 1, 2]))):
            roll = self.r.random()
            if c.name == "sku":
                used = {p[1] for p in state["prod"]}
                free = [s for s in DOMAINS["sku"] if s not in used]
                sets.append(f"sku = {sql_value(self.pick(free)) if free and roll < 0.7 else 'NULL'}")
            elif c.type == "int" and roll < 0.2:
                sets.append(f"{q(c.name)} = {q(c.name)} + 1")
            elif roll < 0.3:
                sets.append(f"{q(c.name)} = NULL")
            elif roll < 0.35:
                sets.append(f"{q(c.name)} = {q(c.name)}")  # a no-op update
            else:
                sets.append(f"{q(c.name)} = {lit(c.domain, c.type, self.r)}")
        where = self._where(table, state)
        wrapped = any(s.startswith("sku") for s in sets)
        return Step("stmt", f"UPDATE {S}.{table} SET {', '.join(sets)} WHERE {where}", wrapped)

    def update_fk(self, table: str, state: dict[str, list[list[Any]]]) -> Step | None:
        fks = [(c, p) for (t, c), p in FKS.items() if t == table and c not in PKS[table]]
        if not fks or not state[table]:
            return None
        col, (parent, _) = self.pick(fks)
        parents = [r[0] for r in state[parent]]
        v = "NULL" if not parents or self.chance(0.25) else str(self.pick(parents))
        return Step("stmt", f"UPDATE {S}.{table} SET {q(col)} = {v} WHERE {self._where(table, state)}")

    def update_key(self, table: str, state: dict[str, list[list[Any]]]) -> Step | None:
        rows = state[table]
        if not rows:
            return None
        row = self.pick(rows)
        where = " AND ".join(f"{q(c)} = {v}" for c, v in zip(PKS[table], row))
        if table in ID_RANGES:
            free = [i for i in ID_RANGES[table] if i not in {r[0] for r in rows}]
            if not free:
                return None
            return Step("stmt", f"UPDATE {S}.{table} SET {q(PKS[table][0])} = {self.pick(free)} WHERE {where}", True)
        if table == "item":
            if self.chance(0.5):
                return Step("stmt", f"UPDATE {S}.item SET line = {self.pick(DOMAINS['line'])} WHERE {where}", True)
            o = self.pick(state["ord"])[0] if state["ord"] else row[0]
            return Step("stmt", f'UPDATE {S}.item SET order_no = {o} WHERE {where}', True)
        col, parent = self.pick([("cust_id", "cust"), ("prod_id", "prod")])
        if not state[parent]:
            return None
        return Step("stmt", f"UPDATE {S}.fav SET {col} = {self.pick(state[parent])[0]} WHERE {where}", True)

    def delete(self, table: str, state: dict[str, list[list[Any]]]) -> Step | None:
        if not state[table]:
            return None
        return Step("stmt", f"DELETE FROM {S}.{table} WHERE {self._where(table, state)}")

    def truncate(self, table: str, state: dict[str, list[list[Any]]]) -> Step | None:
        table = self.r.choices(["item", "fav", "ord", "cust"], weights=[4, 3, 2, 1])[0]
        cascade = " CASCADE" if table in ("ord", "cust") else ""
        return Step("stmt", f"TRUNCATE {S}.{table}{cascade}")

    def cte(self, table: str, state: dict[str, list[list[Any]]]) -> Step | None:
        if not state["ord"]:
            return None
        o = self.pick(state["ord"])[0]
        return Step("stmt", f'WITH d AS (DELETE FROM {S}.item WHERE order_no = {o} RETURNING order_no, qty) '
                            f'UPDATE {S}.ord SET "Total" = (SELECT coalesce(sum(qty), 0) FROM d) WHERE "OrderNo" = {o}')

    def upsert(self, table: str, state: dict[str, list[list[Any]]]) -> Step | None:
        if not state["cust"]:
            return None
        c = self.pick(state["cust"])[0]
        return Step("stmt", f"INSERT INTO {S}.cust (id, name, region, score) VALUES ({c}, "
                            f"{self.val(TABLES['cust'][1])}, {self.val(TABLES['cust'][2])}, {self.val(TABLES['cust'][4])}) "
                            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, region = excluded.region, "
                            "score = excluded.score")


# --------------------------------------------------------------------------------------------------
# Running a case: a schema, starting rows, a tview, write transactions
# --------------------------------------------------------------------------------------------------


class Outcome:
    INVALID = "invalid"
    REJECTED_ANALYSIS = "rejected-analysis"
    REJECTED_INSTALL = "rejected-install"
    CRASHED = "crashed"
    BUILT = "built"
    STALE = "stale"
    WRITE_CRASH = "write-crash"
    TIMEOUT = "timeout"  # a statement ran past statement_timeout (counted with the built)


BUGS = (Outcome.CRASHED, Outcome.STALE, Outcome.WRITE_CRASH)
CLEAR_INSTALL_STATES = {"23502", "23505", "42P01", "42703", "0A000", "42501"}


@dataclass
class Result:
    kind: str
    detail: str = ""
    at_txn: int | None = None  # the transaction after (or in) which the failure showed
    rows: list[Any] = field(default_factory=list)  # diff rows
    stats: Counter[str] = field(default_factory=Counter)
    # what a minimized reproducer must keep: for stale, "bad-key" when the SELECT's key became NULL
    # or duplicated (the write should have been refused) and "" otherwise; for crashes, the error
    subkind: str = ""

    @property
    def is_bug(self) -> bool:
        return self.kind in BUGS


def first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


class Case:
    """One schema in the database, used for one query at a time."""

    def __init__(self, conn: psycopg.Connection[Any], plain: bool = False):
        self.conn = conn
        self.plain = plain
        self.schema = f"fz_{secrets.token_hex(4)}"
        self.notices: list[str] = []

    def sql(self, text: str) -> str:
        return schema_sql(text, self.schema)

    def create(self, rows: Rows) -> None:
        c = self.conn
        c.execute(f'create schema "{self.schema}"')
        c.execute(self.sql(renamed(DDL, self.plain)))
        for stmt in rows_sql(rows, self.plain):
            c.execute(self.sql(stmt))

    def drop(self) -> None:
        if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self.conn.execute("rollback")
        self.conn.execute(f'drop schema if exists "{self.schema}" cascade')
        self.conn.execute("select tviews.gc()")

    # -- build --------------------------------------------------------------------------------------

    def build(self, query: Query) -> Result:
        c = self.conn
        sql = self.sql(query.sql)
        try:
            c.execute(f"explain {sql}")
        except psycopg.Error as e:
            return Result(Outcome.INVALID, f"{e.sqlstate}: {first_line(str(e))}")

        def catalog_query(qtext: str, params: Any) -> list[tuple[Any, ...]]:
            return c.execute(qtext, params).fetchall()

        try:
            plan = tviews.analyze(sql, model=TVIEW, unique_key=query.key,
                                  catalog=load_catalog(catalog_query, sql, TVIEW)).to_dict()
        except tviews.TviewError as e:
            return Result(Outcome.REJECTED_ANALYSIS, first_line(e.problem))
        except Exception as e:  # noqa: BLE001 - anything else is a crash of the analysis
            return Result(Outcome.CRASHED, f"analysis raised {type(e).__name__}: {first_line(str(e))}",
                          subkind=type(e).__name__)
        # As the materialization does: prepare() binds the SELECT, the table is populated from it with
        # maintenance's settings, install() checks the key and installs the triggers; one transaction.
        try:
            with c.transaction():
                bound = c.execute("select tviews.prepare(%s, %s, %s, %s, 'h')",
                                  (self.schema, TVIEW, json.dumps(plan), sql)).fetchone()[0]  # type: ignore[index]
                c.execute("select set_config('search_path', %s, true), set_config('row_security', 'off', true)",
                          (bound["search_path"],))
                c.execute(f'create table "{self.schema}"."{TVIEW}" as select * from {bound["relation"]}')
                c.execute("select set_config('search_path', %s, true), set_config('row_security', %s, true)",
                          (bound["restore"]["search_path"], bound["restore"]["row_security"]))
                c.execute("select tviews.install(%s, %s)", (self.schema, TVIEW))
        except psycopg.Error as e:
            msg = first_line(e.diag.message_primary or str(e))
            if e.sqlstate in CLEAR_INSTALL_STATES and msg.startswith("tview "):
                return Result(Outcome.REJECTED_INSTALL, f"{e.sqlstate}: {msg.split(': ', 1)[-1]}")
            return Result(Outcome.CRASHED, f"install() raised {e.sqlstate}: {msg}", subkind=str(e.sqlstate))
        return Result(Outcome.BUILT)

    # -- checks -------------------------------------------------------------------------------------

    def diff(self) -> list[tuple[Any, ...]]:
        return self.conn.execute("select problem, row_data from tviews.diff(%s, %s)",
                                 (self.schema, TVIEW)).fetchall()

    def key_problem(self, query: Query) -> str | None:
        """Why the SELECT, in the current state, cannot be a tview: it fails, or its key is NULL or
        duplicated in some row. None when the key is fine."""
        keys = ", ".join(q(k) for k in query.key)
        nulls = " OR ".join(f"{q(k)} IS NULL" for k in query.key)
        c = self.conn
        in_txn = c.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        if in_txn:
            c.execute("savepoint fz_k")
        try:
            n_null, n_dup = c.execute(
                f"select (select count(*) from ({self.sql(query.sql)}) d where {nulls}), "
                f"(select count(*) from (select 1 from ({self.sql(query.sql)}) d group by {keys} having count(*) > 1) x)"
            ).fetchone()  # type: ignore[misc]
        except psycopg.Error as e:
            if in_txn:
                c.execute("rollback to savepoint fz_k")
            return f"the SELECT fails: {e.sqlstate} {first_line(str(e))}"
        if in_txn:
            c.execute("release savepoint fz_k")
        if n_null:
            return f"the key is NULL in {n_null} row(s)"
        if n_dup:
            return f"the key is duplicated ({n_dup} key(s))"
        return None

    # -- writes -------------------------------------------------------------------------------------

    def state(self) -> dict[str, list[list[Any]]]:
        row = self.conn.execute(self.sql(renamed(STATE_SQL, self.plain))).fetchone()
        assert row is not None
        return dict(zip(TABLE_ORDER, row))

    def _exec(self, step: Step, stats: Counter[str]) -> psycopg.Error | None:
        """Run one step; a wrapped statement that a source constraint refuses is rolled back."""
        c = self.conn
        if step.kind == "savepoint":
            c.execute("savepoint sp")
        elif step.kind == "rollback_to":
            c.execute("rollback to savepoint sp")
        elif step.kind == "release":
            c.execute("release savepoint sp")
        elif step.kind == "stmt":
            if step.wrapped:
                c.execute("savepoint fz_w")
            try:
                c.execute(self.sql(step.sql))
            except psycopg.errors.QueryCanceled:
                raise
            except psycopg.Error as e:
                if step.wrapped and not is_maintenance_error(e):
                    c.execute("rollback to savepoint fz_w")
                    stats["refused-by-source"] += 1
                    return None
                return e
            if step.wrapped:
                c.execute("release savepoint fz_w")
        return None

    def run_txn(self, query: Query, next_step: Callable[[int], Step | None], end: str, index: int,
                stats: Counter[str], check_each: bool) -> tuple[Result | None, list[Step]]:
        """Run one transaction, steps from `next_step(i)` until it returns None. Returns a bug or
        None, and the steps run. The tview is compared with its SELECT after every statement when
        `check_each`, after `check` steps, and after the end of the transaction."""
        c = self.conn
        done: list[Step] = []
        c.execute("begin")
        i = 0
        while (step := next_step(i)) is not None:
            i += 1
            if step.kind == "check" or (check_each and step.kind == "stmt"):
                if step.kind == "stmt":
                    error = self._exec(step, stats)
                    done.append(step)
                    if error is not None:
                        return self._failed_write(query, done, error, index, stats), done
                else:
                    done.append(step)
                rows = self.diff()
                stats["checks"] += 1
                if rows:
                    problem = self.key_problem(query)
                    c.execute("rollback")
                    return self._stale(f"after statement {sum(1 for s in done if s.kind == 'stmt')}, "
                                       "inside the transaction", problem, index, rows), done
                continue
            error = self._exec(step, stats)
            done.append(step)
            if error is not None:
                return self._failed_write(query, done, error, index, stats), done
        try:
            c.execute("commit" if end == "commit" else "rollback")
        except psycopg.Error as e:  # deferred work at commit
            return Result(Outcome.WRITE_CRASH, f"COMMIT failed: {e.sqlstate} {first_line(str(e))}", index,
                          subkind=str(e.sqlstate)), done
        stats[end] += 1
        rows = self.diff()
        stats["checks"] += 1
        if rows:
            return self._stale(f"after {end.upper()}", self.key_problem(query), index, rows), done
        return None, done

    @staticmethod
    def _stale(where: str, problem: str | None, index: int, rows: list[Any]) -> Result:
        missing = sum(1 for p, _ in rows if p.startswith("missing"))
        what = ", ".join(x for x in (f"{missing} row(s) missing from the tview" if missing else "",
                                     f"{len(rows) - missing} extra" if len(rows) - missing else "") if x)
        detail = f"{what} {where}" + (f"; and now {problem}: the write should have been refused" if problem else "")
        return Result(Outcome.STALE, detail, index, rows, subkind="bad-key" if problem else "")

    def _failed_write(self, query: Query, done: list[Step], error: psycopg.Error, index: int,
                      stats: Counter[str]) -> Result | None:
        """A statement failed. From a source table (not wrapped): the transaction is lost, nothing
        else. From maintenance: fine if, without the triggers, the same writes leave the SELECT
        failing or with a bad key; a bug otherwise."""
        c = self.conn
        c.execute("rollback")
        if not is_maintenance_error(error):
            stats["aborted-by-source"] += 1
            return None
        c.execute("begin")
        try:
            for t in TABLE_ORDER:
                c.execute(self.sql(f"alter table {S}.{t} disable trigger user"))
            for step in done:
                if self._exec(step, Counter()) is not None:
                    c.execute("rollback")
                    stats["write-refused"] += 1
                    return None
            problem = self.key_problem(query)
        finally:
            if c.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                c.execute("rollback")
        if problem is not None:
            stats["write-refused"] += 1
            return None
        return Result(Outcome.WRITE_CRASH, f"{error.sqlstate}: {first_line(error.diag.message_primary or str(error))}",
                      index, subkind=str(error.sqlstate))


def is_maintenance_error(e: psycopg.Error) -> bool:
    """Raised by the tviews runtime (its trigger functions), not by a source table's constraints."""
    context = e.diag.context or ""
    return "tviews." in context or (e.diag.message_primary or "").startswith("tview ") or e.diag.table_name == TVIEW


# --------------------------------------------------------------------------------------------------
# One query, generated or replayed
# --------------------------------------------------------------------------------------------------


@dataclass
class Repro:
    """Everything needed to rerun a case: starting rows, the query, the write transactions."""

    rows: Rows
    query: Query
    txns: list[Txn]
    plain: bool = False  # the mixed-case columns of ord spelled in lower case

    def to_dict(self) -> dict[str, Any]:
        return {"rows": {t: [list(r) for r in rs] for t, rs in self.rows.items()}, "query": self.query.to_dict(),
                "txns": [t.to_dict() for t in self.txns], "plain": self.plain}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Repro:
        return Repro({t: [tuple(r) for r in rs] for t, rs in d["rows"].items()}, Query(**d["query"]),
                     [Txn.from_dict(t) for t in d["txns"]], bool(d.get("plain")))

    def text(self) -> str:
        out = [f"-- tview key: ({', '.join(self.query.key)})", shown(self.query.sql) + ";", "-- starting rows:"]
        out += [shown(s) + ";" for s in rows_sql(self.rows, self.plain)] or ["-- (none)"]
        out.append("-- writes:")
        for t in self.txns:
            out += t.text()
        return "\n".join(out)


def run_repro(conn: psycopg.Connection[Any], repro: Repro, check_each: bool = True) -> Result:
    """Build the case from scratch and replay its transactions; the first failure, or BUILT."""
    case = Case(conn, repro.plain)
    try:
        case.create(repro.rows)
        built = case.build(repro.query)
        if built.kind != Outcome.BUILT:
            return built
        stats: Counter[str] = Counter()
        for index, txn in enumerate(repro.txns):
            bug, _ = case.run_txn(repro.query, lambda i, steps=txn.steps: steps[i] if i < len(steps) else None,
                                  txn.end, index, stats, check_each)
            if bug is not None:
                return bug
        return Result(Outcome.BUILT, stats=stats)
    finally:
        case.drop()


def run_generated(conn: psycopg.Connection[Any], rows: Rows, query: Query, writes: int, rng: random.Random,
                  stats: Counter[str], plain: bool = False) -> tuple[Result, Repro]:
    """Build the query on the rows, then run `writes` random transactions until the first bug."""
    case = Case(conn, plain)
    repro = Repro(rows, query, [], plain)
    try:
        case.create(rows)
        built = case.build(query)
        if built.kind != Outcome.BUILT:
            return built, repro
        gen = WriteGen(rng, plain)
        for index in range(writes):
            n, end, sp, rollback_to = gen.plan()
            plan: list[str] = []
            for j in range(n):
                if sp == j:
                    plan.append("savepoint")
                plan.append("stmt")
                if j < n - 1 and gen.chance(0.25):
                    plan.append("check")
            if sp is not None:
                plan.append("rollback_to" if rollback_to else "release")

            def next_step(i: int, plan: list[str] = plan) -> Step | None:
                if i >= len(plan):
                    return None
                if plan[i] == "stmt":
                    step = gen.statement(case.state())
                    stats["stmt:" + step.sql.split()[0].lower()] += 1
                    return step
                return Step(plan[i])

            bug, done = case.run_txn(query, next_step, end, index, stats, check_each=False)
            repro.txns.append(Txn([s for s in done if s.kind != "check"], end))
            if bug is not None:
                return bug, repro
        return Result(Outcome.BUILT), repro
    finally:
        case.drop()


# --------------------------------------------------------------------------------------------------
# Minimization
# --------------------------------------------------------------------------------------------------


class Minimizer:
    """Shrink a failing Repro while the same kind of failure persists (greedy, within a budget)."""

    def __init__(self, conn: psycopg.Connection[Any], budget: float, plain: bool = False):
        self.conn = conn
        self.deadline = time.monotonic() + budget
        self.runs = 0
        self.probe = Case(conn, plain)  # empty tables, to reject invalid SQL candidates cheaply
        self.probe.create({})

    def close(self) -> None:
        self.probe.drop()

    def out_of_time(self) -> bool:
        return time.monotonic() > self.deadline

    def same(self, repro: Repro, want: Result) -> bool:
        if self.out_of_time():
            return False
        self.runs += 1
        try:
            got = run_repro(self.conn, repro)
        except psycopg.Error:
            if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self.conn.execute("rollback")
            return False
        return got.kind == want.kind and got.subkind == want.subkind

    def minimize(self, repro: Repro, want: Result) -> Repro:
        if want.at_txn is not None:
            repro = dataclasses.replace(repro, txns=repro.txns[: want.at_txn + 1])
        for _ in range(3):
            before = repro.to_dict()
            if want.kind != Outcome.CRASHED:
                repro = self.shrink_txns(repro, want)
            repro = self.shrink_query(repro, want)  # a smaller query makes every later run faster
            repro = self.shrink_rows(repro, want)
            if repro.to_dict() == before or self.out_of_time():
                break
        return repro

    # -- writes -------------------------------------------------------------------------------------

    def shrink_txns(self, repro: Repro, want: Result) -> Repro:
        txns = list(repro.txns)
        for tail in (1, 2, 4, 8):  # the failure is often caused by the last transactions alone
            if tail < len(txns) and self.same(dataclasses.replace(repro, txns=txns[-tail:]), want):
                txns = txns[-tail:]
                break
        chunk = max(1, len(txns) // 2)
        while chunk >= 1 and not self.out_of_time():
            i = 0
            while i < len(txns):
                cand = txns[:i] + txns[i + chunk:]
                if cand and self.same(dataclasses.replace(repro, txns=cand), want):
                    txns = cand
                else:
                    i += chunk
            chunk //= 2
        for ti in range(len(txns)):  # then the steps of each transaction, and its ending
            steps = txns[ti].steps
            j = 0
            while j < len(steps) and not self.out_of_time():
                cand_steps = steps[:j] + steps[j + 1:]
                if steps[j].kind == "savepoint":  # its rollback/release goes with it
                    cand_steps = [s for s in cand_steps if s.kind not in ("rollback_to", "release")]
                if any(s.kind == "stmt" for s in cand_steps):
                    cand = txns[:ti] + [Txn(cand_steps, txns[ti].end)] + txns[ti + 1:]
                    if self.same(dataclasses.replace(repro, txns=cand), want):
                        txns, steps = cand, cand_steps
                        continue
                j += 1
            for j in range(len(steps)):  # and the rows of an INSERT, the assignments of an UPDATE
                for smaller in statement_candidates(steps[j].sql) if steps[j].kind == "stmt" else []:
                    if self.out_of_time():
                        break
                    cand_steps = steps[:j] + [dataclasses.replace(steps[j], sql=smaller)] + steps[j + 1:]
                    cand = txns[:ti] + [Txn(cand_steps, txns[ti].end)] + txns[ti + 1:]
                    if self.same(dataclasses.replace(repro, txns=cand), want):
                        txns, steps = cand, cand_steps
        return dataclasses.replace(repro, txns=txns)

    # -- starting rows ------------------------------------------------------------------------------

    def shrink_rows(self, repro: Repro, want: Result) -> Repro:
        rows = repro.rows
        for table in reversed(TABLE_ORDER):
            chunk = max(1, len(rows.get(table, [])))
            while chunk >= 1 and not self.out_of_time():
                i = 0
                while i < len(rows.get(table, [])):
                    cand = without_rows(rows, table, set(range(i, i + chunk)))
                    if self.same(dataclasses.replace(repro, rows=cand), want):
                        rows = cand
                    else:
                        i += chunk
                chunk //= 2
        return dataclasses.replace(repro, rows=rows)

    # -- the SELECT -----------------------------------------------------------------------------------

    def valid(self, sql: str, key: list[str]) -> bool:
        c = self.conn
        try:
            cols = [d.name for d in c.execute(f"{self.probe.sql(sql)} limit 0").description or []]
        except psycopg.Error:
            return False
        return all(k in cols for k in key) and len(cols) == len(set(cols))

    def shrink_query(self, repro: Repro, want: Result) -> Repro:
        query = repro.query
        progress = True
        while progress and not self.out_of_time():
            progress = False
            for cand in query_candidates(query.sql, query.key):
                if self.out_of_time():
                    break
                if len(cand) >= len(query.sql) or not self.valid(cand, query.key):
                    continue
                q2 = Query(cand, query.key, query.shape)
                if self.same(dataclasses.replace(repro, query=q2), want):
                    query = q2
                    progress = True
                    break
        return dataclasses.replace(repro, query=query)


def _parse(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="postgres")


def statement_candidates(sql: str) -> list[str]:
    """A write statement with one row of its VALUES, or one assignment of its SET, left out."""
    try:
        tree = _parse(sql)
    except sqlglot.errors.SqlglotError:
        return []
    if isinstance(tree, exp.Insert) and isinstance(tree.expression, exp.Values):
        parts = tree.expression.expressions
    elif isinstance(tree, exp.Update):
        parts = tree.expressions
    else:
        return []
    out = []
    for i in range(len(parts) if len(parts) > 1 else 0):
        copy = tree.copy()
        holder = copy.expression if isinstance(copy, exp.Insert) else copy
        holder.expressions[i].pop()
        out.append(copy.sql(dialect="postgres"))
    return out


def query_candidates(sql: str, key: list[str]) -> Iterator[str]:
    """Smaller variants of `sql`, big cuts first: each drops or simplifies one part of the query."""
    try:
        tree = _parse(sql)
    except sqlglot.errors.SqlglotError:
        return
    nodes = list(tree.walk())

    def edit(types: tuple[type[exp.Expression], ...], fn: Callable[[exp.Expression, exp.Expression], bool]) -> Iterator[str]:
        for i, original in enumerate(nodes):
            if not isinstance(original, types):
                continue
            copy = tree.copy()
            node = list(copy.walk())[i]
            try:
                if fn(node, copy):
                    yield copy.sql(dialect="postgres")
            except Exception:  # noqa: BLE001, S112 - an edit that does not apply to this node
                continue

    def in_root_branch(node: exp.Expression, copy: exp.Expression) -> bool:
        """Is this SELECT the root, or a branch of the top-level UNION?"""
        p: exp.Expression | None = node
        while p is not None and p is not copy:
            if not isinstance(p.parent, (exp.Union, exp.Subquery)) and p.parent is not copy:
                return False
            p = p.parent
        return True

    if isinstance(tree, exp.Union):  # a UNION is replaced by one of its branches
        for side in ("this", "expression"):
            copy = tree.copy()
            branch = copy.args[side]
            branch = branch.this if isinstance(branch, exp.Subquery) else branch
            if copy.args.get("with_"):
                branch.set("with_", copy.args["with_"])
            yield branch.sql(dialect="postgres")
        width = len(next(tree.find_all(exp.Select)).expressions)
        for position in range(width):  # an output column goes from every branch
            copy = tree.copy()
            branches = [s for s in copy.find_all(exp.Select) if in_root_branch(s, copy)]
            if any(len(b.expressions) <= position for b in branches) \
                    or branches[0].expressions[position].alias_or_name in key:
                continue
            for b in branches:
                b.expressions[position].pop()
            yield copy.sql(dialect="postgres")

    def drop_cte(node: exp.Expression, copy: exp.Expression) -> bool:
        with_ = node.parent
        node.pop()
        if with_ is not None and not with_.expressions:
            with_.pop()
        return True

    def drop(node: exp.Expression, copy: exp.Expression) -> bool:
        node.pop()
        return True

    def keep_left(node: exp.Expression, copy: exp.Expression) -> bool:
        node.replace(node.left)
        return True

    def keep_right(node: exp.Expression, copy: exp.Expression) -> bool:
        node.replace(node.right)
        return True

    def drop_projection(node: exp.Expression, copy: exp.Expression) -> bool:
        select = node.parent
        if not isinstance(select, exp.Select) or node not in select.expressions or len(select.expressions) < 2:
            return False
        if in_root_branch(select, copy) and (node.alias_or_name in key or isinstance(copy, exp.Union)):
            return False
        node.pop()
        return True

    def null_subquery(node: exp.Expression, copy: exp.Expression) -> bool:
        if isinstance(node, exp.Subquery):
            if isinstance(node.parent, (exp.From, exp.Join, exp.Union, exp.Subquery, exp.In, exp.Exists)) \
                    or node.parent is None:
                return False
            node.replace(exp.Null())
            return True
        if node.find(exp.Select):  # EXISTS (..) / x IN (SELECT ..)
            node.replace(exp.true())
            return True
        return False

    def simplify_join(node: exp.Expression, copy: exp.Expression) -> bool:
        if not node.side:
            return False
        node.set("side", {"FULL": "LEFT", "RIGHT": None, "LEFT": None}.get(node.side.upper()))
        if node.kind and node.kind.upper() == "OUTER":
            node.set("kind", None)
        return True

    def drop_clause(node: exp.Expression, copy: exp.Expression) -> bool:
        for arg in ("distinct", "order"):
            if node.args.get(arg) and not node.args.get("limit"):
                node.set(arg, None)
                return True
        return False

    def unwrap(node: exp.Expression, copy: exp.Expression) -> bool:
        if isinstance(node, exp.Case):
            node.replace(node.args["ifs"][0].args["true"])
        else:
            node.replace(node.this)
        return True

    def unparen(node: exp.Expression, copy: exp.Expression) -> bool:
        """`(a JOIN b ON ..)` as a FROM item: drop the parentheses (in a JOIN, the inner joins
        follow it)."""
        table = node.this
        if not isinstance(table, (exp.Table, exp.Subquery)):
            return False
        joins = table.args.get("joins") or []
        table.set("joins", None)
        holder = node.parent
        node.replace(table)
        if joins and isinstance(holder, exp.From):
            select = holder.parent
            select.set("joins", joins + list(select.args.get("joins") or []))
        elif joins and isinstance(holder, exp.Join):
            select = holder.parent
            own = list(select.args.get("joins") or [])
            at = next(i for i, j in enumerate(own) if j is holder)
            select.set("joins", own[: at + 1] + joins + own[at + 1:])
        return True

    edits: list[tuple[tuple[type[exp.Expression], ...], Callable[[exp.Expression, exp.Expression], bool]]] = [
        ((exp.CTE,), drop_cte), ((exp.Join,), drop), ((exp.Where, exp.Having), drop), ((exp.Subquery,), unparen),
        ((exp.Alias, exp.Column, exp.Func, exp.Subquery, exp.Binary), drop_projection),
        ((exp.Subquery, exp.Exists, exp.In), null_subquery), ((exp.And,), keep_left), ((exp.And,), keep_right),
        ((exp.Or,), keep_left), ((exp.Or,), keep_right), ((exp.Join,), simplify_join), ((exp.Select,), drop_clause),
        ((exp.Coalesce, exp.Paren, exp.Case, exp.Abs, exp.Cast), unwrap),
    ]
    for types, fn in edits:
        yield from edit(types, fn)


# --------------------------------------------------------------------------------------------------
# Features of a query, to group the bugs found
# --------------------------------------------------------------------------------------------------


def features(sql: str) -> list[str]:
    try:
        tree = _parse(sql)
    except sqlglot.errors.SqlglotError:
        return ["unparsed"]
    out: set[str] = set()
    for j in tree.find_all(exp.Join):
        side = (j.side or "").upper()
        kind = (j.kind or "").upper()
        out.add(f"{side or ('CROSS' if kind == 'CROSS' else 'INNER')} JOIN" if j.args.get("on") or kind == "CROSS"
                or side else "comma join")
    for s in tree.find_all(exp.Subquery):
        if isinstance(s.this, (exp.Table, exp.Subquery)):
            out.add("parenthesized join")
        elif isinstance(s.parent, (exp.From, exp.Join)) or s.alias:
            out.add("derived table")
        elif not isinstance(s.parent, (exp.In, exp.Exists)):
            inner = s.this
            outer_aliases = {str(t.alias_or_name) for t in inner.find_all(exp.Table)}
            cols = {str(c.table) for c in inner.find_all(exp.Column) if c.table}
            out.add("correlated scalar subquery" if cols - outer_aliases else "uncorrelated scalar subquery")
            if inner.args.get("limit") or inner.find(exp.Limit):
                out.add("LIMIT in subquery" if inner.find(exp.Order) else "LIMIT without ORDER BY")
    if tree.find(exp.CTE):
        out.add("CTE")
    if tree.find(exp.Group):
        out.add("GROUP BY")
    for d in tree.find_all(exp.Distinct):
        out.add("DISTINCT ON" if d.args.get("on") else "DISTINCT")
    if tree.find(exp.Union):
        out.add("UNION")
    if tree.find(exp.Window):
        out.add("window")
    if tree.find(exp.Exists):
        out.add("EXISTS")
    for i in tree.find_all(exp.In):
        if i.find(exp.Select):
            out.add("NOT IN subquery" if isinstance(i.parent, exp.Not) else "IN subquery")
    if tree.find(exp.Having):
        out.add("HAVING")
    for select in tree.find_all(exp.Select):
        joins = list(select.args.get("joins") or [])
        from_ = select.args.get("from_")
        for sub in [from_.this] if from_ is not None else []:  # FROM (a JOIN b ..)
            if isinstance(sub, exp.Subquery) and isinstance(sub.this, (exp.Table, exp.Subquery)):
                joins += sub.this.args.get("joins") or []
        for j in list(joins):  # a LEFT JOIN (b JOIN c ..)
            if isinstance(j.this, exp.Subquery) and isinstance(j.this.this, (exp.Table, exp.Subquery)):
                joins += j.this.this.args.get("joins") or []
        if sum(1 for j in joins if (j.side or "").upper() in ("LEFT", "RIGHT", "FULL")) >= 2:
            out.add("2+ outer joins")
        left = {str(j.this.alias_or_name) for j in joins if (j.side or "").upper() == "LEFT"}
        where = select.args.get("where")
        if where is not None and any(isinstance(i.this, exp.Column) and i.this.table in left
                                     and isinstance(i.expression, exp.Null) for i in where.find_all(exp.Is)):
            out.add("LEFT JOIN .. WHERE IS NULL")
        names = [t.name for t in select.find_all(exp.Table) if t.find_ancestor(exp.Select) is select]
        if len(names) != len(set(names)):
            out.add("self-join")
    return sorted(out)


# --------------------------------------------------------------------------------------------------
# The fuzzer
# --------------------------------------------------------------------------------------------------


@dataclass
class Bug:
    number: int
    result: Result
    repro: Repro
    minimized: Repro | None = None
    query_index: int = 0

    @property
    def shown(self) -> Repro:
        return self.minimized or self.repro

    def text(self) -> str:
        r = self.result
        head = f"BUG #{self.number} [{r.kind}] query {self.query_index} ({self.repro.query.shape})"
        if r.detail:
            head += f": {r.detail}"
        if r.at_txn is not None:
            head += f" (transaction {r.at_txn + 1})"
        lines = [head]
        if self.minimized is not None:
            lines.append(f"  minimized from {len(self.repro.query.sql)} to {len(self.minimized.query.sql)} characters "
                         f"of SQL, {len(self.repro.txns)} to {len(self.minimized.txns)} transactions")
        lines.append("  features: " + ", ".join(features(self.shown.query.sql)))
        lines += ["  " + ln for ln in self.shown.text().splitlines()]
        if r.rows:
            lines.append("  -- tviews.diff():")
            lines += [f"  --   {p}: {json.dumps(d, sort_keys=True)}" for p, d in r.rows[:6]]
            if len(r.rows) > 6:
                lines.append(f"  --   ... {len(r.rows) - 6} more")
        return "\n".join(lines)


@dataclass(repr=False)
class Report:
    counts: Counter[str] = field(default_factory=Counter)
    by_shape: dict[str, Counter[str]] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    stats: Counter[str] = field(default_factory=Counter)
    bugs: list[Bug] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    seconds: float = 0.0
    slowest: list[tuple[float, int]] = field(default_factory=list)  # (seconds, query index)
    built_features: Counter[str] = field(default_factory=Counter)

    def __repr__(self) -> str:
        return f"<Report: {self.queries} queries, {len(self.bugs)} bugs>"

    @property
    def queries(self) -> int:
        return sum(self.counts[k] for k in (Outcome.INVALID, Outcome.REJECTED_ANALYSIS, Outcome.REJECTED_INSTALL,
                                             Outcome.CRASHED, Outcome.BUILT))

    def bugs_text(self, full: bool = False) -> str:
        """Every minimized bug in full (one per signature); the others on one line each, or in
        full (their unminimized reproducers) when `full`."""
        kinds = Counter(b.result.kind for b in self.bugs)
        minimized = [b for b in self.bugs if b.minimized is not None]
        groups = distinct_bugs(minimized)
        lines = [(f"{len(self.bugs)} bug(s) ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items())) or 'none'}), "
                  f"{len(minimized)} minimized, {len(groups)} distinct signatures (kind + features of the reproducer)")]
        for bug, count in groups:
            lines += ["", bug.text() + (f"\n  ({count} minimized bugs share this signature)" if count > 1 else "")]
        rest = [b for b in self.bugs if b.minimized is None]
        if rest and full:
            lines += ["", "not minimized:"]
            for b in rest:
                lines += ["", b.text()]
        elif rest:
            lines += ["", "not minimized:"]
            lines += [f"  BUG #{b.number} [{b.result.kind}] query {b.query_index} ({b.repro.query.shape}): "
                      f"{b.result.detail} -- {', '.join(features(b.repro.query.sql))}" for b in rest]
        return "\n".join(lines)

    def summary(self) -> str:
        c, st = self.counts, self.stats
        clean = c[Outcome.BUILT] - c[Outcome.STALE] - c[Outcome.WRITE_CRASH] - st["timeout"]
        shapes = ", ".join(f"{s} {v[Outcome.BUILT]}/{sum(v.values())}" for s, v in sorted(self.by_shape.items()))
        lines = [
            (f"{self.queries} queries in {self.seconds:.0f}s: built {c[Outcome.BUILT]}, rejected-by-analysis "
             f"{c[Outcome.REJECTED_ANALYSIS]}, rejected-by-install {c[Outcome.REJECTED_INSTALL]}, crashed "
             f"{c[Outcome.CRASHED]}, invalid {c[Outcome.INVALID]}"),
            (f"of the built: stale {c[Outcome.STALE]}, write-crash {c[Outcome.WRITE_CRASH]}, timed out "
             f"{st['timeout']}, clean {clean}"),
            (f"writes: {st['commit']} commits, {st['rollback']} rollbacks, {st['checks']} checks, "
             f"{st['write-refused']} refused by maintenance (SELECT failing or key NULL/duplicated), "
             f"{st['refused-by-source'] + st['aborted-by-source']} refused by source constraints"),
            f"per shape (built/total): {shapes}",
            "slowest queries: " + ", ".join(f"#{n} {t:.1f}s" for t, n in self.slowest),
            "features of the built queries: " + ", ".join(f"{f} {n}" for f, n in self.built_features.most_common()),
            "top rejection reasons:",
        ]
        lines += [f"  {n:4d}  {r}" for r, n in self.reasons.most_common(12)]
        return "\n".join(lines)


class Fuzzer:
    def __init__(self, dsn: str, seed: int = 1, writes: int = 30, minimize_budget: float = 60.0,
                 max_minimize: int = 10, verbose: bool = False, log: Callable[[str], None] = print,
                 plain_names: bool = False):
        self.dsn = dsn
        self.plain = plain_names
        self.seed = seed
        self.writes = writes
        self.minimize_budget = minimize_budget
        self.max_minimize = max_minimize
        self.verbose = verbose
        self.log = log

    def connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.dsn, autocommit=True)
        conn.execute("set statement_timeout = '10s'")
        conn.execute("set jit = off")  # never-analyzed tiny tables get huge estimates: JIT would dominate
        conn.execute("set client_min_messages = error")
        conn.execute(tviews.runtime_sql("tviews"))
        return conn

    def run(self, queries: int, deadline: float | None = None) -> Report:
        report = Report()
        start = time.monotonic()
        with self.connect() as conn:
            for n in range(queries):
                if deadline is not None and time.monotonic() > deadline:
                    break
                rng = random.Random(f"{self.seed}:{n}")
                query = QueryGen(rng).query().renamed(self.plain)
                rows = random_rows(rng)
                stats: Counter[str] = Counter()
                began = time.monotonic()
                try:
                    result, repro = run_generated(conn, rows, query, self.writes, rng, stats, self.plain)
                except psycopg.errors.QueryCanceled:  # too slow to be worth it: counted, not a bug
                    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                        conn.execute("rollback")
                    result, repro = Result(Outcome.TIMEOUT), Repro(rows, query, [], self.plain)
                    report.stats["timeout"] += 1
                except psycopg.Error as e:  # a failure of the harness itself: show it, go on
                    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                        conn.execute("rollback")
                    result, repro = Result(Outcome.CRASHED, f"harness: {e.sqlstate} {first_line(str(e))}",
                                           subkind="harness"), \
                        Repro(rows, query, [], self.plain)
                report.stats.update(stats)
                report.slowest.append((time.monotonic() - began, n))
                report.slowest = sorted(report.slowest, reverse=True)[:3]
                build_kind = Outcome.BUILT if result.kind in (Outcome.STALE, Outcome.WRITE_CRASH, Outcome.TIMEOUT) \
                    else result.kind
                report.counts[build_kind] += 1
                report.by_shape.setdefault(query.shape, Counter())[build_kind] += 1
                if result.kind in (Outcome.STALE, Outcome.WRITE_CRASH):
                    report.counts[result.kind] += 1
                if build_kind == Outcome.BUILT:
                    report.built_features.update(features(query.sql))
                if result.kind in (Outcome.REJECTED_ANALYSIS, Outcome.REJECTED_INSTALL):
                    report.reasons[f"{result.kind}: {re.sub(r'[0-9]+', 'N', result.detail)[:110]}"] += 1
                if result.kind == Outcome.INVALID:
                    report.invalid.append(f"{result.detail}\n{shown(query.sql)}")
                if result.is_bug:
                    bug = Bug(len(report.bugs) + 1, result, repro, query_index=n)
                    report.bugs.append(bug)
                    self.log(f"[{n}] {result.kind}: {result.detail}")
                elif self.verbose:
                    self.log(f"[{n}] {query.shape} {result.kind} {result.detail} ({time.monotonic() - began:.1f}s)")
            self.minimize_all(conn, report)
        report.seconds = time.monotonic() - start
        return report

    def minimize_all(self, conn: psycopg.Connection[Any], report: Report) -> None:
        """Minimize at most max_minimize bugs, the most different first: the bug whose (kind,
        subkind) was minimized the least often, then the one with the most features not seen in
        minimized bugs of that kind, then the shortest SQL."""
        todo = list(report.bugs)
        covered: dict[tuple[str, str], set[str]] = {}
        times: Counter[tuple[str, str]] = Counter()
        for _ in range(min(self.max_minimize, len(todo))):
            def priority(b: Bug) -> tuple[int, int, int]:
                k = (b.result.kind, b.result.subkind)
                new = set(features(b.repro.query.sql)) - covered.get(k, set())
                return times[k], -len(new), len(b.repro.query.sql)
            bug = min(todo, key=priority)
            todo.remove(bug)
            k = (bug.result.kind, bug.result.subkind)
            times[k] += 1
            covered.setdefault(k, set()).update(features(bug.repro.query.sql))
            m = Minimizer(conn, self.minimize_budget, self.plain)
            try:
                bug.minimized = m.minimize(bug.repro, bug.result)
                check = run_repro(conn, bug.minimized)  # the reproducer, as shown, fails this way
                if (check.kind, check.subkind) != (bug.result.kind, bug.result.subkind):
                    bug.minimized = None
                else:
                    bug.result = dataclasses.replace(bug.result, rows=check.rows or bug.result.rows,
                                                     detail=check.detail or bug.result.detail,
                                                     at_txn=check.at_txn)
            finally:
                m.close()
            self.log(f"minimized bug #{bug.number} in {m.runs} runs")


def distinct_bugs(bugs: list[Bug]) -> list[tuple[Bug, int]]:
    """One bug per (kind, detail kind, features of the shown query), with how many share it."""
    groups: dict[tuple[Any, ...], list[Bug]] = {}
    for b in bugs:
        key = (b.result.kind, b.result.subkind,
               tuple(features(b.shown.query.sql)) if b.minimized else ("not minimized", b.number))
        groups.setdefault(key, []).append(b)
    out = []
    for g in groups.values():
        best = min(g, key=lambda b: (b.minimized is None, len(b.shown.query.sql), len(b.shown.txns)))
        out.append((best, len(g)))
    return sorted(out, key=lambda x: x[0].number)


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def private_database(dsn: str | None) -> tuple[str, Callable[[], None]]:
    """A database of our own on the server the tests would use; dropped by the returned callable."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    server = dsn or resolve(prefer_local=True).dsn
    name = f"tviews_fuzz_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as c:
        c.execute(f'create database "{name}"')
    params = conninfo_to_dict(server)
    params["dbname"] = name

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as c:
            c.execute(f'drop database if exists "{name}" with (force)')

    return make_conninfo(**params), drop


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--writes", type=int, default=30, help="write transactions per built tview")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dsn", help="server to use (a private database is created on it)")
    ap.add_argument("--minimize-budget", type=float, default=60.0, help="seconds per bug")
    ap.add_argument("--max-minimize", type=int, default=12, help="bugs to minimize at most")
    ap.add_argument("--out", type=Path, help="write each bug's reproducer as JSON here")
    ap.add_argument("--replay", type=Path, help="rerun a reproducer written by --out")
    ap.add_argument("--shrink", action="store_true", help="with --replay: minimize it (--minimize-budget)")
    ap.add_argument("--plain-names", action="store_true",
                    help='spell the mixed-case columns of ord ("OrderNo", ..) in lower case')
    ap.add_argument("--brief", action="store_true", help="one line per bug that was not minimized")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    dsn, drop = private_database(args.dsn)
    try:
        if args.replay:
            repro = Repro.from_dict(json.loads(args.replay.read_text()))
            with Fuzzer(dsn).connect() as conn:
                result = run_repro(conn, repro)
                if args.shrink and result.is_bug:
                    m = Minimizer(conn, args.minimize_budget, repro.plain)
                    try:
                        repro = m.minimize(repro, result)
                    finally:
                        m.close()
                    result = run_repro(conn, repro)
            print(repro.text())
            print(f"-> {result.kind} {result.detail}")
            print("   features: " + ", ".join(features(repro.query.sql)))
            for p, d in result.rows:
                print(f"   {p}: {json.dumps(d, sort_keys=True)}")
            return 1 if result.is_bug else 0
        fuzzer = Fuzzer(dsn, seed=args.seed, writes=args.writes, minimize_budget=args.minimize_budget,
                        max_minimize=args.max_minimize, verbose=args.verbose, plain_names=args.plain_names)
        report = fuzzer.run(args.queries)
    finally:
        drop()
    print()
    print(f"seed {args.seed}, {args.writes} write transactions per tview"
          + (", plain names" if args.plain_names else ""))
    print(report.summary())
    if report.invalid:
        print(f"\n{len(report.invalid)} generated queries PostgreSQL rejected (generator defects), e.g.:")
        for text in report.invalid[:3]:
            print("  " + text.replace("\n", "\n  "))
    print()
    print(report.bugs_text(full=not args.brief))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for bug in report.bugs:
            (args.out / f"bug-{args.seed}-{bug.number}.json").write_text(json.dumps(
                {"result": {"kind": bug.result.kind, "detail": bug.result.detail}, **bug.shown.to_dict()}, indent=1))
    return 1 if report.bugs else 0


if __name__ == "__main__":
    sys.exit(main())

# The view definitions, table definitions, seed data and DML steps below are adapted from the
# regression suite of pg_ivm (https://github.com/sraoss/pg_ivm, files sql/pg_ivm.sql,
# sql/outer_join.sql, sql/create_immv.sql, sql/refresh_immv.sql and specs/*.spec, at commit
# 377a37d "Prepare 1.15"). pg_ivm is distributed under the PostgreSQL License:
#
#   Portions Copyright (c) 1996-2022, PostgreSQL Global Development Group
#
#   Portions Copyright (c) 2026, IVM Development Group
#
#   Permission to use, copy, modify, and distribute this software and its
#   documentation for any purpose, without fee, and without a written agreement
#   is hereby granted, provided that the above copyright notice and this
#   paragraph and the following two paragraphs appear in all copies.
#
#   IN NO EVENT SHALL THE AUTHORS BE LIABLE TO ANY PARTY FOR DIRECT,
#   INDIRECT, SPECIAL, INCIDENTAL, OR CONSEQUENTIAL DAMAGES, INCLUDING
#   LOST PROFITS, ARISING OUT OF THE USE OF THIS SOFTWARE AND ITS
#   DOCUMENTATION, EVEN IF THE AUTHORS HAVE BEEN ADVISED OF THE
#   POSSIBILITY OF SUCH DAMAGE.
#
#   THE AUTHORS SPECIFICALLY DISCLAIM ANY WARRANTIES, INCLUDING, BUT NOT
#   LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR
#   A PARTICULAR PURPOSE.  THE SOFTWARE PROVIDED HEREUNDER IS ON AN "AS
#   IS" BASIS, AND THE AUTHORS HAVE NO OBLIGATIONS TO PROVIDE MAINTENANCE,
#   SUPPORT, UPDATES, ENHANCEMENTS, OR MODIFICATIONS.
# ruff: noqa: E501
"""pg_ivm's regression suite as tview candidates (data only; the runner is test_peer_pg_ivm.py).

Translation rules:
- `pgivm.create_immv('name(c1, c2)', 'query')` becomes the plain query, the column list becoming
  `AS` aliases; `pgivm.refresh_immv('mv', true)` becomes `SELECT tviews.refresh(...)`.
- pg_ivm needs no key; a tview does. Each view gets the key a dbt user would write: the GROUP BY
  key, the DISTINCT columns, the primary key of the source, or else every output column. The build
  must then reject the view, or keep it exact whatever the data does.
- Each view is built on fresh tables (its *fixture*), then the steps pg_ivm applies after creating
  it run in order (BEGIN / SAVEPOINT / ROLLBACK TO / ROLLBACK as in pg_ivm), then seeded random DML.
- `{tv}` in a step is the tview itself (pg_ivm's "prevent IMMV changes": writes to it must fail),
  `{schema}` is the schema of the fixture, `{tv_name}` the tview's unqualified name.
- Views pg_ivm rejects are kept: a tview may support more, but must then be exact.
- `outer_join.sql` seeds duplicate rows, so its views have no key at all: the verbatim views
  cannot be keyed (the build must reject them). Each also appears as `*_keyed`: the same view over
  the same data with an identity column per table and `coalesce(x.id, -1)` key columns, the way one
  makes an outer join keyable. Likewise some `pg_ivm.sql` views appear as `*_keyed` (the sources'
  identity columns selected, or the NULL group folded by coalesce): a key no data can break, so
  any difference there is a maintenance error, not a broken key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PG_IVM_COMMIT = "377a37d"

# --------------------------------------------------------------------------------------------
# Fixtures: DDL + seed, and for each table the values random DML draws from (SQL literals).
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    setup: str
    # table -> column -> candidate values (SQL literals); tables random DML may write
    domains: dict[str, dict[str, list[str]]]


_I = ["1", "2", "3", "4", "5", "6", "NULL"]

FIXTURES: dict[str, Fixture] = {
    # sql/pg_ivm.sql: the base tables, with dropped columns, and the objects later blocks add.
    "ab": Fixture(
        """
        CREATE TABLE mv_base_a (x int, i int, y int, j int);
        CREATE TABLE mv_base_b (x int, i int, y int, k int);
        ALTER TABLE mv_base_a DROP COLUMN x;
        ALTER TABLE mv_base_a DROP COLUMN y;
        ALTER TABLE mv_base_b DROP COLUMN x;
        ALTER TABLE mv_base_b DROP COLUMN y;
        INSERT INTO mv_base_a VALUES (1,10), (2,20), (3,30), (4,40), (5,50);
        INSERT INTO mv_base_b VALUES (1,101), (2,102), (3,103), (4,104);
        """,
        {"mv_base_a": {"i": _I, "j": ["10", "20", "30", "60", "0", "NULL"]},
         "mv_base_b": {"i": _I, "k": ["101", "102", "103", "106", "NULL"]}},
    ),
# "support self join view and multiple change on the same table", "Multiply-referenced CTE"
    "t_self": Fixture(
        "CREATE TABLE base_t (i int, v int); INSERT INTO base_t VALUES (1, 10), (2, 20), (3, 30);",
        {"base_t": {"i": _I, "v": ["10", "20", "30", "40", "NULL"]}},
    ),
    # "support simultaneous table changes"
    "rs": Fixture(
        """
        CREATE TABLE base_r (i int, v int);
        CREATE TABLE base_s (i int, v int);
        INSERT INTO base_r VALUES (1, 10), (2, 20), (3, 30);
        INSERT INTO base_s VALUES (1, 100), (2, 200), (3, 300);
        """,
        {"base_r": {"i": _I, "v": ["10", "20", "30", "NULL"]},
         "base_s": {"i": _I, "v": ["100", "200", "300", "NULL"]}},
    ),
    # "support foreign reference constraints"
    "ri": Fixture(
        """
        CREATE TABLE ri1 (i int PRIMARY KEY);
        CREATE TABLE ri2 (i int PRIMARY KEY REFERENCES ri1(i) ON UPDATE CASCADE ON DELETE CASCADE, v int);
        INSERT INTO ri1 VALUES (1),(2),(3);
        INSERT INTO ri2 VALUES (1),(2),(3);
        """,
        {"ri1": {"i": ["1", "2", "3", "4", "5", "10"]},
         "ri2": {"i": ["1", "2", "3", "4", "5", "10"], "v": ["1", "2", "NULL"]}},
    ),
    # "views including NULL" (four blocks, four seeds)
    "t_null1": Fixture(
        "CREATE TABLE base_t (i int, v int); INSERT INTO base_t VALUES (1,10),(2, NULL);",
        {"base_t": {"i": _I, "v": ["10", "20", "NULL"]}},
    ),
    "t_null2": Fixture(
        "CREATE TABLE base_t (i int);",
        {"base_t": {"i": _I}},
    ),
    "t_null3": Fixture(
        "CREATE TABLE base_t (i int, v int); INSERT INTO base_t VALUES (NULL, 1), (NULL, 2), (1, 10), (1, 20);",
        {"base_t": {"i": ["1", "2", "NULL"], "v": ["1", "2", "10", "20", "NULL"]}},
    ),
    "t_null4": Fixture(
        "CREATE TABLE base_t (i int, v int); "
        "INSERT INTO base_t VALUES (NULL, 1), (NULL, 2), (NULL, 3), (NULL, 4), (NULL, 5);",
        {"base_t": {"i": ["1", "NULL"], "v": ["1", "2", "3", "4", "5", "NULL"]}},
    ),
    # "IMMV containing user defined type"
    "mytype": Fixture(
        """
        CREATE TYPE mytype;
        CREATE FUNCTION mytype_in(cstring) RETURNS mytype AS 'int4in' LANGUAGE INTERNAL STRICT IMMUTABLE;
        CREATE FUNCTION mytype_out(mytype) RETURNS cstring AS 'int4out' LANGUAGE INTERNAL STRICT IMMUTABLE;
        CREATE TYPE mytype (LIKE = int4, INPUT = mytype_in, OUTPUT = mytype_out);
        CREATE FUNCTION mytype_eq(mytype, mytype) RETURNS bool AS 'int4eq' LANGUAGE INTERNAL STRICT IMMUTABLE;
        CREATE FUNCTION mytype_lt(mytype, mytype) RETURNS bool AS 'int4lt' LANGUAGE INTERNAL STRICT IMMUTABLE;
        CREATE FUNCTION mytype_cmp(mytype, mytype) RETURNS integer AS 'btint4cmp' LANGUAGE INTERNAL STRICT IMMUTABLE;
        CREATE OPERATOR = (leftarg = mytype, rightarg = mytype, procedure = mytype_eq);
        CREATE OPERATOR < (leftarg = mytype, rightarg = mytype, procedure = mytype_lt);
        CREATE OPERATOR CLASS mytype_ops DEFAULT FOR TYPE mytype USING btree AS
            OPERATOR 1 <, OPERATOR 3 =, FUNCTION 1 mytype_cmp(mytype,mytype);
        CREATE TABLE t_mytype (x mytype);
        """,
        {"t_mytype": {"x": ["'1'::mytype", "'2'::mytype", "'3'::mytype", "NULL"]}},
    ),
    # "inheritance parent is not supported"
    "inherit": Fixture(
        """
        CREATE TABLE parent (i int, v int);
        CREATE TABLE child_a(options text) INHERITS(parent);
        INSERT INTO parent VALUES (1, 10), (2, 20);
        """,
        {"parent": {"i": _I, "v": ["10", "20", "NULL"]},
         "child_a": {"i": _I, "v": ["10", "20", "NULL"], "options": ["'x'", "NULL"]}},
    ),
    # "views containing base tables with Row Level Security" (the policy is there; the roles
    # are not: the build and the checks run as the superuser, who bypasses it)
    "rls": Fixture(
        """
        CREATE TABLE rls_tbl(id int, data text, owner name);
        INSERT INTO rls_tbl VALUES (1,'foo','regress_ivm_user'), (2,'bar','postgres');
        CREATE TABLE num_tbl(id int, num text);
        INSERT INTO num_tbl VALUES (1,'one'), (2,'two'), (3,'three'), (4,'four'), (5,'five'), (6,'six');
        CREATE POLICY rls_tbl_policy ON rls_tbl FOR SELECT TO PUBLIC USING(owner = current_user);
        ALTER TABLE rls_tbl ENABLE ROW LEVEL SECURITY;
        """,
        {"rls_tbl": {"id": ["1", "2", "3", "4", "7", "NULL"], "data": ["'foo'", "'bar'", "NULL"],
                     "owner": ["'regress_ivm_user'", "'postgres'", "NULL"]},
         "num_tbl": {"id": ["1", "2", "3", "7", "NULL"], "num": ["'one'", "'seven'", "NULL"]}},
    ),
    # "trigger updating the same table", "self-referential FKs"
    "trig": Fixture(
        """
        CREATE TABLE tbl_update_same (i int);
        CREATE FUNCTION func_update_same() RETURNS TRIGGER AS
         $$ BEGIN UPDATE tbl_update_same SET i = i + 1; RETURN NEW; END; $$ LANGUAGE plpgsql;
        CREATE TRIGGER trig_update_same AFTER INSERT ON tbl_update_same FOR EACH ROW
         EXECUTE FUNCTION func_update_same();
        CREATE TABLE tbl_self_ref (a int primary key, b int references tbl_self_ref(a) ON UPDATE CASCADE);
        INSERT INTO tbl_self_ref VALUES (1, null), (2, 1), (3, 2);
        """,
        {"tbl_update_same": {"i": ["1", "2", "5", "NULL"]},
         "tbl_self_ref": {"a": ["1", "2", "3", "4", "11", "12"], "b": ["1", "2", "3", "NULL"]}},
    ),
    # "automatic index creation": empty tables with primary keys
    "idx": Fixture(
        "CREATE TABLE base_a (i int primary key, j int); CREATE TABLE base_b (i int primary key, j int);",
        {"base_a": {"i": ["1", "2", "3", "4"], "j": ["1", "2", "3", "NULL"]},
         "base_b": {"i": ["1", "2", "3", "4"], "j": ["1", "2", "3", "NULL"]}},
    ),
    # "type that doesn't have default operator class for access method btree"
    "json": Fixture(
        "CREATE TABLE table_json (j json);",
        {"table_json": {"j": ["'1'::json", "'{\"a\": 1}'::json", "NULL"]}},
    ),
    # sql/create_immv.sql
    "t100": Fixture(
        "CREATE TABLE t (i int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100);",
        {"t": {"i": ["1", "2", "50", "101", "102", "103"]}},
    ),
    # sql/refresh_immv.sql
    "t5": Fixture(
        "CREATE TABLE t (i int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 5);",
        {"t": {"i": ["1", "2", "6", "7", "8", "9"]}},
    ),
    # specs/create_insert*.spec, refresh_insert*.spec
    "iso_a": Fixture(
        "CREATE TABLE a (i int); INSERT INTO a VALUES (1);",
        {"a": {"i": ["1", "2", "3", "NULL"]}},
    ),
    # specs/insert_insert*.spec
    "iso_ab": Fixture(
        """
        CREATE TABLE a (i int, j int);
        CREATE TABLE b (i int, j int);
        INSERT INTO a VALUES (1,10);
        INSERT INTO b VALUES (1,100);
        """,
        {"a": {"i": ["1", "2", "NULL"], "j": ["10", "11", "20", "21", "NULL"]},
         "b": {"i": ["1", "2", "NULL"], "j": ["100", "111", "200", "NULL"]}},
    ),
}

# "some query syntax", "contain view or materialized view": objects besides the tables
FIXTURES["ab_objects"] = Fixture(
    FIXTURES["ab"].setup + """
        CREATE FUNCTION ivm_func() RETURNS int LANGUAGE 'sql' AS 'SELECT 1' IMMUTABLE;
        CREATE VIEW b_view AS SELECT i,k FROM mv_base_b;
        CREATE MATERIALIZED VIEW b_mview AS SELECT i,k FROM mv_base_b;
    """,
    FIXTURES["ab"].domains,
)

# sql/outer_join.sql, verbatim (duplicate rows: no key exists) and with an identity column per
# table (last, so pg_ivm's INSERT ... VALUES keep filling the same columns).
_OJ_SEED = """
INSERT INTO base_r VALUES (1), (2), (3), (3);
INSERT INTO base_s VALUES (2,1), (2,2), (3,1), (4,1), (4,2);
INSERT INTO base_t VALUES (2), (3), (3);
INSERT INTO base_u VALUES (2,2), (2,3), (3,2), (3,3);
"""
_OJ_DOMAINS = {"base_r": {"i": ["1", "2", "3", "4", "NULL"]},
               "base_s": {"i": ["1", "2", "3", "4", "NULL"], "j": ["1", "2", "3", "NULL"]},
               "base_t": {"j": ["1", "2", "3", "4", "NULL"]},
               "base_u": {"j": ["1", "2", "3", "NULL"], "i": ["1", "2", "3", "NULL"]}}
FIXTURES["oj"] = Fixture(
    "CREATE TABLE base_r (i int); CREATE TABLE base_s (i int, j int); CREATE TABLE base_t (j int);"
    "CREATE TABLE base_u (j int, i int);" + _OJ_SEED,
    _OJ_DOMAINS,
)
_ID = "id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
FIXTURES["oj_id"] = Fixture(
    f"CREATE TABLE base_r (i int, {_ID}); CREATE TABLE base_s (i int, j int, {_ID});"
    f"CREATE TABLE base_t (j int, {_ID}); CREATE TABLE base_u (j int, i int, {_ID});" + _OJ_SEED,
    _OJ_DOMAINS,
)

# The same tables with an identity primary key appended (pg_ivm's INSERT ... VALUES still fill the
# same columns; random DML never writes it): the *_keyed variants select it to have a real key.
FIXTURES["ab_id"] = Fixture(
    FIXTURES["ab"].setup.replace("j int);", f"j int, {_ID});").replace("k int);", f"k int, {_ID});"),
    FIXTURES["ab"].domains,
)
FIXTURES["t_self_id"] = Fixture(FIXTURES["t_self"].setup.replace("v int)", f"v int, {_ID})"), FIXTURES["t_self"].domains)
FIXTURES["rs_id"] = Fixture(FIXTURES["rs"].setup.replace("v int)", f"v int, {_ID})"), FIXTURES["rs"].domains)
FIXTURES["iso_ab_id"] = Fixture(FIXTURES["iso_ab"].setup.replace("j int)", f"j int, {_ID})"),
                                FIXTURES["iso_ab"].domains)

# --------------------------------------------------------------------------------------------
# DML steps, as pg_ivm applies them after creating the view.
# --------------------------------------------------------------------------------------------

MV1_STEPS = (
    # immediate maintenance
    "BEGIN",
    "INSERT INTO mv_base_b VALUES(5,105)",
    "UPDATE mv_base_a SET j = 0 WHERE i = 1",
    "DELETE FROM mv_base_b WHERE (i,k) = (5,105)",
    "ROLLBACK",
    # renaming columns to camel style (the tview's SELECT names them: it cannot be checked meanwhile)
    "BEGIN",
    'ALTER TABLE mv_base_a RENAME i TO "I"',
    'ALTER TABLE mv_base_a RENAME j TO "J"',
    'UPDATE mv_base_a SET "J" = 0 WHERE "I" = 1',
    "ROLLBACK",
    # TRUNCATE a base table in join views
    "BEGIN", "TRUNCATE mv_base_a", "ROLLBACK",
    "BEGIN", "TRUNCATE mv_base_b", "ROLLBACK",
    # prevent IMMV changes: a client's write to the view must fail
    "INSERT INTO {tv} VALUES(1,1,1)",
    "UPDATE {tv} SET k = 1 WHERE i = 1",
    "DELETE FROM {tv}",
    "TRUNCATE {tv}",
)
DUP_STEPS = ("BEGIN", "INSERT INTO mv_base_a VALUES(6,20)", "DELETE FROM mv_base_a WHERE (i,j) = (2,20)", "ROLLBACK")
AGG_STEPS = ("BEGIN", "INSERT INTO mv_base_a VALUES(2,100)", "UPDATE mv_base_a SET j = 200 WHERE (i,j) = (2,100)",
             "DELETE FROM mv_base_a WHERE (i,j) = (2,200)", "ROLLBACK")
AGG_COUNT_STEPS = ("BEGIN", "INSERT INTO mv_base_a VALUES(2,100)", "ROLLBACK",
                   "BEGIN", "TRUNCATE mv_base_a", "ROLLBACK")
GROUP_STEPS = ("BEGIN", "INSERT INTO mv_base_a VALUES(6,60)", "DELETE FROM mv_base_a", "ROLLBACK",
               "BEGIN", "TRUNCATE mv_base_a", "ROLLBACK")
AVG_BUG_STEPS = ("BEGIN", "INSERT INTO mv_base_a VALUES (1,0), (1,0), (2,30), (2,30)",
                 "DELETE FROM mv_base_a WHERE (i,j) = (1,0)", "DELETE FROM mv_base_a WHERE (i,j) = (2,30)", "ROLLBACK")
MINMAX_STEPS = ("BEGIN",
                "INSERT INTO mv_base_a VALUES (1,11), (1,12), (2,21), (2,22), (3,31), (3,32), (4,41), (4,42), (5,51), (5,52)",
                "DELETE FROM mv_base_a WHERE (i,j) IN ((1,10), (2,21), (3,32))", "ROLLBACK")
MINMAX_NOGROUP_STEPS = ("BEGIN", "INSERT INTO mv_base_a VALUES (0,0), (6,60), (7,70)",
                        "DELETE FROM mv_base_a WHERE (i,j) IN ((0,0), (7,70))", "DELETE FROM mv_base_a", "ROLLBACK")
MIN_PATH_STEPS = ("BEGIN",
                  "CREATE SCHEMA {schema}_my",
                  "CREATE TABLE {schema}_my.mv_base_a (j int)",
                  "INSERT INTO {schema}_my.mv_base_a VALUES (1)",
                  "DELETE FROM mv_base_a WHERE (i,j) = (1,10)",
                  "SET LOCAL search_path TO {schema}_my, {schema}, pg_catalog",
                  "DELETE FROM {schema}.mv_base_a WHERE (i,j) = (2,20)",
                  "ROLLBACK")
AGG_ALIAS_STEPS = ("BEGIN", "INSERT INTO mv_base_a VALUES (1,100), (2,200), (3,300)",
                   "UPDATE mv_base_a SET j = 2000 WHERE (i,j) = (2,20)", "DELETE FROM mv_base_a WHERE (i,j) = (3,30)",
                   "ROLLBACK")
SELF_STEPS = (
    "BEGIN",
    "INSERT INTO base_t VALUES (4,40)",
    "DELETE FROM base_t WHERE i = 1",
    "UPDATE base_t SET v = v*10 WHERE i=2",
    "WITH ins_t1 AS (INSERT INTO base_t VALUES (5,50) RETURNING 1), "
    "ins_t2 AS (INSERT INTO base_t VALUES (6,60) RETURNING 1), "
    "upd_t AS (UPDATE base_t SET v = v + 100  RETURNING 1), "
    "dlt_t AS (DELETE FROM base_t WHERE i IN (4,5)  RETURNING 1) SELECT NULL",
    "SAVEPOINT p1",
    "INSERT INTO base_t VALUES (7,70)",
    "RELEASE SAVEPOINT p1",
    "INSERT INTO base_t VALUES (7,77)",
    "ROLLBACK",
)
CTE_MULTI_STEPS = SELF_STEPS[:5] + ("ROLLBACK",)
RS_STEPS = (
    "BEGIN",
    "WITH ins_r AS (INSERT INTO base_r VALUES (1,11) RETURNING 1), "
    "ins_r2 AS (INSERT INTO base_r VALUES (3,33) RETURNING 1), "
    "ins_s AS (INSERT INTO base_s VALUES (2,222) RETURNING 1), "
    "upd_r AS (UPDATE base_r SET v = v + 1000 WHERE i = 2 RETURNING 1), "
    "dlt_s AS (DELETE FROM base_s WHERE i = 3 RETURNING 1) SELECT NULL",
    "ROLLBACK",
)
# the same kind of statement, written so that the old row of each side no longer joins the new
# state of the other (both sides change in one statement)
RS_BOTH_SIDES_STEPS = (
    "BEGIN",
    "WITH d AS (DELETE FROM base_r WHERE i = 1 RETURNING 0), u AS (UPDATE base_s SET i = 5 WHERE i = 1 RETURNING 0) SELECT",
    "ROLLBACK",
)
RI_STEPS = ("BEGIN", "UPDATE ri1 SET i=10 where i=1", "DELETE FROM ri1 WHERE i=2", "ROLLBACK")
EXISTS_STEPS = (
    "BEGIN",
    "INSERT INTO mv_base_a VALUES(1,10),(6,60),(3,30),(3,300)",
    "INSERT INTO mv_base_b VALUES(1,101)",
    "INSERT INTO mv_base_b VALUES(1,111)",
    "INSERT INTO mv_base_b VALUES(2,102)",
    "INSERT INTO mv_base_b VALUES(6,106)",
    "UPDATE mv_base_a SET i = 1 WHERE j =60",
    "UPDATE mv_base_b SET i = 10  WHERE k = 101",
    "UPDATE mv_base_b SET k = 1002 WHERE k = 102",
    "DELETE FROM mv_base_a WHERE (i,j) = (1,60)",
    "DELETE FROM mv_base_b WHERE i = 2",
    # --- EXISTS subquery with tuple duplication and DISTINCT
    "DELETE FROM mv_base_b WHERE i = 1 or i = 3",
    "INSERT INTO mv_base_b VALUES (1,100), (3,300)",
    "ROLLBACK",
)
SUBQ_STEPS = ("BEGIN", "INSERT INTO mv_base_a VALUES(2,20)", "INSERT INTO mv_base_b VALUES(3,300)", "ROLLBACK")
WCTE_STEPS = (
    "BEGIN",
    "WITH ai AS (INSERT INTO mv_base_a VALUES (1,11),(2,22) RETURNING 0), "
    "bi AS (INSERT INTO mv_base_b VALUES (1,111),(3,133) RETURNING 0), "
    "bd AS (DELETE FROM mv_base_b WHERE i = 4 RETURNING 0) SELECT",
    "ROLLBACK",
)
# Views pg_ivm rejects have no steps of their own: they get the richest sequence on the same tables.
AB_DEFAULT_STEPS = EXISTS_STEPS + WCTE_STEPS + DUP_STEPS

OJ_STEPS = (
    "BEGIN", "SAVEPOINT p1",
    "INSERT INTO base_r VALUES (1),(2),(3)", "INSERT INTO base_r VALUES (4),(5)", "ROLLBACK TO p1",
    "INSERT INTO base_s VALUES (1,3)", "INSERT INTO base_s VALUES (2,3)", "ROLLBACK TO p1",
    "INSERT INTO base_t VALUES (1),(2)", "INSERT INTO base_t VALUES (3),(4)", "ROLLBACK TO p1",
    "DELETE FROM base_r WHERE i=1", "DELETE FROM base_r WHERE i=2", "DELETE FROM base_r WHERE i=3", "ROLLBACK TO p1",
    "DELETE FROM base_s WHERE i=2", "DELETE FROM base_s WHERE i=3", "DELETE FROM base_s WHERE i=4", "ROLLBACK TO p1",
    "DELETE FROM base_t WHERE j=2", "DELETE FROM base_t WHERE j=3", "ROLLBACK TO p1",
    # TRUNCATE a base table in views with outer join
    "TRUNCATE base_r", "ROLLBACK TO p1", "TRUNCATE base_s", "ROLLBACK TO p1", "TRUNCATE base_t", "ROLLBACK TO p1",
    "ROLLBACK",
)
OJ_RS_STEPS = tuple(s for s in OJ_STEPS if "base_t" not in s)
OJ_R_STEPS = tuple(s for s in OJ_STEPS if "base_t" not in s and "base_s" not in s)
OJ_CROSS_STEPS = ("BEGIN", "SAVEPOINT p1", "TRUNCATE base_r", "TRUNCATE base_s", "TRUNCATE base_t", "TRUNCATE base_u",
                  "INSERT INTO base_r VALUES (100)", "INSERT INTO base_s VALUES (100)", "INSERT INTO base_t VALUES (1)",
                  "ROLLBACK TO p1", "ROLLBACK")
OJ_NULL_STEPS = ("BEGIN", "INSERT INTO base_s VALUES (1, null),(null, 2)", "DELETE FROM base_s WHERE j IS NULL",
                 "DELETE FROM base_t WHERE j = 2", "INSERT INTO base_t VALUES(2)", "ROLLBACK")
OJ_SIMUL_STEPS = (
    "BEGIN", "SAVEPOINT p1",
    "WITH ri AS (INSERT INTO base_r VALUES (1),(2),(3) RETURNING 0), si AS (INSERT INTO base_s VALUES (1,3) RETURNING 0) SELECT",
    "ROLLBACK TO p1",
    "WITH rd AS (DELETE FROM base_r WHERE i=1 RETURNING 0), sd AS (DELETE FROM base_s WHERE i=2 RETURNING 0) SELECT",
    "ROLLBACK TO p1",
    # multiple change of the same table on outer join
    "WITH ri1 AS (INSERT INTO base_r VALUES (1),(2),(3) RETURNING 0), ri2 AS (INSERT INTO base_r VALUES (4),(5) RETURNING 0), "
    "rd AS (DELETE FROM base_r WHERE i IN (3,4) RETURNING 0) SELECT",
    "ROLLBACK TO p1",
    "ROLLBACK",
)
ISO_A_STEPS = ("INSERT INTO a VALUES (2)", "SELECT tviews.refresh('{schema}', '{tv_name}')", "INSERT INTO a VALUES (2)")
ISO_AB_STEPS = (
    "BEGIN", "UPDATE a SET j = 11 WHERE i = 1", "UPDATE b SET j = 111 WHERE i = 1", "ROLLBACK",
    "INSERT INTO a VALUES (2,20)", "INSERT INTO b VALUES (2,200)",
    "INSERT INTO a VALUES (1,11), (2,21)", "INSERT INTO b VALUES (2,201)",
    "UPDATE a SET j = 11 WHERE i = 1", "UPDATE b SET j = 111 WHERE i = 1",
)

# --------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    id: str                    # unique, used as the pytest id
    origin: str                # where in pg_ivm's suite (file: block)
    construct: str             # what the view exercises, for grouping the report
    fixture: str
    sql: str
    key: tuple[str, ...] | None
    steps: tuple[str, ...] = ()
    pg_ivm: str = "supported"  # what pg_ivm does with it: supported / rejected
    prereq: tuple[tuple[str, str, tuple[str, ...]], ...] = field(default=())  # tviews built first
    extra_tables: tuple[str, ...] = ()  # tables random DML writes besides those the SQL names


V = View
_JOIN = "SELECT i,j,k FROM mv_base_a a INNER JOIN mv_base_b b USING(i)"
_PGIVM = "sql/pg_ivm.sql"
_OJ = "sql/outer_join.sql"

VIEWS: list[View] = [
    # ---------------------------------------------------------------- sql/pg_ivm.sql
    V("mv_ivm_1", f"{_PGIVM}: immediate maintenance / rename / TRUNCATE / prevent changes", "inner join (no key)",
      "ab", _JOIN, ("i", "j", "k"), MV1_STEPS),
    V("mv_ivm_func", f"{_PGIVM}: some query syntax", "function in FROM, no table", "ab_objects",
      "SELECT * FROM ivm_func()", ("ivm_func",), SUBQ_STEPS),
    V("mv_ivm_no_tbl", f"{_PGIVM}: some query syntax", "no table", "ab", "SELECT 1", ("?column?",), SUBQ_STEPS),
    V("mv_ivm_duplicate", f"{_PGIVM}: DISTINCT clause or the duplicate result", "duplicate rows (no key)", "ab",
      "SELECT j FROM mv_base_a", ("j",), DUP_STEPS),
    V("mv_ivm_distinct", f"{_PGIVM}: DISTINCT clause or the duplicate result", "DISTINCT", "ab",
      "SELECT DISTINCT j FROM mv_base_a", ("j",), DUP_STEPS),
    V("mv_ivm_agg", f"{_PGIVM}: SUM(), COUNT() and AVG()", "GROUP BY aggregates", "ab",
      "SELECT i, SUM(j), COUNT(i), AVG(j) FROM mv_base_a GROUP BY i", ("i",), AGG_STEPS),
    V("mv_ivm_agg_count_star", f"{_PGIVM}: COUNT(*) / TRUNCATE in aggregate views", "GROUP BY aggregates", "ab",
      "SELECT i, SUM(j), COUNT(*) FROM mv_base_a GROUP BY i", ("i",), AGG_COUNT_STEPS),
    V("mv_ivm_group", f"{_PGIVM}: aggregate functions without GROUP clause", "aggregate without GROUP BY", "ab",
      "SELECT SUM(j), COUNT(j), AVG(j) FROM mv_base_a", ("count",), GROUP_STEPS),
    V("mv_ivm_avg_bug", f"{_PGIVM}: AVG() of indivisible values", "GROUP BY aggregates", "ab",
      "SELECT i, SUM(j), COUNT(j), AVG(j) FROM mv_base_A GROUP BY i", ("i",), AVG_BUG_STEPS),
    V("mv_ivm_min_max", f"{_PGIVM}: MIN(), MAX()", "GROUP BY aggregates", "ab",
      "SELECT i, MIN(j) AS min_j, MAX(j) AS max_j FROM mv_base_a GROUP BY i", ("i",), MINMAX_STEPS),
    V("mv_ivm_min_max_nogroup", f"{_PGIVM}: MIN(), MAX() without GROUP clause", "aggregate without GROUP BY", "ab",
      "SELECT MIN(j) AS min_j, MAX(j) AS max_j FROM mv_base_a", ("min_j",), MINMAX_NOGROUP_STEPS),
    V("mv_ivm_min_search_path", f"{_PGIVM}: MIN/MAX after search_path change", "aggregate without GROUP BY", "ab",
      "SELECT MIN(j) FROM mv_base_a", ("min",), MIN_PATH_STEPS),
    V("mv_ivm_agg_a", f"{_PGIVM}: aggregate views with column names specified (a)", "GROUP BY aggregates", "ab",
      "SELECT i AS a, SUM(j) FROM mv_base_a GROUP BY i", ("a",), AGG_ALIAS_STEPS),
    V("mv_ivm_agg_ab", f"{_PGIVM}: aggregate views with column names specified (a,b)", "GROUP BY aggregates", "ab",
      "SELECT i AS a, SUM(j) AS b FROM mv_base_a GROUP BY i", ("a",), AGG_ALIAS_STEPS),
    V("mv_self", f"{_PGIVM}: self join and multiple change on the same table", "self-join (no key)", "t_self",
      "SELECT t1.v AS v1, t2.v AS v2 FROM base_t AS t1 JOIN base_t AS t2 ON t1.i = t2.i", ("v1", "v2"), SELF_STEPS),
    V("mv_simultaneous", f"{_PGIVM}: simultaneous table changes", "inner join (no key)", "rs",
      "SELECT r.v AS v1, s.v AS v2 FROM base_r AS r JOIN base_s AS s USING(i)", ("v1", "v2"), RS_STEPS),
    V("mv_ri", f"{_PGIVM}: foreign reference constraints", "inner join on primary keys, FK cascades", "ri",
      "SELECT ri1.i AS i1, ri2.i AS i2 FROM ri1 JOIN ri2 USING(i)", ("i1",), RI_STEPS),
    V("mv_ivm_exists_subquery", f"{_PGIVM}: subquery using EXISTS()", "EXISTS subquery (no key)", "ab",
      "SELECT a.i, a.j FROM mv_base_a a WHERE EXISTS(SELECT 1 FROM mv_base_b b WHERE a.i = b.i)", ("i", "j"),
      EXISTS_STEPS),
    V("mv_ivm_exists_subquery2", f"{_PGIVM}: subquery using EXISTS()", "EXISTS subquery (no key)", "ab",
      "SELECT a.i,a.j FROM mv_base_a a WHERE EXISTS(SELECT 1 FROM mv_base_b b WHERE a.i = b.i) AND a.i > 2",
      ("i", "j"), EXISTS_STEPS),
    V("mv_ivm_exists_subquery_distinct", f"{_PGIVM}: EXISTS subquery with tuple duplication and DISTINCT",
      "DISTINCT", "ab",
      "SELECT DISTINCT a.i, a.j FROM mv_base_a a WHERE EXISTS(SELECT 1 FROM mv_base_b b WHERE a.i = b.i)",
      ("i", "j"), EXISTS_STEPS),
    V("mv_ivm_subquery", f"{_PGIVM}: simple subquery in FROM clause", "derived table (no key)", "ab",
      "SELECT a.i,a.j FROM mv_base_a a,( SELECT * FROM mv_base_b) b WHERE a.i = b.i", ("i", "j"), SUBQ_STEPS),
    # disallow non-simple subqueries (pg_ivm rejects them all)
    V("subq_group_by", f"{_PGIVM}: disallow non-simple subqueries", "derived table with GROUP BY", "ab",
      "SELECT a.i,a.j FROM mv_base_a a, (SELECT i, COUNT(*) FROM mv_base_b GROUP BY i) b WHERE a.i = b.i",
      ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("subq_distinct", f"{_PGIVM}: disallow non-simple subqueries", "derived table with DISTINCT", "ab",
      "SELECT a.i,a.j FROM mv_base_a a, (SELECT DISTINCT i FROM mv_base_b) b WHERE a.i = b.i",
      ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("subq_in", f"{_PGIVM}: disallow non-simple subqueries / mv_ivm05", "IN subquery", "ab",
      "SELECT i,j FROM mv_base_a WHERE i IN (SELECT i FROM mv_base_b WHERE k < 103 )",
      ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("subq_scalar_limit", f"{_PGIVM}: disallow non-simple subqueries", "uncorrelated scalar subquery with LIMIT",
      "ab", "SELECT i,j, (SELECT k FROM mv_base_b LIMIT 1) FROM mv_base_a a",
      ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("subq_scalar_limit_expr", f"{_PGIVM}: disallow non-simple subqueries",
      "uncorrelated scalar subquery with LIMIT", "ab",
      "SELECT i,j, (SELECT k FROM mv_base_b LIMIT 1) + 1 FROM mv_base_a a",
      ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("subq_srf_arg", f"{_PGIVM}: disallow non-simple subqueries", "set-returning function over a subquery",
      "ab", "SELECT * FROM generate_series(1, (SELECT k FROM mv_base_b LIMIT 1)) AS v",
      ("v",), AB_DEFAULT_STEPS, "rejected"),
    V("subq_exists_no_key_col", f"{_PGIVM}: disallow non-simple subqueries / mv_ivm32", "EXISTS subquery (no key)",
      "ab", "SELECT a.j FROM mv_base_a a WHERE EXISTS(SELECT 1 FROM mv_base_b b WHERE a.i = b.i)",
      ("j",), AB_DEFAULT_STEPS, "rejected"),
    V("subq_exists_or", f"{_PGIVM}: disallow non-simple subqueries", "EXISTS under OR", "ab",
      "SELECT a.i,a.j FROM mv_base_a a WHERE EXISTS(SELECT 1 FROM mv_base_b b WHERE a.i = b.i) OR a.i > 2",
      ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("subq_exists_nested", f"{_PGIVM}: disallow non-simple subqueries", "nested EXISTS", "ab",
      "SELECT a.j FROM mv_base_a a WHERE EXISTS(SELECT 1 FROM mv_base_a a2 WHERE EXISTS("
      "SELECT 1 FROM mv_base_b b WHERE a2.i = b.i))", ("j",), AB_DEFAULT_STEPS, "rejected"),
    V("subq_exists_in_select", f"{_PGIVM}: disallow non-simple subqueries", "EXISTS in the select list", "ab",
      "SELECT EXISTS(SELECT 1 from mv_base_b) FROM mv_base_a a", ("exists",), AB_DEFAULT_STEPS, "rejected"),
    V("subq_or_exists_in_select", f"{_PGIVM}: disallow non-simple subqueries", "EXISTS in the select list", "ab",
      "SELECT false OR EXISTS(SELECT 1 FROM mv_base_a) FROM mv_base_b", ("?column?",), AB_DEFAULT_STEPS,
      "rejected"),
    V("subq_srf_case_exists", f"{_PGIVM}: disallow non-simple subqueries", "set-returning function over a subquery",
      "ab", "SELECT * FROM generate_series(1, CASE EXISTS(SELECT 1 FROM mv_base_a) WHEN true THEN 100 ELSE 10 END), "
      "mv_base_b", ("generate_series", "i", "k"), AB_DEFAULT_STEPS, "rejected"),
    V("subq_case_exists", f"{_PGIVM}: disallow non-simple subqueries", "EXISTS inside CASE", "ab",
      "SELECT * FROM mv_base_a a WHERE CASE EXISTS(SELECT 1 FROM mv_base_b b WHERE a.i = b.i) "
      "WHEN true THEN false ELSE true END", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("subq_true_and_case_exists", f"{_PGIVM}: disallow non-simple subqueries", "EXISTS inside CASE", "ab",
      "SELECT * FROM mv_base_a a WHERE true and CASE EXISTS(SELECT 1 FROM mv_base_b b WHERE a.i = b.i) "
      "WHEN true THEN false ELSE true END", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm_join_subquery", f"{_PGIVM}: join subquery in FROM clause", "derived table (no key)", "ab",
      "SELECT i, j, k FROM ( SELECT i, a.j, b.k FROM mv_base_b b INNER JOIN mv_base_a a USING(i)) tmp",
      ("i", "j", "k"), WCTE_STEPS),
    V("mv_ivm_join_subquery_nested", f"{_PGIVM}: nested subquery", "derived table (no key)", "ab",
      "SELECT i, j, k FROM ( SELECT i, a.j, b.k FROM mv_base_b b INNER JOIN (SELECT * FROM mv_base_a) a USING(i)) tmp",
      ("i", "j", "k"), WCTE_STEPS),
    V("mv_cte_1", f"{_PGIVM}: simple CTE", "CTE (no key)", "ab",
      "WITH b AS ( SELECT * FROM mv_base_b) SELECT a.i,a.j FROM mv_base_a a, b WHERE a.i = b.i", ("i", "j"),
      SUBQ_STEPS),
    V("mv_cte_2", f"{_PGIVM}: simple CTE", "CTE (no key)", "ab",
      "WITH a AS (SELECT * FROM mv_base_a), b AS ( SELECT * FROM mv_base_b) SELECT a.i,a.j FROM a, b WHERE a.i = b.i",
      ("i", "j"), SUBQ_STEPS),
    V("mv_cte_3", f"{_PGIVM}: simple CTE", "CTE (no key)", "ab",
      "WITH b AS ( SELECT * FROM mv_base_b) SELECT v.i,v.j FROM (WITH a AS (SELECT * FROM mv_base_a) "
      "SELECT a.i,a.j FROM a, b WHERE a.i = b.i) v", ("i", "j"), SUBQ_STEPS),
    V("mv_cte_4", f"{_PGIVM}: simple CTE", "CTE (no key)", "ab",
      "SELECT * FROM (WITH a AS (SELECT * FROM mv_base_a), b AS ( SELECT * FROM mv_base_b) "
      "SELECT a.i,a.j FROM a, b WHERE a.i = b.i) v", ("i", "j"), SUBQ_STEPS),
    V("mv_cte_5", f"{_PGIVM}: simple CTE", "CTE (no key)", "ab",
      "WITH b AS ( SELECT * FROM (SELECT * FROM mv_base_b) b2) SELECT v.i,v.j FROM (WITH a AS "
      "(SELECT * FROM mv_base_a) SELECT a.i,a.j FROM a, b WHERE a.i = b.i) v", ("i", "j"), SUBQ_STEPS),
    V("mv_cte_6", f"{_PGIVM}: simple CTE", "CTE (no key)", "ab",
      "WITH x AS ( SELECT i, a.j, b.k FROM mv_base_b b INNER JOIN mv_base_a a USING(i)) SELECT * FROM x",
      ("i", "j", "k"), WCTE_STEPS),
    V("mv_ivm_nested_cte", f"{_PGIVM}: nested CTE", "CTE (no key)", "ab",
      "WITH v AS ( WITH a AS (SELECT * FROM mv_base_a) SELECT i, a.j, b.k FROM mv_base_b b INNER JOIN a USING(i)) "
      "SELECT * FROM v", ("i", "j", "k"), WCTE_STEPS),
    V("mv_cte_multi", f"{_PGIVM}: Multiply-referenced CTE", "self-join (no key)", "t_self",
      "WITH t AS (SELECT * FROM base_t) SELECT t1.v AS v1, t2.v AS v2 FROM t AS t1 JOIN t AS t2 ON t1.i = t2.i",
      ("v1", "v2"), CTE_MULTI_STEPS),
    V("mv_cte_fail_group_by", f"{_PGIVM}: disallow not-simple CTE", "CTE with GROUP BY", "ab",
      "WITH b AS (SELECT i, COUNT(*) FROM mv_base_b GROUP BY i) SELECT a.i,a.j FROM mv_base_a a, b WHERE a.i = b.i",
      ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_cte_fail_distinct", f"{_PGIVM}: disallow not-simple CTE", "CTE with DISTINCT", "ab",
      "WITH b AS (SELECT DISTINCT i FROM mv_base_b) SELECT a.i,a.j FROM mv_base_a a, b WHERE a.i = b.i",
      ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_cte_fail_exists", f"{_PGIVM}: disallow not-simple CTE", "CTE inside EXISTS", "ab",
      "WITH a AS (SELECT i, j FROM mv_base_a) SELECT a.i,a.j FROM a WHERE EXISTS(WITH b AS "
      "(SELECT i FROM mv_base_b) SELECT 1 FROM b WHERE a.i = b.i)", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_cte_fail_unreferenced", f"{_PGIVM}: unreferenced CTE", "unreferenced CTE", "ab",
      "WITH b AS (SELECT * FROM mv_base_b) SELECT * FROM mv_base_a a", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_null_1", f"{_PGIVM}: views including NULL (1)", "NULL values", "t_null1",
      "SELECT * FROM base_t", ("i",), ("BEGIN", "UPDATE base_t SET v = 20 WHERE i = 2", "ROLLBACK")),
    V("mv_null_2", f"{_PGIVM}: views including NULL (2)", "NULL values", "t_null2",
      "SELECT * FROM base_t", ("i",), ("BEGIN", "INSERT INTO base_t VALUES (1),(NULL)", "ROLLBACK")),
    V("mv_null_3", f"{_PGIVM}: views including NULL (3)", "GROUP BY with a NULL group", "t_null3",
      "SELECT i, sum(v) FROM base_t GROUP BY i", ("i",), ("BEGIN", "UPDATE base_t SET v = v * 10", "ROLLBACK")),
    V("mv_null_4", f"{_PGIVM}: views including NULL (4)", "GROUP BY with a NULL group", "t_null4",
      "SELECT i, min(v), max(v) FROM base_t GROUP BY i", ("i",),
      ("BEGIN", "DELETE FROM base_t WHERE v = 1", "DELETE FROM base_t WHERE v = 3", "DELETE FROM base_t WHERE v = 5",
       "ROLLBACK")),
    V("mv_mytype", f"{_PGIVM}: IMMV containing user defined type", "user-defined type", "mytype",
      "SELECT * FROM t_mytype", ("x",), ("BEGIN", "INSERT INTO t_mytype VALUES ('1'::mytype)", "ROLLBACK")),
    V("mv_ivm01", f"{_PGIVM}: contain system column", "system column xmin", "ab",
      "SELECT i,j,xmin FROM mv_base_a", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm02", f"{_PGIVM}: contain system column", "system column xmin", "ab",
      "SELECT i,j FROM mv_base_a WHERE xmin = '610'", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm03", f"{_PGIVM}: contain system column", "system column xmin", "ab",
      "SELECT i,j,xmin::text AS x_min FROM mv_base_a", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm04", f"{_PGIVM}: contain system column", "system column xmin", "ab",
      "SELECT i,j,xidsend(xmin) AS x_min FROM mv_base_a", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm05_correlated", f"{_PGIVM}: targetlist contains subquery", "correlated scalar subquery", "ab",
      "SELECT i,j, (SELECT k FROM mv_base_b b WHERE a.i = b.i) FROM mv_base_a a", ("i", "j"), AB_DEFAULT_STEPS,
      "rejected"),
    V("mv_ivm07", f"{_PGIVM}: contain ORDER BY", "ORDER BY", "ab",
      "SELECT i,j,k FROM mv_base_a a INNER JOIN mv_base_b b USING(i) ORDER BY i,j,k", ("i", "j", "k"),
      AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm08_having", f"{_PGIVM}: contain HAVING", "GROUP BY ... HAVING", "ab",
      "SELECT i,j,k FROM mv_base_a a INNER JOIN mv_base_b b USING(i) GROUP BY i,j,k HAVING SUM(i) > 5",
      ("i", "j", "k"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm08_group_no_agg", f"{_PGIVM}: GROUP BY without aggregate", "GROUP BY without aggregate", "ab",
      "SELECT i,j FROM mv_base_a GROUP BY i,j", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm07_view", f"{_PGIVM}: contain view", "view as source", "ab_objects",
      "SELECT a.i,a.j FROM mv_base_a a,b_view b WHERE a.i = b.i", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm08_mview", f"{_PGIVM}: contain materialized view", "materialized view as source", "ab_objects",
      "SELECT a.i,a.j FROM mv_base_a a,b_mview b WHERE a.i = b.i", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm12", f"{_PGIVM}: contain mutable functions", "volatile function", "ab",
      "SELECT i,j FROM mv_base_a WHERE i = random()::int", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm13", f"{_PGIVM}: LIMIT/OFFSET", "LIMIT / OFFSET", "ab",
      "SELECT i,j FROM mv_base_a LIMIT 10 OFFSET 5", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm14", f"{_PGIVM}: DISTINCT ON", "DISTINCT ON without ORDER BY", "ab",
      "SELECT DISTINCT ON(i) i, j FROM mv_base_a", ("i",), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm15", f"{_PGIVM}: TABLESAMPLE", "TABLESAMPLE", "ab",
      "SELECT i, j FROM mv_base_a TABLESAMPLE SYSTEM(50)", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm16", f"{_PGIVM}: window functions", "window function without PARTITION BY", "ab",
      "SELECT i, j FROM (SELECT *, cume_dist() OVER (ORDER BY i) AS rank FROM mv_base_a) AS t", ("i", "j"),
      AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm17", f"{_PGIVM}: aggregate with FILTER", "aggregate without GROUP BY", "ab",
      "SELECT COUNT(*) FILTER(WHERE i < 3) FROM mv_base_a", ("count",), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm18", f"{_PGIVM}: COUNT(DISTINCT)", "aggregate without GROUP BY", "ab",
      "SELECT COUNT(DISTINCT i)  FROM mv_base_a", ("count",), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm19", f"{_PGIVM}: aggregate with ORDER BY", "aggregate without GROUP BY", "ab",
      "SELECT array_agg(j ORDER BY i DESC) FROM mv_base_a", ("array_agg",), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm20", f"{_PGIVM}: GROUPING SETS", "GROUPING SETS", "ab",
      "SELECT i,SUM(j) FROM mv_base_a GROUP BY GROUPING SETS((i),())", ("i",), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm21", f"{_PGIVM}: inheritance parent", "inheritance parent", "inherit",
      "SELECT * FROM parent", ("i", "v"),
      ("BEGIN", "INSERT INTO child_a VALUES (3, 30, 'c')", "UPDATE parent SET v = 31 WHERE i = 3",
       "DELETE FROM child_a", "ROLLBACK"), "rejected", extra_tables=("child_a",)),
    V("mv_ivm22", f"{_PGIVM}: UNION", "UNION ALL", "ab",
      "SELECT i,j FROM mv_base_a UNION ALL SELECT i,k FROM mv_base_b", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm23", f"{_PGIVM}: DISTINCT clause in nested query", "derived table with DISTINCT", "ab",
      "SELECT * FROM (SELECT DISTINCT i,j FROM mv_base_a) AS tmp", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm25", f"{_PGIVM}: empty target list", "empty select list", "ab",
      "SELECT FROM mv_base_a", None, AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm26", f"{_PGIVM}: FOR UPDATE", "FOR UPDATE", "ab",
      "SELECT i,j FROM mv_base_a FOR UPDATE", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm27", f"{_PGIVM}: FOR UPDATE in a subquery", "FOR UPDATE", "ab",
      "SELECT * FROM (SELECT i,j FROM mv_base_a FOR UPDATE) AS tmp", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm28", f"{_PGIVM}: column named __ivm_count__", "reserved column name", "ab",
      'SELECT i AS "__ivm_count__" FROM mv_base_a', ("__ivm_count__",), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm29", f"{_PGIVM}: GROUP BY expression not in target list", "GROUP BY key not in the select list", "ab",
      "SELECT COUNT(i) FROM mv_base_a GROUP BY i", ("count",), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm30", f"{_PGIVM}: expression containing an aggregate", "aggregate without GROUP BY", "ab",
      "SELECT sum(i)*0.5 FROM mv_base_a", ("?column?",), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm31", f"{_PGIVM}: expression containing an aggregate", "aggregate without GROUP BY", "ab",
      "SELECT sum(i)/sum(j) FROM mv_base_a", ("?column?",), AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm_only_values1", f"{_PGIVM}: VALUES", "VALUES", "ab", "values(1)", ("column1",), SUBQ_STEPS, "rejected"),
    V("mv_ivm_only_values2", f"{_PGIVM}: VALUES", "VALUES", "ab",
      "SELECT * FROM (values(1)) AS tmp", ("column1",), SUBQ_STEPS, "rejected"),
    V("ivm_rls", f"{_PGIVM}: base tables with Row Level Security", "row level security", "rls",
      "SELECT * FROM rls_tbl", ("id",),
      ("INSERT INTO rls_tbl VALUES (3,'baz','regress_ivm_user'), (4,'qux','postgres')",
       "WITH i AS (INSERT INTO rls_tbl VALUES(5,'quux','postgres'), (6,'corge','regress_ivm_user')), "
       "u AS (UPDATE rls_tbl SET owner = 'postgres' WHERE id = 1), "
       "u2 AS (UPDATE rls_tbl SET owner = 'regress_ivm_user' WHERE id = 2) SELECT")),
    V("ivm_rls2", f"{_PGIVM}: base tables with Row Level Security", "row level security", "rls",
      "SELECT * FROM rls_tbl JOIN num_tbl USING(id)", ("id",),
      ("INSERT INTO rls_tbl VALUES (3,'baz','regress_ivm_user'), (4,'qux','postgres')",
       "WITH x AS (UPDATE rls_tbl SET data = data || '_2' where id in (3,4)), "
       "y AS (UPDATE num_tbl SET num = num || '_2' where id in (3,4)) SELECT")),
    V("mv_update_same", f"{_PGIVM}: trigger updating the same table", "source with a row trigger writing itself",
      "trig", "SELECT * FROM tbl_update_same", ("i",), ("BEGIN", "INSERT INTO tbl_update_same VALUES (1)",
                                                        "ROLLBACK")),
    V("mv_self_ref", f"{_PGIVM}: self-referential FKs", "self-referencing FK with ON UPDATE CASCADE", "trig",
      "SELECT * FROM tbl_self_ref", ("a",), ("BEGIN", "UPDATE tbl_self_ref set a = a + 10", "ROLLBACK")),
    V("mv_idx1", f"{_PGIVM}: automatic index creation (group by)", "GROUP BY aggregates", "idx",
      "SELECT i, sum(j) FROM base_a GROUP BY i", ("i",)),
    V("mv_idx2", f"{_PGIVM}: automatic index creation (distinct)", "DISTINCT", "idx",
      "SELECT DISTINCT j FROM base_a", ("j",)),
    V("mv_idx3", f"{_PGIVM}: automatic index creation (all pkey columns)", "cross join on primary keys", "idx",
      "SELECT a.i AS i_a, b.i AS i_b FROM base_a a, base_b b", ("i_a", "i_b")),
    V("mv_idx4", f"{_PGIVM}: automatic index creation (missing pkey columns)", "duplicate rows (no key)", "idx",
      "SELECT j FROM base_a", ("j",)),
    V("mv_idx5", f"{_PGIVM}: automatic index creation (missing pkey columns)", "cross join (no key)", "idx",
      "SELECT a.i, b.j FROM base_a a, base_b b", ("i", "j")),
    V("mv_idx6", f"{_PGIVM}: automatic index creation (subqueries)", "cross join on primary keys", "idx",
      "SELECT a.i AS i_a, b.i AS i_b FROM (SELECT * FROM base_a) a, (SELECT * FROM base_b) b", ("i_a", "i_b")),
    V("mv_idx7", f"{_PGIVM}: automatic index creation (set-returning function)", "set-returning function in FROM",
      "idx", "SELECT i FROM base_a, generate_series(1,10)", ("i",)),
    V("mv_json", f"{_PGIVM}: type without a btree operator class", "column type without equality", "json",
      "SELECT * from table_json", ("j",), ("BEGIN", "INSERT INTO table_json VALUES ('1'), ('2')", "ROLLBACK")),
    # ---------------------------------------------------------------- sql/create_immv.sql
    V("ci_mv", "sql/create_immv.sql: mv", "plain table", "t100", "SELECT * FROM t", ("i",)),
    V("ci_mv2", "sql/create_immv.sql: mv2(x)", "WHERE filter", "t100", "SELECT i AS x FROM t WHERE i%2 = 0", ("x",)),
    V("ci_mv3", "sql/create_immv.sql: mv3", "data-modifying CTE", "t100",
      "WITH d AS (DELETE FROM t RETURNING NULL) SELECT * FROM t", ("i",), (), "rejected"),
    V("ci_mv_in_immv01", "sql/create_immv.sql: contain immv", "tview on a tview", "t100",
      "SELECT i FROM mv", ("i",), (), "rejected", (("mv", "SELECT * FROM t", ("i",)),)),
    V("ci_mv_in_immv02", "sql/create_immv.sql: contain immv", "tview on a tview", "t100",
      "SELECT t.i FROM t INNER JOIN mv2 ON t.i = mv2.x", ("i",), (), "rejected",
      (("mv2", "SELECT i AS x FROM t WHERE i%2 = 0", ("x",)),)),
    V("ci_create", "sql/create_immv.sql: SQL other than SELECT", "not a SELECT", "t100",
      "CREATE TABLE in_create(i int)", ("i",), (), "rejected"),
    V("ci_insert", "sql/create_immv.sql: SQL other than SELECT", "not a SELECT", "t100",
      "INSERT INTO t VALUES(10)", ("i",), (), "rejected"),
    V("ci_update", "sql/create_immv.sql: SQL other than SELECT", "not a SELECT", "t100",
      "UPDATE t SET i = 10", ("i",), (), "rejected"),
    V("ci_delete", "sql/create_immv.sql: SQL other than SELECT", "not a SELECT", "t100",
      "DELETE FROM t", ("i",), (), "rejected"),
    V("ci_drop", "sql/create_immv.sql: SQL other than SELECT", "not a SELECT", "t100",
      "DROP TABLE t", ("i",), (), "rejected"),
    # ---------------------------------------------------------------- sql/refresh_immv.sql
    V("refresh_mv", "sql/refresh_immv.sql: mv", "plain table, refresh", "t5", "SELECT * FROM t", ("i",),
      ("SELECT tviews.refresh('{schema}', '{tv_name}')", "INSERT INTO t VALUES(6)", "INSERT INTO t VALUES(7)",
       "SELECT tviews.refresh('{schema}', '{tv_name}')", "INSERT INTO t VALUES(8)")),
    # ---------------------------------------------------------------- specs/*.spec (sequentially)
    V("spec_create_insert", "specs/create_insert*.spec, refresh_insert*.spec", "self-join (no key)", "iso_a",
      "SELECT a1.i AS x, a2.i AS y FROM a a1, a a2 WHERE a1.i = a2.i", ("x", "y"), ISO_A_STEPS),
    V("spec_insert_insert", "specs/insert_insert*.spec", "self-join (no key)", "iso_ab",
      "SELECT a1.j AS x, a2.j AS y, b.j AS z FROM a AS a1, a AS a2,b WHERE a1.i = a2.i AND a1.i = b.i",
      ("x", "y", "z"), ISO_AB_STEPS),
]

# ---------------------------------------------------------------- sql/outer_join.sql
_COLS4 = "r.i AS r, s.i AS si, s.j AS sj, t.j AS t"
_KEY3 = "coalesce(r.id, -1) AS rid, coalesce(s.id, -1) AS sid, coalesce(t.id, -1) AS tid"
_OJ3 = [  # (id, join text, steps)
    ("full_full", "base_r AS r FULL JOIN base_s AS s ON r.i=s.i FULL JOIN base_t AS t ON s.j=t.j"),
    ("full_left", "base_r AS r FULL JOIN base_s AS s ON r.i=s.i LEFT JOIN base_t AS t ON s.j=t.j"),
    ("full_right", "base_r AS r FULL JOIN base_s AS s ON r.i=s.i RIGHT JOIN base_t AS t ON s.j=t.j"),
    ("full_inner", "base_r AS r FULL JOIN base_s AS s ON r.i=s.i INNER JOIN base_t AS t ON s.j=t.j"),
    ("left_full", "base_r AS r LEFT JOIN base_s AS s ON r.i=s.i FULL JOIN base_t AS t ON s.j=t.j"),
    ("left_left", "base_r AS r LEFT JOIN base_s AS s ON r.i=s.i LEFT JOIN base_t AS t ON s.j=t.j"),
    ("left_right", "base_r AS r LEFT JOIN base_s AS s ON r.i=s.i RIGHT JOIN base_t AS t ON s.j=t.j"),
    ("left_inner", "base_r AS r LEFT JOIN base_s AS s ON r.i=s.i INNER JOIN base_t AS t ON s.j=t.j"),
    ("right_full", "base_r AS r RIGHT JOIN base_s AS s ON r.i=s.i FULL JOIN base_t AS t ON s.j=t.j"),
    ("right_left", "base_r AS r RIGHT JOIN base_s AS s ON r.i=s.i LEFT JOIN base_t AS t ON s.j=t.j"),
    ("right_right", "base_r AS r RIGHT JOIN base_s AS s ON r.i=s.i RIGHT JOIN base_t AS t ON s.j=t.j"),
    ("right_inner", "base_r AS r RIGHT JOIN base_s AS s ON r.i=s.i INNER JOIN base_t AS t ON s.j=t.j"),
    ("inner_full", "base_r AS r INNER JOIN base_s AS s ON r.i=s.i FULL JOIN base_t AS t ON s.j=t.j"),
    ("inner_left", "base_r AS r INNER JOIN base_s AS s ON r.i=s.i LEFT JOIN base_t AS t ON s.j=t.j"),
    ("inner_right", "base_r AS r INNER JOIN base_s AS s ON r.i=s.i RIGHT JOIN base_t AS t ON s.j=t.j"),
]
for _name, _from in _OJ3:
    _construct = "outer join: " + _name.replace("_", " & ")
    VIEWS.append(V(f"oj_{_name}", f"{_OJ}: 3-way outer join ({_name.replace('_', ' & ')})", _construct, "oj",
                   f"SELECT {_COLS4} FROM {_from}", ("r", "si", "sj", "t"), OJ_STEPS))
    VIEWS.append(V(f"oj_{_name}_keyed", f"{_OJ}: 3-way outer join ({_name.replace('_', ' & ')}), keyed",
                   _construct, "oj_id", f"SELECT {_KEY3}, {_COLS4} FROM {_from}", ("rid", "sid", "tid"), OJ_STEPS))
_FF = "base_r AS r FULL JOIN base_s AS s ON r.i=s.i FULL JOIN base_t AS t ON s.j=t.j"
_FROM4 = ("(base_r AS r FULL JOIN base_s AS s ON r.i=s.i) FULL JOIN (base_t AS t FULL JOIN base_u AS u "
          "ON t.j=u.j) ON r.i=u.i")
_CROSS = ("(base_r r LEFT JOIN (base_s s CROSS JOIN (base_t t FULL JOIN base_u u ON ((t.j = u.j)))) "
          "ON ((r.i = s.i)))")
_RS = "base_r AS r FULL JOIN base_s AS s ON r.i=s.i"
VIEWS += [
    V("oj_distinct", f"{_OJ}: 3-way outer join (full & full) with DISTINCT", "outer join + DISTINCT", "oj",
      f"SELECT DISTINCT {_COLS4} FROM {_FF}", ("r", "si", "sj", "t"), OJ_STEPS),
    V("oj_distinct_keyed", f"{_OJ}: 3-way outer join (full & full) with DISTINCT, keyed", "outer join + DISTINCT",
      "oj_id", f"SELECT DISTINCT {_KEY3}, {_COLS4} FROM {_FF}", ("rid", "sid", "tid"), OJ_STEPS),
    V("oj_4way", f"{_OJ}: 4-way outer join (full & full)", "outer join: 4-way full", "oj",
      f"SELECT {_COLS4}, u.i AS ui, u.j AS uj FROM {_FROM4}", ("r", "si", "sj", "t", "ui", "uj"), OJ_STEPS),
    V("oj_4way_keyed", f"{_OJ}: 4-way outer join (full & full), keyed", "outer join: 4-way full", "oj_id",
      f"SELECT {_KEY3}, coalesce(u.id, -1) AS uid, {_COLS4}, u.i AS ui, u.j AS uj FROM {_FROM4}",
      ("rid", "sid", "tid", "uid"), OJ_STEPS),
    V("oj_where", f"{_OJ}: outer join with WHERE clause", "outer join + WHERE", "oj",
      f"SELECT r.i AS r, s.i AS s FROM {_RS} WHERE s.i > 0", ("r", "s"), OJ_RS_STEPS),
    V("oj_where_keyed", f"{_OJ}: outer join with WHERE clause, keyed", "outer join + WHERE", "oj_id",
      f"SELECT coalesce(r.id, -1) AS rid, coalesce(s.id, -1) AS sid, r.i AS r, s.i AS s FROM {_RS} WHERE s.i > 0",
      ("rid", "sid"), OJ_RS_STEPS),
    V("oj_self", f"{_OJ}: self outer join", "outer join: self full join", "oj",
      "SELECT r.i AS r1, r2.i AS r2 FROM base_r AS r FULL JOIN base_r as r2 ON r.i=r2.i", ("r1", "r2"), OJ_R_STEPS),
    V("oj_self_keyed", f"{_OJ}: self outer join, keyed", "outer join: self full join", "oj_id",
      "SELECT coalesce(r.id, -1) AS rid1, coalesce(r2.id, -1) AS rid2, r.i AS r1, r2.i AS r2 "
      "FROM base_r AS r FULL JOIN base_r as r2 ON r.i=r2.i", ("rid1", "rid2"), OJ_R_STEPS),
    V("oj_cross", f"{_OJ}: with cross join", "outer join + cross join", "oj",
      f"SELECT r.i AS r, s.i AS s, t.j AS t, u.j AS u FROM {_CROSS}", ("r", "s", "t", "u"), OJ_CROSS_STEPS),
    V("oj_cross_keyed", f"{_OJ}: with cross join, keyed", "outer join + cross join", "oj_id",
      f"SELECT {_KEY3}, coalesce(u.id, -1) AS uid, r.i AS r, s.i AS s, t.j AS t, u.j AS u FROM {_CROSS}",
      ("rid", "sid", "tid", "uid"), OJ_CROSS_STEPS),
    V("oj_null_keys", f"{_OJ}: with null on join key columns", "outer join: NULL join keys", "oj",
      f"SELECT r.i AS ri, s.i AS si, s.j AS sj, t.j AS tj FROM {_FF}", ("ri", "si", "sj", "tj"), OJ_NULL_STEPS),
    V("oj_null_keys_keyed", f"{_OJ}: with null on join key columns, keyed", "outer join: NULL join keys", "oj_id",
      f"SELECT {_KEY3}, r.i AS ri, s.i AS si, s.j AS sj, t.j AS tj FROM {_FF}", ("rid", "sid", "tid"),
      OJ_NULL_STEPS),
    V("oj_simultaneous", f"{_OJ}: simultaneous / multiple changes on outer join", "outer join: FULL, 2 tables",
      "oj", f"SELECT r.i AS r, s.i AS s FROM {_RS}", ("r", "s"), OJ_SIMUL_STEPS),
    V("oj_simultaneous_keyed", f"{_OJ}: simultaneous / multiple changes on outer join, keyed",
      "outer join: FULL, 2 tables", "oj_id",
      f"SELECT coalesce(r.id, -1) AS rid, coalesce(s.id, -1) AS sid, r.i AS r, s.i AS s FROM {_RS}",
      ("rid", "sid"), OJ_SIMUL_STEPS),
    # restrictions pg_ivm places on outer joins (on pg_ivm.sql's tables and data)
    V("oj_restrict_no_join_var", f"{_OJ}: targetlist must contain vars in the join conditions",
      "outer join: LEFT, restriction", "ab",
      "SELECT a.i FROM mv_base_a a LEFT JOIN mv_base_b b ON a.i=b.i", ("i",), AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_using", f"{_OJ}: targetlist must contain vars in the join conditions",
      "outer join: LEFT, restriction", "ab",
      "SELECT a.i,j,k FROM mv_base_a a LEFT JOIN mv_base_b b USING(i)", ("i", "j"), AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_nonstrict_or", f"{_OJ}: targetlist cannot contain non strict functions",
      "outer join: non-strict expression over the nullable side", "ab",
      "SELECT a.i AS ai, b.i AS bi, (k > 10 OR k = -1) AS f FROM mv_base_a a LEFT JOIN mv_base_b b ON a.i=b.i",
      ("ai",), AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_nonstrict_case", f"{_OJ}: targetlist cannot contain non strict functions",
      "outer join: non-strict expression over the nullable side", "ab",
      "SELECT a.i AS ai, b.i AS bi, CASE WHEN k>0 THEN 1 ELSE 0 END AS c "
      "FROM mv_base_a a LEFT JOIN mv_base_b b ON a.i=b.i", ("ai",), AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_non_equi", f"{_OJ}: outer join supports only simple equijoin", "outer join: non-equi condition",
      "ab", "SELECT a.i AS a, b.i AS b FROM mv_base_a a LEFT JOIN mv_base_b b ON a.i>b.i", ("a", "b"),
      AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_two_conds", f"{_OJ}: outer join supports only simple equijoin",
      "outer join: condition on two columns", "ab",
      "SELECT a.i AS ai, b.i AS bi, k, j FROM mv_base_a a LEFT JOIN mv_base_b b ON a.i=b.i AND k=j", ("ai",),
      AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_is_null", f"{_OJ}: WHERE cannot contain non null-rejecting predicates",
      "outer join: WHERE on the nullable side", "ab",
      "SELECT a.i AS a, b.i AS b FROM mv_base_a a LEFT JOIN mv_base_b b ON a.i=b.i WHERE k IS NULL", ("a",),
      AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_or", f"{_OJ}: WHERE cannot contain non null-rejecting predicates",
      "outer join: WHERE on the nullable side", "ab",
      "SELECT a.i AS a, b.i AS b FROM mv_base_a a LEFT JOIN mv_base_b b ON a.i=b.i WHERE (k > 0 OR j > 0)", ("a",),
      AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_aggregate", f"{_OJ}: aggregate is not supported with outer join", "outer join + GROUP BY", "ab",
      "SELECT a.i AS a, b.i AS b, sum(k) AS v FROM mv_base_a a LEFT JOIN mv_base_b b ON a.i=b.i GROUP BY a.i, b.i",
      ("a", "b"), AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_subquery", f"{_OJ}: subquery is not supported with outer join", "outer join + derived table",
      "ab", "SELECT a.i AS a, b.i AS b FROM mv_base_a a LEFT JOIN (SELECT * FROM mv_base_b) b ON a.i=b.i", ("a",),
      AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_exists", f"{_OJ}: subquery is not supported with outer join", "outer join + EXISTS", "ab",
      "SELECT a.i AS a, b.i AS b FROM mv_base_a a LEFT JOIN mv_base_b b ON a.i=b.i "
      "WHERE EXISTS (SELECT 1 FROM mv_base_b b2 WHERE a.j = b.k)", ("a",), AB_DEFAULT_STEPS, "rejected"),
]

# ---------------------------------------------------------------- keyed variants (adapted)
# pg_ivm's views have no key; with the sources' primary keys selected (or the NULL group folded by
# coalesce) the same constructs get a key that no data can break, so any difference is maintenance.
_EX = "EXISTS(SELECT 1 FROM mv_base_b b WHERE a.i = b.i)"
_AK = "a.id AS a_id, b.id AS b_id"
VIEWS += [
    V("mv_ivm_1_keyed", f"{_PGIVM}: mv_ivm_1, keyed", "inner join", "ab_id",
      f"SELECT {_AK}, i,j,k FROM mv_base_a a INNER JOIN mv_base_b b USING(i)", ("a_id", "b_id"), MV1_STEPS[:16]),
    V("mv_ivm_distinct_keyed", f"{_PGIVM}: mv_ivm_distinct, NULL folded", "DISTINCT", "ab",
      "SELECT DISTINCT coalesce(j, -1) AS j FROM mv_base_a", ("j",), DUP_STEPS),
    V("mv_ivm_agg_keyed", f"{_PGIVM}: mv_ivm_agg, NULL group folded", "GROUP BY aggregates", "ab",
      "SELECT coalesce(i, -1) AS i, SUM(j), COUNT(i), AVG(j) FROM mv_base_a GROUP BY coalesce(i, -1)", ("i",),
      AGG_STEPS + AVG_BUG_STEPS),
    V("mv_ivm_min_max_keyed", f"{_PGIVM}: mv_ivm_min_max, NULL group folded", "GROUP BY aggregates", "ab",
      "SELECT coalesce(i, -1) AS i, MIN(j) AS min_j, MAX(j) AS max_j FROM mv_base_a GROUP BY coalesce(i, -1)",
      ("i",), MINMAX_STEPS),
    V("mv_self_keyed", f"{_PGIVM}: mv_self, keyed", "self-join", "t_self_id",
      "SELECT t1.id AS id1, t2.id AS id2, t1.v AS v1, t2.v AS v2 FROM base_t AS t1 JOIN base_t AS t2 ON t1.i = t2.i",
      ("id1", "id2"), SELF_STEPS),
    V("mv_cte_multi_keyed", f"{_PGIVM}: mv_cte_multi, keyed", "self-join", "t_self_id",
      "WITH t AS (SELECT * FROM base_t) SELECT t1.id AS id1, t2.id AS id2, t1.v AS v1, t2.v AS v2 "
      "FROM t AS t1 JOIN t AS t2 ON t1.i = t2.i", ("id1", "id2"), CTE_MULTI_STEPS),
    V("mv_simultaneous_keyed", f"{_PGIVM}: simultaneous table changes, keyed", "inner join", "rs_id",
      "SELECT r.id AS rid, s.id AS sid, r.v AS v1, s.v AS v2 FROM base_r AS r JOIN base_s AS s USING(i)",
      ("rid", "sid"), RS_STEPS + RS_BOTH_SIDES_STEPS),
    V("mv_ivm_exists_subquery_keyed", f"{_PGIVM}: subquery using EXISTS(), keyed", "EXISTS subquery", "ab_id",
      f"SELECT a.id, a.i, a.j FROM mv_base_a a WHERE {_EX}", ("id",), EXISTS_STEPS),
    V("mv_ivm_subquery_keyed", f"{_PGIVM}: simple subquery in FROM clause, keyed", "derived table", "ab_id",
      f"SELECT {_AK}, a.i,a.j FROM mv_base_a a,( SELECT * FROM mv_base_b) b WHERE a.i = b.i", ("a_id", "b_id"),
      SUBQ_STEPS + EXISTS_STEPS),
    V("mv_ivm_join_subquery_keyed", f"{_PGIVM}: join subquery in FROM clause, keyed", "derived table", "ab_id",
      "SELECT a_id, b_id, i, j, k FROM ( SELECT a.id AS a_id, b.id AS b_id, i, a.j, b.k "
      "FROM mv_base_b b INNER JOIN mv_base_a a USING(i)) tmp", ("a_id", "b_id"), WCTE_STEPS + EXISTS_STEPS),
    V("mv_cte_2_keyed", f"{_PGIVM}: simple CTE, keyed", "CTE", "ab_id",
      f"WITH a AS (SELECT * FROM mv_base_a), b AS ( SELECT * FROM mv_base_b) SELECT {_AK}, a.i,a.j FROM a, b "
      "WHERE a.i = b.i", ("a_id", "b_id"), SUBQ_STEPS + EXISTS_STEPS),
    V("mv_ivm_nested_cte_keyed", f"{_PGIVM}: nested CTE, keyed", "CTE", "ab_id",
      f"WITH v AS ( WITH a AS (SELECT * FROM mv_base_a) SELECT {_AK}, i, a.j, b.k FROM mv_base_b b INNER JOIN a "
      "USING(i)) SELECT * FROM v", ("a_id", "b_id"), WCTE_STEPS + EXISTS_STEPS),
    V("mv_cte_fail_group_by_keyed", f"{_PGIVM}: disallow not-simple CTE (GROUP BY), keyed", "CTE with GROUP BY",
      "ab_id", "WITH b AS (SELECT i, COUNT(*) AS n FROM mv_base_b GROUP BY i) SELECT a.id, a.i,a.j, b.n "
      "FROM mv_base_a a, b WHERE a.i = b.i", ("id",), AB_DEFAULT_STEPS, "rejected"),
    V("subq_distinct_keyed", f"{_PGIVM}: disallow non-simple subqueries (DISTINCT), keyed",
      "derived table with DISTINCT", "ab_id",
      "SELECT a.id, a.i,a.j FROM mv_base_a a, (SELECT DISTINCT i FROM mv_base_b) b WHERE a.i = b.i", ("id",),
      AB_DEFAULT_STEPS, "rejected"),
    V("subq_in_keyed", f"{_PGIVM}: disallow non-simple subqueries (IN), keyed", "IN subquery", "ab_id",
      "SELECT id, i,j FROM mv_base_a WHERE i IN (SELECT i FROM mv_base_b WHERE k < 103 )", ("id",),
      AB_DEFAULT_STEPS, "rejected"),
    V("subq_exists_or_keyed", f"{_PGIVM}: disallow non-simple subqueries (EXISTS OR), keyed", "EXISTS under OR",
      "ab_id", f"SELECT a.id, a.i,a.j FROM mv_base_a a WHERE {_EX} OR a.i > 2", ("id",), AB_DEFAULT_STEPS,
      "rejected"),
    V("subq_exists_nested_keyed", f"{_PGIVM}: disallow non-simple subqueries (nested EXISTS), keyed",
      "nested EXISTS", "ab_id",
      "SELECT a.id, a.j FROM mv_base_a a WHERE EXISTS(SELECT 1 FROM mv_base_a a2 WHERE EXISTS("
      "SELECT 1 FROM mv_base_b b WHERE a2.i = b.i))", ("id",), AB_DEFAULT_STEPS, "rejected"),
    V("subq_case_exists_keyed", f"{_PGIVM}: disallow non-simple subqueries (CASE EXISTS), keyed",
      "EXISTS inside CASE", "ab_id",
      f"SELECT a.id, a.i, a.j FROM mv_base_a a WHERE CASE {_EX} WHEN true THEN false ELSE true END", ("id",),
      AB_DEFAULT_STEPS, "rejected"),
    V("subq_scalar_ordered_keyed", f"{_PGIVM}: disallow non-simple subqueries (scalar, made deterministic)",
      "uncorrelated scalar subquery", "ab_id",
      "SELECT id, i,j, (SELECT k FROM mv_base_b ORDER BY k LIMIT 1) AS k FROM mv_base_a a", ("id",),
      AB_DEFAULT_STEPS, "rejected"),
    V("subq_srf_arg_min", f"{_PGIVM}: disallow non-simple subqueries (SRF argument, made deterministic)",
      "set-returning function over a subquery", "ab",
      "SELECT * FROM generate_series(1, (SELECT min(k) FROM mv_base_b) - 100) AS v", ("v",), AB_DEFAULT_STEPS,
      "rejected"),
    V("mv_ivm05_correlated_keyed", f"{_PGIVM}: targetlist contains subquery (made single-row), keyed",
      "correlated scalar subquery", "ab_id",
      "SELECT id, i,j, (SELECT max(k) FROM mv_base_b b WHERE a.i = b.i) AS k FROM mv_base_a a", ("id",),
      AB_DEFAULT_STEPS, "rejected"),
    V("mv_ivm22_keyed", f"{_PGIVM}: UNION, keyed per branch", "UNION ALL", "ab_id",
      "SELECT 'a' || id AS uid, i,j FROM mv_base_a UNION ALL SELECT 'b' || id, i,k FROM mv_base_b", ("uid",),
      AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_nonstrict_keyed", f"{_OJ}: targetlist cannot contain non strict functions, keyed",
      "outer join: non-strict expression over the nullable side", "ab_id",
      f"SELECT a.id AS a_id, coalesce(b.id, -1) AS b_id, a.i AS ai, b.i AS bi, (k > 10 OR k = -1) AS f, "
      "CASE WHEN k>0 THEN 1 ELSE 0 END AS c FROM mv_base_a a LEFT JOIN mv_base_b b ON a.i=b.i", ("a_id", "b_id"),
      AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_non_equi_keyed", f"{_OJ}: outer join supports only simple equijoin, keyed",
      "outer join: non-equi condition", "ab_id",
      "SELECT a.id AS a_id, coalesce(b.id, -1) AS b_id, a.i AS a, b.i AS b FROM mv_base_a a "
      "LEFT JOIN mv_base_b b ON a.i>b.i", ("a_id", "b_id"), AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_two_conds_keyed", f"{_OJ}: outer join supports only simple equijoin (two columns), keyed",
      "outer join: condition on two columns", "ab_id",
      "SELECT a.id AS a_id, coalesce(b.id, -1) AS b_id, a.i AS ai, b.i AS bi, k, j FROM mv_base_a a "
      "LEFT JOIN mv_base_b b ON a.i=b.i AND k=j", ("a_id", "b_id"), AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_is_null_keyed", f"{_OJ}: WHERE cannot contain non null-rejecting predicates, keyed",
      "outer join: WHERE on the nullable side", "ab_id",
      "SELECT a.id AS a_id, coalesce(b.id, -1) AS b_id, a.i AS a, b.i AS b FROM mv_base_a a "
      "LEFT JOIN mv_base_b b ON a.i=b.i WHERE k IS NULL", ("a_id", "b_id"), AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_or_keyed", f"{_OJ}: WHERE cannot contain non null-rejecting predicates (OR), keyed",
      "outer join: WHERE on the nullable side", "ab_id",
      "SELECT a.id AS a_id, coalesce(b.id, -1) AS b_id, a.i AS a, b.i AS b FROM mv_base_a a "
      "LEFT JOIN mv_base_b b ON a.i=b.i WHERE (k > 0 OR j > 0)", ("a_id", "b_id"), AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_aggregate_keyed", f"{_OJ}: aggregate is not supported with outer join, keyed",
      "outer join + GROUP BY", "ab_id",
      "SELECT a.id AS a_id, count(b.id) AS n, sum(k) AS v FROM mv_base_a a LEFT JOIN mv_base_b b ON a.i=b.i "
      "GROUP BY a.id", ("a_id",), AB_DEFAULT_STEPS, "rejected"),
    V("oj_restrict_subquery_keyed", f"{_OJ}: subquery is not supported with outer join, keyed",
      "outer join + derived table", "ab_id",
      "SELECT a.id AS a_id, coalesce(b.id, -1) AS b_id, a.i AS a, b.i AS b FROM mv_base_a a "
      "LEFT JOIN (SELECT * FROM mv_base_b) b ON a.i=b.i", ("a_id", "b_id"), AB_DEFAULT_STEPS, "rejected"),
    V("spec_insert_insert_keyed", "specs/insert_insert*.spec, keyed", "self-join", "iso_ab_id",
      "SELECT a1.id AS id1, a2.id AS id2, b.id AS idb, a1.j AS x, a2.j AS y, b.j AS z FROM a AS a1, a AS a2,b "
      "WHERE a1.i = a2.i AND a1.i = b.i", ("id1", "id2", "idb"), ISO_AB_STEPS),
]

assert len({v.id for v in VIEWS}) == len(VIEWS), "view ids must be unique"

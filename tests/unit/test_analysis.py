"""Unit tests of the analysis (tviews.analysis) and the runtime text (tviews.runtime): no database.

Most cases are fixture files under fixtures/ (format in fixtures/README.md), checked against the fake
blog catalog of catalog_fixture.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from importlib import resources

import pytest
import sqlglot
import tviews
from catalog_fixture import CATALOG
from fixture_format import Fixture, fixtures, normalize_sql
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope
from tviews import errors
from tviews.analysis import DELTA, SELF, Plan, SourcePlan, analyze, referenced_functions, referenced_tables
from tviews.runtime import RUNTIME_VERSION, runtime_sql

VALID = fixtures("valid")
INVALID = fixtures("invalid")


def _ids(items: list[Fixture]) -> list[str]:
    return [f.name for f in items]


def _analyze(fx: Fixture) -> Plan:
    return analyze(fx.sql, model=fx.model, unique_key=fx.unique_key, catalog=CATALOG)


def _describe(plan: Plan) -> str:
    """The plan as fixture directives, to paste from a failure message after checking it."""
    lines = [f"-- expect key_columns: {', '.join(plan.key_columns)}"]
    for s in plan.sources:
        lines.append(f"-- expect source {s.qualified} columns: {', '.join(s.columns)}".rstrip())
        label = "direct" if s.direct else "joined"
        branches = s.key_query.split("\n")
        if len(branches) == 1:
            lines.append(f"-- expect source {s.qualified} {label}: {s.key_query}")
        else:
            lines.append(f"-- expect source {s.qualified} {label}:")
            lines += [f"--    {b}" for b in branches]
    return "\n".join(lines)


def _branches(tree: exp.Expression) -> list[exp.Expression]:
    """The SELECTs of a (possibly nested, possibly parenthesized) UNION."""
    while isinstance(tree, exp.Subquery):
        tree = tree.this
    if isinstance(tree, exp.Union):
        return _branches(tree.this) + _branches(tree.expression)
    return [tree]


def _output_names(select: exp.Expression) -> list[str]:
    return [p.alias_or_name for p in select.expressions]


# --------------------------------------------------------------------------------------------------
# Fixture files
# --------------------------------------------------------------------------------------------------


def test_fixture_directories_are_populated_and_named_consistently() -> None:
    """Every valid fixture is named without, every invalid one with, the __invalid suffix."""
    assert len(VALID) >= 30 and len(INVALID) >= 30
    assert all(not f.name.endswith("__invalid.sql") for f in VALID)
    assert all(f.name.endswith("__invalid.sql") for f in INVALID)


@pytest.mark.parametrize("fx", VALID, ids=_ids(VALID))
def test_valid_fixture_header_is_complete(fx: Fixture) -> None:
    """A valid fixture states its key columns and at least one source, and expects no error."""
    assert fx.error is None, "a valid fixture cannot expect an error"
    assert fx.key_columns, "missing `-- expect key_columns:`"
    assert fx.sources, "missing `-- expect source ... columns:`"
    for name, e in fx.sources.items():
        assert e.columns is not None, f"{name}: every source needs a `columns:` line"
        assert e.key_query is not None or e.contains or e.excludes, f"{name}: nothing expected of its key query"


@pytest.mark.parametrize("fx", INVALID, ids=_ids(INVALID))
def test_invalid_fixture_header_is_complete(fx: Fixture) -> None:
    """An invalid fixture names the error class and part of its message, and expects no plan."""
    assert fx.error is not None, "missing `-- expect error: <Class>: <text>`"
    assert fx.error[1], "the expected error needs a substring of the message"
    assert hasattr(errors, fx.error[0]), f"unknown error class {fx.error[0]}"
    assert not fx.sources and fx.key_columns is None


@pytest.mark.parametrize("fx", VALID, ids=_ids(VALID))
def test_valid_fixture(fx: Fixture) -> None:
    """The plan of a valid fixture has the key, sources, columns and key queries of its header."""
    plan = _analyze(fx)
    produced = _describe(plan)
    assert plan.model == fx.model
    assert plan.key_columns == fx.key_columns, produced
    assert sorted(s.qualified for s in plan.sources) == sorted(fx.sources), produced
    for source in plan.sources:
        expected = fx.sources[source.qualified]
        where = f"{source.qualified}: produced plan:\n{produced}"
        assert source.columns == expected.columns, where
        if expected.key_query is not None:
            try:
                actual = normalize_sql(source.key_query)
            except sqlglot.errors.ParseError as e:
                pytest.fail(f"{source.qualified}: key query is not valid SQL ({e})\n{where}")
            assert actual == normalize_sql(expected.key_query), where
            assert source.direct is expected.direct, where
        for pattern in expected.contains:
            assert re.search(pattern, source.key_query), f"key query lacks /{pattern}/\n{where}"
        for pattern in expected.excludes:
            assert not re.search(pattern, source.key_query), f"key query has /{pattern}/\n{where}"


def _check_delta_columns(tree: exp.Expression, columns: tuple[str, ...], where: str) -> None:
    """Every column read through an alias of tviews_delta is one the delta relation carries."""
    for scope in traverse_scope(tree):
        for column in scope.columns:
            if not column.table:
                continue
            current = scope
            while current is not None and column.table not in current.sources:
                current = current.parent
            if current is None:
                continue
            source = current.sources[column.table]
            if isinstance(source, exp.Table) and source.name == DELTA:
                assert column.name in columns, f"{where}: reads {column.sql()} from {DELTA}, which has only {columns}"


@pytest.mark.parametrize("fx", VALID, ids=_ids(VALID))
def test_key_queries_are_well_formed(fx: Fixture) -> None:
    """Each key query parses, projects the key, reads the changed rows, only their columns and only tables."""
    plan = _analyze(fx)
    for source in plan.sources:
        where = f"{source.qualified} key query:\n{source.key_query}\n"
        assert source.key_query.strip(), f"{source.qualified}: empty key query"
        try:
            tree = sqlglot.parse_one(source.key_query, read="postgres")
        except sqlglot.errors.ParseError as e:
            pytest.fail(f"{where}does not parse: {e}")
        for branch in _branches(tree):
            assert isinstance(branch, exp.Select), where
            assert _output_names(branch) == list(plan.key_columns), f"{where}projects {_output_names(branch)}"
            tables = [t.name for t in branch.find_all(exp.Table)]
            assert DELTA in tables, f"{where}a branch does not read {DELTA}: it would recompute every key"
            if source.direct:
                body = branch.copy()
                body.set("with_", None)
                assert body.find(exp.Join) is None, f"{where}is marked direct but joins"
        _check_delta_columns(tree, source.columns, where)
        ctes = {c.alias for c in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            if table.name == DELTA or (not table.db and table.name in ctes):
                continue
            if table.name == SELF and not table.db:  # the tview itself (a key lookup): the runtime names it
                continue
            assert table.db and not table.catalog, f"{where}{table.sql()} must be schema.table"
            known = CATALOG.tables.get((table.db, table.name))
            assert known is not None and known.kind in ("r", "p"), f"{where}{table.sql()} is not a catalog table"
        assert all(c in dict.fromkeys(CATALOG.tables[(source.schema, source.name)].columns) for c in source.columns)


@pytest.mark.parametrize("fx", INVALID, ids=_ids(INVALID))
def test_invalid_fixture(fx: Fixture) -> None:
    """An invalid fixture raises the named error, naming the model, the construct and a hint."""
    assert fx.error is not None
    cls = getattr(errors, fx.error[0])
    with pytest.raises(errors.TviewError) as info:
        _analyze(fx)
    e = info.value
    message = str(e)
    assert isinstance(e, cls), f"raised {type(e).__name__}, expected {cls.__name__}: {message}"
    assert fx.error[1] in message, message
    for text in fx.error_excludes:
        assert text not in message, message
    assert e.model == fx.model and message.startswith(f"tview {fx.model}: "), message
    assert "\n  hint: " in message and e.hint, message
    if isinstance(e, (errors.UnsupportedConstruct, errors.SourceError)):
        assert "\n  where: " in message and e.where, message


# --------------------------------------------------------------------------------------------------
# The catalog fixture and the names the adapter looks up
# --------------------------------------------------------------------------------------------------


def test_catalog_fixture_resolves_unqualified_names_to_app() -> None:
    """The fake catalog resolves every table name through search_path = app."""
    assert set(CATALOG.unqualified.values()) == {"app"}
    assert all(("app", name) in CATALOG.tables for name in CATALOG.unqualified)


def test_referenced_functions_keeps_pg_proc_names() -> None:
    """referenced_functions returns the pg_proc name of each catalog function, so the adapter finds it."""
    # sqlglot renames a few: now() -> CURRENT_TIMESTAMP (rejected by its class anyway),
    # substr -> substring and btrim -> trim (immutable either way).
    renamed = {"now": "current_timestamp", "substr": "substring", "btrim": "trim"}
    no_args = {"random", "clock_timestamp", "timeofday", "gen_random_uuid", "now", "statement_timestamp",
               "next_ticket"}
    args = {"count": "*", "generate_series": "1, 2", "substr": "x, 1", "left": "x, 1", "round": "x, 1",
            "date_trunc": "'day', x", "format": "'%s', x", "to_char": "x, 'YYYY'", "jsonb_object_agg": "x, y",
            "string_agg": "x, ','", "concat": "x, y", "string_to_array": "x, ','", "array_length": "x, 1",
            "jsonb_build_object": "'a', x", "nextval": "'s'"}
    for name in CATALOG.functions:
        call = f"{name}({'' if name in no_args else args.get(name, 'x')})"
        assert referenced_functions(f"select {call} from t") == [renamed.get(name, name)], call


def test_referenced_functions_of_a_document_model() -> None:
    """referenced_functions lists each function once, lower-cased and sorted, including schema-qualified ones."""
    sql = """select p.pk_post, jsonb_build_object('n', (select count(*) from app.tb_comment c
                                                            where c.fk_post = p.pk_post),
                                              'slug', app.slugify(p.title), 'u', UPPER(p.title), 'l', lower(p.title),
                                              'all', (select COALESCE(JSONB_AGG(c.body), '[]') from app.tb_comment c))
             from app.tb_post p"""
    names = referenced_functions(sql)
    assert names == sorted(set(names))
    assert {"count", "jsonb_agg", "jsonb_build_object", "lower", "slugify", "upper"} <= set(names)


def test_referenced_tables() -> None:
    """referenced_tables lists each table once with its schema (None if unqualified), without CTEs or the database part."""
    sql = """with recent as (select c.fk_post from app.tb_comment c)
             select p.pk_post, (select t.name from tb_tag t where t.pk_tag = 1) as tag
             from "blogdb"."app"."tb_post" p
             join app.tb_user u on u.pk_user = p.fk_user
             join app.tb_user u2 on u2.pk_user = p.fk_user
             join recent r on r.fk_post = p.pk_post
             where exists (select 1 from app.tb_post_tag pt where pt.fk_post = p.pk_post)"""
    found = referenced_tables(sql, "m")
    assert len(found) == len(set(found))
    assert set(found) == {("app", "tb_comment"), (None, "tb_tag"), ("app", "tb_post"), ("app", "tb_user"),
                          ("app", "tb_post_tag")}


def test_referenced_tables_rejects_unparseable_sql_with_the_model_name() -> None:
    """referenced_tables raises the analysis's ParseError, naming the model, on SQL it cannot parse."""
    with pytest.raises(errors.ParseError, match=r"^tview tv_broken: "):
        referenced_tables("select from where", "tv_broken")


# --------------------------------------------------------------------------------------------------
# Plan serialisation and fingerprint
# --------------------------------------------------------------------------------------------------

DOC_SQL = """
select p.pk_post, u.name as author,
       jsonb_build_object('title', p.title,
                          'comments', (select coalesce(jsonb_agg(jsonb_build_object('body', c.body)
                                                                 order by c.pk_comment), '[]'::jsonb)
                                       from app.tb_comment c where c.fk_post = p.pk_post)) as data
from app.tb_post p
join app.tb_user u on u.pk_user = p.fk_user
where p.published
"""


def _doc_plan(sql: str = DOC_SQL, key: list[str] | None = None) -> Plan:
    return analyze(sql, model="tv_doc", unique_key=key or ["pk_post"], catalog=CATALOG)


def test_plan_to_dict_round_trips_through_json() -> None:
    """Plan.to_dict() is plain JSON data from which the same Plan can be rebuilt."""
    plan = _doc_plan()
    data = plan.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"model", "key_columns", "sources", "lineage", "recompute", "key_nullable", "ignored",
                         "deploy"}
    assert all(set(s) == {f.name for f in dataclasses.fields(SourcePlan)} for s in data["sources"])
    rebuilt = Plan(
        model=data["model"],
        key_columns=tuple(data["key_columns"]),
        sources=tuple(SourcePlan(**{**s, "columns": tuple(s["columns"]), "lookups": tuple(map(tuple, s["lookups"]))})
                      for s in data["sources"]),
        lineage=data["lineage"],
        recompute=data["recompute"],
        key_nullable=tuple(data["key_nullable"]),
        ignored=tuple((i["schema"], i["name"]) for i in data["ignored"]),
        deploy=data["deploy"],
    )
    assert rebuilt == plan
    assert rebuilt.to_dict() == data


@pytest.mark.parametrize("name", ["window_partition.sql", "window_top_n_derived.sql", "window_over_left_join.sql",
                                  "window_over_group_by.sql"])
def test_window_scopes_are_recomputed_by_partition(name: str) -> None:
    """apply() reads a SELECT whose window scope keeps only the partitions of the keys ($1..)."""
    fx = next(f for f in VALID if f.name == name)
    recompute = _analyze(fx).recompute
    assert recompute is not None
    tree = sqlglot.parse_one(recompute, read="postgres")
    windows = list(tree.find_all(exp.Window))
    assert windows
    scope = windows[0].find_ancestor(exp.Select)
    where = scope.args["where"].sql("postgres")
    assert "= ANY($1)" in where and "IS NULL" in where, where  # NULL partitions kept too
    # the outputs are the model's, in order (the runtime renames them by position)
    original = sqlglot.parse_one(fx.sql, read="postgres")
    assert len(tree.expressions) == len(original.expressions)


@pytest.mark.parametrize("name", ["window_in_cte.sql", "top_n_per_parent.sql", "left_join.sql"])
def test_recompute_is_the_definition_where_no_window_scope_carries_the_key(name: str) -> None:
    fx = next(f for f in VALID if f.name == name)
    assert _analyze(fx).recompute is None


def test_plan_lineage_follows_json_paths() -> None:
    """Lineage maps output columns, and paths inside jsonb_build_object, to source columns."""
    lineage = _doc_plan().lineage
    assert {"path": "", "source": "app.tb_user.name"} in lineage["author"]
    assert {"path": "title", "source": "app.tb_post.title"} in lineage["data"]
    assert {"path": "comments[].body", "source": "app.tb_comment.body"} in lineage["data"]


def test_fingerprint_is_stable() -> None:
    """The fingerprint is a SHA-256 hex digest that two analyses of the same SQL (even reformatted) agree on."""
    first = _doc_plan().fingerprint("x", "y")
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert _doc_plan().fingerprint("x", "y") == first
    assert _doc_plan("  " + re.sub(r"\s+", "\n   ", DOC_SQL) + " ;").fingerprint("x", "y") == first


def test_fingerprint_is_sensitive() -> None:
    """The fingerprint changes with the extra inputs, their order, the key and what the SELECT reads."""
    base = _doc_plan().fingerprint("x", "y")
    assert _doc_plan().fingerprint("x") != base
    assert _doc_plan().fingerprint("y", "x") != base
    assert _doc_plan().fingerprint("x", "y", "") != base
    assert _doc_plan(key=["pk_post", "author"]).fingerprint("x", "y") != base
    assert _doc_plan(DOC_SQL.replace("c.body", "c.created_at")).fingerprint("x", "y") != base
    assert _doc_plan(DOC_SQL.replace("where p.published", "")).fingerprint("x", "y") != base


# --------------------------------------------------------------------------------------------------
# Runtime text
# --------------------------------------------------------------------------------------------------

_RUNTIME_TEXT = resources.files("tviews").joinpath("sql/runtime.sql").read_text(encoding="utf-8")


def test_runtime_version_format() -> None:
    """RUNTIME_VERSION is <semver>+<first 10 hex digits of the runtime text's SHA-256>."""
    m = re.fullmatch(r"(\d+\.\d+\.\d+)\+([0-9a-f]{10})", RUNTIME_VERSION)
    assert m, RUNTIME_VERSION
    assert m.group(2) == hashlib.sha256(_RUNTIME_TEXT.encode()).hexdigest()[:10]
    assert tviews.RUNTIME_VERSION == RUNTIME_VERSION


def test_runtime_sql_substitutes_schema_and_version() -> None:
    """runtime_sql quotes the schema into every placeholder and stamps the version."""
    default = runtime_sql()
    assert "@schema@" not in default and "@version@" not in default
    assert '"tviews".' in default and RUNTIME_VERSION in default
    custom = runtime_sql("MyRuntime_2$")
    assert '"MyRuntime_2$".' in custom and '"tviews".' not in custom
    assert custom.count('"MyRuntime_2$"') == _RUNTIME_TEXT.count("@schema@")
    assert runtime_sql("MyRuntime_2$") == custom
    assert runtime_sql("x" * 63)


@pytest.mark.parametrize(
    "schema",
    ["", "1abc", "my-schema", "my schema", "app.rt", 'x"; drop schema app cascade; --', "x" * 64, "été",
     "rt\n", "@schema@"],
)
def test_runtime_sql_rejects_unsafe_schema_names(schema: str) -> None:
    """runtime_sql refuses schema names that are not plain identifiers of at most 63 characters."""
    with pytest.raises(ValueError, match="plain identifier"):
        runtime_sql(schema)

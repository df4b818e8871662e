"""Analyse a tview's compiled SELECT.

One pass turns the SQL dbt compiled into a `Plan`: the key, the source tables, the columns the
model reads from each, and for each source a *delta-key query* — the model's FROM/WHERE with that
source replaced by the rows a statement changed (the relation `tviews_delta`), projecting the tview
keys those rows can affect. The in-database runtime recomputes exactly those keys.

Why this is exact (see docs/maintenance.md): for a tview row whose value changes, walk the join path
from the row to a changed source row; the changed row nearest to the root is in the delta and every
row between is unchanged, so the delta-key query, evaluated against the current state of the other
tables, finds the key. Dropping predicates or joins only ever selects *more* keys, never fewer, so
every simplification below is of that kind.

Pure Python: no dbt, no database. The caller supplies a `Catalog` read from pg_catalog.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError as SqlglotParseError
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema
from sqlglot.optimizer.scope import Scope, ScopeType, traverse_scope

from .catalog import Catalog, Table
from .errors import KeyError_, ParseError, SourceError, UnsupportedConstruct

DIALECT = "postgres"
DELTA = "tviews_delta"

# Functions whose result depends on the clock, the session or a sequence: a row computed now would
# differ from the same row recomputed later, so no incremental maintenance can keep it exact.
NON_DETERMINISTIC = frozenset(
    {
        "now", "statement_timestamp", "transaction_timestamp", "clock_timestamp", "timeofday",
        "current_setting", "current_user", "session_user", "current_role", "user", "current_schema",
        "current_schemas", "current_query", "pg_backend_pid", "inet_client_addr", "inet_client_port",
        "txid_current", "txid_current_if_assigned", "pg_current_xact_id", "random", "random_normal",
        "setseed", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4",
        "uuidv4", "uuidv7", "nextval", "currval", "lastval", "setval", "pg_sleep",
        "localtime", "localtimestamp", "current_date", "current_time", "current_timestamp",
    }
)
# Aggregates whose result depends on the order rows arrive in (unless ORDER BY or DISTINCT).
ORDER_SENSITIVE_AGGREGATES = frozenset({
    "array_agg", "jsonb_agg", "json_agg", "string_agg", "xmlagg", "jsonb_agg_strict", "json_agg_strict",
    "json_arrayagg", "jsonb_object_agg", "json_object_agg", "json_objectagg",
})
# Special date/time input strings that are evaluated when the statement runs.
TIME_LITERALS = frozenset({"now", "today", "tomorrow", "yesterday"})

AGGREGATE_CLASSES: tuple[type[exp.Expression], ...] = (exp.AggFunc,)


# --------------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourcePlan:
    """How one source table feeds the tview."""

    schema: str
    name: str
    # columns of the source the model reads; an UPDATE that changes none of them needs no work
    columns: tuple[str, ...]
    # SELECT DISTINCT <key columns> ... reading the changed rows from `tviews_delta`
    key_query: str
    # True when every key is read straight off the changed rows, with no join
    direct: bool
    # True when the model reads whole rows of it (to_jsonb(t)): every column counts
    whole_row: bool = False
    # Key columns its key query looks up in the tview itself (see _KeyQueryBuilder._lookup)
    lookups: tuple[tuple[str, ...], ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Plan:
    model: str
    key_columns: tuple[str, ...]
    sources: tuple[SourcePlan, ...]
    # output column -> list of {"path": json path or "", "source": "schema.table.column"}
    lineage: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # The SELECT that apply(keys) recomputes from, when it differs from the model's: window
    # functions restricted to the partitions of the keys ($1, $2, ...: the key arrays). Its
    # columns are the model's, in order, under generated names (the runtime renames them).
    recompute: str | None = None
    # Per key column: can it be NULL? (unproven = True; maintenance then matches NULL-safely)
    key_nullable: tuple[bool, ...] = ()
    # Tables read only by CTEs that nothing references: their writes cannot change the tview
    ignored: tuple[tuple[str, str], ...] = ()
    # The SELECT to deploy when it differs from the model's text: each whole-row reference to
    # source n written as its columns at build, ROW(t.c1, ..)::__TVIEWS_ROW_<n>__ (the runtime's
    # composite type of them), so a column added later does not change the tview's rows. None: the
    # model's text.
    deploy: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "key_columns": list(self.key_columns),
            "sources": [
                {
                    "schema": s.schema,
                    "name": s.name,
                    "columns": list(s.columns),
                    "key_query": s.key_query,
                    "direct": s.direct,
                    "whole_row": s.whole_row,
                    "lookups": [list(lk) for lk in s.lookups],
                }
                for s in self.sources
            ],
            "lineage": self.lineage,
            "recompute": self.recompute,
            "key_nullable": list(self.key_nullable),
            "ignored": [{"schema": schema, "name": name} for schema, name in self.ignored],
            "deploy": self.deploy,
        }

    def fingerprint(self, *extra: str) -> str:
        """A stable hash of the plan and anything else that must trigger a rebuild when it changes."""
        payload = json.dumps([self.to_dict(), list(extra)], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------


def parse(sql: str, model: str) -> exp.Expression:
    """Parse the compiled SQL into the tree every pass reads: a SELECT (or a UNION of SELECTs)
    with unquoted names folded to lower case, as PostgreSQL folds them, and parenthesized joins
    flattened where that keeps the meaning (see _flatten_joins)."""
    try:
        tree = sqlglot.parse_one(_strip(sql), read=DIALECT)
    except SqlglotParseError as e:
        raise ParseError(
            model,
            f"the SELECT could not be parsed ({_first_line(str(e))})",
            hint="write the construct another way (e.g. `ORDER BY x DESC` instead of `USING >`), "
            "or report it if it is valid PostgreSQL",
        ) from e
    if tree is None:
        raise ParseError(model, "the model's SQL is empty")
    _check_statement(tree, model)
    tree = normalize_identifiers(tree, dialect=DIALECT)
    _flatten_joins(tree, model)
    return tree


def _check_statement(tree: exp.Expression, model: str) -> None:
    """A tview is defined by a query: one SELECT, or a set operation of SELECTs, that only reads."""
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        what = "VALUES" if isinstance(tree, exp.Values) else type(tree).__name__.upper()
        raise UnsupportedConstruct(model, f"the model's SQL is a {what} statement, not a SELECT", where=_snippet(tree),
                                   hint="write the model as a SELECT (e.g. `select * from (values (1, 'a')) as v(id, name)`)"
                                   if what == "VALUES" else "write the model as a SELECT")
    modifying = tree.find(exp.Insert, exp.Update, exp.Delete, exp.Merge)
    if modifying is not None:
        raise UnsupportedConstruct(model, f"a data-modifying statement ({type(modifying).__name__.upper()}) "
                                   "inside the SELECT", where=_snippet(modifying),
                                   hint="a tview's SQL may only read; move the write out of the model")
    lock = tree.find(exp.Lock)
    if lock is not None:
        raise UnsupportedConstruct(model, "a locking clause (FOR UPDATE / FOR SHARE) in the SELECT", where=_snippet(lock),
                                   hint="remove it: a tview only reads its sources")
    into = tree.find(exp.Into)
    if into is not None:
        raise UnsupportedConstruct(model, "SELECT ... INTO creates a table", where=_snippet(into),
                                   hint="remove INTO: the materialization creates the table")


def _flatten_joins(tree: exp.Expression, model: str) -> None:
    """Write `FROM (a JOIN b ON ..) JOIN c` and `x JOIN (a JOIN b ON ..) ON ..` (the form
    pg_get_viewdef prints) as one flat join list, where that keeps the meaning:
    - a parenthesized join that starts the FROM list: always (left-deep grouping);
    - on the right of an inner or cross join, a group of inner/cross joins: its ON conditions and
      the outer ON are all inner-join conditions, applied once the group is complete;
    - on the right of an inner or cross join, a group of LEFT/inner joins whose outer ON reads only
      the group's first item: `x JOIN a ON c LEFT JOIN b ON ..`.
    Anything else (a group on the right of an outer join, an aliased group) is rejected."""
    for group in tree.find_all(exp.Subquery):
        if _is_join_group(group) and group.args.get("alias") is not None:
            raise UnsupportedConstruct(model, "an aliased parenthesized join", where=_snippet(group),
                                       hint="write it as a derived table: `(select .. from a join b on ..) AS j`")
    changed = True
    while changed:
        changed = False
        for select in list(tree.find_all(exp.Select)):
            from_ = select.args.get("from_")
            if from_ is not None and _is_join_group(from_.this):
                group, inner_joins = _group_items(from_.this)
                from_.set("this", group)
                select.set("joins", inner_joins + list(select.args.get("joins") or []) or None)
                changed = True
                break
            joins = list(select.args.get("joins") or [])
            for i, join in enumerate(joins):
                if not _is_join_group(join.this):
                    continue
                group, nested = _group_items(join.this)
                outer_kind = (join.side or "").upper()
                kinds = {(j.side or "").upper() for j in nested}
                on = join.args.get("on")
                first_alias = str(group.alias_or_name)
                reads = {str(c.table) for c in on.find_all(exp.Column)} if on is not None else set()
                nested_aliases = {str(j.this.alias_or_name) for j in nested}
                if outer_kind or join.args.get("using") or any(j.args.get("using") for j in nested):
                    raise UnsupportedConstruct(
                        model, "a parenthesized join on the right of an outer join (or joined with USING) is not "
                        "maintained yet", where=_snippet(join),
                        hint="write the group as a derived table: `left join (select .. from b join c on ..) bc on ..`")
                head = exp.Join(this=group, kind="CROSS") if on is None else None
                if kinds <= {""}:
                    # all inner: x CROSS JOIN a JOIN b ON (b's cond AND the outer cond)
                    flat = [exp.Join(this=group, kind="CROSS")] + [j.copy() for j in nested]
                    if on is not None:
                        if len(flat) > 1:
                            last = flat[-1]
                            last.set("on", exp.and_(last.args["on"], on.copy()) if last.args.get("on") is not None
                                     else on.copy())
                            last.set("kind", None)
                        else:
                            flat = [exp.Join(this=group, on=on.copy())]
                elif kinds <= {"", "LEFT"} and not (reads & nested_aliases) and first_alias:
                    # x JOIN a ON <reads x and a only> LEFT JOIN b ON ..
                    flat = [head or exp.Join(this=group, on=on.copy())] + [j.copy() for j in nested]
                else:
                    raise UnsupportedConstruct(
                        model, "a parenthesized join whose meaning changes when flattened is not maintained yet",
                        where=_snippet(join),
                        hint="write the group as a derived table: `join (select .. from a left join b on ..) ab on ..`")
                select.set("joins", joins[:i] + flat + joins[i + 1:])
                changed = True
                break
            if changed:
                break


def _is_join_group(node: exp.Expression | None) -> bool:
    """`(a JOIN b ON ..)` or `(a)` in a FROM list: sqlglot reads it as a Subquery that wraps a table
    (carrying the joins) or another such group, not a SELECT."""
    return isinstance(node, exp.Subquery) and isinstance(node.this, (exp.Table, exp.Subquery)) and \
        (not isinstance(node.this, exp.Subquery) or _is_join_group(node.this))


def _group_items(node: exp.Expression) -> tuple[exp.Expression, list[exp.Join]]:
    """The first FROM item of a parenthesized join group and the joins that follow it, in order."""
    if isinstance(node, exp.Subquery):
        first, joins = _group_items(node.this)
        return first, joins + [j.copy() for j in node.args.get("joins") or []]
    joins = [j.copy() for j in node.args.get("joins") or []]
    first = node.copy()
    first.set("joins", None)
    return first, joins


def referenced_tables(sql: str, model: str = "?") -> list[tuple[str | None, str]]:
    """(schema or None, name) of every table or view the SELECT reads (CTE names excluded)."""
    tree = parse(sql, model)
    seen: dict[tuple[str | None, str], None] = {}
    for scope in traverse_scope(tree):
        for source in scope.sources.values():
            if _is_relation(source):
                seen[(source.db or None, source.name)] = None
    return list(seen)


def referenced_functions(sql: str, model: str = "?") -> list[str]:
    """Lower-cased names of the functions the SELECT calls, to be looked up in pg_proc."""
    tree = parse(sql, model)
    return sorted({n for n in (_function_name(f) for f in tree.find_all(exp.Func)) if n})


def analyze(sql: str, *, model: str, unique_key: Sequence[str] | None, catalog: Catalog) -> Plan:
    """Analyse the compiled SELECT of a tview model and return its maintenance plan."""
    tree = parse(sql, model)
    tables = _bind_tables(tree, model, catalog)
    qualified = _qualify(tree, model, tables)
    scopes = list(traverse_scope(qualified))
    _check_supported(qualified, scopes, model, catalog)
    branches = _branches(scopes)
    key_names, key_exprs = _resolve_key(branches, unique_key, model, catalog)

    # A UNION is maintained branch by branch: each branch is a root with its own key expressions.
    outer_with = qualified.args.get("with_") if len(branches) > 1 else None
    builders = [_KeyQueryBuilder(scopes, key_names, exprs, branch, outer_with, model=model, catalog=catalog)
                for branch, exprs in zip(branches, key_exprs)]
    sources: list[SourcePlan] = []
    ignored: list[tuple[str, str]] = []
    for (schema, name), occurrences in _occurrences(scopes).items():
        table = tables[(schema, name)]
        columns, whole_row = _columns_read(occurrences, table, scopes)
        live = [occ for occ in occurrences if not _in_unused_cte(occ[0], scopes)]
        if not live:
            ignored.append((schema, name))  # read only by CTEs nothing uses: cannot change the tview
            continue
        for b in builders:
            b.lookups = []
        queries = [q for occ in live for b in builders for q in b.build(*occ, columns)]
        if not queries:  # fail closed: a table whose changes reach no key would go stale
            raise UnsupportedConstruct(
                model, f"the analysis cannot tell which rows a change of {schema}.{name} affects",
                where=_snippet(live[0][2]),
                hint="read it through a join or a correlated subquery of the tview's SELECT, and please report it")
        sources.append(
            SourcePlan(
                schema=schema,
                name=name,
                columns=columns,
                key_query=sql_union([sql for sql, _ in queries]),
                direct=all(direct for _, direct in queries),
                whole_row=whole_row,
                lookups=tuple(dict.fromkeys(lk for b in builders for lk in b.lookups)),
            )
        )
    sources.sort(key=lambda s: (s.schema, s.name))
    numbers = {(s.schema, s.name): n for n, s in enumerate(sources, start=1)}
    return Plan(
        model=model,
        key_columns=tuple(key_names),
        sources=tuple(sources),
        lineage=_lineage(branches[0], scopes),
        recompute=_recompute(sql, model, tables, key_names, numbers),
        deploy=_deploy(_strip(sql), qualified, scopes, branches, numbers, tables, model),
        key_nullable=tuple(any(_may_be_null(exprs[i], branch, catalog) for branch, exprs in zip(branches, key_exprs))
                           for i in range(len(key_names))),
        ignored=tuple(sorted(set(ignored) - {(s.schema, s.name) for s in sources})),
    )


ROW_TYPE = "__TVIEWS_ROW_{}__"
# The tview itself, in key queries that look up the keys it holds (the runtime names it).
SELF = "__TVIEWS_SELF__"
SELF_ALIAS = "tviews_self"


def _whole_rows(tree: exp.Expression, scopes: list[Scope], numbers: dict[tuple[str, str], int]
                ) -> Iterator[tuple[exp.Expression, exp.Identifier, tuple[str, str]]]:
    """Whole-row references to a source table (`to_jsonb(p)`, `f(p.*)`): (node, its alias
    identifier, the source's (schema, name)). `p.*` as an output column is left out: PostgreSQL
    expands it into columns when it binds the SELECT."""
    by_select = {id(sc.expression): sc for sc in scopes}
    for node in list(tree.find_all(exp.TableColumn, exp.Column)):
        if isinstance(node, exp.TableColumn):
            alias = node.this
        elif isinstance(node.this, exp.Star) and isinstance(node.args.get("table"), exp.Identifier):
            if isinstance(node.parent, exp.Select) and node in node.parent.expressions:
                continue
            alias = node.args["table"]
        else:
            continue
        select = node.find_ancestor(exp.Select)
        scope = by_select.get(id(select)) if select is not None else None
        owner = _resolves_to(scope, str(alias.name)) if scope is not None else None
        source = dict(_own_items(owner)).get(str(alias.name)) if owner is not None else None
        if _is_relation(source):
            assert isinstance(source, exp.Table)
            if (source.db, source.name) in numbers:
                yield node, alias, (source.db, source.name)


def _frozen_row(alias: str, table: Table, number: int) -> str:
    """A whole row as the columns it has now, typed by the runtime's composite type of them (so
    to_jsonb() keeps its keys); NULL where an outer join NULL-extends it, as the whole row is."""
    columns = ", ".join(f"{alias}.{exp.to_identifier(c, quoted=True).sql(DIALECT)}" for c in table.columns)
    return f"(CASE WHEN {alias}.ctid IS NULL THEN NULL ELSE ROW({columns})::{ROW_TYPE.format(number)} END)"


def _deploy(text: str, tree: exp.Expression, scopes: list[Scope], branches: list[Scope],
            numbers: dict[tuple[str, str], int], tables: dict[tuple[str, str], Table], model: str) -> str | None:
    """The model's text with each whole-row reference to a source written as the row of its columns
    at build (see Plan.deploy); None when there is none. Edits are made at the positions the parser
    recorded, so everything else stays exactly as written."""
    outputs = {id(_unalias(p)) for b in branches for p in b.expression.expressions}
    edits: list[tuple[int, int, str]] = []
    for node, alias, source in _whole_rows(tree, scopes, numbers):
        if id(node) in outputs:
            raise UnsupportedConstruct(model, "a whole row as an output column", where=_snippet(node),
                                       hint="output to_jsonb(t) or the columns themselves")
        end_node = node.this if isinstance(node, exp.Column) else alias
        start, end = alias.meta.get("start"), end_node.meta.get("end")
        if start is None or end is None:
            raise UnsupportedConstruct(model, "a whole-row reference the analysis cannot locate in the SQL",
                                       where=_snippet(node), hint="write the columns out, or please report it")
        written = text[alias.meta["start"]:alias.meta["end"] + 1]
        edits.append((start, end, _frozen_row(written, tables[source], numbers[source])))
    if not edits:
        return None
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end + 1:]
    return text


def _in_unused_cte(scope: Scope, scopes: list[Scope]) -> bool:
    """Is the scope, or a scope it is nested in, a CTE that no scope reads?"""
    current: Scope | None = scope
    while current is not None:
        if current.is_cte and not any(src is current for sc in scopes for _, src in _own_items(sc)):
            return True
        current = current.parent
    return False


def _may_be_null(expr: exp.Expression, scope: Scope, catalog: Catalog, depth: int = 0) -> bool:
    """Can this key expression be NULL in a row of `scope`? True unless proven otherwise: a
    literal, COALESCE ending in one, or a column of a NOT NULL table column (or of a derived
    table's such column) whose FROM item no outer join can NULL-extend."""
    if depth > 20:
        return True
    if isinstance(expr, exp.Literal):
        return False
    if isinstance(expr, exp.Coalesce):
        args = [expr.this, *expr.expressions]
        return all(_may_be_null(a, scope, catalog, depth + 1) for a in args)
    if isinstance(expr, (exp.Cast, exp.Paren)):
        return _may_be_null(expr.this, scope, catalog, depth + 1)
    if not isinstance(expr, exp.Column) or not expr.table:
        return True
    for c in _conjuncts(scope.expression.args.get("where")):  # WHERE x IS NOT NULL
        if isinstance(c, exp.Is) and c.args.get("negate") and isinstance(c.expression, exp.Null) \
                and isinstance(c.this, exp.Column) and (c.this.table, c.this.name) == (expr.table, expr.name):
            return False
    alias = str(expr.table)
    if alias in _null_extended(scope.expression):
        return True
    source = scope.sources.get(alias)
    if _is_relation(source):
        assert isinstance(source, exp.Table)
        table = catalog.tables.get((source.db, source.name))
        return table is None or expr.name not in table.not_null
    if isinstance(source, Scope) and isinstance(source.expression, exp.Select):
        for projection in source.expression.expressions:
            if _output_name(projection) == expr.name:
                return _may_be_null(_unalias(projection), source, catalog, depth + 1)
    return True


def _null_extended(select: exp.Expression) -> set[str]:
    """Aliases of the FROM items an outer join of this SELECT may NULL-extend."""
    names = [str(i.alias_or_name) for i in _from_items(select)]
    out: set[str] = set()
    for j, join in enumerate(select.args.get("joins") or [], start=1):
        side = (join.side or "").upper()
        if side in ("LEFT", "FULL"):
            out.add(names[j])
        if side in ("RIGHT", "FULL"):
            out.update(names[:j])
    return out


def _recompute(sql: str, model: str, tables: dict[tuple[str, str], Table], key_names: list[str],
               numbers: dict[tuple[str, str], int]) -> str | None:
    """The model's SELECT with each window scope restricted to the partitions of the keys.

    apply(keys) filters the SELECT's output by key; PostgreSQL cannot push that filter below a
    window function (it would change the partitions), so the window would run over every row.
    Restricting the scope's WHERE to the values, among the rows of the keys, of an expression
    that every window of the scope partitions by keeps every partition of those rows whole: their
    window values stay exact, and the key's index finds them. Done for the key-bearing SELECT(s),
    and for a derived table or CTE read once by it whose columns carry the key (top-n with
    row_number()); other window scopes are recomputed whole (still exact)."""
    tree = _qualify(parse(sql, model), model, tables)  # a fresh copy, rewritten in place
    scopes = list(traverse_scope(tree))
    changed = False
    branches = _branches(scopes)
    positions = [[_output_name(p) for p in branches[0].expression.expressions].index(n) for n in key_names]
    for branch in branches:
        key_exprs = [_unalias(branch.expression.expressions[i]) for i in positions]
        params = [exp.Parameter(this=exp.Literal.number(i)) for i in range(1, len(key_names) + 1)]
        targets: list[tuple[Scope, list[exp.Expression]]] = [(branch, key_exprs)]
        refs = {a: src for a, src in _own_items(branch)}
        aliases = {str(c.table) for k in key_exprs for c in k.find_all(exp.Column)}
        # The derived table may be restricted only if each output row reads the rows of its own
        # key alone: not under a window of the branch, which spans the rows of other keys.
        if len(aliases) == 1 and all(isinstance(k, exp.Column) for k in key_exprs) \
                and not _own_windows(branch.expression):
            inner = refs.get(aliases.pop())
            if isinstance(inner, Scope) and (inner.is_derived_table or inner.is_cte) \
                    and sum(1 for sc in scopes for _, src in _own_items(sc) if src is inner) == 1:
                outputs = {_output_name(p): p for p in inner.expression.expressions}
                mapped = [outputs.get(k.name) for k in key_exprs]
                if all(m is not None and not m.find(exp.Window, exp.Select) for m in mapped):
                    targets.append((inner, [_unalias(m) for m in mapped]))
        for scope, keys in targets:
            windows = _own_windows(scope.expression)
            common = _common_partition(windows)
            if not windows or not common:
                continue
            select = scope.expression
            rows = exp.select(*[exp.alias_(c.copy(), exp.to_identifier(f"tviews_p{i}", quoted=True))
                                for i, c in enumerate(common, start=1)])
            rows.set("from_", select.args["from_"].copy())
            rows.set("joins", [j.copy() for j in select.args.get("joins") or []] or None)
            conditions = _conjuncts(select.args.get("where")) + [
                _key_in(k, p) for k, p in zip(keys, params)]
            rows.where(_and(conditions), copy=False)
            restriction = [_in_values(c, exp.column(f"tviews_p{i}", "tviews_p", quoted=True), rows, "tviews_p")
                           for i, c in enumerate(common, start=1)]
            select.where(_and(restriction), copy=False)
            changed = True
    if not changed:
        return None
    for node, alias, source in list(_whole_rows(tree, scopes, numbers)):  # frozen, as in Plan.deploy
        node.replace(sqlglot.parse_one(_frozen_row(alias.sql(DIALECT), tables[source], numbers[source]), read=DIALECT))
    return tree.sql(DIALECT)


def _key_in(key: exp.Expression, keys: exp.Expression) -> exp.Expression:
    """`key = ANY($n) OR (key IS NULL AND array_position($n, NULL) IS NOT NULL)`: a NULL key is a key."""
    return exp.paren(exp.or_(
        exp.EQ(this=key.copy(), expression=exp.Any(this=exp.paren(keys.copy()))),
        exp.and_(exp.Is(this=key.copy(), expression=exp.Null()),
                 exp.Not(this=exp.Is(this=exp.Anonymous(this="array_position", expressions=[keys.copy(), exp.Null()]),
                                     expression=exp.Null())))))


def _unalias(projection: exp.Expression) -> exp.Expression:
    return projection.this if isinstance(projection, exp.Alias) else projection


def _common_partition(windows: list[exp.Window]) -> list[exp.Expression]:
    """The PARTITION BY expressions that every window shares (compared as SQL)."""
    if not windows:
        return []
    common = [p for p in windows[0].args.get("partition_by") or []]
    for w in windows[1:]:
        theirs = {p.sql(DIALECT) for p in w.args.get("partition_by") or []}
        common = [p for p in common if p.sql(DIALECT) in theirs]
    return common


# --------------------------------------------------------------------------------------------------
# Binding and qualification
# --------------------------------------------------------------------------------------------------


def sql_union(queries: list[str]) -> str:
    """UNION of key queries; each is parenthesized, since each may carry its own WITH."""
    queries = list(dict.fromkeys(queries))  # the same path can be reached twice (UNION branches)
    if len(queries) == 1:
        return queries[0]
    return "\nUNION\n".join(f"({q})" for q in queries)


def _strip(sql: str) -> str:
    return sql.strip().rstrip(";").strip()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _is_relation(node: object) -> bool:
    """A FROM item that names a table or view (not a CTE, a function call or a subquery)."""
    return isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier)


def _bind_tables(tree: exp.Expression, model: str, catalog: Catalog) -> dict[tuple[str, str], Table]:
    """Give every table reference its schema, drop the database part, check each is a table."""
    bound: dict[tuple[str, str], Table] = {}
    for scope in traverse_scope(tree):
        for source in scope.sources.values():
            if not _is_relation(source):
                continue
            schema = source.db or catalog.unqualified.get(source.name)
            table = catalog.tables.get((schema, source.name)) if schema else None
            if table is None:
                raise SourceError(
                    model,
                    f"relation {source.sql(DIALECT)} does not exist or is not visible",
                    where=source.sql(DIALECT),
                    hint="create it first, or reference it through source()/ref() so dbt orders the run",
                )
            if table.kind not in ("r", "p"):
                what = {"v": "a view", "m": "a materialized view", "f": "a foreign table"}.get(
                    table.kind, f"a relation of kind {table.kind!r}"
                )
                raise SourceError(
                    model,
                    f"{table.qualified} is {what}; a tview can only read tables",
                    where=source.sql(DIALECT),
                    hint="reference the view's base tables directly (or make the view a tview itself)",
                )
            # The deployed SQL keeps the user's text; the analysis tree gets schema-qualified,
            # database-free names so the generated queries survive a dump/restore under another name.
            source.set("catalog", None)
            source.set("db", exp.to_identifier(table.schema))
            bound[(table.schema, table.name)] = table
    return bound


# Set-returning functions of one scalar column: `FROM unnest(x) AS t` names that column t too.
SCALAR_SRF = frozenset({
    "unnest", "generate_series", "generate_subscripts", "jsonb_array_elements", "jsonb_array_elements_text",
    "json_array_elements", "json_array_elements_text", "jsonb_object_keys", "json_object_keys",
    "regexp_split_to_table", "string_to_table", "regexp_matches", "jsonb_path_query",
})


def _name_scalar_function_columns(tree: exp.Expression) -> None:
    """Write `f(..) AS t` as `f(..) AS t(t)` for a scalar set-returning function, as PostgreSQL
    reads it, so that references to the column `t` resolve (sqlglot does not know the rule)."""
    for alias in list(tree.find_all(exp.TableAlias)):
        item = alias.parent
        if alias.args.get("columns") or not alias.name or not isinstance(item, (exp.Lateral, exp.Table, exp.Unnest)):
            continue
        fn = item if isinstance(item, exp.Unnest) else item.this
        if isinstance(fn, exp.Unnest):
            scalar = len(fn.expressions) == 1
        elif isinstance(fn, (exp.GenerateSeries, exp.ExplodingGenerateSeries)):
            scalar = True
        elif isinstance(fn, exp.Func) and not isinstance(fn, exp.Table):
            scalar = (_function_name(fn) or "") in SCALAR_SRF
        else:
            scalar = False
        if scalar:
            alias.set("columns", [exp.to_identifier(alias.name, quoted=alias.this.quoted)])


def _qualify(tree: exp.Expression, model: str, tables: dict[tuple[str, str], Table]) -> exp.Expression:
    _name_scalar_function_columns(tree)
    names: dict[str, dict[str, dict[str, str]]] = {}
    for t in tables.values():
        names.setdefault(t.schema, {})[t.name] = {c: "text" for c in t.columns}
    # Catalog names are exact (PostgreSQL folded them when the tables were created); the tree's
    # unquoted names were folded by parse(). Normalizing again would lose "OrderNo".
    schema = MappingSchema(names, dialect=DIALECT, normalize=False)
    try:
        return qualify(
            tree,
            schema=schema,
            dialect=DIALECT,
            validate_qualify_columns=True,
            quote_identifiers=True,
            identify=True,
        )
    except SqlglotError as e:
        message = _first_line(str(e))
        hint = ("qualify ambiguous columns with their table alias; every column must belong to a "
                "table the SELECT reads")
        unknown = re.search(r"Unknown column: \"?([^\"]+)\"?$|Column '\"?([^'\"]+)\"?' could not be resolved", message)
        if unknown:
            columns = sorted({c for t in tables.values() for c in t.columns})
            close = difflib.get_close_matches(unknown.group(1) or unknown.group(2), columns, n=3)
            hint = (f"did you mean {', '.join(close)}? " if close else "") + \
                f"the tables it reads have the columns: {', '.join(columns)}"
        raise ParseError(
            model,
            f"the SELECT could not be resolved against the catalog ({message})",
            hint=hint,
        ) from e


# --------------------------------------------------------------------------------------------------
# What cannot be maintained by key
# --------------------------------------------------------------------------------------------------


def _is_ordered_aggregate(node: exp.Expression) -> bool:
    """Does this aggregate call fix the order of its input (ORDER BY or DISTINCT inside the call,
    or an ordered window frame around it)?"""
    window = node.parent.parent if isinstance(node.parent, exp.Filter) else node.parent
    if isinstance(window, exp.Window):
        return window.args.get("order") is not None
    return node.find(exp.Order) is not None or node.find(exp.Distinct) is not None or \
        isinstance(node.parent, exp.WithinGroup)


def _function_name(node: exp.Func) -> str | None:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    rendered = node.sql(DIALECT)
    m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_$]*)\s*(\(|$)", rendered)
    return m.group(1).lower() if m else None


def _snippet(node: exp.Expression, limit: int = 120) -> str:
    text = node.sql(DIALECT)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _walk_no_subqueries(node: exp.Expression) -> Iterator[exp.Expression]:
    """Walk an expression without descending into nested SELECTs."""
    for child in node.walk(prune=lambda n: isinstance(n, (exp.Subquery, exp.Select)) and n is not node):
        if isinstance(child, (exp.Subquery, exp.Select)) and child is not node:
            continue
        yield child


def _is_aggregate(node: exp.Expression, catalog: Catalog) -> bool:
    if isinstance(node, exp.Window):
        return False
    if isinstance(node, AGGREGATE_CLASSES):
        return not isinstance(node.parent, exp.Window)
    if isinstance(node, exp.Func):
        fn = catalog.functions.get(_function_name(node) or "")
        return bool(fn and fn.is_aggregate) and not isinstance(node.parent, exp.Window)
    return False


def _check_supported(tree: exp.Expression, scopes: list[Scope], model: str, catalog: Catalog) -> None:
    def reject(problem: str, node: exp.Expression, hint: str) -> None:
        raise UnsupportedConstruct(model, problem, where=_snippet(node), hint=hint)

    if not isinstance(tree, exp.Select):
        for node in [tree, *(s.expression for s in scopes if _in_root_union(s))]:
            if isinstance(node, (exp.Intersect, exp.Except)):
                reject(
                    f"{type(node).__name__.upper()} at the top level is not maintained yet",
                    node,
                    "express it with EXISTS / NOT EXISTS in WHERE, which is maintained",
                )
    for node in tree.find_all(exp.With):
        if node.args.get("recursive"):
            reject("WITH RECURSIVE cannot be maintained by key", node,
                   "materialize the hierarchy in a table, or use a fixed number of self-joins")
    for node in tree.find_all(exp.Rollup, exp.Cube, exp.GroupingSets):
        reject("GROUPING SETS / ROLLUP / CUBE are not maintained yet", node,
               "write one GROUP BY per level and combine them with UNION ALL (each branch is "
               "maintained), or build one tview per level")
    for node in tree.find_all(exp.TableSample):
        reject("TABLESAMPLE returns different rows each time", node, "remove TABLESAMPLE")
    for arg in ("limit", "offset", "fetch"):
        if tree.args.get(arg):
            reject(f"{arg.upper()} at the top level makes membership depend on rows elsewhere",
                   tree.args[arg], "filter with WHERE instead, or put ORDER BY .. LIMIT inside a "
                   "correlated subquery (top-n per parent)")
    for node in tree.find_all(exp.Cast):
        to = node.args.get("to")
        if to is not None and to.sql(DIALECT).lower().startswith("reg"):
            reject(f"a cast to {to.sql(DIALECT)} looks the name up in the catalog each time", node,
                   "store the identifier in a source column, or cast when reading the tview")
    for node in tree.find_all(exp.Select):
        if node is tree:
            continue
        for arg in ("limit", "offset", "fetch"):
            if node.args.get(arg) and not node.args.get("order"):
                reject(f"{arg.upper()} without ORDER BY picks whatever rows are read first", node.args[arg],
                       "add an ORDER BY that determines the rows (e.g. ending with a unique column)")
    for node in tree.find_all(exp.Window):
        # A window function's value depends on the rows of its partition: a change recomputes the
        # keys of every row in the partitions it touches (see _KeyQueryBuilder._peers).
        partition = node.args.get("partition_by") or []
        if not partition:
            reject("a window function without PARTITION BY depends on every row of the table", node,
                   "add PARTITION BY, or compute the value in a correlated subquery")
        for part in partition:
            if _has_subquery(part) or part.find(exp.Window) or any(  # (not _is_aggregate: parent is the Window)
                    isinstance(n, AGGREGATE_CLASSES) or (isinstance(n, exp.Func) and getattr(
                        catalog.functions.get(_function_name(n) or ""), "is_aggregate", False))
                    for n in part.walk()):
                reject("a PARTITION BY expression with a subquery or an aggregate is not maintained", part,
                       "partition by columns or plain expressions of the FROM items, e.g. a GROUP BY column")
    for node in tree.find_all(exp.Func):
        name = _function_name(node) or ""
        cls = type(node).__name__
        if name in NON_DETERMINISTIC or cls.startswith("Current") or cls in ("Rand", "Localtime",
                                                                               "Localtimestamp"):
            # `now()` parses as CURRENT_TIMESTAMP: name it as written (only call syntax has a position)
            called = cls == "CurrentTimestamp" and node.meta.get("start") is not None
            keyword = name in ("current_date", "current_time", "current_timestamp", "current_user", "session_user",
                               "current_role", "user", "localtime", "localtimestamp")
            shown = "now()" if called else (name if keyword else f"{name}()") if name else cls
            where = node.parent if isinstance(node.parent, exp.Condition) else node
            raise UnsupportedConstruct(
                model, f"{shown} depends on the clock, the session or a sequence",
                where=_snippet(where).replace("CURRENT_TIMESTAMP", "now()") if called else _snippet(where),
                hint="store the value in a source column (e.g. a created_at default) and read that")
        if name in ORDER_SENSITIVE_AGGREGATES and not _is_ordered_aggregate(node):
            reject(f"{name}() without ORDER BY collects values in whatever order rows are read", node,
                   f"add ORDER BY inside the call, e.g. {name}(x ORDER BY <a unique column>): a recompute of "
                   "a few keys and a full recompute read rows in different orders")
        if name == "age" and len(list(node.iter_expressions())) == 1:
            reject("age(x) with one argument is measured from today", node,
                   "use age(x, <a date column>), or store the reference date in a source column")
        fn = catalog.functions.get(name)
        if fn is not None and fn.volatility == "v":
            reject(f"function {name}() is VOLATILE: its result may differ on every call", node,
                   "use an IMMUTABLE or STABLE function, or store the value in a source column")
        if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string \
                and node.this.name.strip().lower() in TIME_LITERALS:
            reject(f"'{node.this.name}' is evaluated when the statement runs", node,
                   "store the value in a source column and read that")
    for cmp in tree.find_all(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between):
        for lit in cmp.find_all(exp.Literal):
            if lit.is_string and lit.name.strip().lower() in TIME_LITERALS and not isinstance(lit.parent, exp.Cast):
                reject(f"'{lit.name}' compared with a date or time is evaluated when the statement runs", cmp,
                       f"store the reference date in a source column; if '{lit.name}' is text, write "
                       f"'{lit.name}'::text")
    for scope in scopes:
        select = scope.expression
        if not isinstance(select, exp.Select):
            if scope.is_root or _in_root_union(scope) or not isinstance(select, exp.SetOperation):
                continue  # the top-level UNION chain, or a LATERAL function call
            reject("a set operation (UNION/INTERSECT/EXCEPT) inside a subquery is not maintained yet",
                   select, "split it into separate subqueries or tviews")
        for projection in select.expressions:
            for node in _walk_no_subqueries(projection):
                if isinstance(node, exp.Func):
                    fn = catalog.functions.get(_function_name(node) or "")
                    if (fn is not None and fn.returns_set) or isinstance(node, (exp.Explode, exp.Unnest)):
                        reject("a set-returning function in the select list changes the row count",
                               node, "move it to FROM (e.g. CROSS JOIN LATERAL jsonb_array_elements(..))"
                               " and aggregate it in a correlated subquery")
        for item in _from_items(select):
            # A function in FROM decides which rows exist; with a subquery in its arguments, the rows
            # a change removes cannot be computed from the changed rows.
            if not _is_relation(item) and not isinstance(item, exp.Subquery) and item.find(exp.Select) and not (
                    isinstance(item, exp.Lateral) and isinstance(item.this, (exp.Subquery, exp.Select))):
                reject("a subquery in the arguments of a function in FROM is not maintained", item,
                       "join the subquery's table, or move the subquery to the select list or WHERE")
        for join in select.args.get("joins") or []:
            # A LATERAL function call (unnest, jsonb_array_elements..) reads only the row it is joined
            # to, like the implicit `FROM t, unnest(t.a)`: maintained. A LATERAL subquery is not.
            if isinstance(join.this, exp.Lateral) and not _inside_subquery_or_is(scope) \
                    and isinstance(join.this.this, (exp.Subquery, exp.Select)):
                reject("a LATERAL subquery in the FROM of the tview's SELECT is not maintained yet", join,
                       "aggregate the LATERAL rows in a correlated subquery of the select list "
                       "(e.g. (select jsonb_agg(e) from jsonb_array_elements(..) e))")
            if join.args.get("on") is not None and join.args["on"].find(exp.Select):
                reject("a subquery inside a JOIN condition is not maintained", join,
                       "move the subquery to the WHERE clause or the select list")
        if scope.is_derived_table or scope.is_cte:
            # ORDER BY .. LIMIT in a derived table nested in a correlated subquery is a top-n per
            # parent: any change below the parent recomputes the parent whole, so it is exact.
            # Anywhere else, membership would depend on rows outside the delta.
            # GROUP BY, aggregates, DISTINCT and HAVING are maintained: the changed groups are
            # found from the changed rows, their aggregates are then recomputed whole.
            per_parent = ("limit", "offset") if _inside_subquery(scope) else ()
            for arg in ("limit", "offset", "qualify"):
                if select.args.get(arg) and arg not in per_parent:
                    reject(f"{arg.upper()} inside a derived table or CTE makes membership depend on rows "
                           "elsewhere", select, "filter with WHERE instead, or put ORDER BY .. LIMIT in a "
                           "correlated subquery of the select list (top-n per parent)")
    for branch in _branches(scopes):
        root = branch.expression
        if not root.args.get("group") and any(
            _is_aggregate(n, catalog) for p in root.expressions for n in _walk_no_subqueries(p)
        ):
            reject("an aggregate without GROUP BY yields one row with no key", root,
                   "add GROUP BY on the key, or aggregate in a correlated subquery per parent row")


def _branches(scopes: list[Scope]) -> list[Scope]:
    """The SELECTs whose rows make the tview: the root, or each branch of a top-level UNION."""
    root = scopes[-1]
    if isinstance(root.expression, exp.Select):
        return [root]
    return [s for s in scopes if isinstance(s.expression, exp.Select) and _in_root_union(s)]


def _in_root_union(scope: Scope) -> bool:
    """Is this scope a branch (or an inner UNION) of the top-level UNION chain?"""
    current: Scope | None = scope
    while current is not None and not current.is_root:
        if current.scope_type != ScopeType.SET_OPERATION:
            return False
        current = current.parent
    return current is not None and scope is not current


def _inside_subquery_or_is(scope: Scope) -> bool:
    return scope.is_subquery or _inside_subquery(scope)


def _inside_subquery(scope: Scope) -> bool:
    current = scope.parent
    while current is not None and not current.is_root:
        if current.is_subquery:
            return True
        current = current.parent
    return False


# --------------------------------------------------------------------------------------------------
# The key
# --------------------------------------------------------------------------------------------------


def _output_name(projection: exp.Expression) -> str:
    return str(projection.alias_or_name)


def _resolve_key(
    branches: list[Scope], unique_key: Sequence[str] | None, model: str, catalog: Catalog
) -> tuple[list[str], list[list[exp.Expression]]]:
    """The key's output names, and for each branch the expressions that compute them."""
    first = branches[0].expression
    outputs = [_output_name(p) for p in first.expressions]
    names = list(unique_key or [])
    if not names:
        candidates = [n for n in outputs if n.startswith("pk_")]
        if len(candidates) != 1:
            found = ", ".join(candidates) or "none"
            raise KeyError_(
                model,
                f"no unique_key configured and no single pk_* output column to infer it from (found: {found})",
                where="outputs: " + ", ".join(outputs),
                hint="set config(unique_key='...') to the column (or list of columns) that identifies a row",
            )
        names = candidates
    for name in names:
        if name not in outputs:
            raise KeyError_(
                model,
                f"unique_key column {name!r} is not an output column of the SELECT",
                where="outputs: " + ", ".join(outputs),
                hint="name one of the output columns, or alias the key expression to that name",
            )
    positions = [outputs.index(n) for n in names]
    per_branch: list[list[exp.Expression]] = []
    for branch in branches:
        select = branch.expression
        exprs: list[exp.Expression] = []
        for name, position in zip(names, positions):
            projection = select.expressions[position]
            e = projection.this if isinstance(projection, exp.Alias) else projection
            bad = next(
                (n for n in e.walk() if isinstance(n, (exp.Select, exp.Window)) or _is_aggregate(n, catalog)),
                None,
            )
            if bad is not None:
                raise KeyError_(
                    model,
                    f"unique_key column {name!r} is computed by a subquery, window or aggregate",
                    where=_snippet(e),
                    hint="key the tview by a source column or a GROUP BY expression",
                )
            exprs.append(e)
        distinct = select.args.get("distinct")
        if distinct is not None and distinct.args.get("on") is not None:
            # DISTINCT ON keeps one row per group; a write can change which row wins, and only the
            # group's key finds the row that lost. The key must be the DISTINCT ON expressions.
            on = {e.sql(DIALECT) for e in distinct.args["on"].expressions}
            if on != {e.sql(DIALECT) for e in exprs}:
                raise KeyError_(
                    model,
                    "with DISTINCT ON, the unique_key must be exactly the DISTINCT ON expressions",
                    where=_snippet(distinct),
                    hint="set unique_key to the output columns of the DISTINCT ON expressions",
                )
        per_branch.append(exprs)
    return names, per_branch


# --------------------------------------------------------------------------------------------------
# Occurrences of source tables and the columns read
# --------------------------------------------------------------------------------------------------

Occurrence = tuple[Scope, str, exp.Table]


def _occurrences(scopes: list[Scope]) -> dict[tuple[str, str], list[Occurrence]]:
    found: dict[tuple[str, str], list[Occurrence]] = {}
    for scope in scopes:
        for alias, source in _own_items(scope):
            if _is_relation(source):
                assert isinstance(source, exp.Table)
                found.setdefault((source.db, source.name), []).append((scope, alias, source))
    return found


def _from_items(select: exp.Expression) -> list[exp.Expression]:
    items: list[exp.Expression] = []
    from_ = select.args.get("from_")
    if from_ is not None:
        items.append(from_.this)
    items.extend(j.this for j in select.args.get("joins") or [])
    return items


def _own_items(scope: Scope) -> list[tuple[str, object]]:
    """(alias, source) for the FROM items written in this scope (not CTEs merely visible to it)."""
    out = []
    for item in _from_items(scope.expression):
        alias = str(item.alias_or_name)
        out.append((alias, scope.sources.get(alias, item)))
    return out


def _resolves_to(scope: Scope, alias: str) -> Scope | None:
    """The scope whose FROM defines `alias` as seen from `scope` (correlated references climb)."""
    current: Scope | None = scope
    while current is not None:
        if alias in {a for a, _ in _own_items(current)}:
            return current
        current = current.parent
    return None


def _columns_read(occurrences: list[Occurrence], table: Table, scopes: list[Scope]) -> tuple[tuple[str, ...], bool]:
    """The table's columns the model reads, in table order, and whether it reads whole rows."""
    used: set[str] = set()
    for owner, alias, _ in occurrences:
        for scope in scopes:
            whole_row = any(tc.name == alias for tc in getattr(scope, "table_columns", [])) or any(
                s.table == alias for s in scope.stars
            )
            if whole_row and _resolves_to(scope, alias) is owner:
                return table.columns, True
            for col in scope.columns:
                if col.table == alias and _resolves_to(scope, alias) is owner:
                    used.add(col.name)
    return tuple(c for c in table.columns if c in used), False


# --------------------------------------------------------------------------------------------------
# Delta-key queries
# --------------------------------------------------------------------------------------------------


def _conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    if node is None:
        return []
    if isinstance(node, exp.Where):
        node = node.this
    if isinstance(node, exp.Paren) and isinstance(node.this, exp.And):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _aliases_in(node: exp.Expression) -> set[str]:
    return {str(c.table) for c in node.find_all(exp.Column) if c.table}


def _reads_delta(node: exp.Expression) -> bool:
    return any(t.name == DELTA and not t.db for t in node.find_all(exp.Table))


def _free_aliases(node: exp.Expression) -> set[str]:
    """Aliases a conjunct reads from outside itself (those its own subqueries define excluded)."""
    inner = {str(i.alias_or_name) for sel in node.find_all(exp.Select) for i in _from_items(sel)}
    return _aliases_in(node) - inner


def _has_subquery(node: exp.Expression) -> bool:
    return node.find(exp.Select) is not None


def _and(parts: Iterable[exp.Expression]) -> exp.Expression | None:
    parts = list(parts)
    if not parts:
        return None
    return exp.and_(*[p.copy() for p in parts])


@dataclass
class _Step:
    """A scope with the delta substituted somewhere below or inside it."""

    select: exp.Select  # a copy of the scope's SELECT, rewritten
    delta_alias: str | None  # the FROM item that now reads changed rows, if in this scope
    nullable: set[str]  # aliases that may be NULL in rows containing the delta item
    # outer joins where the delta item's side is the one NULL-extended: (join index, that side's
    # aliases). Rows of the other side that *lack* a match depend on the changed rows too.
    null_joins: list[tuple[int, set[str]]] = field(default_factory=list)
    # when the delta is in a correlated subquery of this scope: that subquery and its step
    subquery: tuple[Scope, "_Step"] | None = None
    # outer joins that keep the delta item's rows whatever the other side: (join index, the other
    # side's aliases). A changed row may find no match there, and be NULL-extended.
    kept_joins: list[tuple[int, set[str]]] = field(default_factory=list)
    # (alias, column) pairs whose values are wrong here: aggregates of a derived table or CTE
    # computed over the changed rows only. No kept condition or key may read them.
    tainted: set[tuple[str, str]] = field(default_factory=set)


class _KeyQueryBuilder:
    def __init__(self, scopes: list[Scope], key_names: list[str], key_exprs: list[exp.Expression],
                 root: Scope, outer_with: exp.Expression | None = None, *, model: str = "?",
                 catalog: Catalog | None = None):
        self.model = model
        self.catalog = catalog or Catalog()
        self.scopes = scopes
        self.root = root  # the SELECT whose rows are keyed: the root, or a UNION branch
        self.outer_with = outer_with  # the UNION's WITH, which its branches' queries need
        self.current: tuple[str, str, tuple[str, ...]] | None = None  # the table being built for
        self.key_names = key_names
        self.key_exprs = key_exprs
        self.root_aliases = {a for a, _ in _own_items(self.root)}
        self.lookups: list[tuple[str, ...]] = []  # key columns looked up in the tview (see _lookup)

    # -- entry ------------------------------------------------------------------------------------

    def build(self, scope: Scope, alias: str, table: exp.Table, columns: Sequence[str] = ()) -> list[tuple[str, bool]]:
        """Key queries (SQL, direct?) for one occurrence of a source table, whose changed rows
        (projected on `columns`, the table's columns the model reads) are in tviews_delta."""
        self.current = (table.db, table.name, tuple(columns))
        delta = exp.Table(this=exp.to_identifier(DELTA),
                          alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
        step = self._substitute(scope, alias, delta)
        return [q for s, sub_step in self._climb(scope, step) for q in self._finish(s, sub_step)]

    # -- climbing from the occurrence to the root -----------------------------------------------

    def _climb(self, scope: Scope, step: _Step) -> Iterator[tuple[Scope, _Step]]:
        if scope is self.root:
            yield scope, step
            return
        if scope.is_root or scope.scope_type == ScopeType.SET_OPERATION:
            return  # this path leads to another UNION branch: its own builder covers it
        if scope.is_subquery:
            parent = scope.parent
            assert parent is not None
            exists = self._exists(scope, step)
            parent_select = self._bare_copy(parent)
            parent_select.where(exists, copy=False)
            parent_step = _Step(parent_select, None, set(), subquery=(scope, step))
            yield from self._climb(parent, parent_step)
            return
        if scope.is_derived_table or scope.is_cte:
            # The derived table over the changed rows: its rows (or groups) that the change touches.
            # Group keys and plain columns are exact; aggregates are not (they cover only the
            # changed rows), so the parent must not filter or key on them.
            # With window functions, every row of a touched partition is touched: the body is then
            # the derived table itself restricted to those partitions, its window values inexact.
            windows = _own_windows(scope.expression)
            body = self._peers(scope.expression, step, windows) if windows else step.select
            tainted = self._tainted_outputs(body, set() if windows else step.tainted)
            for projection in body.expressions if windows else []:
                if _output_name(projection) in tainted and projection.find(exp.Window):
                    projection.replace(exp.alias_(exp.Null(), exp.to_identifier(_output_name(projection), quoted=True)))
            for arg in ("order", "limit", "offset", "fetch", "distinct", "having"):  # a superset
                body.set(arg, None)
            kept = self._safe_conjuncts(body.args.get("where"))
            body.set("where", exp.Where(this=_and(kept)) if kept else None)
            for parent, alias in self._references(scope):
                used = self._columns_used(parent, alias)
                targets = {a for p in body.expressions if _output_name(p) in used for a in _aliases_in(p)}
                replacement = exp.Subquery(this=_prune(body.copy(), targets),
                                           alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
                parent_step = self._substitute(parent, alias, replacement)
                parent_step.tainted = {(alias, c) for c in tainted}
                self._drop_tainted(parent_step)
                yield from self._climb(parent, parent_step)
            return
        raise AssertionError(f"unexpected scope type {scope.scope_type}")

    def _tainted_outputs(self, body: exp.Select, tainted_in: set[tuple[str, str]]) -> set[str]:
        """Output columns of a derived table over the changed rows whose values are not exact."""
        group = body.args.get("group")
        projections = [p.this if isinstance(p, exp.Alias) else p for p in body.expressions]
        aggregating = group is not None or any(
            _is_aggregate(n, self.catalog) for e in projections for n in _walk_no_subqueries(e))
        group_sql = set()
        for g in group.expressions if group is not None else []:
            if isinstance(g, exp.Literal) and g.is_int and 0 < int(g.name) <= len(projections):
                g = projections[int(g.name) - 1]  # GROUP BY 1
            group_sql.add(g.sql(DIALECT))
        out = set()
        for p, e in zip(body.expressions, projections):
            reads_tainted = any((c.table, c.name) in tainted_in for c in e.find_all(exp.Column))
            windowed = any(isinstance(n, exp.Window) for n in _walk_no_subqueries(e))
            if reads_tainted or windowed or (aggregating and e.sql(DIALECT) not in group_sql):
                out.add(_output_name(p))
        return out

    def _drop_tainted(self, step: _Step) -> None:
        """Remove the conditions that read inexact aggregates (only ever selects more keys)."""
        if not step.tainted:
            return

        def bad(c: exp.Expression) -> bool:
            return any((col.table, col.name) in step.tainted for col in c.find_all(exp.Column))

        select = step.select
        where = _conjuncts(select.args.get("where"))
        if any(bad(c) for c in where):
            kept = [c for c in where if not bad(c)]
            select.set("where", exp.Where(this=_and(kept)) if kept else None)
        for join in select.args.get("joins") or []:
            on = join.args.get("on")
            if on is None or not any(bad(c) for c in _conjuncts(on)):
                continue
            if join.side:
                raise UnsupportedConstruct(
                    self.model, "an aggregate of a derived table or CTE is used in an outer join condition",
                    where=_snippet(join), hint="join on the derived table's GROUP BY columns, and filter "
                    "on the aggregate in WHERE")
            kept = [c for c in _conjuncts(on) if not bad(c)]
            join.set("on", _and(kept) or exp.true())

    def _columns_used(self, parent: Scope, alias: str) -> set[str]:
        """Columns of FROM item `alias` that matter for which keys a change reaches: those in the
        parent's conditions and key (a root or a subquery), or anything (a derived table's parent)."""
        select = parent.expression
        if parent is self.root or parent.is_subquery or parent.is_root:
            parts: list[exp.Expression] = [select.args[a] for a in ("where", "group") if select.args.get(a)]
            parts += [j for j in select.args.get("joins") or []]
            if parent is self.root:
                parts += self.key_exprs
        else:
            parts = [select]
        return {c.name for part in parts for c in part.find_all(exp.Column) if c.table == alias}

    def _references(self, target: Scope) -> Iterator[tuple[Scope, str]]:
        for scope in self.scopes:
            for alias, source in _own_items(scope):
                if source is target:
                    yield scope, alias

    # -- rewriting one scope --------------------------------------------------------------------

    def _bare_copy(self, scope: Scope) -> exp.Select:
        """The scope's FROM/WHERE only: grouping and ordering do not change membership. A derived
        table or CTE keeps its projections (its parent reads them); they are SPJ, checked earlier."""
        select = scope.expression.copy()
        assert isinstance(select, exp.Select)
        for arg in ("group", "having", "order", "limit", "offset", "fetch", "qualify", "distinct", "windows"):
            select.set(arg, None)
        if not (scope.is_derived_table or scope.is_cte):
            select.set("expressions", [exp.Literal.number(1)])
        kept = self._safe_conjuncts(select.args.get("where"))
        select.set("where", exp.Where(this=_and(kept)) if kept else None)
        return select

    @staticmethod
    def _safe_conjuncts(where: exp.Expression | None) -> list[exp.Expression]:
        # Conjuncts with a subquery read other tables at their current state; dropping them only
        # selects more keys. A conjunct that reads the changed rows is the one that matters: kept.
        return [c for c in _conjuncts(where) if not _has_subquery(c) or _reads_delta(c)]

    def _substitute(self, scope: Scope, alias: str, replacement: exp.Expression) -> _Step:
        """Replace FROM item `alias` and tighten outer joins to the rows that contain it."""
        select = scope.expression.copy()
        assert isinstance(select, exp.Select)
        from_ = select.args["from_"]
        joins = select.args.get("joins") or []
        items = [from_.this] + [j.this for j in joins]
        names = [str(i.alias_or_name) for i in items]
        index = names.index(alias)
        items[index].replace(replacement)
        nullable: set[str] = set()
        null_joins: list[tuple[int, set[str]]] = []
        kept_joins: list[tuple[int, set[str]]] = []
        for j, join in enumerate(joins, start=1):
            side = (join.side or "").upper()
            left = set(names[:j])
            if j == index:  # the delta item is joined here
                if side == "LEFT":
                    _set_side(join, None)
                    null_joins.append((j, {alias}))
                elif side == "RIGHT":
                    nullable |= left
                    kept_joins.append((j, left))
                elif side == "FULL":
                    _set_side(join, "RIGHT")
                    nullable |= left
                    null_joins.append((j, {alias}))
                    kept_joins.append((j, left))
            elif j > index:  # the delta item is on the left
                if side == "LEFT":
                    nullable.add(names[j])
                    kept_joins.append((j, {names[j]}))
                elif side == "RIGHT":
                    _set_side(join, None)
                    null_joins.append((j, left))
                elif side == "FULL":
                    _set_side(join, "LEFT")
                    nullable.add(names[j])
                    null_joins.append((j, left))
                    kept_joins.append((j, {names[j]}))
            else:  # joined before the delta item: keep, and remember what may be NULL
                if side == "LEFT":
                    nullable.add(names[j])
                elif side == "RIGHT":
                    nullable |= left
                elif side == "FULL":
                    nullable |= left | {names[j]}
        return _Step(select, alias, nullable, null_joins, kept_joins=kept_joins)

    def _exists(self, scope: Scope, step: _Step) -> exp.Expression:
        sub = step.select
        conditions = self._safe_conjuncts(sub.args.get("where"))
        # `x IN (SELECT c ...)`: only changed rows with c = x (or NULLs, which flip IN to NULL) matter.
        container = scope.expression.parent
        if isinstance(container, exp.Subquery):
            container = container.parent
        if isinstance(container, exp.In) and len(sub.expressions) == 1:
            outer = container.this
            inner = sub.expressions[0]
            inner = inner.this if isinstance(inner, exp.Alias) else inner
            conditions.append(
                exp.paren(
                    exp.or_(
                        exp.EQ(this=inner.copy(), expression=outer.copy()),
                        exp.Is(this=inner.copy(), expression=exp.Null()),
                        exp.Is(this=outer.copy(), expression=exp.Null()),
                    )
                )
            )
        probe = exp.select(exp.Literal.number(1))
        probe.set("from_", sub.args["from_"].copy())
        probe.set("joins", [j.copy() for j in sub.args.get("joins") or []] or None)
        if sub.args.get("with_"):
            probe.set("with_", sub.args["with_"].copy())
        if conditions:
            probe.where(_and(conditions), copy=False)
        # Keep the path from the changed rows to the columns that tie the subquery to its parent.
        own = {str(i.alias_or_name) for i in _from_items(probe)}
        ties = {a for c in conditions if _free_aliases(c) - own for a in _free_aliases(c) & own}
        return exp.Exists(this=_prune(probe, ties))

    # -- the final SELECT at the root -------------------------------------------------------------

    def _finish(self, root: Scope, step: _Step) -> list[tuple[str, bool]]:
        for key, name in zip(self.key_exprs, self.key_names):
            if any((c.table, c.name) in step.tainted for c in key.find_all(exp.Column)):
                raise UnsupportedConstruct(
                    self.model, f"unique_key column {name!r} is an aggregate of a derived table or CTE",
                    where=_snippet(key), hint="key the tview by the derived table's GROUP BY columns")
        out = [self._main(step)]
        if step.delta_alias is not None:
            out += [(sql, False) for sql in self._unmatched(step)]
            out += [(sql, False) for sql in self._kept_unmatched(step, direct=out[0][1])]
            out += [(sql, False) for sql in self._lookup(step)]
        windows = _own_windows(root.expression)
        if windows:  # the keys of every row in a partition the change touches
            peers = self._keys_select(self._peers(root.expression, step, windows), self.key_exprs)
            if step.select.args.get("with_"):  # the CTEs the root's FROM reads
                peers.set("with_", step.select.args["with_"].copy())
            out.append((self._render(_prune(peers, self._key_aliases())), False))
        return out

    # -- window functions -------------------------------------------------------------------------

    def _peers(self, select: exp.Select, step: _Step, windows: list[exp.Window]) -> exp.Select:
        """`select` (a window scope, unchanged) restricted to the partitions that contain a row of
        `step` (the same scope with the changed rows substituted), old and new images alike. Its
        other occurrences of the changed table read the table plus the changed rows (_render), so
        rows that left a partition are found too; its window values are therefore not exact."""
        peers = select.copy()
        peers.set("with_", None)
        for arg in ("order", "limit", "offset", "fetch", "distinct", "having"):
            peers.set(arg, None)
        touched = [self._touched(step, w) for w in windows]
        kept = self._safe_conjuncts(peers.args.get("where"))
        peers.set("where", exp.Where(this=_and([*kept, exp.paren(exp.or_(*touched))])))
        return peers

    def _touched(self, step: _Step, window: exp.Window) -> exp.Expression:
        """Is this row in a partition of a row of `step`? Per partition expression (a superset
        for several), `p = ANY(ARRAY(..)) OR (p IS NULL AND EXISTS(.. NULL))`: NULL-safe, and
        the planner answers it with an index on p."""
        parts = window.args["partition_by"]
        names = [f"tviews_p{i}" for i in range(1, len(parts) + 1)]
        for p in parts:
            if any((c.table, c.name) in step.tainted for c in p.find_all(exp.Column)):
                raise UnsupportedConstruct(
                    self.model, "a PARTITION BY expression reads an aggregate of a derived table or CTE",
                    where=_snippet(p), hint="partition by the derived table's GROUP BY columns")
        base = step.select.copy()
        base.set("with_", None)
        for arg in ("group", "having", "order", "limit", "offset", "fetch", "qualify", "distinct", "windows"):
            base.set(arg, None)
        kept = self._safe_conjuncts(base.args.get("where"))
        base.set("where", exp.Where(this=_and(kept)) if kept else None)
        targets = {a for p in parts for a in _aliases_in(p)}
        variants = [[p.copy() for p in parts]]
        selects = [base]
        # Rows whose changed side of an outer join became (or stopped being) NULL-extended sit in
        # the partition of the NULL-extended values.
        for j, side in step.null_joins:
            if any(_aliases_in(p) & side for p in parts):
                other = base.copy()
                _set_side(other.args["joins"][j - 1], None)
                selects.append(other)
                variants.append([_null_columns(p.copy(), side) for p in parts])
        # Changed rows an outer join keeps may find no match there (see _kept_unmatched): the
        # partition of the row it NULL-extends, where pruning could make them match.
        probe = base.copy()
        probe.set("expressions", [p.copy() for p in parts])
        pruned = len(_from_items(_prune(probe, targets))) < len(_from_items(base))
        for j, _side in step.kept_joins if pruned else []:
            other = base.copy()
            other.args["joins"][j - 1].set("on", exp.false())
            selects.append(other)
            variants.append([p.copy() for p in parts])
        branches = []
        for sel, values in zip(selects, variants):
            sel.set("expressions", [exp.alias_(v, exp.to_identifier(n, quoted=True)) for v, n in zip(values, names)])
            branches.append(_prune(sel, targets))
        union: exp.Expression = branches[0]
        for b in branches[1:]:
            union = exp.union(union, b, distinct=False)
        return _and(_in_values(p, exp.column(n, "tviews_p", quoted=True), union, "tviews_p")
                    for p, n in zip(parts, names))

    def _main(self, step: _Step) -> tuple[str, bool]:
        direct = self._direct(step)
        if direct is not None:
            body = direct.copy()
            body.set("with_", None)
            only_delta = not body.find(exp.Join) and all(t.name == DELTA for t in body.find_all(exp.Table))
            return self._render(direct), only_delta
        select = self._keys_select(step.select.copy(), self.key_exprs)
        return self._render(_prune(select, self._key_aliases())), False

    def _with_outer(self, select: exp.Select) -> exp.Select:
        if self.outer_with is not None and not select.args.get("with_"):
            select.set("with_", self.outer_with.copy())
        return select

    def _keys_select(self, select: exp.Select, key_exprs: Sequence[exp.Expression]) -> exp.Select:
        kept = self._safe_conjuncts(select.args.get("where"))
        select.set("where", exp.Where(this=_and(kept)) if kept else None)
        for arg in ("group", "having", "order", "limit", "offset", "fetch", "qualify", "windows"):
            select.set(arg, None)
        select.set("expressions", self._key_projection(key_exprs))
        select.set("distinct", exp.Distinct())
        return select

    def _render(self, select: exp.Select) -> str:
        """The final SQL of a key query.

        Any other reference to the changed table (a self-join, the table again in a subquery or a
        CTE) reads the table *and* the changed rows: a statement can change the rows of several
        occurrences at once (delete a user who commented on their own post), and the old images
        must still be found through the occurrence that is not the delta."""
        select = self._with_outer(select)
        if self.current is not None:
            schema, name, columns = self.current
            for table in list(select.find_all(exp.Table)):
                if table.name == name and table.db == schema:
                    cols = [exp.column(c, quoted=True) for c in columns] or [exp.Literal.number(1)]
                    both = exp.union(
                        exp.select(*cols).from_(exp.table_(name, db=schema, quoted=True)),
                        exp.select(*[c.copy() for c in cols]).from_(exp.to_identifier(DELTA)),
                        distinct=False,
                    )
                    alias = table.alias_or_name
                    table.replace(exp.Subquery(this=both, alias=exp.TableAlias(
                        this=exp.to_identifier(alias, quoted=True))))
        return select.sql(DIALECT)

    def _unmatched(self, step: _Step) -> list[str]:
        """Keys of rows where the changed rows' side of an outer join is NULL-extended: such a row
        appears or vanishes when a matching row is deleted or inserted. It is the row of the other
        side's rows that match the changed rows, with the NULL-extended side's columns NULL — and
        those of every later LEFT JOIN that can only match through them (a chain of outer joins).
        The key and the WHERE are evaluated on that row (`WHERE o.x IS NULL` holds on it)."""
        out = []
        for j, side in step.null_joins:
            nulled = self._nulled_closure(step.select, j, side)
            where = self._safe_conjuncts(step.select.args.get("where"))
            if not any(_aliases_in(k) & nulled for k in self.key_exprs) and \
                    not any(_aliases_in(c) & nulled for c in where):
                continue  # the same rows, keys and filter as the rows that contain the changed rows
            if any(_is_strict_on(c, nulled) for c in where):
                continue  # the WHERE drops such rows (e.g. `WHERE u.id IS NOT NULL`): no key
            select = step.select.copy()
            _set_side(select.args["joins"][j - 1], None)
            kept = [_null_columns(c.copy(), nulled) for c in where]
            select.set("where", exp.Where(this=_and(kept)) if kept else None)
            keys = [_null_columns(k.copy(), nulled) for k in self.key_exprs]
            out.append(self._render(_prune(self._keys_select(select, keys), self._key_aliases())))
        return out

    def _kept_unmatched(self, step: _Step, direct: bool) -> list[str]:
        """Keys of the changed rows where an outer join that keeps them finds no match (`delta
        LEFT JOIN b`, `a RIGHT JOIN delta`): the row with the other side NULL-extended, and
        whatever later joins make of that. The main query prunes tables off the join path, which
        lets it match rows the full SELECT does not: its keys are a superset of the matched rows'
        keys, but the row the SELECT NULL-extends instead can be missing. Here the join's ON is
        false, so every changed row comes out NULL-extended, as the SELECT computes it."""
        out = []
        for j, side in step.kept_joins:
            later = {str(i.alias_or_name) for i in _from_items(step.select)[j + 1:]}
            where = self._safe_conjuncts(step.select.args.get("where"))
            reads = {a for k in self.key_exprs for a in _aliases_in(k)}
            if not direct:  # a filter on the other side keeps rows the main query drops
                reads |= {a for c in where for a in _aliases_in(c)}
            if not reads & (side | later):
                continue  # the same keys as the main query's
            if any(_is_strict_on(c, side) for c in where):
                continue  # the WHERE drops such rows (`WHERE p.id IS NOT NULL`)
            select = step.select.copy()
            select.args["joins"][j - 1].set("on", exp.false())
            out.append(self._render(self._keys_select(select, self.key_exprs)))
        return out

    def _lookup(self, step: _Step) -> list[str]:
        """Keys of the tview rows that hold, in the key columns computed from the changed table
        alone, the values of a changed row: `SELECT <key> FROM <the tview> WHERE key_i = expr_i(delta)`.

        The other key queries compute a row's key through the other tables at their current state.
        When the same statement also changed those (an ON DELETE SET NULL cascade: the post loses its
        author and the author is deleted), the key a row had before cannot be computed any more;
        the tview itself still holds it. Added when the key also reads other tables; the runtime
        indexes the columns it looks up."""
        alias = step.delta_alias
        own = [i for i, k in enumerate(self.key_exprs) if _aliases_in(k) == {alias} and not _has_subquery(k)]
        if not own or len(own) == len(self.key_exprs):
            return []
        # Other key columns computed by function calls on the changed row (LATERAL unnest(p.tags))
        # change with it: the other key queries compute them exactly.
        items = {str(i.alias_or_name): i for i in _from_items(step.select)}
        others = {a for i, k in enumerate(self.key_exprs) if i not in own for a in _aliases_in(k)} - {alias}
        if all(a in items and not _is_relation(items[a]) and not isinstance(items[a], exp.Subquery)
               and _free_aliases(items[a]) <= {alias} for a in others):
            return []
        self.lookups.append(tuple(self.key_names[i] for i in own))
        delta_item = next(i for i in _from_items(step.select) if str(i.alias_or_name) == alias)
        conditions = []
        for i in own:
            stored = exp.column(self.key_names[i], SELF_ALIAS, quoted=True)
            value = self.key_exprs[i].copy()
            conditions.append(exp.paren(exp.or_(
                exp.EQ(this=stored.copy(), expression=value.copy()),
                exp.and_(exp.Is(this=stored.copy(), expression=exp.Null()), exp.Is(this=value, expression=exp.Null())))))
        select = exp.select(*[exp.alias_(exp.column(n, SELF_ALIAS, quoted=True), exp.to_identifier(n, quoted=True))
                              for n in self.key_names]).distinct()
        select.set("from_", exp.From(this=exp.Table(this=exp.to_identifier(SELF), alias=exp.TableAlias(
            this=exp.to_identifier(SELF_ALIAS)))))
        select.set("joins", [exp.Join(this=delta_item.copy(), on=_and(conditions))])
        return [self._render(select)]

    def _nulled_closure(self, select: exp.Select, j: int, side: set[str]) -> set[str]:
        """The aliases that are NULL in a row whose `side` is NULL-extended at join `j`: `side`, and
        every later LEFT JOIN whose ON needs one of them (a strict comparison fails on NULL). A later
        join that could still match or be dropped through them is not followed: rejected."""
        names = [str(i.alias_or_name) for i in _from_items(select)]
        nulled = set(side)
        for m, join in enumerate(select.args.get("joins") or [], start=1):
            if m <= j:
                continue
            on = join.args.get("on")
            conjuncts = _conjuncts(on) if on is not None else []
            touching = [c for c in conjuncts if _aliases_in(c) & nulled]
            if not touching:
                if (join.side or "").upper() in ("RIGHT", "FULL"):
                    self._reject_outer_mix(join)
                continue
            strict = any(_is_strict_on(c, nulled) for c in touching)
            if (join.side or "").upper() == "LEFT" and strict:
                nulled.add(names[m])
            elif not (join.side or "").upper() and strict:
                continue  # an inner join that fails on the NULLs: such rows do not exist (no key)
            else:
                self._reject_outer_mix(join)
        return nulled

    def _reject_outer_mix(self, join: exp.Join) -> None:
        raise UnsupportedConstruct(
            self.model, "this combination of outer joins is not maintained yet: a later join can match or "
            "drop rows whose outer-joined side is NULL", where=_snippet(join),
            hint="join on plain equalities of columns, put RIGHT/FULL joins first, or split the model into tviews")

    def _key_aliases(self) -> set[str]:
        return {a for k in self.key_exprs for a in _aliases_in(k)}

    def _key_projection(self, exprs: Sequence[exp.Expression] | None = None) -> list[exp.Expression]:
        return [
            exp.alias_(e.copy(), exp.to_identifier(n, quoted=True))
            for e, n in zip(exprs or self.key_exprs, self.key_names)
        ]

    def _direct(self, step: _Step) -> exp.Select | None:
        """Read the keys off the changed rows without joining the rest of the model, when possible."""
        # (a) the delta item is in the root and every key expression reads only that item, or is
        #     equated to one of its columns by a WHERE conjunct or an inner join condition
        if step.delta_alias is not None:
            alias = step.delta_alias
            equalities = self._safe_conjuncts(step.select.args.get("where"))
            for join in step.select.args.get("joins") or []:
                if not join.side and join.args.get("on") is not None:
                    equalities += _conjuncts(join.args["on"])
            replacements = []
            for key in self.key_exprs:
                if _aliases_in(key) == {alias}:
                    replacements.append(key)
                    continue
                match = _equated_column(key, equalities, {alias}) if isinstance(key, exp.Column) else None
                if match is None:
                    return None
                replacements.append(match)
            item = next(i for i in _from_items(step.select) if str(i.alias_or_name) == alias)
            probe = exp.select(*self._key_projection(replacements)).from_(item.copy()).distinct()
            if step.select.args.get("with_"):
                probe.set("with_", step.select.args["with_"].copy())
            return probe
        # (b) the delta is in a subquery directly under the root, correlated to each key column
        sub = step.subquery
        if sub is None:
            return None
        sub_scope, sub_step = sub
        if sub_scope.parent is not self.root:
            return None
        own = {str(i.alias_or_name) for i in _from_items(sub_step.select)}
        conjuncts = self._safe_conjuncts(sub_step.select.args.get("where"))
        replacements: list[exp.Expression] = []
        allowed = own - sub_step.nullable
        for key in self.key_exprs:
            if not isinstance(key, exp.Column) or key.table not in self.root_aliases:
                return None
            match = _equated_column(key, conjuncts, allowed)
            if match is None:
                return None
            replacements.append(match)
        local = [c for c in conjuncts if _free_aliases(c) <= own]
        probe = exp.select(*self._key_projection(replacements)).distinct()
        delta_alias = sub_step.delta_alias
        if delta_alias is not None and all(r.table == delta_alias for r in replacements):
            # Every key is a column of the changed rows: the subquery's other tables only filter.
            item = next(i for i in _from_items(sub_step.select) if str(i.alias_or_name) == delta_alias)
            probe.set("from_", exp.From(this=item.copy()))
            local = [c for c in local if _aliases_in(c) <= {delta_alias}]
        else:
            probe.set("from_", sub_step.select.args["from_"].copy())
            probe.set("joins", [j.copy() for j in sub_step.select.args.get("joins") or []] or None)
        if sub_step.select.args.get("with_"):
            probe.set("with_", sub_step.select.args["with_"].copy())
        if local:
            probe.where(_and(local), copy=False)
        if self.root.expression.args.get("with_") and not probe.args.get("with_"):
            probe.set("with_", self.root.expression.args["with_"].copy())
        return probe


def _in_values(value: exp.Expression, column: exp.Column, rows: exp.Expression, alias: str) -> exp.Expression:
    """`value = ANY(ARRAY(SELECT column FROM rows)) OR (value IS NULL AND EXISTS(.. column IS NULL))`."""
    def source() -> exp.Subquery:
        return exp.Subquery(this=rows.copy(), alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))

    values = exp.Array(expressions=[exp.select(column.copy()).from_(source())])
    nulls = exp.select(exp.Literal.number(1)).from_(source()).where(exp.Is(this=column.copy(), expression=exp.Null()))
    return exp.paren(exp.or_(
        exp.EQ(this=value.copy(), expression=exp.Any(this=exp.paren(values))),
        exp.and_(exp.Is(this=value.copy(), expression=exp.Null()), exp.Exists(this=nulls)),
    ))


def _own_windows(select: exp.Expression) -> list[exp.Window]:
    """Window functions computed by this SELECT itself (not by its subqueries)."""
    return [n for p in select.expressions for n in _walk_no_subqueries(p) if isinstance(n, exp.Window)]


def _equated_column(key: exp.Column, conjuncts: list[exp.Expression], aliases: set[str]) -> exp.Column | None:
    """A column of one of `aliases` that a conjunct `a = key` (or `key = a`) equates to `key`."""
    for c in conjuncts:
        if isinstance(c, exp.EQ):
            for a, b in ((c.this, c.expression), (c.expression, c.this)):
                if (isinstance(b, exp.Column) and b.table == key.table and b.name == key.name
                        and isinstance(a, exp.Column) and a.table in aliases):
                    return a
    return None


def _prune(select: exp.Select, targets: set[str]) -> exp.Select:
    """Keep only the FROM items on the join path from the changed rows to `targets`.

    Correctness, not only speed: the key query finds a row through the *unchanged* rows between
    the changed row and the key. Items beyond the changed row may have changed in the same
    statement (an ON DELETE CASCADE deletes the comments of a deleted post before the post's own
    trigger runs), so requiring them could miss keys. Dropping an item and the conditions that
    mention it only ever selects more keys."""
    items = _from_items(select)
    names = [str(i.alias_or_name) for i in items]
    joins = select.args.get("joins") or []
    where = _conjuncts(select.args.get("where"))
    start = {n for n, i in zip(names, items) if _reads_delta(i)}
    start |= {a for c in where if _reads_delta(c) for a in _free_aliases(c) if a in names}
    targets = targets & set(names)
    if not start or not targets or len(items) < 2:
        return select
    edges: dict[str, set[str]] = {n: set() for n in names}
    for c in where + [c for j in joins if j.args.get("on") is not None for c in _conjuncts(j.args["on"])]:
        linked = [a for a in _free_aliases(c) if a in edges]
        for a in linked:
            edges[a].update(b for b in linked if b != a)
    for i, item in enumerate(items):  # a LATERAL item depends on what it reads
        for a in _free_aliases(item):
            if a in edges and a != names[i]:
                edges[a].add(names[i])
                edges[names[i]].add(a)
    came_from: dict[str, str | None] = {n: None for n in start}
    frontier = list(start)
    while frontier:
        a = frontier.pop(0)
        for b in sorted(edges[a]):
            if b not in came_from:
                came_from[b] = a
                frontier.append(b)
    if not targets <= set(came_from):
        return select  # not connected by conditions: keep everything (still correct)
    keep = set(start)
    for t in targets:
        node: str | None = t
        while node is not None and node not in start:
            keep.add(node)
            node = came_from[node]
    if keep >= set(names):
        return select
    kept_items = [(i, item) for i, item in enumerate(items) if names[i] in keep]
    new_where = [c for c in where if _free_aliases(c) <= keep]
    new_joins = []
    for i, item in kept_items[1:]:
        join = joins[i - 1].copy()
        on = join.args.get("on")
        if on is not None:
            kept_on = [c for c in _conjuncts(on) if _free_aliases(c) & set(names) <= keep]
            join.set("on", _and(kept_on) or exp.true())
        new_joins.append(join)
    first_index, first = kept_items[0]
    if first_index > 0 and any((joins[i - 1].side or "").upper() in ("RIGHT", "FULL") for i, _ in kept_items[1:]):
        return select  # its ON would become a WHERE that drops the rows a later outer join NULL-extends
    if first_index > 0:  # the FROM item was dropped: the first kept join's item takes its place
        on = joins[first_index - 1].args.get("on")
        if on is not None:
            new_where += [c for c in _conjuncts(on) if _free_aliases(c) & set(names) <= keep]
    pruned = select.copy()
    pruned.set("from_", exp.From(this=first.copy()))
    pruned.set("joins", new_joins or None)
    pruned.set("where", exp.Where(this=_and(new_where)) if new_where else None)
    # Outputs of a derived table that read a dropped item: the parent does not use them for
    # membership (see _columns_used), so NULL keeps the query valid.
    dropped = set(names) - keep
    for projection in pruned.expressions:
        value = projection.this if isinstance(projection, exp.Alias) else projection
        if _aliases_in(value) & dropped:
            if isinstance(projection, exp.Alias):
                projection.set("this", exp.Null())
            else:
                projection.replace(exp.alias_(exp.Null(), exp.to_identifier(_output_name(projection), quoted=True)))
    group = pruned.args.get("group")
    if group is not None:
        kept_group = [g for g in group.expressions if not (_aliases_in(g) & dropped)]
        pruned.set("group", exp.Group(expressions=kept_group) if kept_group else None)
    return pruned


def _null_columns(node: exp.Expression, aliases: set[str]) -> exp.Expression:
    """Replace the columns of `aliases` by NULL of the same type (CASE WHEN false THEN col END)."""
    def null_of(col: exp.Column) -> exp.Expression:
        return exp.Case(ifs=[exp.If(this=exp.false(), true=col.copy())])

    if isinstance(node, exp.Column) and node.table in aliases:
        return null_of(node)
    for col in list(node.find_all(exp.Column)):
        if col.table in aliases:
            col.replace(null_of(col))
    return node


def _is_strict_on(condition: exp.Expression, nulled: set[str]) -> bool:
    """Is this join condition false or NULL whenever a column of `nulled` is NULL? True for a
    comparison with such a column as a direct operand (through casts and arithmetic), and for
    `col IS NOT NULL`."""
    if isinstance(condition, exp.Not) and isinstance(condition.this, exp.Is) and \
            isinstance(condition.this.expression, exp.Null):
        condition = exp.EQ(this=condition.this.this, expression=exp.Literal.number(0))
    elif isinstance(condition, exp.Is) and condition.args.get("negate") and isinstance(condition.expression, exp.Null):
        condition = exp.EQ(this=condition.this, expression=exp.Literal.number(0))
    if not isinstance(condition, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)):
        return False

    def strict_operand(e: exp.Expression) -> bool:
        if isinstance(e, exp.Column):
            return str(e.table) in nulled
        if isinstance(e, (exp.Cast, exp.Paren)):
            return strict_operand(e.this)
        if isinstance(e, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.DPipe)):
            return strict_operand(e.left) or strict_operand(e.right)
        return False

    return strict_operand(condition.this) or strict_operand(condition.expression)


def _set_side(join: exp.Join, side: str | None) -> None:
    join.set("side", side)
    if side is None and (join.kind or "").upper() == "OUTER":
        join.set("kind", None)


# --------------------------------------------------------------------------------------------------
# Lineage: which source columns feed each output column (and JSON path inside it)
# --------------------------------------------------------------------------------------------------


def _lineage(root: Scope, scopes: list[Scope]) -> dict[str, list[dict[str, str]]]:
    by_select = {id(s.expression): s for s in scopes}
    out: dict[str, list[dict[str, str]]] = {}
    for projection in root.expression.expressions:
        name = _output_name(projection)
        value = projection.this if isinstance(projection, exp.Alias) else projection
        found: dict[tuple[str, str], None] = {}
        _walk_lineage(value, "", root, by_select, found, depth=0)
        out[name] = [{"path": p, "source": s} for p, s in found]
    return out


def _walk_lineage(
    node: exp.Expression,
    path: str,
    scope: Scope,
    by_select: dict[int, Scope],
    found: dict[tuple[str, str], None],
    depth: int,
) -> None:
    if depth > 50:
        return
    if isinstance(node, exp.Func) and _function_name(node) in ("jsonb_build_object", "json_build_object"):
        args = list(node.expressions)
        for k, v in zip(args[::2], args[1::2]):
            key = k.name if isinstance(k, exp.Literal) else "?"
            _walk_lineage(v, f"{path}.{key}" if path else key, scope, by_select, found, depth + 1)
        return
    if isinstance(node, exp.Func) and _function_name(node) in ("jsonb_agg", "json_agg", "array_agg"):
        path = f"{path}[]"
    if isinstance(node, exp.Select):
        inner = by_select.get(id(node), scope)
        for p in node.expressions:
            _walk_lineage(p.this if isinstance(p, exp.Alias) else p, path, inner, by_select, found, depth + 1)
        return
    if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
        _resolve_column(node.table, node.name, path, scope, by_select, found, depth)
        return
    if isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
        _resolve_column(node.table, "*", path, scope, by_select, found, depth)
        return
    if isinstance(node, exp.TableColumn):
        _resolve_column(node.name, "*", path, scope, by_select, found, depth)
        return
    for child in node.iter_expressions():
        _walk_lineage(child, path, scope, by_select, found, depth + 1)


def _resolve_column(
    alias: str,
    column: str,
    path: str,
    scope: Scope | None,
    by_select: dict[int, Scope],
    found: dict[tuple[str, str], None],
    depth: int,
) -> None:
    while scope is not None and alias not in scope.sources:
        scope = scope.parent
    if scope is None:
        return
    source = scope.sources[alias]
    if _is_relation(source):
        assert isinstance(source, exp.Table)
        found[(path, f"{source.db}.{source.name}.{column}")] = None
    elif isinstance(source, Scope) and isinstance(source.expression, exp.Select):
        for p in source.expression.expressions:
            if column == "*" or _output_name(p) == column:
                value = p.this if isinstance(p, exp.Alias) else p
                _walk_lineage(value, path, source, by_select, found, depth + 1)

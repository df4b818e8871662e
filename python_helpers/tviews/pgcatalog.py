"""Read from pg_catalog what the analysis needs about a model's tables and functions.

Takes any DB-API-style `query(sql, params) -> rows` callable, so the dbt adapter (on dbt's own
connection) and the tests (psycopg) share it. No driver is imported here.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .analysis import referenced_functions, referenced_tables
from .catalog import Catalog, Function, Table
from .runtime import quote_ident

Query = Callable[[str, Sequence[Any]], Sequence[Sequence[Any]]]

_TABLE_SQL = """
select n.nspname::text, c.relname::text, c.relkind::text,
       coalesce(array_agg(a.attname::text order by a.attnum) filter (where a.attnum is not null), '{}'),
       coalesce(array_agg(a.attname::text) filter (where a.attnotnull), '{}')
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where c.oid = to_regclass(%s)
group by 1, 2, 3
"""

# Volatility over all overloads of a name: "v" only when every overload is volatile.
_FUNCTION_SQL = """
select lower(proname::text),
       case when bool_and(provolatile = 'v') then 'v' when bool_and(provolatile = 'i') then 'i' else 's' end,
       bool_or(prokind = 'a'), bool_or(prokind = 'w'), bool_and(proretset)
from pg_proc where lower(proname::text) = any(%s)
group by 1
"""

def load_catalog(query: Query, sql: str, model: str) -> Catalog:
    tables: dict[tuple[str, str], Table] = {}
    unqualified: dict[str, str] = {}
    for schema, name in referenced_tables(sql, model):
        regclass = ".".join(quote_ident(part) for part in (schema, name) if part)
        rows = query(_TABLE_SQL, (regclass,))
        if not rows:
            continue  # reported by the analysis, with the model's name
        s, n, kind, columns, not_null = rows[0]
        tables[(s, n)] = Table(s, n, kind, tuple(columns), frozenset(not_null))
        if not schema:
            unqualified[name] = s
    names = referenced_functions(sql, model)
    functions = {
        str(name): Function(str(name), str(vol), bool(agg), bool(win), bool(srf))
        for name, vol, agg, win, srf in (query(_FUNCTION_SQL, (list(names),)) if names else [])
    }
    return Catalog(tables=tables, unqualified=unqualified, functions=functions)


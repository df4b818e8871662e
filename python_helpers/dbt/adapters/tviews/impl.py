"""The `tviews` adapter: dbt-postgres, plus `@available` methods the `tview` materialization calls.

This is the only bridge from Jinja to Python: it reads what the analysis needs from pg_catalog on
dbt's own connection (inside the model's transaction), runs the pure-Python analysis, and returns
plain data to Jinja.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from dbt.adapters.base import available
from dbt.adapters.postgres import PostgresAdapter
from dbt_common.exceptions import DbtRuntimeError

import tviews
from tviews.runtime import quote_ident
from dbt.adapters.tviews.connections import TviewsConnectionManager

# Settings that change what the SELECT returns; maintenance pins them to the build's values, and a
# change of them in the build session is a change of definition.
PINNED_SETTINGS = ("search_path", "TimeZone", "DateStyle", "IntervalStyle", "extra_float_digits", "bytea_output")

_TABLE_SQL = """
select n.nspname, c.relname, c.relkind,
       coalesce(array_agg(a.attname::text order by a.attnum) filter (where a.attnum is not null), '{}')
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where c.oid = to_regclass(%s)
group by 1, 2, 3
"""

_FUNCTION_SQL = """
select lower(proname::text),
       case when bool_and(provolatile = 'v') then 'v' when bool_and(provolatile = 'i') then 'i' else 's' end,
       bool_or(prokind = 'a'), bool_or(prokind = 'w'), bool_and(proretset)
from pg_proc where lower(proname::text) = any(%s)
group by 1
"""


class TviewsAdapter(PostgresAdapter):
    ConnectionManager = TviewsConnectionManager

    @classmethod
    def type(cls) -> str:
        return "tviews"

    # -- helpers ---------------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        # dbt's execute() takes no bind parameters; use the same connection's cursor directly so
        # names from the SQL are never spliced into catalog queries. Inside the model's transaction.
        connection = self.connections.get_thread_connection()
        if not connection.transaction_open:
            self.connections.begin()
        handle = connection.handle
        with handle.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def _catalog(self, sql: str, model: str) -> tviews.Catalog:
        tables: dict[tuple[str, str], tviews.Table] = {}
        unqualified: dict[str, str] = {}
        for schema, name in tviews.referenced_tables(sql, model):
            regclass = ".".join(quote_ident(part) for part in (schema, name) if part)
            rows = self._query(_TABLE_SQL, (regclass,))
            if not rows:
                continue  # reported by the analysis, with the model's name
            s, n, kind, columns = rows[0]
            tables[(s, n)] = tviews.Table(s, n, kind, tuple(columns))
            if not schema:
                unqualified[name] = s
        names = tviews.referenced_functions(sql, model)
        functions = {
            name: tviews.Function(name, vol, bool(agg), bool(win), bool(srf))
            for name, vol, agg, win, srf in (self._query(_FUNCTION_SQL, (names,)) if names else [])
        }
        return tviews.Catalog(tables=tables, unqualified=unqualified, functions=functions)

    # -- called from Jinja -----------------------------------------------------------------------

    @available
    def tviews_runtime_sql(self, schema: str) -> str:
        try:
            return tviews.runtime_sql(schema)
        except ValueError as e:
            raise DbtRuntimeError(str(e)) from e

    @available
    def tviews_runtime_version(self) -> str:
        return tviews.RUNTIME_VERSION

    @available
    def tviews_plan(self, sql: str, model: str, unique_key: Any, extra: str = "") -> dict[str, Any]:
        """Analyse a tview model; raise a dbt error naming the model and the construct if it
        cannot be maintained. Returns plain data for the materialization."""
        if isinstance(unique_key, str):
            unique_key = [unique_key]
        try:
            catalog = self._catalog(sql, model)
            plan = tviews.analyze(sql, model=model, unique_key=unique_key or None, catalog=catalog)
        except tviews.TviewError as e:
            raise DbtRuntimeError(str(e)) from e
        settings = self._query(
            "select " + ", ".join("current_setting(%s)" for _ in PINNED_SETTINGS), PINNED_SETTINGS
        )[0]
        data = plan.to_dict()
        return {
            "key_columns": list(plan.key_columns),
            "sources": [{"schema": s.schema, "name": s.name} for s in plan.sources],
            "plan_json": json.dumps(data, sort_keys=True),
            "hash": plan.fingerprint(sql, tviews.RUNTIME_VERSION, json.dumps(settings), extra),
        }

    @available
    def tviews_literal(self, text: str) -> str:
        """A dollar-quoted SQL literal for any text (the tag never occurs in the text)."""
        while True:
            tag = "$tv_" + secrets.token_hex(4) + "$"
            if tag not in text:
                return tag + text + tag

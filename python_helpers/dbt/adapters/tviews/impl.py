"""The `tviews` adapter: dbt-postgres, plus `@available` methods the `tview` materialization calls.

This is the only bridge from Jinja to Python: it reads what the analysis needs from pg_catalog on
dbt's own connection (inside the model's transaction), runs the pure-Python analysis, and returns
plain data to Jinja.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Sequence

from dbt.adapters.base import available
from dbt.adapters.postgres import PostgresAdapter
from dbt_common.exceptions import DbtRuntimeError
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

import tviews
from tviews.pgcatalog import load_catalog
from dbt.adapters.tviews.connections import TviewsConnectionManager


class TviewsAdapter(PostgresAdapter):
    ConnectionManager = TviewsConnectionManager

    @classmethod
    def type(cls) -> str:
        return "tviews"

    # -- helpers ---------------------------------------------------------------------------------

    def _handle_in_transaction(self) -> Any:
        """dbt's connection, with the server really inside a transaction.

        dbt's outside-transaction hooks send a literal COMMIT, after which psycopg2 believes a
        transaction is open while the server is idle: every later statement would commit on its
        own and the build would not be atomic. Ask the server, and BEGIN if it is idle."""
        connection = self.connections.get_thread_connection()
        if not connection.transaction_open:
            self.connections.begin()
        handle = connection.handle
        if handle.get_transaction_status() == TRANSACTION_STATUS_IDLE:
            with handle.cursor() as cur:
                cur.execute("begin")
        return handle

    def _query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        # dbt's execute() takes no bind parameters; use the same connection's cursor directly so
        # names from the SQL are never spliced into catalog queries.
        with self._handle_in_transaction().cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    # -- called from Jinja -----------------------------------------------------------------------

    @available
    def tviews_begin(self) -> str:
        """Start the model's transaction for real (see _handle_in_transaction)."""
        self._handle_in_transaction()
        return ""

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
            catalog = load_catalog(self._query, sql, model)
            plan = tviews.analyze(sql, model=model, unique_key=unique_key or None, catalog=catalog)
        except tviews.TviewError as e:
            raise DbtRuntimeError(str(e)) from e
        data = plan.to_dict()
        # The build's settings are compared in the database (see the materialization's is_current).
        return {
            "key_columns": list(plan.key_columns),
            "sources": [{"schema": s.schema, "name": s.name} for s in plan.sources],
            "plan_json": json.dumps(data, sort_keys=True),
            "hash": plan.fingerprint(sql, tviews.RUNTIME_VERSION, extra),
        }

    @available
    def tviews_literal(self, text: str) -> str:
        """A dollar-quoted SQL literal for any text (the tag never occurs in the text)."""
        while True:
            tag = "$tv_" + secrets.token_hex(4) + "$"
            if tag not in text:
                return tag + text + tag

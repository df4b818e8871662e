"""The in-database runtime: one SQL file, installed into a schema of the user's choice."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

_SQL = resources.files(__package__).joinpath("sql/runtime.sql").read_text(encoding="utf-8")

# The version changes whenever the runtime's text does, so an upgrade is never silently skipped.
RUNTIME_VERSION = "0.1.0+" + hashlib.sha256(_SQL.encode()).hexdigest()[:10]

_SAFE_SCHEMA = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def runtime_sql(schema: str = "tviews") -> str:
    """The runtime's DDL for `schema` (idempotent: safe to run again)."""
    if not _SAFE_SCHEMA.fullmatch(schema):
        raise ValueError(
            f"tviews runtime schema {schema!r} must be a plain identifier (letters, digits, _ and $)"
        )
    return _SQL.replace("@schema@", quote_ident(schema)).replace("@version@", RUNTIME_VERSION)

"""What the analysis needs to know about the database, read by the caller from pg_catalog.

Kept as plain data so the analysis can be unit-tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    # pg_class.relkind: r table, p partitioned table, v view, m materialized view, f foreign table
    kind: str
    columns: tuple[str, ...]
    # columns with NOT NULL (pg_attribute.attnotnull): a key of them needs no NULL-safe matching
    not_null: frozenset[str] = frozenset()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Function:
    name: str
    # pg_proc.provolatile over every overload: "i", "s" or "v" (all volatile) and prokind set
    volatility: str
    is_aggregate: bool = False
    is_window: bool = False
    returns_set: bool = False


@dataclass(frozen=True)
class Catalog:
    # (schema, name) -> Table; unqualified names are resolved by the caller through search_path
    tables: dict[tuple[str, str], Table] = field(default_factory=dict)
    # search_path resolution for names written without a schema: name -> schema
    unqualified: dict[str, str] = field(default_factory=dict)
    # lower-cased function name -> Function
    functions: dict[str, Function] = field(default_factory=dict)

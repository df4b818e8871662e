"""dbt-tviews analysis: turn a tview model's compiled SELECT into a maintenance plan.

Pure Python (sqlglot only): no dbt imports, no database access. The dbt adapter plugin in
`dbt.adapters.tviews` reads the catalog, calls `analyze`, and hands the plan to the runtime.
"""

from .analysis import Plan, SourcePlan, analyze, referenced_functions, referenced_tables
from .catalog import Catalog, Function, Table
from .errors import KeyError_, ParseError, SourceError, TviewError, UnsupportedConstruct
from .runtime import RUNTIME_VERSION, runtime_sql

__all__ = [
    "Catalog", "Function", "KeyError_", "ParseError", "Plan", "RUNTIME_VERSION", "SourceError",
    "SourcePlan", "Table", "TviewError", "UnsupportedConstruct", "analyze", "referenced_functions",
    "referenced_tables", "runtime_sql",
]

"""dbt adapter plugin `tviews`: dbt-postgres plus the bridge from Jinja to the tview analysis."""

from dbt.adapters.base import AdapterPlugin
from dbt.contracts.graph.nodes import ModelNode

from dbt.adapters.tviews.connections import TviewsConnectionManager, TviewsCredentials  # noqa: F401
from dbt.adapters.tviews.impl import TviewsAdapter
from dbt.include import tviews

Plugin = AdapterPlugin(
    adapter=TviewsAdapter,  # type: ignore[arg-type]
    credentials=TviewsCredentials,
    include_path=tviews.PACKAGE_PATH,
    # Loads the postgres macros too: lookup order is tviews -> postgres -> default.
    dependencies=["postgres"],
)


# dbt-core decides at parse time, from a hard-coded list ("table", "incremental"), which
# materializations enforce contract constraints, and warns that they are ignored for any other.
# The tview materialization creates its table through dbt's own create-table-as, which applies
# them: say so, instead of a warning that is not true.
_enforces = ModelNode.materialization_enforces_constraints


def _materialization_enforces_constraints(self: ModelNode) -> bool:
    return self.config.materialized == "tview" or bool(_enforces.fget(self))  # type: ignore[attr-defined]


ModelNode.materialization_enforces_constraints = property(_materialization_enforces_constraints)  # type: ignore[assignment]

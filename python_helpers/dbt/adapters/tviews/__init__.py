"""dbt adapter plugin `tviews`: dbt-postgres plus the bridge from Jinja to the tview analysis."""

from dbt.adapters.base import AdapterPlugin

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

"""The example project builds, keeps itself up to date, and a second run is a no-op."""

from conftest import DbtProject, divergences, tview_count


def test_example_builds_and_follows_writes(example_project: DbtProject, conn) -> None:
    """dbt build creates the four tviews; later writes by a plain client keep them exact."""
    example_project.run("build")
    s = example_project.schema
    assert tview_count(conn, s) == 4
    conn.execute(f'update "{example_project.app_schema}".tb_user set name = %s where pk_user = 1', ("Ada L.",))
    assert conn.execute(f'select data->\'author\'->>\'name\' from "{s}".tv_post where pk_post = 1').fetchone()[0] == "Ada L."
    assert divergences(conn, s) == []


def test_second_run_is_a_noop(example_project: DbtProject, conn) -> None:
    """A second dbt run with the same SQL keeps every tview and says so on the run line."""
    example_project.run("run")
    second = example_project.run("run")
    assert set(second.statuses().values()) == {"KEEP (unchanged)"}

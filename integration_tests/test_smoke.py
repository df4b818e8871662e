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


def test_every_key_query_reads_the_changed_rows(example_project: DbtProject, conn) -> None:
    """Each installed delta-key query reads tviews_delta: none falls back to selecting every key."""
    example_project.run("run")
    rows = conn.execute(
        "select t.tview_name, s.source_name, s.key_query from tviews.tview t "
        "join tviews.tview_source s using (tview_id) where t.tview_schema = %s",
        (example_project.schema,),
    ).fetchall()
    assert len(rows) >= 10
    blind = [(tv, src) for tv, src, query in rows if "tviews_delta" not in query]
    assert blind == []

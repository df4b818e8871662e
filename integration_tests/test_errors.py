"""Unsupported models fail `dbt run` with a message naming the model, the construct, where and what to do."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import DbtResult
from pgtarget import PgTarget
from consumer import (  # shared helpers and fixtures
    ConsumerProject,
    catalog_rows,
    consumer_template,  # noqa: F401 - fixture
    copy_project,
    mconn,  # noqa: F401 - fixture
    relation_oid,
    schema_exists,
    tviews_triggers,
)

CUSTOMER = "{{ source('shop', 'tb_customer') }}"

# model name -> (SELECT, unique_key or None, words of which the message must use one to name the
# construct, matched case-sensitively in the message with the model's name blanked out)
BAD_MODELS: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    # sqlglot reads now() as CURRENT_TIMESTAMP (the same function in PostgreSQL); either name is accepted
    "tv_bad_now": (f"select c.pk_customer, now() as seen_at from {CUSTOMER} c", "pk_customer",
                   ("now", "NOW", "current_timestamp", "CURRENT_TIMESTAMP")),
    "tv_bad_random": (f"select c.pk_customer, random() as r from {CUSTOMER} c", "pk_customer",
                      ("random", "RANDOM")),
    "tv_bad_limit": (f"select c.pk_customer, c.name from {CUSTOMER} c order by c.pk_customer limit 2",
                     "pk_customer", ("LIMIT",)),
    "tv_bad_window": (f"select c.pk_customer, row_number() over (order by c.pk_customer) as rn from {CUSTOMER} c",
                      "pk_customer", ("PARTITION BY",)),
    "tv_bad_partition": (f"select c.pk_customer, rank() over (partition by (select count(*) from {CUSTOMER} o "
                         f"where o.region = c.region) order by c.name) as r from {CUSTOMER} c", "pk_customer",
                         ("PARTITION BY",)),
    "tv_bad_rollup": (f"select coalesce(c.region, '*') as k, count(*) as n from {CUSTOMER} c group by rollup (c.region)",
                      "k", ("ROLLUP",)),
    "tv_bad_tablesample": (f"select c.pk_customer, c.name from {CUSTOMER} c tablesample system (50)",
                           "pk_customer", ("TABLESAMPLE",)),
    "tv_bad_recursive": (f"with recursive r as (select c.pk_customer from {CUSTOMER} c union all "
                         f"select r.pk_customer + 1 from r where r.pk_customer < 3) "
                         f"select r.pk_customer from r", "pk_customer", ("WITH RECURSIVE",)),
    "tv_bad_srf": (f"select c.pk_customer, generate_series(1, 3) as n from {CUSTOMER} c", "pk_customer",
                   ("set-returning",)),
    "tv_bad_view_source": ("select v.pk_customer, v.name from {{ source('shop', 'v_customer') }} v",
                           "pk_customer", ("is a view",)),
    "tv_bad_no_key": (f"select c.name, c.region from {CUSTOMER} c", None, ("unique_key",)),
}


def model_sql(select: str, unique_key: str | None) -> str:
    key = f", unique_key='{unique_key}'" if unique_key else ""
    return "{{ config(materialized='tview'%s) }}\n%s\n" % (key, select)


class Failed:
    def __init__(self, project: ConsumerProject, result: DbtResult) -> None:
        self.project = project
        self.result = result

    def message(self, model: str) -> str:
        for r in self.result.results:
            if r.node.name == model:
                return str(r.message)
        raise AssertionError(f"no result for {model}: {self.result.statuses()}")


@pytest.fixture(scope="module")
def failed(pg: PgTarget, consumer_template: Path, tmp_path_factory: pytest.TempPathFactory,
           mconn: psycopg.Connection[Any]) -> Iterator[Failed]:
    """One `dbt run` of every unsupported model (each fails on its own)."""
    project = copy_project(pg, consumer_template, tmp_path_factory.mktemp("errors") / "project")
    for name, (select, key, _) in BAD_MODELS.items():
        project.write_model(name, model_sql(select, key))
    try:
        project.setup()
        result = project.run("run", "-s", *BAD_MODELS, expect_ok=False)
        yield Failed(project, result)
    finally:
        project.drop_all(mconn)


@pytest.mark.parametrize("model", list(BAD_MODELS))
def test_unsupported_construct_fails_with_a_precise_message(failed: Failed, mconn, model: str) -> None:
    """The model fails, and its message names the model, the construct, where it is and a hint; nothing is created."""
    assert failed.result.statuses()[model] != "KEEP (unchanged)"
    assert str(next(r.status for r in failed.result.results if r.node.name == model)) == "error"
    msg = failed.message(model)
    assert re.search(rf"tview [\w.]*{model}\b", msg), msg
    without_name = msg.replace(model, "<model>")
    assert any(re.search(rf"\b{re.escape(word)}\b", without_name) for word in BAD_MODELS[model][2]), msg
    assert "where:" in msg, msg
    assert "hint:" in msg, msg
    assert relation_oid(mconn, failed.project.schema, model) is None
    assert f"{failed.project.schema}.{model}" not in catalog_rows(mconn, [failed.project.schema])


def test_failed_models_leave_no_triggers(failed: Failed, mconn) -> None:
    """None of the failed models installed a trigger on the sources."""
    assert tviews_triggers(mconn, [failed.project.schema, failed.project.src_schema]) == set()


@pytest.fixture()
def postgres_project(pg: PgTarget, consumer_template: Path, tmp_path: Path,
                     mconn: psycopg.Connection[Any]) -> Iterator[ConsumerProject]:
    """The consumer project with `type: postgres` instead of `type: tviews` in profiles.yml."""
    project = copy_project(pg, consumer_template, tmp_path / "project")
    project.setup()  # the source tables, under the tviews profile
    profiles = project.profiles_dir / "profiles.yml"
    profiles.write_text(profiles.read_text().replace("type: tviews", "type: postgres"))
    assert "type: postgres" in profiles.read_text()
    yield project
    project.drop_all(mconn)


def _assert_install_hint(res: DbtResult) -> None:
    text = res.text + "\n" + "\n".join(str(r.message) for r in res.results)
    assert "dbt-tviews" in text and "type: tviews" in text, text[-3000:]
    assert "tv_customer" in text, text[-3000:]


def test_plain_postgres_profile_says_what_to_install(postgres_project: ConsumerProject, mconn) -> None:
    """Under `type: postgres` (and no tviews tests in the project), a tview model fails telling to install dbt-tviews and set type: tviews."""
    (postgres_project.project_dir / "models" / "schema.yml").unlink()
    res = postgres_project.run("run", "-s", "tv_customer", "--no-partial-parse", expect_ok=False)
    _assert_install_hint(res)
    assert relation_oid(mconn, postgres_project.schema, "tv_customer") is None
    assert not schema_exists(mconn, "tviews") or f"{postgres_project.schema}.tv_customer" not in catalog_rows(
        mconn, [postgres_project.schema])


def test_plain_postgres_profile_with_consistent_tests_says_what_to_install(postgres_project: ConsumerProject) -> None:
    """Under `type: postgres`, a project that also declares tviews.consistent tests still gets the install hint (not a parse error)."""
    res = postgres_project.run("run", "-s", "tv_customer", "--no-partial-parse", expect_ok=False)
    _assert_install_hint(res)

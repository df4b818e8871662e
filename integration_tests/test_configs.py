"""Standard dbt configs keep working on a tview (one consumer project built once for the module)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import DbtResult, divergences
from pgtarget import PgTarget
from consumer import (  # shared helpers and fixtures
    ConsumerProject,
    catalog_rows,
    consumer_template,  # noqa: F401 - fixture
    copy_project,
    mconn,  # noqa: F401 - fixture
    one,
    q,
    relation_oid,
    tviews_triggers,
)

ROLE = f"tviews_reader_{secrets.token_hex(4)}"

MODELS = {
    "tv_indexed": """{{ config(materialized='tview', unique_key='pk_customer',
          indexes=[{'columns': ['region']}, {'columns': ['name'], 'type': 'hash'}]) }}
select c.pk_customer, c.name, c.region from {{ source('shop', 'tb_customer') }} c
""",
    "tv_granted": """{{ config(materialized='tview', unique_key='pk_customer', grants={'select': ['%s']}) }}
select c.pk_customer, c.name from {{ source('shop', 'tb_customer') }} c
""" % ROLE,
    "tv_documented": """{{ config(materialized='tview', unique_key='pk_customer') }}
select c.pk_customer, c.name from {{ source('shop', 'tb_customer') }} c
""",
    "tv_hooked": """{{ config(materialized='tview', unique_key='pk_customer',
    pre_hook=[before_begin("insert into {{ target.schema }}_src.tb_audit (event) values ('pre outside')"),
              "insert into {{ target.schema }}_src.tb_audit (event) values ('pre inside')"],
    post_hook=["insert into {{ target.schema }}_src.tb_audit (event, n) select 'post inside', count(*) from {{ this }}",
               after_commit("insert into {{ target.schema }}_src.tb_audit (event, n) select 'post outside', count(*) from {{ this }}")]) }}
select c.pk_customer, c.region from {{ source('shop', 'tb_customer') }} c
""",
    "tv_contracted": """{{ config(materialized='tview', unique_key='pk_customer') }}
select c.pk_customer, c.name, (select count(*) from {{ source('shop', 'tb_order') }} o
                               where o.fk_customer = c.pk_customer) as order_count
from {{ source('shop', 'tb_customer') }} c
""",
    "tv_custom": """{{ config(materialized='tview', unique_key='pk_order', schema='extra', alias='tv_aliased') }}
select o.pk_order, o.amount from {{ source('shop', 'tb_order') }} o
""",
    "tv_composite": """{{ config(materialized='tview', unique_key=['fk_customer', 'status']) }}
select o.fk_customer, o.status, count(*) as order_count, sum(o.amount) as total
from {{ source('shop', 'tb_order') }} o
group by o.fk_customer, o.status
""",
    "tv_inferred": """{{ config(materialized='tview') }}
select o.pk_order, o.fk_customer, o.amount from {{ source('shop', 'tb_order') }} o
""",
}

SCHEMA_YML = """version: 2

models:
  - name: tv_documented
    description: "Customers, documented: it's a tview"
    config:
      persist_docs: {relation: true, columns: true}
    columns:
      - name: pk_customer
        description: The customer's key.
      - name: name
        description: Display name.
  - name: tv_contracted
    config:
      contract: {enforced: true}
    columns:
      - name: pk_customer
        data_type: integer
        constraints: [{type: not_null}]
      - name: name
        data_type: text
      - name: order_count
        data_type: bigint
"""

BAD_CONTRACT_YML = """version: 2

models:
  - name: tv_contract_bad
    config:
      contract: {enforced: true}
    columns:
      - name: pk_customer
        data_type: integer
      - name: name
        data_type: integer
"""


class Built:
    def __init__(self, project: ConsumerProject, first: DbtResult, second: DbtResult) -> None:
        self.project = project
        self.first = first
        self.second = second

    @property
    def schema(self) -> str:
        return self.project.schema


@pytest.fixture(scope="module")
def built(pg: PgTarget, consumer_template: Path, tmp_path_factory: pytest.TempPathFactory,
          mconn: psycopg.Connection[Any]) -> Iterator[Built]:
    """The config models, built by two consecutive `dbt run`s."""
    project = copy_project(pg, consumer_template, tmp_path_factory.mktemp("configs") / "project")
    project.extra_schemas.append(project.schema + "_extra")
    for name in ("tv_customer", "tv_order", "tv_region"):
        project.remove_model(name)
    (project.project_dir / "models" / "schema.yml").write_text(SCHEMA_YML)
    for name, sql in MODELS.items():
        project.write_model(name, sql)
    mconn.execute(f'create role "{ROLE}"')
    try:
        project.setup()
        first = project.run("run")
        second = project.run("run")
        yield Built(project, first, second)
    finally:
        project.drop_all(mconn)
        mconn.execute(f'drop role if exists "{ROLE}"')


def test_all_config_models_build_and_second_run_keeps_them(built: Built, mconn) -> None:
    """Every config model builds as a tview, and a second run keeps each of them unchanged."""
    assert set(built.first.statuses()) == set(MODELS)
    # a contract builds by CREATE TABLE + INSERT, the others by CREATE TABLE AS
    assert all(v.startswith(("SELECT ", "INSERT 0 ")) for v in built.first.statuses().values()), built.first.statuses()
    assert built.second.statuses() == {m: "KEEP (unchanged)" for m in MODELS}
    assert len(catalog_rows(mconn, [built.schema, built.schema + "_extra"])) == len(MODELS)
    assert divergences(mconn, built.schema) == []


def test_indexes(built: Built, mconn) -> None:
    """The `indexes` config creates its indexes on the tview (besides the unique key's index)."""
    defs = [r[0] for r in q(mconn, "select indexdef from pg_indexes where schemaname = %s and tablename = 'tv_indexed'",
                            built.schema)]
    assert any("USING btree (region)" in d for d in defs), defs
    assert any("USING hash (name)" in d for d in defs), defs
    assert any("UNIQUE" in d and "(pk_customer)" in d for d in defs), defs


def test_grants(built: Built, mconn) -> None:
    """The `grants` config gives the role SELECT on the tview, also after a --full-refresh rebuild."""
    rel = f'"{built.schema}".tv_granted'
    assert one(mconn, "select has_table_privilege(%s, %s, 'SELECT')", ROLE, rel) is True
    assert one(mconn, "select has_table_privilege(%s, %s, 'INSERT')", ROLE, rel) is False
    built.project.run("run", "-s", "tv_granted", "--full-refresh")
    assert one(mconn, "select has_table_privilege(%s, %s, 'SELECT')", ROLE, rel) is True


def test_persist_docs(built: Built, mconn) -> None:
    """persist_docs writes the model and column descriptions as comments on the tview."""
    rel = f'"{built.schema}".tv_documented'
    assert one(mconn, "select obj_description(%s::regclass, 'pg_class')", rel) == "Customers, documented: it's a tview"
    cols = dict(q(mconn, "select attname::text, col_description(attrelid, attnum) from pg_attribute "
                         "where attrelid = %s::regclass and attnum > 0", rel))
    assert cols == {"pk_customer": "The customer's key.", "name": "Display name."}


def test_hooks(built: Built, mconn) -> None:
    """Pre and post hooks inside and outside the transaction run on every run, in order, and post hooks see the tview's rows."""
    rows = q(mconn, f'select event, n from "{built.project.src_schema}".tb_audit order by id')
    one_run = [("pre outside", None), ("pre inside", None), ("post inside", 3), ("post outside", 3)]
    assert rows == one_run * 2


def test_outside_transaction_hook_keeps_the_build_atomic(built: Built, mconn) -> None:
    """With a before_begin pre-hook, a failing tview build (duplicate key) still leaves no table behind."""
    p = built.project
    p.write_model("tv_hook_dup", """{{ config(materialized='tview', unique_key='fk_customer',
        pre_hook=[before_begin("select 1")]) }}
select o.fk_customer, o.amount from {{ source('shop', 'tb_order') }} o
""")
    try:
        res = p.run("run", "-s", "tv_hook_dup", expect_ok=False)
        assert "not unique" in res.text
        assert relation_oid(mconn, p.schema, "tv_hook_dup") is None, (
            "the table of a failed build was committed: statements after a before_begin hook ran outside a transaction")
        assert f"{p.schema}.tv_hook_dup" not in catalog_rows(mconn, [p.schema])
        assert ("tviews_guard" not in {t[1] for t in tviews_triggers(mconn, [p.schema])
                                       if t[0] == f"{p.schema}.tv_hook_dup"})
    finally:
        p.remove_model("tv_hook_dup")
        mconn.execute(f'drop table if exists "{p.schema}".tv_hook_dup')


def test_contract(built: Built, mconn) -> None:
    """An enforced contract builds the tview with the declared types; a wrong type fails with dbt's contract error and leaves nothing."""
    types = dict(q(mconn, "select attname::text, format_type(atttypid, atttypmod) from pg_attribute "
                          "where attrelid = %s::regclass and attnum > 0", f'"{built.schema}".tv_contracted'))
    assert types == {"pk_customer": "integer", "name": "text", "order_count": "bigint"}
    p = built.project
    p.write_model("tv_contract_bad", """{{ config(materialized='tview', unique_key='pk_customer') }}
select c.pk_customer, c.name from {{ source('shop', 'tb_customer') }} c
""")
    yml = p.project_dir / "models" / "contract_bad.yml"
    yml.write_text(BAD_CONTRACT_YML)
    try:
        res = p.run("run", "-s", "tv_contract_bad", expect_ok=False)
        assert "enforced contract" in res.text and "tv_contract_bad" in res.text, res.text[-3000:]
        assert relation_oid(mconn, p.schema, "tv_contract_bad") is None
        assert f"{p.schema}.tv_contract_bad" not in catalog_rows(mconn, [p.schema])
    finally:
        p.remove_model("tv_contract_bad")
        yml.unlink()


def test_contract_changes_rebuild_and_constraints_draw_no_warning(built: Built, mconn) -> None:
    """dbt does not warn that a tview ignores contract constraints (it applies them), and a changed contract (a constraint added) rebuilds the tview instead of keeping it."""
    assert "Constraint types are not supported" not in built.first.text
    p = built.project
    schema_yml = p.project_dir / "models" / "schema.yml"
    try:
        schema_yml.write_text(SCHEMA_YML.replace(
            "        data_type: text\n", "        data_type: text\n        constraints: [{type: not_null}]\n"))
        res = p.run("run", "-s", "tv_contracted")
        assert res.statuses()["tv_contracted"] != "KEEP (unchanged)", res.text[-2000:]
        assert "Constraint types are not supported" not in res.text
        assert one(mconn, "select attnotnull from pg_attribute where attrelid = %s::regclass and attname = 'name'",
                   f'"{built.schema}".tv_contracted') is True
    finally:
        schema_yml.write_text(SCHEMA_YML)
        p.run("run", "-s", "tv_contracted")


def test_custom_schema_and_alias(built: Built, mconn) -> None:
    """`schema` and `alias` configs put the tview at <target schema>_extra.tv_aliased, registered and maintained there."""
    extra = built.schema + "_extra"
    assert relation_oid(mconn, extra, "tv_aliased") is not None
    assert relation_oid(mconn, built.schema, "tv_custom") is None
    assert f"{extra}.tv_aliased" in catalog_rows(mconn, [extra])
    mconn.execute(f'insert into "{built.project.src_schema}".tb_order values (1000, 1, 42, \'open\')')
    assert one(mconn, f'select amount from "{extra}".tv_aliased where pk_order = 1000') == 42
    mconn.execute(f'delete from "{built.project.src_schema}".tb_order where pk_order = 1000')
    assert one(mconn, f'select count(*) from "{extra}".tv_aliased where pk_order = 1000') == 0
    assert divergences(mconn, extra) == []


def test_composite_unique_key(built: Built, mconn) -> None:
    """A list unique_key keys the tview by both columns (unique index, catalog) and rows move between keys on update."""
    s, src = built.schema, built.project.src_schema
    assert one(mconn, "select key_columns from tviews.tview where tview_schema = %s and tview_name = 'tv_composite'",
               s) == ["fk_customer", "status"]
    assert one(mconn, "select count(*) from pg_index where indrelid = %s::regclass and indisunique "
                      "and indnatts = 2", f'"{s}".tv_composite') >= 1
    mconn.execute(f'update "{src}".tb_order set status = \'shipped\' where fk_customer = 2 and status = \'paid\'')
    assert q(mconn, f'select status, order_count from "{s}".tv_composite where fk_customer = 2 order by status') == [
        ("open", 1), ("shipped", 1)]
    assert divergences(mconn, s) == []


def test_inferred_unique_key(built: Built, mconn) -> None:
    """Without unique_key the key is the single pk_* output column."""
    assert one(mconn, "select key_columns from tviews.tview where tview_schema = %s and tview_name = 'tv_inferred'",
               built.schema) == ["pk_order"]
    assert one(mconn, "select count(*) from pg_attribute where attrelid = %s::regclass and attname = 'pk_order' "
                      "and attnotnull", f'"{built.schema}".tv_inferred') == 1


def test_docs_generate(built: Built, mconn) -> None:
    """`dbt docs generate` succeeds and its catalog lists the tviews as tables with their columns."""
    built.project.run("docs", "generate")
    catalog = json.loads((built.project.project_dir / "target" / built.schema / "catalog.json").read_text())
    node = catalog["nodes"]["model.tviews_consumer.tv_documented"]
    assert node["metadata"]["type"] == "BASE TABLE"
    assert node["metadata"]["comment"] == "Customers, documented: it's a tview"
    assert set(node["columns"]) == {"pk_customer", "name"}
    assert "model.tviews_consumer.tv_custom" in catalog["nodes"]
    assert catalog["nodes"]["model.tviews_consumer.tv_custom"]["metadata"]["name"] == "tv_aliased"
    assert {f"model.tviews_consumer.{m}" for m in MODELS} <= set(catalog["nodes"])
    # docs generate changes nothing
    assert tviews_triggers(mconn, [built.schema]) != set()
    assert divergences(mconn, built.schema) == []

{#-
  materialized='tview': a table kept equal to its SELECT by triggers on its sources.

  Python (the tviews adapter) analyses the compiled SQL; Jinja only branches on the result:
    unchanged and intact -> keep (no rebuild, seconds whatever the size)
    new                  -> lock sources, CREATE TABLE AS, install maintenance
    changed / --full-refresh / not a tview yet -> the same into a new table, then swap
  Everything between BEGIN and COMMIT is one transaction: a failure leaves nothing behind.
-#}
{% materialization tview, adapter='postgres' %}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set grant_config = config.get('grants') -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  -- `BEGIN` happens here:
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {#- Analysis first: an unsupported model fails before anything is created. -#}
  {%- set plan = tviews.analyze_model(sql, model.name, tviews.config_value('unique_key'), tviews.rebuild_inputs()) -%}
  {%- do adapter.tviews_begin() -%}
  {%- do tviews.install_runtime() -%}

  {%- if existing_relation is not none and existing_relation.is_table
        and not should_full_refresh() and tviews.is_current(target_relation, plan.hash) -%}
    {{ log("tview " ~ target_relation ~ ": definition unchanged and maintenance intact, keeping it") }}
    {%- do store_raw_result(name='main', message='KEEP (unchanged)', code='KEEP', rows_affected=0) -%}
  {%- else -%}
    {%- do tviews.build(target_relation, existing_relation, sql, plan) -%}
  {%- endif -%}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {%- do apply_grants(target_relation, grant_config, should_revoke=should_revoke(existing_relation, full_refresh_mode=True)) -%}
  {%- do persist_docs(target_relation, model) -%}
  -- `COMMIT` happens here
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- dbt now prefers custom config keys under `meta`; accept both places. -#}
{% macro config_value(name, default=none) -%}
  {%- set meta = config.get('meta') or {} -%}
  {{ return(meta.get(name, config.get(name, default))) }}
{%- endmacro %}


{#- Config that changes the built table without changing the SELECT; part of the definition hash. -#}
{% macro rebuild_inputs() -%}
  {%- set contract = config.get('contract') -%}
  {%- set enforced = contract.enforced if contract is not none and contract.enforced is defined else false -%}
  {%- set columns = {} -%}
  {%- if enforced -%}
    {%- for name, column in model.columns.items() -%}
      {%- do columns.update({name: [column.data_type, column.constraints | map(attribute='type') | list]}) -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(tojson({'indexes': config.get('indexes'), 'contract': enforced, 'columns': columns,
                    'constraints': model.constraints | map(attribute='type') | list if enforced else [],
                    'unlogged': config.get('unlogged'), 'unique_key': tviews.config_value('unique_key'),
                    'options': tviews.options()})) }}
{%- endmacro %}


{#- Model options the runtime acts on (see runtime.sql: tview.options). -#}
{% macro options() -%}
  {{ return({'bypass_source_rls': tviews.config_value('bypass_source_rls', false) in [true, 'true', 'True']}) }}
{%- endmacro %}


{#- Same definition, built with the same settings, and maintenance intact. -#}
{% macro is_current(relation, hash) -%}
  {%- set rt = tviews.runtime_relation_sql() -%}
  {%- set check -%}
    select coalesce((select definition_hash = {{ tviews.literal(hash) }} and settings = {{ rt }}._build_settings()
                     from {{ rt }}.tview
                     where tview_schema = {{ tviews.literal(relation.schema) }}
                       and tview_name = {{ tviews.literal(relation.identifier) }}), false)
           and {{ rt }}.is_intact({{ tviews.literal(relation.schema) }}, {{ tviews.literal(relation.identifier) }})
  {%- endset -%}
  {{ return(run_query(check).columns[0].values()[0]) }}
{%- endmacro %}


{% macro build(target_relation, existing_relation, sql, plan) -%}
  {%- set rt = tviews.runtime_relation_sql() -%}
  {#- One tview build at a time per database: a build holds its sources locked until COMMIT, and two
      overlapping builds (dbt threads) could each wait for the other's sources, or for a table the
      other's post-hook writes. Then no write to a source may commit between the snapshot of the
      build and the triggers. -#}
  {% call statement('tviews_build_lock') -%}
    select pg_advisory_xact_lock(hashtext('dbt-tviews build'))
  {%- endcall %}
  {% call statement('tviews_lock_sources') -%}
    select {{ rt }}.lock_sources({{ tviews.literal(tojson(plan.sources)) }}::jsonb)
  {%- endcall %}

  {#- Register the tview and bind its SELECT (the runtime's view of it): the table is populated
      from that view, with the settings maintenance will use, so the build and every later
      recompute compute alike. -#}
  {%- set bound = tviews.prepare(target_relation, sql, plan) -%}
  {%- for schema in bound.left_out -%}
    {{ log("tview " ~ target_relation ~ ": schema " ~ schema ~ " is left out of the search_path of its maintenance: "
           ~ "other roles can create objects in it (revoke CREATE from them if its functions are needed)", info=True) }}
  {%- endfor -%}
  {%- set populate = 'select * from ' ~ bound.relation -%}

  {%- if existing_relation is none -%}
    {%- do tviews.with_pinned_settings(bound, get_create_table_as_sql(False, target_relation, populate)) -%}
    {%- do create_indexes(target_relation) -%}
    {%- do tviews.register(target_relation) -%}
  {%- else -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(target_relation, existing_relation.type) -%}
    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}
    {%- do tviews.with_pinned_settings(bound, get_create_table_as_sql(False, intermediate_relation, populate)) -%}
    {%- do create_indexes(intermediate_relation) -%}
    {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}
    {#- Dropping the old table also drops its source triggers and those of the tviews that read
        it (they depend on its row type); register() and reattach_dependents() put them back.
        The plain drop, not the adapter's: that one also runs gc() and repair(), needless here. -#}
    {% do default__drop_relation(backup_relation) %}
    {%- do tviews.register(target_relation) -%}
    {% call statement('tviews_reattach') -%}
      select {{ rt }}.reattach_dependents({{ tviews.literal(target_relation.schema) }}, {{ tviews.literal(target_relation.identifier) }})
    {%- endcall %}
  {%- endif -%}
{%- endmacro %}


{% macro prepare(relation, sql, plan) -%}
  {%- set prepare_sql -%}
    select {{ tviews.runtime_relation_sql() }}.prepare(
      {{ tviews.literal(relation.schema) }}, {{ tviews.literal(relation.identifier) }},
      {{ tviews.literal(plan.plan_json) }}::jsonb, {{ tviews.literal(sql) }},
      {{ tviews.literal(plan.hash) }}, {{ tviews.literal(model.unique_id) }},
      {{ tviews.literal(tojson(tviews.options())) }}::jsonb)::text
  {%- endset -%}
  {{ return(fromjson(run_query(prepare_sql).columns[0].values()[0])) }}
{%- endmacro %}


{#- Run the statement (dbt's create table as) with the settings maintenance runs with, then put
    the session's back. -#}
{% macro with_pinned_settings(bound, statement_sql) -%}
  {% call statement('tviews_pin') -%}
    select set_config('search_path', {{ tviews.literal(bound.search_path) }}, true),
           set_config('row_security', 'off', true)
  {%- endcall %}
  {% call statement('main') -%}
    {{ statement_sql }}
  {%- endcall %}
  {% call statement('tviews_unpin') -%}
    select set_config('search_path', {{ tviews.literal(bound.restore.search_path) }}, true),
           set_config('row_security', {{ tviews.literal(bound.restore.row_security) }}, true)
  {%- endcall %}
{%- endmacro %}


{% macro register(relation) -%}
  {% call statement('tviews_install') -%}
    select {{ tviews.runtime_relation_sql() }}.install({{ tviews.literal(relation.schema) }}, {{ tviews.literal(relation.identifier) }})
  {%- endcall %}
{%- endmacro %}

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
  {{ return(tojson({'indexes': config.get('indexes'),
                    'contract': (contract.enforced if contract is not none and contract.enforced is defined else false),
                    'unlogged': config.get('unlogged'), 'unique_key': tviews.config_value('unique_key')})) }}
{%- endmacro %}


{% macro is_current(relation, hash) -%}
  {%- set rt = tviews.runtime_relation_sql() -%}
  {%- set check -%}
    select coalesce((select definition_hash = {{ tviews.literal(hash) }}
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

  {%- if existing_relation is none -%}
    {% call statement('main') -%}
      {{ get_create_table_as_sql(False, target_relation, sql) }}
    {%- endcall %}
    {%- do create_indexes(target_relation) -%}
    {%- do tviews.register(target_relation, sql, plan) -%}
  {%- else -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(target_relation, existing_relation.type) -%}
    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}
    {% call statement('main') -%}
      {{ get_create_table_as_sql(False, intermediate_relation, sql) }}
    {%- endcall %}
    {%- do create_indexes(intermediate_relation) -%}
    {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}
    {#- Dropping the old table also drops its source triggers and those of the tviews that read
        it (they depend on its row type); register() and reattach_dependents() put them back.
        The plain drop, not the adapter's: that one also runs gc() and repair(), needless here. -#}
    {% do default__drop_relation(backup_relation) %}
    {%- do tviews.register(target_relation, sql, plan) -%}
    {% call statement('tviews_reattach') -%}
      select {{ rt }}.reattach_dependents({{ tviews.literal(target_relation.schema) }}, {{ tviews.literal(target_relation.identifier) }})
    {%- endcall %}
  {%- endif -%}
{%- endmacro %}


{% macro register(relation, sql, plan) -%}
  {% call statement('tviews_install') -%}
    select {{ tviews.runtime_relation_sql() }}.install(
      {{ tviews.literal(relation.schema) }}, {{ tviews.literal(relation.identifier) }},
      {{ tviews.literal(plan.plan_json) }}::jsonb, {{ tviews.literal(sql) }},
      {{ tviews.literal(plan.hash) }}, {{ tviews.literal(model.unique_id) }})
  {%- endcall %}
{%- endmacro %}

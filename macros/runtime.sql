{#- The schema that holds the runtime (catalog and functions): dbt var `tviews_schema`. -#}
{% macro runtime_schema() -%}
  {{ return(var('tviews_schema', 'tviews')) }}
{%- endmacro %}

{% macro runtime_relation_sql() -%}
  {{ return(adapter.quote(tviews.runtime_schema())) }}
{%- endmacro %}

{#-
  The bridge to Python goes through the `tviews` adapter. Under plain `type: postgres` the
  default__ variants fail with what to do, instead of an attribute error.
-#}
{% macro analyze_model(sql, model_name, unique_key, extra) -%}
  {{ return(adapter.dispatch('analyze_model', 'tviews')(sql, model_name, unique_key, extra)) }}
{%- endmacro %}

{% macro tviews__analyze_model(sql, model_name, unique_key, extra) -%}
  {{ return(adapter.tviews_plan(sql, model_name, unique_key, extra)) }}
{%- endmacro %}

{% macro default__analyze_model(sql, model_name, unique_key, extra) -%}
  {% do exceptions.raise_compiler_error(
      "tview " ~ model_name ~ ": materialized='tview' needs the dbt-tviews adapter, but this profile has type: "
      ~ adapter.type() ~ ".\n  hint: pip install dbt-tviews, then set `type: tviews` in profiles.yml "
      ~ "(the rest of the postgres profile stays as it is)") %}
{%- endmacro %}

{% macro runtime_sql() -%}
  {{ return(adapter.dispatch('runtime_sql', 'tviews')()) }}
{%- endmacro %}

{% macro tviews__runtime_sql() -%}
  {{ return(adapter.tviews_runtime_sql(tviews.runtime_schema())) }}
{%- endmacro %}

{% macro default__runtime_sql() -%}
  {{ return(tviews.default__analyze_model('', 'runtime', none, '')) }}
{%- endmacro %}

{#- A dollar-quoted literal, safe for any text (SQL of models, JSON plans). Dispatched so that
    projects under plain `type: postgres` still parse (the tview materialization then says what
    to install). -#}
{% macro literal(text) -%}
  {{ return(adapter.dispatch('literal', 'tviews')(text)) }}
{%- endmacro %}

{% macro tviews__literal(text) -%}
  {{ return(adapter.tviews_literal(text)) }}
{%- endmacro %}

{% macro default__literal(text) -%}
  {{ return("'" ~ (text | string).replace("'", "''") ~ "'") }}
{%- endmacro %}

{#-
  Install or upgrade the runtime when the installed version differs (its version is kept in the
  schema's comment, readable without calling a function that may not exist yet). Runs inside the
  model's transaction; concurrent dbt threads serialize on the same advisory lock as builds (an
  install takes table locks that a concurrent build's install() would wait for).
-#}
{% macro install_runtime() -%}
  {%- set wanted = adapter.tviews_runtime_version() -%}
  {%- set version_sql -%}
    select coalesce(obj_description(to_regnamespace({{ tviews.literal(tviews.runtime_schema()) }}), 'pg_namespace'), '')
  {%- endset -%}
  {%- if run_query(version_sql).columns[0].values()[0] != 'dbt-tviews runtime ' ~ wanted -%}
    {% call statement('tviews_runtime_lock') -%}
      select pg_advisory_xact_lock(hashtext('dbt-tviews build'))
    {%- endcall %}
    {%- if run_query(version_sql).columns[0].values()[0] != 'dbt-tviews runtime ' ~ wanted -%}
      {{ log("tviews: installing runtime " ~ wanted ~ " in schema " ~ tviews.runtime_schema()) }}
      {% call statement('tviews_runtime') -%}
        {{ tviews.runtime_sql() }}
      {%- endcall %}
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}

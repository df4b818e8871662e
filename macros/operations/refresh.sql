{#-
  dbt run-operation tviews.refresh --args '{relation: my_schema.tv_post}'

  Recomputes every row of a tview and writes only the differences (unchanged rows are not
  rewritten, so tviews built on it see only real changes).
-#}
{% macro refresh(relation) -%}
  {%- set parts = relation.split('.') -%}
  {%- set schema = parts[0] if parts | length > 1 else target.schema -%}
  {%- set name = parts[-1] -%}
  {% call statement('tviews_refresh') -%}
    select {{ tviews.runtime_relation_sql() }}.refresh({{ tviews.literal(schema) }}, {{ tviews.literal(name) }})
  {%- endcall %}
  {% do adapter.commit() %}
  {{ log("tviews: refreshed " ~ schema ~ "." ~ name, info=true) }}
{%- endmacro %}

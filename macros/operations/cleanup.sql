{#-
  dbt run-operation tviews.cleanup [--args '{drop_tables: true}']

  Removes the maintenance (source triggers, generated functions, catalog entry) of every tview in
  this project's database that is no longer a tview model of the project: models that were deleted
  or renamed. Their tables are kept unless drop_tables is true. Also forgets tviews whose table was
  dropped or replaced. Prints what it did.
-#}
{% macro cleanup(drop_tables=false) -%}
  {%- set rt = tviews.runtime_relation_sql() -%}
  {%- set exists = run_query("select to_regprocedure(" ~ tviews.literal(tviews.runtime_schema() ~ '.gc()') ~ ") is not null").columns[0].values()[0] -%}
  {%- if not exists -%}
    {{ log("tviews cleanup: no runtime installed in schema " ~ tviews.runtime_schema() ~ "; nothing to do", info=true) }}
    {{ return(none) }}
  {%- endif -%}
  {%- set live = [] -%}
  {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.config.materialized == 'tview' -%}
    {%- do live.append((node.schema ~ '.' ~ (node.alias or node.name)) | lower) -%}
  {%- endfor -%}
  {%- set removed = run_query("select * from " ~ rt ~ ".gc()").columns[0].values() -%}
  {%- for name in removed -%}
    {{ log("tviews cleanup: forgot " ~ name ~ " (its table was dropped or replaced)", info=true) }}
  {%- endfor -%}
  {%- set rows = run_query("select tview_schema, tview_name from " ~ rt ~ ".tview order by 1, 2") -%}
  {%- for row in rows -%}
    {%- if (row[0] ~ '.' ~ row[1]) | lower not in live -%}
      {% call statement('tviews_uninstall') -%}
        select {{ rt }}.uninstall({{ tviews.literal(row[0]) }}, {{ tviews.literal(row[1]) }}, {{ 'true' if drop_tables else 'false' }})
      {%- endcall %}
      {{ log("tviews cleanup: removed maintenance of " ~ row[0] ~ "." ~ row[1] ~ (" and dropped the table" if drop_tables else " (table kept)"), info=true) }}
    {%- endif -%}
  {%- endfor -%}
  {% do adapter.commit() %}
{%- endmacro %}

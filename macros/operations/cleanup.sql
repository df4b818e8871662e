{#-
  dbt run-operation tviews.cleanup [--args '{drop_tables: true}']

  Removes the maintenance (source triggers, generated functions, catalog entry) of every tview this
  project built in the schemas of the current target that is no longer one of its tview models:
  models that were deleted, renamed or switched while the adapter was not `tviews`. Their tables are kept unless drop_tables is true. Also forgets tviews whose table was
  dropped or replaced. Prints what it did.
-#}
{% macro cleanup(drop_tables=false) -%}
  {%- set rt = tviews.runtime_relation_sql() -%}
  {%- set exists = run_query("select to_regprocedure(" ~ tviews.literal(rt ~ '.gc()') ~ ") is not null").columns[0].values()[0] -%}
  {%- if not exists -%}
    {{ log("tviews cleanup: no runtime installed in schema " ~ tviews.runtime_schema() ~ "; nothing to do", info=true) }}
    {{ return(none) }}
  {%- endif -%}
  {#- Only tviews this project built in the schemas this target uses: another target (prod next to
      dev in one database) or another project keeps its own. -#}
  {%- set live = [] -%}
  {%- set schemas = [target.schema | lower] -%}
  {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.package_name == project_name -%}
    {%- do schemas.append(node.schema | lower) -%}
    {%- if node.config.materialized == 'tview' -%}
      {%- do live.append((node.schema ~ '.' ~ (node.alias or node.name)) | lower) -%}
    {%- endif -%}
  {%- endfor -%}
  {#- A statement that opens the transaction the commit below ends (run_query does not open one). -#}
  {% call statement('tviews_gc', fetch_result=True, auto_begin=True) -%}
    select * from {{ rt }}.gc()
  {%- endcall %}
  {%- set removed = load_result('tviews_gc').table.columns[0].values() -%}
  {%- for name in removed -%}
    {{ log("tviews cleanup: forgot " ~ name ~ " (its table was dropped or replaced)", info=true) }}
  {%- endfor -%}
  {%- set rows = run_query("select tview_schema, tview_name from " ~ rt ~ ".tview where model like "
                           ~ tviews.literal('model.' ~ project_name ~ '.%') ~ " order by 1, 2") -%}
  {%- for row in rows -%}
    {%- if row[0] | lower in schemas and (row[0] ~ '.' ~ row[1]) | lower not in live -%}
      {% call statement('tviews_uninstall') -%}
        select {{ rt }}.uninstall({{ tviews.literal(row[0]) }}, {{ tviews.literal(row[1]) }}, {{ 'true' if drop_tables else 'false' }})
      {%- endcall %}
      {{ log("tviews cleanup: removed maintenance of " ~ row[0] ~ "." ~ row[1] ~ (" and dropped the table" if drop_tables else " (table kept)"), info=true) }}
    {%- endif -%}
  {%- endfor -%}
  {% do adapter.commit() %}
{%- endmacro %}

{#-
  dbt's table and view materializations replace a model's relation with DROP ... CASCADE. When
  that relation was a tview, the cascade removes its source triggers (they depend on its row
  type); here the catalog entry and the generated functions go too, so nothing outlives the tview.
  Written inline (not via the tviews package) so it works in projects that do not install it.
-#}
{% macro tviews__drop_relation(relation) -%}
  {{ default__drop_relation(relation) }}
  {%- if relation.type == 'table' %}
    {%- set gc = adapter.quote(var('tviews_schema', 'tviews')) ~ '.gc()' %}
    {% call statement('tviews_gc', auto_begin=False) -%}
      do $tviews$ begin
        if to_regprocedure('{{ gc }}') is not null then perform {{ gc }}; end if;
      end $tviews$
    {%- endcall %}
  {%- endif %}
{%- endmacro %}

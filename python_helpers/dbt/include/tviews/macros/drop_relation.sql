{#-
  dbt's table and view materializations replace a relation with DROP ... CASCADE. Two things can
  break, and both are put right here, in the same transaction as the drop:
  - the relation was a tview: the cascade removed its source triggers (they depend on its row
    type); gc() forgets its catalog entry and generated functions;
  - the relation was a source of a tview (a table model that a tview reads): the cascade removed
    that tview's triggers on it; repair() reinstalls them on the new table and recomputes the tview.
  Written inline (not via the tviews package) so it works in projects that do not install it.
-#}
{% macro tviews__drop_relation(relation) -%}
  {{ default__drop_relation(relation) }}
  {%- if relation.type == 'table' %}
    {%- set rt = adapter.quote(var('tviews_schema', 'tviews')) %}
    {% call statement('tviews_gc', auto_begin=False) -%}
      do $tviews$ begin
        if to_regprocedure('{{ rt }}.repair()') is not null then
          perform {{ rt }}.gc();
          perform {{ rt }}.repair();
        end if;
      end $tviews$
    {%- endcall %}
  {%- endif %}
{%- endmacro %}

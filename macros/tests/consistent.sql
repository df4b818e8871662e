{#-
  data_tests: [tviews.consistent]

  Fails with one row per divergence between the tview and its SELECT, in either direction,
  duplicates counted: problem = 'missing from tview' | 'extra in tview', row_data = the row as
  jsonb. The SELECT compared is the one installed in the database, run with the settings pinned
  at build time.
-#}
{% test consistent(model) -%}
  select * from {{ tviews.runtime_relation_sql() }}.diff({{ tviews.literal(model.schema) }}, {{ tviews.literal(model.identifier) }})
{%- endtest %}

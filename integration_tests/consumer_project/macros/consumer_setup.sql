{#-
  dbt run-operation consumer_setup [--args '{rows: 200000, reset: true}']

  Creates the shop's application tables in schema <target schema>_src: `rows` customers with two
  orders each, a view over the customers and an audit table for hooks. Idempotent; reset: true
  drops and recreates them.
-#}
{% macro consumer_setup(rows=3, reset=false) -%}
  {%- set src = adapter.quote(target.schema ~ '_src') -%}
  {% call statement('consumer_setup') -%}
    {% if reset %}drop schema if exists {{ src }} cascade;{% endif %}
    create schema if not exists {{ src }};
    create table if not exists {{ src }}.tb_customer (
      pk_customer integer primary key,
      name        text not null,
      region      text not null,
      note        text
    );
    create table if not exists {{ src }}.tb_order (
      pk_order    integer primary key,
      fk_customer integer not null references {{ src }}.tb_customer on delete cascade,
      amount      numeric(12, 2) not null,
      status      text not null default 'open'
    );
    create index if not exists tb_order_fk_customer on {{ src }}.tb_order (fk_customer);
    create or replace view {{ src }}.v_customer as select pk_customer, name, region from {{ src }}.tb_customer;
    create table if not exists {{ src }}.tb_audit (
      id    bigint generated always as identity primary key,
      event text not null,
      n     bigint
    );
    insert into {{ src }}.tb_customer (pk_customer, name, region, note)
    select i, 'customer ' || i, (array['north', 'south', 'east'])[i % 3 + 1], null
    from generate_series(1, {{ rows | int }}) i
    where not exists (select from {{ src }}.tb_customer);
    insert into {{ src }}.tb_order (pk_order, fk_customer, amount, status)
    select 2 * i - j, i, (i % 100) + j + 0.5, case when j = 0 then 'open' else 'paid' end
    from generate_series(1, {{ rows | int }}) i, generate_series(0, 1) j
    where not exists (select from {{ src }}.tb_order);
    analyze {{ src }}.tb_customer;
    analyze {{ src }}.tb_order;
  {%- endcall %}
  {% do adapter.commit() %}
  {{ log("tviews_consumer: source tables ready in schema " ~ target.schema ~ "_src", info=true) }}
{%- endmacro %}

{{ config(materialized='tview', unique_key='pk_customer') }}

-- Membership decided by subqueries in WHERE: EXISTS, NOT EXISTS, NOT IN (whose subquery may yield
-- NULL, which empties the result) and IN over other rows of the same table; a whole-row reference;
-- a json column (a type without equality).
select
    c.pk_customer,
    c.name,
    c.prefs,
    to_jsonb(c) as raw
from {{ source('shop', 'tb_customer') }} c
where exists (select 1 from {{ source('shop', 'tb_order') }} o
              where o.fk_customer = c.pk_customer and o.status in ('paid', 'shipped'))
  and not exists (select 1 from {{ source('shop', 'tb_review') }} r
                  where r.fk_customer = c.pk_customer and r.rating = 1)
  and c.pk_customer not in (select r.fk_customer from {{ source('shop', 'tb_review') }} r
                            where r.rating = 2 and r.body = 'golf')
  and c.country in (select v.country from {{ source('shop', 'tb_customer') }} v where v.vip)

{{ config(materialized='tview', unique_key='pk_customer') }}

-- One row per customer with the number and total amount of their orders.
select
    c.pk_customer,
    c.name,
    c.region,
    (select count(*) from {{ source('shop', 'tb_order') }} o where o.fk_customer = c.pk_customer) as order_count,
    (select coalesce(sum(o.amount), 0) from {{ source('shop', 'tb_order') }} o
     where o.fk_customer = c.pk_customer) as order_total
from {{ source('shop', 'tb_customer') }} c

{{ config(materialized='tview', unique_key='pk_order') }}

-- One row per order, with its customer's name.
select
    o.pk_order,
    o.fk_customer,
    o.amount,
    o.status,
    c.name as customer_name
from {{ source('shop', 'tb_order') }} o
join {{ source('shop', 'tb_customer') }} c on c.pk_customer = o.fk_customer

{{ config(materialized='tview', unique_key=['fk_order', 'line_no']) }}

-- A composite key; a chain of inner joins; a LEFT JOIN with coalesce at the end of the chain.
select
    l.fk_order,
    l.line_no,
    o.id as order_id,
    o.status,
    c.name as customer_name,
    c.country,
    p.sku,
    p.name as product_name,
    coalesce(cat.name, 'uncategorized') as category,
    l.quantity,
    l.unit_price,
    l.quantity * l.unit_price as amount
from {{ source('shop', 'tb_order_line') }} l
join {{ source('shop', 'tb_order') }} o on o.pk_order = l.fk_order
join {{ source('shop', 'tb_customer') }} c on c.pk_customer = o.fk_customer
join {{ source('shop', 'tb_product') }} p on p.pk_product = l.fk_product
left join {{ source('shop', 'tb_category') }} cat on cat.pk_category = p.fk_category

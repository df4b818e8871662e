{{ config(materialized='tview', unique_key='sku') }}

-- FULL JOIN of a table and a tview two levels up (tv_product_sales <- tv_order_line), keyed by
-- a coalesce over both sides: SKUs without sales, and sales of inactive products.
select
    coalesce(p.sku, s.sku) as sku,
    p.name,
    p.active,
    coalesce(s.units, 0) as units,
    s.revenue
from {{ source('shop', 'tb_product') }} p
full join {{ ref('tv_product_sales') }} s on s.sku = p.sku

{{ config(materialized='tview', unique_key='pk_category') }}

-- A CTE that only filters, a comma join, GROUP BY with HAVING (groups enter and leave).
with prod as (
    select p.pk_product, p.fk_category, p.price
    from {{ source('shop', 'tb_product') }} p
    where p.active
)
select
    cat.pk_category,
    cat.name,
    count(*) as products,
    sum(prod.price) as total_price,
    max(prod.price) as max_price
from {{ source('shop', 'tb_category') }} cat, prod
where prod.fk_category = cat.pk_category
group by cat.pk_category, cat.name
having count(*) >= 2

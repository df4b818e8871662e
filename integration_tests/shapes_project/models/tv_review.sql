{{ config(materialized='tview', unique_key='pk_review') }}

-- Sources named by plain schema-qualified names (no source()), mixed with a source().
select
    r.pk_review,
    r.rating,
    r.body,
    p.sku,
    p.name as product,
    case when cu.pk_customer is null then null
         else jsonb_build_object('id', cu.id, 'name', cu.name, 'prefs', cu.prefs) end as author
from {{ target.schema }}_shop.tb_review r
join {{ target.schema }}_shop.tb_product p on p.pk_product = r.fk_product
left join {{ source('shop', 'tb_customer') }} cu on cu.pk_customer = r.fk_customer

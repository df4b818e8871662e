{{ config(materialized='tview', unique_key='id') }}

-- A uuid key; an inner join; a WHERE filter; correlated subqueries for a count, a sum and an
-- array that joins inside.
select
    o.id,
    o.pk_order,
    o.status,
    o.placed_at,
    c.id as customer_id,
    jsonb_build_object('name', c.name, 'country', coalesce(c.country, '??'), 'vip', c.vip) as customer,
    (select count(*) from {{ source('shop', 'tb_order_line') }} l where l.fk_order = o.pk_order) as line_count,
    (select coalesce(sum(l.quantity * l.unit_price), 0)
     from {{ source('shop', 'tb_order_line') }} l where l.fk_order = o.pk_order) as total,
    (select coalesce(jsonb_agg(jsonb_build_object('line', l.line_no, 'sku', p.sku, 'product', p.name,
                                                  'qty', l.quantity) order by l.line_no), '[]'::jsonb)
     from {{ source('shop', 'tb_order_line') }} l
     join {{ source('shop', 'tb_product') }} p on p.pk_product = l.fk_product
     where l.fk_order = o.pk_order) as lines
from {{ source('shop', 'tb_order') }} o
join {{ source('shop', 'tb_customer') }} c on c.pk_customer = o.fk_customer
where o.status <> 'cancelled'

{{ config(materialized='tview', unique_key='sku') }}

-- A tview on a tview (ref), grouped by its text column.
select
    ol.sku,
    count(*) as lines,
    sum(ol.quantity) as units,
    sum(ol.amount) as revenue,
    jsonb_agg(jsonb_build_object('order', ol.order_id, 'qty', ol.quantity) order by ol.fk_order, ol.line_no) as orders
from {{ ref('tv_order_line') }} ol
where ol.status <> 'cancelled'
group by ol.sku

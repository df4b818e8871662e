{{ config(materialized='tview', unique_key='pk_order') }}

-- Reads a table (tb_order) and a tview built on that same table (tv_order_line): one write
-- reaches it both directly and through the other tview.
select
    o.pk_order,
    o.status,
    count(ol.line_no) as lines,
    coalesce(sum(ol.amount), 0) as amount,
    coalesce(string_agg(ol.category, ', ' order by ol.line_no), '') as categories
from {{ source('shop', 'tb_order') }} o
left join {{ ref('tv_order_line') }} ol on ol.fk_order = o.pk_order
group by o.pk_order, o.status

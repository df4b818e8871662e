{{ config(materialized='tview', unique_key='fk_customer') }}

-- GROUP BY keyed by a foreign key (groups appear and vanish): count, count distinct, sum, avg,
-- min, max, behind an inner join and a WHERE.
select
    o.fk_customer,
    count(*) as line_count,
    count(distinct o.pk_order) as order_count,
    sum(l.quantity) as units,
    sum(l.quantity * l.unit_price) as spend,
    avg(l.unit_price) as avg_unit_price,
    min(l.unit_price) as min_unit_price,
    max(l.unit_price) as max_unit_price
from {{ source('shop', 'tb_order_line') }} l
join {{ source('shop', 'tb_order') }} o on o.pk_order = l.fk_order
where o.status in ('paid', 'shipped')
group by o.fk_customer

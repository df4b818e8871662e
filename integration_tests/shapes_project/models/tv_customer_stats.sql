{{ config(materialized='tview', unique_key='pk_customer') }}

-- GROUP BY over a LEFT JOIN: count, min, max, array_agg, bool_and, jsonb_agg.
select
    c.pk_customer,
    c.name,
    count(o.pk_order) as order_count,
    min(o.placed_at) as first_order_at,
    max(o.placed_at) as last_order_at,
    coalesce(array_agg(o.status order by o.placed_at, o.pk_order) filter (where o.pk_order is not null),
             '{}'::text[]) as statuses,
    bool_and(o.status <> 'cancelled') as never_cancelled,
    coalesce(jsonb_agg(jsonb_build_object('id', o.id, 'status', o.status) order by o.pk_order)
             filter (where o.pk_order is not null), '[]'::jsonb) as orders
from {{ source('shop', 'tb_customer') }} c
left join {{ source('shop', 'tb_order') }} o on o.fk_customer = c.pk_customer
group by c.pk_customer, c.name

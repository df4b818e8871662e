{{ config(materialized='tview', unique_key='region') }}

-- Totals per region, built on the tv_customer tview (a tview on a tview).
select
    c.region,
    count(*) as customer_count,
    sum(c.order_total) as order_total
from {{ ref('tv_customer') }} c
group by c.region

{{ config(materialized='tview', unique_key='pk_category') }}

-- Self-joins (parent and grandparent names), and correlated subqueries over the same table.
select
    c.pk_category,
    c.name,
    parent.name as parent_name,
    grand.name as grandparent_name,
    (select count(*) from {{ source('shop', 'tb_product') }} p where p.fk_category = c.pk_category) as product_count,
    (select coalesce(array_agg(ch.name order by ch.name, ch.pk_category), '{}'::text[])
     from {{ source('shop', 'tb_category') }} ch where ch.fk_parent = c.pk_category) as children
from {{ source('shop', 'tb_category') }} c
left join {{ source('shop', 'tb_category') }} parent on parent.pk_category = c.fk_parent
left join {{ source('shop', 'tb_category') }} grand on grand.pk_category = parent.fk_parent

{{ config(materialized='tview', unique_key='sku') }}

-- A text key; LEFT JOIN with coalesce; a WHERE filter; correlated count and average; the three
-- latest reviews (top-n per parent: ORDER BY .. LIMIT in a derived table inside a correlated
-- subquery, with a LEFT JOIN inside).
select
    p.sku,
    p.pk_product,
    p.name,
    p.price,
    p.attrs,
    coalesce(cat.name, 'uncategorized') as category,
    (select count(*) from {{ source('shop', 'tb_review') }} r where r.fk_product = p.pk_product) as review_count,
    (select round(avg(r.rating), 2) from {{ source('shop', 'tb_review') }} r
     where r.fk_product = p.pk_product) as avg_rating,
    (select coalesce(jsonb_agg(jsonb_build_object('rating', x.rating, 'by', x.author)
                               order by x.created_at desc, x.pk_review desc), '[]'::jsonb)
     from (
         select r.pk_review, r.rating, r.created_at, coalesce(cu.name, 'anonymous') as author
         from {{ source('shop', 'tb_review') }} r
         left join {{ source('shop', 'tb_customer') }} cu on cu.pk_customer = r.fk_customer
         where r.fk_product = p.pk_product
         order by r.created_at desc, r.pk_review desc
         limit 3
     ) x) as latest_reviews
from {{ source('shop', 'tb_product') }} p
left join {{ source('shop', 'tb_category') }} cat on cat.pk_category = p.fk_category
where p.active

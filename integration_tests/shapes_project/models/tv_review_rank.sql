{{ config(materialized='tview', unique_key='pk_review') }}

-- Window functions: the two best reviews of each product (row_number() in a derived table, filtered
-- outside), with the product's review count and the review's rank among its author's reviews.
select
    r.pk_review,
    r.fk_product,
    r.rating,
    r.nth,
    r.reviews_of_product,
    dense_rank() over (partition by r.fk_customer order by r.rating desc) as rank_of_author
from (
    select rv.pk_review, rv.fk_product, rv.fk_customer, rv.rating,
           row_number() over (partition by rv.fk_product order by rv.rating desc, rv.pk_review) as nth,
           count(*) over (partition by rv.fk_product) as reviews_of_product
    from {{ source('shop', 'tb_review') }} rv
) r
where r.nth <= 2

{{ config(materialized='tview', unique_key='pk_tag') }}

-- A feed per tag, built on the tv_post tview (a tview on a tview): the number of published posts
-- (GROUP BY over a chain of LEFT JOINs, so tags without posts keep a row) and the ten latest post
-- documents (a top-n per parent). Embedding every post of a popular tag would make each write to
-- one post rewrite a huge row: keep read-model rows bounded.
select
    t.pk_tag,
    t.name,
    count(tp.pk_post) as post_count,
    (
        select coalesce(jsonb_agg(l.data order by l.created_at desc, l.pk_post desc), '[]'::jsonb)
        from (
            select lp.pk_post, lp.created_at, lp.data
            from {{ source('app', 'tb_post_tag') }} lpt
            join {{ ref('tv_post') }} lp on lp.pk_post = lpt.fk_post
            where lpt.fk_tag = t.pk_tag
            order by lp.created_at desc, lp.pk_post desc
            limit 10
        ) l
    ) as posts
from {{ source('app', 'tb_tag') }} t
left join {{ source('app', 'tb_post_tag') }} pt on pt.fk_tag = t.pk_tag
left join {{ ref('tv_post') }} tp on tp.pk_post = pt.fk_post
group by t.pk_tag, t.name

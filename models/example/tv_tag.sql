{{ config(materialized='tview', unique_key='pk_tag') }}

-- A feed per tag, built on the tv_post tview (a tview on a tview): GROUP BY over a chain of
-- LEFT JOINs, so tags without posts keep a row with an empty feed.
select
    t.pk_tag,
    t.name,
    count(tp.pk_post) as post_count,
    coalesce(jsonb_agg(tp.data order by tp.created_at desc, tp.pk_post desc)
             filter (where tp.pk_post is not null), '[]'::jsonb) as posts
from {{ source('app', 'tb_tag') }} t
left join {{ source('app', 'tb_post_tag') }} pt on pt.fk_tag = t.pk_tag
left join {{ ref('tv_post') }} tp on tp.pk_post = pt.fk_post
group by t.pk_tag, t.name

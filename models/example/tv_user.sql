{{ config(materialized='tview', unique_key='pk_user') }}

-- One document per user: number of published posts and the three latest (a top-n per parent).
select
    u.pk_user,
    u.id,
    jsonb_build_object(
        'id', u.id,
        'name', u.name,
        'post_count', (
            select count(*)
            from {{ source('app', 'tb_post') }} p
            where p.fk_user = u.pk_user and p.published
        ),
        'latest_posts', (
            select coalesce(jsonb_agg(jsonb_build_object('id', l.id, 'title', l.title)
                                      order by l.created_at desc, l.pk_post desc), '[]'::jsonb)
            from (
                select p.pk_post, p.id, p.title, p.created_at
                from {{ source('app', 'tb_post') }} p
                where p.fk_user = u.pk_user and p.published
                order by p.created_at desc, p.pk_post desc
                limit 3
            ) l
        )
    ) as data
from {{ source('app', 'tb_user') }} u

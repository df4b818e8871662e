{{ config(materialized='tview', unique_key='pk_post') }}

-- One document per published post: author object, comments array (oldest first), tags array.
select
    p.pk_post,
    p.id,
    p.fk_user,
    p.created_at,
    jsonb_build_object(
        'id', p.id,
        'title', p.title,
        'body', p.body,
        'created_at', p.created_at,
        'author', jsonb_build_object('id', u.id, 'name', u.name),
        'comments', (
            select coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'body', c.body, 'author', cu.name)
                                      order by c.created_at, c.pk_comment), '[]'::jsonb)
            from {{ source('app', 'tb_comment') }} c
            left join {{ source('app', 'tb_user') }} cu on cu.pk_user = c.fk_user
            where c.fk_post = p.pk_post
        ),
        'tags', (
            select coalesce(jsonb_agg(t.name order by t.name), '[]'::jsonb)
            from {{ source('app', 'tb_post_tag') }} pt
            join {{ source('app', 'tb_tag') }} t on t.pk_tag = pt.fk_tag
            where pt.fk_post = p.pk_post
        )
    ) as data
from {{ source('app', 'tb_post') }} p
join {{ source('app', 'tb_user') }} u on u.pk_user = p.fk_user
where p.published

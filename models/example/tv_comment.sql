{{ config(materialized='tview', unique_key='pk_comment') }}

-- One document per comment, with its author (comments of deleted users keep author: null) and post.
select
    c.pk_comment,
    c.id,
    c.fk_post,
    c.fk_user,
    jsonb_build_object(
        'id', c.id,
        'body', c.body,
        'created_at', c.created_at,
        'author', case when u.pk_user is null then null
                       else jsonb_build_object('id', u.id, 'name', u.name) end,
        'post', jsonb_build_object('id', p.id, 'title', p.title)
    ) as data
from {{ source('app', 'tb_comment') }} c
join {{ source('app', 'tb_post') }} p on p.pk_post = c.fk_post
left join {{ source('app', 'tb_user') }} u on u.pk_user = c.fk_user

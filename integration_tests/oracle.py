"""A randomized differential oracle for the runtime, without dbt in the loop.

Builds a corpus of tview shapes over a small schema (through the same analysis and runtime the
materialization uses), then runs seeded random transactions and checks after each that every tview
equals its SELECT (tviews.diff: symmetric EXCEPT ALL on the rows' jsonb, duplicates counted), and
inside open transactions that the tviews already reflect the transaction's own writes.

    python integration_tests/oracle.py --transactions 10000 --seed 1   # soak
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python_helpers"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import tviews  # noqa: E402
from conftest import install_tview  # noqa: E402

SCHEMA_DDL = """
create table {s}.tb_group (pk_group int primary key, name text not null);
create table {s}.tb_user (pk_user int primary key, name text not null, active boolean not null default true,
                          fk_group int references {s}.tb_group on delete set null, born date);
create table {s}.tb_post (pk_post int primary key, fk_user int references {s}.tb_user on delete cascade on update cascade,
                          title text not null, score int not null default 0, published boolean not null default true,
                          meta jsonb not null default '{{}}');
create table {s}.tb_comment (pk_comment int primary key,
                             fk_post int not null references {s}.tb_post on delete cascade on update cascade,
                             fk_user int references {s}.tb_user on delete set null, body text not null, score int);
create table {s}.tb_tag (pk_tag int primary key, name text not null unique);
create table {s}.tb_post_tag (fk_post int references {s}.tb_post on delete cascade on update cascade,
                              fk_tag int references {s}.tb_tag on delete cascade, primary key (fk_post, fk_tag));
create table {s}.tb_category (pk_category int primary key,
                              fk_parent int references {s}.tb_category on delete set null, name text not null);
"""

TABLES = {
    "tb_group": ["pk_group"],
    "tb_user": ["pk_user"],
    "tb_post": ["pk_post"],
    "tb_comment": ["pk_comment"],
    "tb_tag": ["pk_tag"],
    "tb_post_tag": ["fk_post", "fk_tag"],
    "tb_category": ["pk_category"],
}

# name -> (unique_key, SELECT); {s} is the schema. Order matters: later ones may read earlier ones.
SHAPES: dict[str, tuple[list[str] | None, str]] = {
    "tv_inner": (None, """select p.pk_post, p.title, u.name as author, g.name as grp
        from {s}.tb_post p join {s}.tb_user u on u.pk_user = p.fk_user join {s}.tb_group g on g.pk_group = u.fk_group"""),
    "tv_left": (None, """select p.pk_post, coalesce(u.name, '(nobody)') as author,
        case when g.pk_group is null then 'none' else g.name end as grp
        from {s}.tb_post p left join {s}.tb_user u on u.pk_user = p.fk_user
        left join {s}.tb_group g on g.pk_group = u.fk_group"""),
    "tv_doc": (["pk_post"], """select p.pk_post, jsonb_build_object('title', p.title,
          'author', jsonb_build_object('name', u.name, 'active', u.active),
          'comments', (select coalesce(jsonb_agg(jsonb_build_object('b', c.body, 'by', cu.name)
                                                 order by c.pk_comment), '[]'::jsonb)
                       from {s}.tb_comment c left join {s}.tb_user cu on cu.pk_user = c.fk_user
                       where c.fk_post = p.pk_post),
          'tags', (select coalesce(jsonb_agg(t.name order by t.name), '[]'::jsonb)
                   from {s}.tb_post_tag pt join {s}.tb_tag t on t.pk_tag = pt.fk_tag where pt.fk_post = p.pk_post),
          'ncomments', (select count(*) from {s}.tb_comment c2 where c2.fk_post = p.pk_post)) as data
        from {s}.tb_post p join {s}.tb_user u on u.pk_user = p.fk_user where p.published"""),
    "tv_user_stats": (["fk_user"], """select p.fk_user, count(*) as n, sum(p.score) as total, avg(p.score) as mean,
          min(p.title) as first_title, max(p.score) as best, jsonb_agg(p.pk_post order by p.pk_post) as posts,
          array_agg(p.title order by p.title) as titles, bool_and(p.published) as all_published
        from {s}.tb_post p where p.fk_user is not null group by p.fk_user"""),
    "tv_group_chain": (["pk_group"], """select g.pk_group, count(p.pk_post) as posts, count(distinct u.pk_user) as users,
          coalesce(sum(c.score), 0) as comment_score
        from {s}.tb_group g left join {s}.tb_user u on u.fk_group = g.pk_group
        left join {s}.tb_post p on p.fk_user = u.pk_user left join {s}.tb_comment c on c.fk_post = p.pk_post
        group by g.pk_group having count(p.pk_post) >= 0"""),
    "tv_filtered": (["pk_post"], """select p.pk_post, p.title from {s}.tb_post p join {s}.tb_user u on u.pk_user = p.fk_user
        where p.published and u.active and p.score > 2"""),
    "tv_exists": (["pk_post"], """select p.pk_post, p.title from {s}.tb_post p
        where exists (select 1 from {s}.tb_comment c where c.fk_post = p.pk_post and c.score > 1)
          and not exists (select 1 from {s}.tb_post_tag pt where pt.fk_post = p.pk_post and pt.fk_tag = 1)"""),
    "tv_in": (["pk_user"], """select u.pk_user, u.name from {s}.tb_user u
        where u.pk_user in (select p.fk_user from {s}.tb_post p where p.published)
          and u.pk_user not in (select c.fk_user from {s}.tb_comment c where c.score = 0)"""),
    "tv_right": (["pk_post"], """select p.pk_post, u.name, p.title from {s}.tb_user u
        right join {s}.tb_post p on p.fk_user = u.pk_user"""),
    "tv_full": (["k"], """select coalesce(p.pk_post, -u.pk_user) as k, u.name, p.title
        from {s}.tb_user u full join {s}.tb_post p on p.fk_user = u.pk_user"""),
    "tv_category_path": (["pk_category"], """select c.pk_category, c.name, p.name as parent, gp.name as grandparent
        from {s}.tb_category c left join {s}.tb_category p on p.pk_category = c.fk_parent
        left join {s}.tb_category gp on gp.pk_category = p.fk_parent"""),
    "tv_category_children": (["pk_category"], """select c.pk_category,
          (select coalesce(jsonb_agg(ch.name order by ch.pk_category), '[]'::jsonb)
           from {s}.tb_category ch where ch.fk_parent = c.pk_category) as children
        from {s}.tb_category c"""),
    "tv_topn": (["pk_user"], """select u.pk_user,
          (select coalesce(jsonb_agg(t.title order by t.score desc, t.pk_post), '[]'::jsonb)
           from (select p.title, p.score, p.pk_post from {s}.tb_post p where p.fk_user = u.pk_user
                 order by p.score desc, p.pk_post limit 2) t) as best
        from {s}.tb_user u"""),
    "tv_cte": (["pk_post"], """with visible as (select p.pk_post, p.fk_user, p.title from {s}.tb_post p where p.published),
          people as (select u.pk_user, u.name from {s}.tb_user u where u.active)
        select v.pk_post, v.title, pe.name from visible v join people pe on pe.pk_user = v.fk_user"""),
    "tv_cte_twice": (["pk_post"], """with x as (select p.pk_post, p.fk_user, p.score from {s}.tb_post p)
        select a.pk_post, (select count(*) from x b where b.fk_user = a.fk_user and b.score >= a.score) as rank
        from x a"""),
    "tv_derived": (["pk_comment"], """select c.pk_comment, d.title, d.author from {s}.tb_comment c
        join (select p.pk_post, p.title, u.name as author from {s}.tb_post p
              join {s}.tb_user u on u.pk_user = p.fk_user) d on d.pk_post = c.fk_post"""),
    "tv_whole_row": (["pk_post"], """select p.pk_post, to_jsonb(p) - 'meta' as post, p.meta -> 'k' as k,
          (p.meta ->> 'n')::int as n, p.meta @> '{{"flag": true}}' as flagged from {s}.tb_post p"""),
    "tv_composite": (["fk_post", "fk_tag"], """select pt.fk_post, pt.fk_tag, t.name, p.title
        from {s}.tb_post_tag pt join {s}.tb_tag t on t.pk_tag = pt.fk_tag join {s}.tb_post p on p.pk_post = pt.fk_post"""),
    "tv_text_key": (["name"], """select t.name, (select count(*) from {s}.tb_post_tag pt where pt.fk_tag = t.pk_tag) as uses
        from {s}.tb_tag t"""),
    "tv_nested": (["pk_user"], """select u.pk_user, (select coalesce(sum((select count(*) from {s}.tb_comment c
                                                       where c.fk_post = p.pk_post)), 0)
                                 from {s}.tb_post p where p.fk_user = u.pk_user) as comments_received
        from {s}.tb_user u"""),
    "tv_union": (["pk_item"], """select 'post:' || p.pk_post as pk_item, p.title as text, u.name as author
        from {s}.tb_post p join {s}.tb_user u on u.pk_user = p.fk_user
        union all
        select 'comment:' || c.pk_comment, c.body, cu.name
        from {s}.tb_comment c left join {s}.tb_user cu on cu.pk_user = c.fk_user"""),
    "tv_lateral_sub": (["pk_post"], """select p.pk_post, (select count(*) from {s}.tb_comment c
          cross join lateral jsonb_array_elements(jsonb_build_array(c.body, c.score)) e
          where c.fk_post = p.pk_post) as n from {s}.tb_post p"""),
    "tv_same_twice": (["pk_comment"], """select c.pk_comment, cu.name as commenter, pu.name as author
        from {s}.tb_comment c join {s}.tb_user cu on cu.pk_user = c.fk_user
        join {s}.tb_post p on p.pk_post = c.fk_post join {s}.tb_user pu on pu.pk_user = p.fk_user"""),
    "tv_cte_chain": (["pk_user"], """with per_post as (select c.fk_post, count(*) as n, max(c.score) as best
                          from {s}.tb_comment c group by c.fk_post),
          per_user as (select p.fk_user, sum(pp.n) as comments, max(pp.best) as best
                       from {s}.tb_post p join per_post pp on pp.fk_post = p.pk_post
                       where pp.n > 0 group by p.fk_user having count(*) > 0)
        select u.pk_user, u.name, coalesce(pu.comments, 0) as comments, pu.best
        from {s}.tb_user u left join per_user pu on pu.fk_user = u.pk_user"""),
    "tv_bucket": (["bucket"], """select p.score / 2 as bucket, count(*) as n, array_agg(p.pk_post order by p.pk_post) as ids
        from {s}.tb_post p where p.published group by p.score / 2"""),
    "tv_distinct_derived": (["fk_user"], """select d.fk_user, count(*) as titles
        from (select distinct p.fk_user, p.title from {s}.tb_post p where p.fk_user is not null) d
        group by d.fk_user"""),
    "tv_distinct_on": (["fk_user"], """select distinct on (p.fk_user) p.fk_user, p.pk_post as best_post, p.title
        from {s}.tb_post p where p.fk_user is not null order by p.fk_user, p.score desc, p.pk_post"""),
    "tv_window": (["pk_post"], """select p.pk_post, p.title,
          row_number() over (partition by p.fk_user order by p.score desc, p.pk_post) as nth_of_author,
          count(*) over (partition by p.fk_user) as author_posts,
          sum(p.score) over (partition by p.published, p.fk_user order by p.pk_post) as running
        from {s}.tb_post p where p.published"""),
    "tv_window_topn": (["pk_comment"], """select x.pk_comment, x.body, x.rn, x.author
        from (select c.pk_comment, c.body, u.name as author,
                     row_number() over (partition by c.fk_post order by c.score desc nulls last, c.pk_comment) as rn
              from {s}.tb_comment c left join {s}.tb_user u on u.pk_user = c.fk_user) x
        where x.rn <= 2"""),
    "tv_window_join": (["pk_comment"], """select c.pk_comment, g.name as grp,
          rank() over (partition by u.fk_group order by c.score, c.pk_comment) as rank_in_group
        from {s}.tb_comment c left join {s}.tb_user u on u.pk_user = c.fk_user
        left join {s}.tb_group g on g.pk_group = u.fk_group"""),
    "tv_window_cte": (["pk_user"], """with ranked as (
            select p.fk_user, p.pk_post, p.title,
                   dense_rank() over (partition by p.fk_user order by p.score desc) as r from {s}.tb_post p)
        select u.pk_user, u.name,
               (select coalesce(jsonb_agg(r.title order by r.pk_post), '[]'::jsonb)
                from ranked r where r.fk_user = u.pk_user and r.r = 1) as best_titles
        from {s}.tb_user u"""),
    "tv_window_grouped": (["fk_user", "published"], """select p.fk_user, p.published, count(*) as n,
          rank() over (partition by p.fk_user order by count(*) desc, p.published) as r
        from {s}.tb_post p where p.fk_user is not null group by p.fk_user, p.published"""),
    "tv_window_sub": (["pk_post"], """select p.pk_post,
          (select coalesce(jsonb_agg(jsonb_build_object('c', w.pk_comment, 'nth', w.nth) order by w.pk_comment), '[]'::jsonb)
           from (select c.pk_comment, c.fk_post,
                        row_number() over (partition by c.fk_user order by c.pk_comment) as nth
                 from {s}.tb_comment c) w
           where w.fk_post = p.pk_post) as comments_nth_of_commenter
        from {s}.tb_post p"""),
    "tv_window_nested": (["pk_comment"], """select w.pk_comment, w.nth, w.per_post,
          rank() over (partition by w.fk_user order by w.score, w.pk_comment) as rank_of_user
        from (select c.pk_comment, c.fk_user, c.score,
                     row_number() over (partition by c.fk_post order by c.pk_comment) as nth,
                     count(*) over (partition by c.fk_post) as per_post
              from {s}.tb_comment c) w
        where w.nth <= 3"""),
    "tv_words": (["pk_post"], """select p.pk_post,
          (select coalesce(array_agg(distinct w order by w), '{{}}'::text[])
           from {s}.tb_comment c cross join lateral regexp_split_to_table(c.body || ' ' || p.title, '[0-9]') as w
           where c.fk_post = p.pk_post and w <> '') as fragments
        from {s}.tb_post p"""),
    "tv_lateral_root": (["pk_post", "n"], """select p.pk_post, w.n, w.part, u.name
        from {s}.tb_post p cross join lateral unnest(string_to_array(p.title || 'x' || p.score, 'x')) with ordinality as w(part, n)
        left join {s}.tb_user u on u.pk_user = p.fk_user"""),
    "tv_lateral_implicit": (["pk_post", "k"], """select p.pk_post, e.k, e.v from {s}.tb_post p, jsonb_each_text(p.meta) as e(k, v)
        where p.published"""),
    "tv_on_tview": (["pk_group"], """select g.pk_group, g.name, count(i.pk_post) as posts,
          coalesce(jsonb_agg(i.title order by i.pk_post) filter (where i.pk_post is not null), '[]'::jsonb) as titles
        from {s}.tb_group g left join {s}.tb_user u on u.fk_group = g.pk_group
        left join {s}.tv_inner i on i.author = u.name group by g.pk_group, g.name"""),
    "tv_on_tview2": (["pk_post"], """select d.pk_post, d.data -> 'tags' as tags, (d.data ->> 'ncomments')::int as n
        from {s}.tv_doc d where (d.data ->> 'ncomments')::int > 0"""),
    "tv_on_tview3": (["n"], """select t.n, count(*) as posts, jsonb_agg(t.pk_post order by t.pk_post) as ids
        from {s}.tv_on_tview2 t group by t.n"""),
}


@dataclass
class Oracle:
    conn: psycopg.Connection[Any]
    schema: str
    rng: random.Random
    log: list[str]

    # -- setup -------------------------------------------------------------------------------------

    def create(self, shapes: dict[str, tuple[list[str] | None, str]] = SHAPES) -> None:
        s = self.schema
        c = self.conn
        c.execute(f'drop schema if exists "{s}" cascade')
        c.execute(f'create schema "{s}"')
        c.execute(SCHEMA_DDL.format(s=f'"{s}"'))
        c.execute(tviews.runtime_sql("tviews"))
        self.seed()
        for name, (key, sql) in shapes.items():
            self.build(name, sql.format(s=f'"{s}"'), key)

    def build(self, name: str, sql: str, key: list[str] | None) -> None:
        install_tview(self.conn, self.schema, name, sql, key)

    def seed(self) -> None:
        for g in range(1, 4):
            self._exec(f"insert into {{s}}.tb_group values ({g}, 'g{g}')")
        for u in range(1, 9):
            self._exec(f"insert into {{s}}.tb_user values ({u}, 'u{u}', {u % 3 != 0}, {u % 4 or 'null'}, '2000-01-01')")
        for t in range(1, 5):
            self._exec(f"insert into {{s}}.tb_tag values ({t}, 't{t}')")
        for c in range(1, 7):
            self._exec(f"insert into {{s}}.tb_category values ({c}, {c // 2 or 'null'}, 'c{c}')")
        for p in range(1, 16):
            self._exec(f"insert into {{s}}.tb_post values ({p}, {p % 8 + 1}, 'p{p}', {p % 5}, {p % 4 != 0}, "
                       f"'{{\"k\": {p % 3}, \"n\": \"{p}\", \"flag\": {str(p % 2 == 0).lower()}}}')")
        for c in range(1, 31):
            self._exec(f"insert into {{s}}.tb_comment values ({c}, {c % 15 + 1}, {c % 9 or 'null'}, 'b{c}', {c % 4})")
        for p in range(1, 16):
            for t in range(1, 5):
                if (p + t) % 3 == 0:
                    self._exec(f"insert into {{s}}.tb_post_tag values ({p}, {t})")

    # -- checks ------------------------------------------------------------------------------------

    def divergences(self) -> list[tuple[Any, ...]]:
        return self.conn.execute(
            "select t.tview_name, d.problem, d.row_data from tviews.tview t, "
            "lateral tviews.diff(t.tview_schema, t.tview_name) d where t.tview_schema = %s",
            (self.schema,),
        ).fetchall()

    # -- random statements -------------------------------------------------------------------------

    def _exec(self, sql: str, params: Any = None) -> None:
        text = sql.replace("{s}", f'"{self.schema}"')
        self.log.append(text if params is None else f"{text} -- {params}")
        self.conn.execute(text, params)

    def _ids(self, table: str, col: str) -> list[int]:
        return [r[0] for r in self.conn.execute(f'select {col} from "{self.schema}".{table} order by 1').fetchall()]

    def _pick(self, table: str, col: str) -> int | None:
        ids = self._ids(table, col)
        return self.rng.choice(ids) if ids else None

    def _new_id(self, table: str, col: str) -> int:
        ids = self._ids(table, col)
        return (max(ids) if ids else 0) + self.rng.randint(1, 3)

    def statement(self) -> None:
        r = self.rng
        kind = r.choices(
            ["ins_post", "upd_post", "del_post", "ins_comment", "upd_comment", "del_comment", "upd_user",
             "ins_user", "del_user", "tag", "untag", "upd_tag", "category", "group", "multi", "move_key",
             "copy", "truncate"],
            weights=[8, 10, 4, 8, 6, 4, 6, 3, 2, 4, 3, 2, 4, 2, 4, 2, 2, 0.3],
        )[0]
        # Keep the tables about the size of the seed so a long soak stays as fast as a short one.
        for table, col, limit, shrink in (("tb_post", "pk_post", 40, "del_post"),
                                          ("tb_comment", "pk_comment", 90, "del_comment"),
                                          ("tb_user", "pk_user", 20, "del_user"),
                                          ("tb_category", "pk_category", 20, "category")):
            if kind.startswith("ins") or kind in ("copy", "category"):
                if len(self._ids(table, col)) > limit and r.random() < 0.7:
                    kind = shrink
        u, p = self._pick("tb_user", "pk_user"), self._pick("tb_post", "pk_post")
        if kind == "ins_post" and u is not None:
            n = r.randint(1, 3)
            base = self._new_id("tb_post", "pk_post")
            values = ", ".join(f"({base + i}, {r.choice([u, u, 'null'])}, 'p{base + i}', {r.randint(0, 5)}, "
                               f"{r.random() < 0.8}, '{{\"k\": {r.randint(0, 2)}}}')" for i in range(n))
            self._exec(f"insert into {{s}}.tb_post values {values}")
        elif kind == "upd_post" and p is not None:
            sets = r.choice(["title = title || 'x'", "score = score + 1", "published = not published",
                             f"fk_user = {u if u is not None else 'null'}", "meta = meta || '{\"flag\": true}'",
                             "score = score", "title = title"])
            where = r.choice([f"pk_post = {p}", f"pk_post % 3 = {p % 3}",
                              f"fk_user = {u}" if u is not None else "fk_user is null"])
            self._exec(f"update {{s}}.tb_post set {sets} where {where}")
        elif kind == "del_post" and p is not None:
            self._exec(f"delete from {{s}}.tb_post where pk_post = {p}")
        elif kind == "ins_comment" and p is not None:
            base = self._new_id("tb_comment", "pk_comment")
            values = ", ".join(f"({base + i}, {p}, {r.choice([u, 'null'])}, 'b{base + i}', {r.randint(0, 3)})"
                               for i in range(r.randint(1, 3)))
            self._exec(f"insert into {{s}}.tb_comment values {values}")
        elif kind == "upd_comment":
            c = self._pick("tb_comment", "pk_comment")
            if c is not None and p is not None:
                sets = r.choice([f"fk_post = {p}", "score = coalesce(score, 0) + 1", "body = body || '!'",
                                 f"fk_user = {r.choice([u, 'null'])}"])
                self._exec(f"update {{s}}.tb_comment set {sets} where pk_comment = {c}")
        elif kind == "del_comment":
            c = self._pick("tb_comment", "pk_comment")
            if c is not None:
                self._exec(f"delete from {{s}}.tb_comment where pk_comment = {c} or fk_post = {p}")
        elif kind == "upd_user" and u is not None:
            g = self._pick("tb_group", "pk_group")
            sets = r.choice(["name = name || 'x'", "active = not active", f"fk_group = {r.choice([g, 'null'])}",
                             "born = born + 1"])
            self._exec(f"update {{s}}.tb_user set {sets} where pk_user = {u}")
        elif kind == "ins_user":
            nid = self._new_id("tb_user", "pk_user")
            self._exec(f"insert into {{s}}.tb_user values ({nid}, 'u{nid}', true, {self._pick('tb_group', 'pk_group') or 'null'})")
        elif kind == "del_user" and u is not None:
            self._exec(f"delete from {{s}}.tb_user where pk_user = {u}")
        elif kind == "tag" and p is not None and self._ids("tb_tag", "pk_tag"):
            t = self._pick("tb_tag", "pk_tag")
            self._exec(f"insert into {{s}}.tb_post_tag values ({p}, {t}) on conflict do nothing")
        elif kind == "untag" and p is not None:
            self._exec(f"delete from {{s}}.tb_post_tag where fk_post = {p}")
        elif kind == "upd_tag" and self._ids("tb_tag", "pk_tag"):
            t = self._pick("tb_tag", "pk_tag")
            self._exec(f"update {{s}}.tb_tag set name = name || '{r.randint(0, 9)}' where pk_tag = {t}")
        elif kind == "category":
            c, parent = self._pick("tb_category", "pk_category"), self._pick("tb_category", "pk_category")
            op = r.choice(["reparent", "rename", "insert", "delete"])
            if c is None and op != "insert":
                return
            if op == "reparent" and c != parent:
                self._exec(f"update {{s}}.tb_category set fk_parent = {r.choice([parent, 'null'])} where pk_category = {c}")
            elif op == "rename":
                self._exec(f"update {{s}}.tb_category set name = name || 'x' where pk_category = {c}")
            elif op == "insert":
                nid = self._new_id("tb_category", "pk_category")
                self._exec(f"insert into {{s}}.tb_category values ({nid}, {parent or 'null'}, 'c{nid}')")
            elif c is not None:
                self._exec(f"delete from {{s}}.tb_category where pk_category = {c}")
        elif kind == "group" and self._ids("tb_group", "pk_group"):
            g = self._pick("tb_group", "pk_group")
            self._exec(f"update {{s}}.tb_group set name = name || 'y' where pk_group = {g}")
        elif kind == "multi":
            self._exec("update {s}.tb_post set score = score + 1 where score < 3")
        elif kind == "move_key" and p is not None:
            self._exec(f"update {{s}}.tb_post set pk_post = {self._new_id('tb_post', 'pk_post')} where pk_post = {p}")
        elif kind == "copy" and p is not None:
            base = self._new_id("tb_comment", "pk_comment")
            self.log.append(f"COPY tb_comment ({base}, {p})")
            with self.conn.cursor().copy(
                f'copy "{self.schema}".tb_comment (pk_comment, fk_post, body, score) from stdin'
            ) as cp:
                for i in range(r.randint(1, 4)):
                    cp.write_row((base + i, p, f"copied{i}", r.randint(0, 3)))
        elif kind == "truncate":
            self._exec(r.choice(["truncate {s}.tb_post_tag", "truncate {s}.tb_comment"]))

    def transaction(self) -> None:
        """One random transaction: statements, maybe savepoints, maybe a rollback."""
        r = self.rng
        self.log.clear()
        self.conn.execute("begin")
        self.log.append("begin")
        try:
            for i in range(r.choice([1, 1, 2, 3, 5])):
                if r.random() < 0.15:
                    self._exec("savepoint sp")
                    self.statement()
                    self._exec(r.choice(["rollback to savepoint sp", "release savepoint sp"]))
                else:
                    self.statement()
                if r.random() < 0.1:
                    inside = self.divergences()
                    assert not inside, f"inside the transaction: {inside[:5]}\n" + "\n".join(self.log)
            if r.random() < 0.1:
                self.conn.execute("rollback")
                self.log.append("rollback")
            else:
                self.conn.execute("commit")
                self.log.append("commit")
        except psycopg.errors.Error:
            self.conn.execute("rollback")
            raise


def run(conn: psycopg.Connection[Any], schema: str, transactions: int, seed: int, verbose: bool = False) -> int:
    oracle = Oracle(conn, schema, random.Random(seed), [])
    oracle.create()
    bad = 0
    start = time.time()
    for n in range(1, transactions + 1):
        try:
            oracle.transaction()
        except psycopg.errors.IntegrityError:
            continue  # a random statement violating a constraint: rolled back, not a tview concern
        rows = oracle.divergences()
        if rows:
            bad += len(rows)
            print(f"transaction {n} (seed {seed}) left {len(rows)} divergent rows, e.g. {rows[:3]}\n"
                  + "\n".join(oracle.log), file=sys.stderr)
            if not verbose:
                break
        if verbose and n % 1000 == 0:
            print(f"{n} transactions, {time.time() - start:.0f} s", file=sys.stderr)
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transactions", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dsn", default=None)
    ap.add_argument("--schema", default="tviews_oracle")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from pgtarget import resolve

    dsn = args.dsn or resolve(prefer_local=True).dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        bad = run(conn, args.schema, args.transactions, args.seed, verbose=True)
    print(f"{bad} divergent rows over {args.transactions} transactions")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

"""Every kind of write to a source keeps the example's tviews exact, and changes what it should.

Each test builds the example blog (users 1 Ada, 2 Brian, 3 Chen; posts 1, 2 by Ada and 3 by Brian
published, 4 by Chen a draft; comments 1, 2 on post 1 and 3 on post 3; tags 1 history, 2 math,
3 unix on posts 1-2, 2 and 3), writes through a plain client, and checks two things: no tview
differs from its SELECT, and a concrete value in a tview moved the way the write implies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from conftest import DbtProject, divergences
from psycopg import errors

pytestmark = [pytest.mark.db, pytest.mark.dbt]


@dataclass
class Blog:
    """The built example project and helpers to read its tviews."""

    project: DbtProject
    conn: psycopg.Connection[Any]

    @property
    def s(self) -> str:
        return f'"{self.project.schema}"'

    @property
    def app(self) -> str:
        return f'"{self.project.app_schema}"'

    def sql(self, text: str, params: Any = None) -> None:
        self.conn.execute(text.replace("{app}", self.app).replace("{s}", self.s), params)

    def one(self, text: str, params: Any = None) -> Any:
        row = self.conn.execute(text.replace("{app}", self.app).replace("{s}", self.s), params).fetchone()
        return None if row is None else row[0]

    def all(self, text: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self.conn.execute(text.replace("{app}", self.app).replace("{s}", self.s), params).fetchall()

    # -- the tviews, as Python values --------------------------------------------------------

    def post(self, pk: int) -> dict[str, Any] | None:
        return self.one("select data from {s}.tv_post where pk_post = %s", (pk,))

    def posts(self) -> list[int]:
        return [r[0] for r in self.all("select pk_post from {s}.tv_post order by 1")]

    def user(self, pk: int) -> dict[str, Any] | None:
        return self.one("select data from {s}.tv_user where pk_user = %s", (pk,))

    def comment(self, pk: int) -> tuple[Any, ...] | None:
        rows = self.all("select fk_post, fk_user, data from {s}.tv_comment where pk_comment = %s", (pk,))
        return rows[0] if rows else None

    def comments(self) -> list[int]:
        return [r[0] for r in self.all("select pk_comment from {s}.tv_comment order by 1")]

    def tag(self, pk: int) -> tuple[str, int, list[int]] | None:
        rows = self.all("select name, post_count, posts from {s}.tv_tag where pk_tag = %s", (pk,))
        if not rows:
            return None
        name, count, posts = rows[0]
        return name, count, [p["id"] for p in posts]

    def tag_posts(self, pk: int) -> list[str]:
        """Titles in tag pk's feed, newest first."""
        row = self.one("select posts from {s}.tv_tag where pk_tag = %s", (pk,))
        return [p["title"] for p in row]

    def post_id(self, pk: int) -> str:
        return str(self.one("select id from {app}.tb_post where pk_post = %s", (pk,)))

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every tview, with the physical row version (to see rewrites)."""
        return {
            t: self.all(f"select xmin::text, to_jsonb(t) from {{s}}.{t} t order by 2")
            for t in ("tv_post", "tv_user", "tv_comment", "tv_tag")
        }

    def exact(self) -> None:
        assert divergences(self.conn, self.project.schema) == []


@pytest.fixture()
def blog(example_project: DbtProject, conn: psycopg.Connection[Any]) -> Iterator[Blog]:
    example_project.run("build")
    b = Blog(example_project, conn)
    b.exact()
    assert b.posts() == [1, 2, 3]
    yield b


def other_connection(blog: Blog, autocommit: bool = False) -> psycopg.Connection[Any]:
    return psycopg.connect(blog.project.pg.dsn, autocommit=autocommit)


def titles(doc: dict[str, Any]) -> list[str]:
    return [p["title"] for p in doc["latest_posts"]]


# --------------------------------------------------------------------------------------------------
# INSERT / UPDATE / DELETE of several rows on every source
# --------------------------------------------------------------------------------------------------


def test_multi_row_insert_on_every_source(blog: Blog) -> None:
    blog.sql("insert into {app}.tb_user (pk_user, name, email) values "
             "(10, 'Dana', 'dana@example.com'), (11, 'Eve', 'eve@example.com')")
    blog.exact()
    assert blog.user(10)["name"] == "Dana" and blog.user(10)["post_count"] == 0
    assert blog.user(11)["latest_posts"] == []

    blog.sql("insert into {app}.tb_post (pk_post, fk_user, title, published, created_at) values "
             "(10, 10, 'Dana one', true, '2026-03-01'), (11, 10, 'Dana draft', false, '2026-03-02'), "
             "(12, 11, 'Eve one', true, '2026-03-03')")
    blog.exact()
    assert blog.posts() == [1, 2, 3, 10, 12]
    assert blog.post(10)["author"]["name"] == "Dana"
    assert blog.user(10)["post_count"] == 1 and titles(blog.user(10)) == ["Dana one"]
    assert blog.user(11)["post_count"] == 1

    blog.sql("insert into {app}.tb_comment (pk_comment, fk_post, fk_user, body, created_at) values "
             "(10, 10, 11, 'Nice, Dana', '2026-03-04'), (11, 3, 10, 'Awk!', '2026-03-05'), "
             "(12, 10, null, 'anonymous', '2026-03-06')")
    blog.exact()
    assert [(c["body"], c["author"]) for c in blog.post(10)["comments"]] == [("Nice, Dana", "Eve"),
                                                                             ("anonymous", None)]
    assert [c["body"] for c in blog.post(3)["comments"]] == ["Short and sweet.", "Awk!"]
    assert blog.comment(12)[2]["author"] is None and blog.comment(11)[2]["post"]["title"] == "Awk in one page"

    blog.sql("insert into {app}.tb_tag (pk_tag, name) values (10, 'people'), (11, 'text')")
    blog.exact()
    assert blog.tag(10) == ("people", 0, []) and blog.tag(11) == ("text", 0, [])

    blog.sql("insert into {app}.tb_post_tag (fk_post, fk_tag) values (10, 10), (12, 10), (3, 11), (11, 10)")
    blog.exact()
    assert blog.post(10)["tags"] == ["people"] and blog.post(3)["tags"] == ["text", "unix"]
    # the draft (11) is tagged but not in tv_post, so not in the feed
    assert blog.tag_posts(10) == ["Eve one", "Dana one"] and blog.tag(10)[1] == 2


def test_multi_row_update_on_every_source(blog: Blog) -> None:
    blog.sql("update {app}.tb_user set name = upper(name) where pk_user in (1, 2)")
    blog.exact()
    assert blog.post(1)["author"]["name"] == "ADA" and blog.post(3)["author"]["name"] == "BRIAN"
    assert [c["author"] for c in blog.post(1)["comments"]] == ["BRIAN", "Chen"]
    assert blog.comment(3)[2]["author"]["name"] == "ADA" and blog.user(2)["name"] == "BRIAN"

    blog.sql("update {app}.tb_post set title = title || ' (2nd ed.)' where fk_user = 1")
    blog.exact()
    assert titles(blog.user(1)) == ["On Bernoulli numbers (2nd ed.)", "Notes on the Analytical Engine (2nd ed.)"]
    assert blog.comment(1)[2]["post"]["title"] == "Notes on the Analytical Engine (2nd ed.)"
    assert blog.tag_posts(1) == ["On Bernoulli numbers (2nd ed.)", "Notes on the Analytical Engine (2nd ed.)"]

    blog.sql("update {app}.tb_comment set body = 'edited: ' || body, created_at = created_at - interval '10 days' "
             "where fk_post = 1")
    blog.exact()
    assert [c["body"] for c in blog.post(1)["comments"]] == ["edited: Beautiful.", "edited: Is it Turing complete?"]
    assert blog.comment(2)[2]["body"] == "edited: Is it Turing complete?"

    blog.sql("update {app}.tb_tag set name = 'z-' || name where pk_tag in (1, 2)")
    blog.exact()
    assert blog.post(2)["tags"] == ["z-history", "z-math"] and blog.tag(2)[0] == "z-math"

    # (2, 1) -> (2, 3) and (1, 1) -> (1, 3): history loses both posts, unix gains them
    blog.sql("update {app}.tb_post_tag set fk_tag = 3 where fk_tag = 1")
    blog.exact()
    assert blog.tag(1)[1:] == (0, []) and blog.tag(3)[1] == 3
    assert blog.post(1)["tags"] == ["unix"] and blog.post(2)["tags"] == ["unix", "z-math"]


def test_multi_row_delete_on_every_source(blog: Blog) -> None:
    blog.sql("delete from {app}.tb_post_tag where fk_tag = 1")
    blog.exact()
    assert blog.post(1)["tags"] == [] and blog.post(2)["tags"] == ["math"] and blog.tag(1)[1:] == (0, [])

    blog.sql("delete from {app}.tb_comment where pk_comment in (1, 2)")
    blog.exact()
    assert blog.post(1)["comments"] == [] and blog.comments() == [3]

    blog.sql("delete from {app}.tb_tag where pk_tag in (2, 3)")  # cascades to tb_post_tag
    blog.exact()
    assert blog.tag(2) is None and blog.tag(3) is None
    assert blog.post(2)["tags"] == [] and blog.post(3)["tags"] == []

    blog.sql("delete from {app}.tb_post where pk_post in (2, 3)")  # cascades to comment 3
    blog.exact()
    assert blog.posts() == [1] and blog.comments() == []
    assert blog.user(1)["post_count"] == 1 and blog.user(2)["post_count"] == 0 and blog.user(2)["latest_posts"] == []

    blog.sql("delete from {app}.tb_user where pk_user in (2, 3)")  # Chen's draft goes with him
    blog.exact()
    assert blog.user(2) is None and blog.user(3) is None and blog.user(1) is not None
    assert blog.one("select count(*) from {app}.tb_post") == 1


# --------------------------------------------------------------------------------------------------
# Keys: join keys, the tview key, cascades
# --------------------------------------------------------------------------------------------------


def test_update_of_a_join_key_moves_a_post_between_users(blog: Blog) -> None:
    blog.sql("update {app}.tb_post set fk_user = 1 where pk_post = 3")
    blog.exact()
    assert blog.user(1)["post_count"] == 3
    assert titles(blog.user(1)) == ["Awk in one page", "On Bernoulli numbers", "Notes on the Analytical Engine"]
    assert blog.user(2)["post_count"] == 0 and blog.user(2)["latest_posts"] == []
    assert blog.post(3)["author"]["name"] == "Ada"
    # a fourth post pushes the oldest out of Ada's top 3
    blog.sql("update {app}.tb_post set fk_user = 1, published = true where pk_post = 4")
    blog.exact()
    assert blog.user(1)["post_count"] == 4 and len(blog.user(1)["latest_posts"]) == 3
    assert titles(blog.user(1))[0] == "Draft: columnar storage" and blog.user(3)["post_count"] == 0


def test_update_of_the_tview_key_cascades(blog: Blog) -> None:
    blog.sql("update {app}.tb_post set pk_post = 100 where pk_post = 1")  # ON UPDATE CASCADE
    blog.exact()
    assert blog.posts() == [2, 3, 100]
    assert [c["body"] for c in blog.post(100)["comments"]] == ["Beautiful.", "Is it Turing complete?"]
    assert blog.post(100)["tags"] == ["history"]
    assert blog.comment(1)[0] == 100 and blog.comment(2)[0] == 100
    assert blog.one("select array_agg(p->>'title' order by ord) from {s}.tv_tag, "
                    "jsonb_array_elements(posts) with ordinality x(p, ord) where pk_tag = 1") == [
        "On Bernoulli numbers", "Notes on the Analytical Engine"]
    assert blog.one("select count(*) from {s}.tv_tag t, jsonb_array_elements(t.posts) p "
                    "where (p->>'id')::uuid = %s::uuid", (blog.post_id(100),)) == 1
    # several keys in one statement
    blog.sql("update {app}.tb_post set pk_post = pk_post + 1000 where pk_post in (2, 3, 4)")
    blog.exact()
    assert blog.posts() == [100, 1002, 1003]
    assert blog.post(1002)["tags"] == ["history", "math"] and blog.post(1003)["comments"][0]["body"] == "Short and sweet."
    assert blog.comment(3)[0] == 1003 and blog.tag(2)[1] == 1


def test_delete_of_a_user_cascades_to_posts_and_comments(blog: Blog) -> None:
    blog.sql("delete from {app}.tb_user where pk_user = 1")
    blog.exact()
    assert blog.user(1) is None
    assert blog.posts() == [3]  # Ada's posts went with her
    assert blog.comments() == [3]  # comments on post 1 went with it
    assert blog.comment(3)[1] is None and blog.comment(3)[2]["author"] is None  # ON DELETE SET NULL
    assert [(c["body"], c["author"]) for c in blog.post(3)["comments"]] == [("Short and sweet.", None)]
    assert blog.tag(1)[1:] == (0, []) and blog.tag(2)[1:] == (0, []) and blog.tag(3)[1] == 1


# --------------------------------------------------------------------------------------------------
# COPY, TRUNCATE, upserts
# --------------------------------------------------------------------------------------------------


def test_copy_into_sources(blog: Blog) -> None:
    with blog.conn.cursor() as cur, cur.copy(f"copy {blog.app}.tb_user (pk_user, name, email) from stdin") as cp:
        cp.write_row((20, "Grace", "grace@example.com"))
        cp.write_row((21, "Hedy", "hedy@example.com"))
    blog.exact()
    assert blog.user(20)["name"] == "Grace" and blog.user(21)["post_count"] == 0

    copy = f"copy {blog.app}.tb_comment (fk_post, fk_user, body, created_at) from stdin"
    with blog.conn.cursor() as cur, cur.copy(copy) as cp:
        for i, user in enumerate((20, 21, None)):
            cp.write_row((2, user, f"copied {i}", f"2026-03-0{i + 1} 00:00:00+00"))
    blog.exact()
    assert [(c["body"], c["author"]) for c in blog.post(2)["comments"]] == [
        ("copied 0", "Grace"), ("copied 1", "Hedy"), ("copied 2", None)]
    assert len(blog.comments()) == 6


def test_truncate_of_sources(blog: Blog) -> None:
    blog.sql("truncate {app}.tb_post_tag")
    blog.exact()
    assert all(blog.post(p)["tags"] == [] for p in (1, 2, 3))
    assert [blog.tag(t)[1] for t in (1, 2, 3)] == [0, 0, 0]

    blog.sql("truncate {app}.tb_comment")
    blog.exact()
    assert blog.comments() == [] and blog.post(1)["comments"] == []

    # refill, then TRUNCATE ... CASCADE of a parent empties its children too
    blog.sql("insert into {app}.tb_comment (fk_post, fk_user, body) values (1, 2, 'again')")
    blog.sql("insert into {app}.tb_post_tag values (3, 1)")
    blog.exact()
    assert blog.comments() != [] and blog.tag(1)[1] == 1
    blog.sql("truncate {app}.tb_post cascade")
    blog.exact()
    assert blog.posts() == [] and blog.comments() == []
    assert blog.user(1)["post_count"] == 0 and blog.user(1)["latest_posts"] == []
    assert [blog.tag(t)[1:] for t in (1, 2, 3)] == [(0, [])] * 3


def test_insert_on_conflict_do_update(blog: Blog) -> None:
    blog.sql("insert into {app}.tb_tag (pk_tag, name) values (1, 'History'), (9, 'new') "
             "on conflict (pk_tag) do update set name = excluded.name")
    blog.exact()
    assert blog.post(1)["tags"] == ["History"] and blog.post(2)["tags"] == ["History", "math"]
    assert blog.tag(9) == ("new", 0, []) and blog.tag(1)[0] == "History"

    blog.sql("insert into {app}.tb_user (name, email) values ('Ada Lovelace', 'ada@example.com'), "
             "('Ida', 'ida@example.com') on conflict (email) do update set name = excluded.name")
    blog.exact()
    assert blog.post(1)["author"]["name"] == "Ada Lovelace" and blog.user(1)["name"] == "Ada Lovelace"
    assert blog.one("select count(*) from {s}.tv_user") == 4
    # DO NOTHING, and DO UPDATE ... WHERE that skips the row: nothing moves
    before = blog.snapshot()
    blog.sql("insert into {app}.tb_post_tag values (1, 1) on conflict do nothing")
    blog.sql("insert into {app}.tb_user (name, email) values ('X', 'ada@example.com') "
             "on conflict (email) do update set name = excluded.name where false")
    blog.exact()
    assert blog.snapshot() == before


def test_data_modifying_with_writes_several_tables_in_one_statement(blog: Blog) -> None:
    # history -> unix for every post, in one statement that deletes and inserts the same table
    blog.sql("with moved as (delete from {app}.tb_post_tag where fk_tag = 1 returning fk_post) "
             "insert into {app}.tb_post_tag select fk_post, 3 from moved on conflict do nothing")
    blog.exact()
    assert blog.post(1)["tags"] == ["unix"] and blog.post(2)["tags"] == ["math", "unix"]
    assert blog.tag(1)[1:] == (0, []) and blog.tag(3)[1] == 3
    # three tables at once: a comment moves to another post, a post is renamed, a user too
    blog.sql("with c as (update {app}.tb_comment set fk_post = 2 where pk_comment = 1 returning 1), "
             "p as (update {app}.tb_post set title = 'Renamed' where pk_post = 3 returning 1) "
             "update {app}.tb_user set name = 'Brian W. K.' where pk_user = 2")
    blog.exact()
    assert [c["author"] for c in blog.post(2)["comments"]] == ["Brian W. K."]
    assert [c["body"] for c in blog.post(1)["comments"]] == ["Is it Turing complete?"]
    assert blog.post(3)["title"] == "Renamed" and blog.post(3)["author"]["name"] == "Brian W. K."
    assert blog.comment(1)[2]["post"]["title"] == "On Bernoulli numbers"


def test_merge(blog: Blog) -> None:
    if blog.conn.info.server_version < 150000:
        pytest.skip("MERGE needs PostgreSQL 15")
    blog.sql("merge into {app}.tb_post_tag t using (values (1, 2), (3, 3), (2, 2)) v(p, g) "
             "on t.fk_post = v.p and t.fk_tag = v.g "
             "when matched and v.p = 2 then delete "
             "when matched then update set fk_tag = 1 "
             "when not matched then insert values (v.p, v.g)")
    blog.exact()
    assert blog.post(1)["tags"] == ["history", "math"] and blog.post(2)["tags"] == ["history"]
    assert blog.post(3)["tags"] == ["history"]
    assert blog.tag(1)[1] == 3 and blog.tag(2)[1] == 1 and blog.tag(3)[1:] == (0, [])
    blog.sql("merge into {app}.tb_user u using (values (1, 'Ada M.'), (60, 'Niklaus')) v(k, n) on u.pk_user = v.k "
             "when matched then update set name = v.n "
             "when not matched then insert (pk_user, name, email) values (v.k, v.n, 'nw@example.com')")
    blog.exact()
    assert blog.post(1)["author"]["name"] == "Ada M." and blog.user(60)["name"] == "Niklaus"


# --------------------------------------------------------------------------------------------------
# Rows leaving and entering the WHERE; updates that change nothing the models read
# --------------------------------------------------------------------------------------------------


def test_rows_leave_and_enter_the_where(blog: Blog) -> None:
    blog.sql("update {app}.tb_post set published = false where pk_post in (1, 3)")
    blog.exact()
    assert blog.posts() == [2]
    assert blog.user(1)["post_count"] == 1 and titles(blog.user(1)) == ["On Bernoulli numbers"]
    assert blog.user(2)["post_count"] == 0
    assert blog.tag(1)[1] == 1 and blog.tag(3)[1:] == (0, [])
    # tv_comment has no WHERE: its rows stay
    assert blog.comments() == [1, 2, 3]

    blog.sql("update {app}.tb_post set published = true where pk_post in (3, 4)")
    blog.exact()
    assert blog.posts() == [2, 3, 4]
    assert blog.post(4)["title"] == "Draft: columnar storage" and blog.user(3)["post_count"] == 1
    assert blog.tag(3)[1] == 1


def test_update_that_changes_nothing_the_models_read_rewrites_no_row(blog: Blog) -> None:
    before = blog.snapshot()
    # email and created_at of users are read by no model
    blog.sql("update {app}.tb_user set email = 'x' || email, created_at = created_at + interval '1 day'")
    # same values written back
    blog.sql("update {app}.tb_post set title = title, fk_user = fk_user")
    blog.sql("update {app}.tb_post_tag set fk_tag = fk_tag")
    # the draft's body is read by tv_post, but the draft is not in it; tv_user does not read bodies
    blog.sql("update {app}.tb_post set body = 'still a draft' where pk_post = 4")
    blog.exact()
    assert blog.snapshot() == before
    assert blog.one("select email from {app}.tb_user where pk_user = 1") == "xada@example.com"
    # while a real change rewrites exactly the rows it affects
    blog.sql("update {app}.tb_post set body = 'Note G, revised.' where pk_post = 2")
    blog.exact()
    after = blog.snapshot()
    assert blog.post(2)["body"] == "Note G, revised."
    changed = {t: [r[1] for r in after[t] if r not in before[t]] for t in after}
    assert sorted(r["pk_post"] for r in changed["tv_post"]) == [2]
    assert sorted(r["pk_tag"] for r in changed["tv_tag"]) == [1, 2]
    assert changed["tv_user"] == [] and changed["tv_comment"] == []


# --------------------------------------------------------------------------------------------------
# Transactions
# --------------------------------------------------------------------------------------------------


def test_multi_statement_transaction_over_several_tables(blog: Blog) -> None:
    with other_connection(blog) as c:
        c.execute(f"insert into {blog.app}.tb_user (pk_user, name, email) values (30, 'Ken', 'ken@example.com')")
        c.execute(f"insert into {blog.app}.tb_post (pk_post, fk_user, title, created_at) "
                  "values (30, 30, 'Unix at 50', '2026-04-01'), (31, 30, 'B', '2026-04-02')")
        c.execute(f"insert into {blog.app}.tb_comment (fk_post, fk_user, body) values (30, 1, 'Classic')")
        c.execute(f"insert into {blog.app}.tb_post_tag values (30, 3), (31, 3)")
        c.execute(f"delete from {blog.app}.tb_post where pk_post = 31")
        c.execute(f"update {blog.app}.tb_tag set name = 'UNIX' where pk_tag = 3")
        c.execute(f"update {blog.app}.tb_user set name = 'Ken T.' where pk_user = 30")
        # another session sees nothing yet
        assert blog.user(30) is None and blog.tag(3)[1] == 1
        c.commit()
    blog.exact()
    assert blog.post(30)["author"]["name"] == "Ken T." and blog.post(30)["tags"] == ["UNIX"]
    assert blog.post(30)["comments"][0]["author"] == "Ada" and blog.post(31) is None
    assert blog.user(30)["post_count"] == 1 and titles(blog.user(30)) == ["Unix at 50"]
    assert blog.tag(3)[:2] == ("UNIX", 2) and blog.tag_posts(3) == ["Unix at 50", "Awk in one page"]


def test_rollback_restores_the_tviews(blog: Blog) -> None:
    before = blog.snapshot()
    with other_connection(blog) as c:
        c.execute(f"update {blog.app}.tb_user set name = 'Nobody'")
        c.execute(f"delete from {blog.app}.tb_post where pk_post = 2")
        c.execute(f"truncate {blog.app}.tb_post_tag")
        c.execute(f"insert into {blog.app}.tb_tag (name) values ('gone')")
        # inside the transaction the tviews already show the writes
        assert c.execute(f"select data->'author'->>'name' from {blog.s}.tv_post where pk_post = 1").fetchone()[0] \
            == "Nobody"
        assert divergences(c, blog.project.schema) == []
        c.rollback()
    blog.exact()
    assert blog.snapshot() == before
    assert blog.post(2)["tags"] == ["history", "math"]


def test_savepoints(blog: Blog) -> None:
    with other_connection(blog) as c:
        c.execute(f"update {blog.app}.tb_post set title = 'A' where pk_post = 1")
        c.execute("savepoint s1")
        c.execute(f"update {blog.app}.tb_post set title = 'B' where pk_post = 2")
        c.execute(f"delete from {blog.app}.tb_comment where pk_comment = 3")
        assert c.execute(f"select data->>'title' from {blog.s}.tv_post where pk_post = 2").fetchone()[0] == "B"
        c.execute("rollback to savepoint s1")
        assert c.execute(f"select data->>'title' from {blog.s}.tv_post where pk_post = 2").fetchone()[0] \
            == "On Bernoulli numbers"
        assert divergences(c, blog.project.schema) == []
        c.execute("savepoint s2")
        c.execute(f"update {blog.app}.tb_post set title = 'C' where pk_post = 3")
        c.execute("savepoint s3")
        c.execute(f"update {blog.app}.tb_user set name = 'D' where pk_user = 2")
        c.execute("release savepoint s3")
        c.execute("release savepoint s2")
        # a failing statement inside a savepoint, rolled back, leaves the earlier work in place
        c.execute("savepoint s4")
        with pytest.raises(errors.ForeignKeyViolation):
            c.execute(f"insert into {blog.app}.tb_post (fk_user, title) values (999, 'orphan')")
        c.execute("rollback to savepoint s4")
        c.commit()
    blog.exact()
    assert blog.post(1)["title"] == "A" and blog.post(2)["title"] == "On Bernoulli numbers"
    assert blog.post(3)["title"] == "C" and blog.post(3)["author"]["name"] == "D"
    assert blog.comments() == [1, 2, 3] and titles(blog.user(2)) == ["C"]


def test_open_transaction_sees_its_own_writes_in_the_tviews(blog: Blog) -> None:
    with other_connection(blog) as c:
        c.execute(f"insert into {blog.app}.tb_post (pk_post, fk_user, title, created_at) "
                  "values (40, 3, 'Vectors', '2026-05-01')")
        # right after the statement, before commit, in the same transaction
        assert c.execute(f"select data->>'title' from {blog.s}.tv_post where pk_post = 40").fetchone()[0] == "Vectors"
        assert c.execute(f"select data->'post_count' from {blog.s}.tv_user where pk_user = 3").fetchone()[0] == 1
        c.execute(f"insert into {blog.app}.tb_post_tag values (40, 2)")
        assert c.execute(f"select post_count from {blog.s}.tv_tag where pk_tag = 2").fetchone()[0] == 2
        assert divergences(c, blog.project.schema) == []
        # not visible to others until commit
        assert blog.post(40) is None and blog.tag(2)[1] == 1
        c.commit()
    blog.exact()
    assert blog.post(40)["tags"] == ["math"] and blog.tag(2)[1] == 2


# --------------------------------------------------------------------------------------------------
# Guard and pinned settings
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("statement", [
    ("insert into {s}.tv_post (pk_post, id, fk_user, created_at, data) "
     "values (99, gen_random_uuid(), 1, now(), '{}')"),
    "update {s}.tv_post set data = '{}' where pk_post = 1",
    "delete from {s}.tv_user",
    "truncate {s}.tv_tag",
])
def test_direct_write_to_a_tview_is_rejected(blog: Blog, statement: str) -> None:
    before = blog.snapshot()
    with pytest.raises(errors.ObjectNotInPrerequisiteState) as info:
        blog.sql(statement)
    assert info.value.sqlstate == "55000"
    verb = statement.split()[0]
    name = statement.split(".")[1].split()[0]
    assert info.value.diag.message_primary == (
        f"cannot {verb} {blog.project.schema}.{name}: it is a tview, maintained from its sources"), info.value.diag.message_primary
    assert info.value.diag.message_hint and "refresh" in info.value.diag.message_hint
    assert blog.snapshot() == before


def test_writes_under_other_session_settings_give_the_same_rows(blog: Blog) -> None:
    app = blog.app
    stamp = "2026-06-01 10:00:00+00"
    blog.sql(f"insert into {app}.tb_post (pk_post, fk_user, title, body, created_at) values "
             f"(50, 2, 'same', 'x', '{stamp}')")
    blog.sql(f"insert into {app}.tb_comment (fk_post, fk_user, body, created_at) values (50, 1, 'c', '{stamp}')")
    with other_connection(blog, autocommit=True) as c:
        c.execute("set timezone = 'Pacific/Chatham'")
        c.execute("set datestyle = 'SQL, DMY'")
        c.execute("set intervalstyle = 'sql_standard'")
        c.execute("set extra_float_digits = 0")
        c.execute(f"set search_path = {app}, public")
        # the settings do change how this session renders the values the models read
        assert c.execute(f"select to_jsonb(timestamptz '{stamp}')::text").fetchone()[0] != \
            blog.one(f"select to_jsonb(timestamptz '{stamp}')::text")
        c.execute(f"insert into tb_post (pk_post, fk_user, title, body, created_at) values "
                  f"(51, 2, 'same', 'x', '{stamp}')")
        c.execute(f"insert into tb_comment (fk_post, fk_user, body, created_at) values (51, 1, 'c', '{stamp}')")
        c.execute("update tb_user set name = 'Brian K.' where pk_user = 2")
    blog.exact()
    a, b = blog.post(50), blog.post(51)
    for doc in (a, b):
        doc.pop("id")
        for cm in doc["comments"]:
            cm.pop("id")
    assert a == b and a["created_at"] == blog.one(f"select to_jsonb(timestamptz '{stamp}')")
    assert a["author"]["name"] == "Brian K."
    assert blog.user(2)["post_count"] == 3

"""A fake but realistic `Catalog` for the unit tests: a small blog schema `app`.

Everything here mirrors what the adapter (`dbt.adapters.tviews.impl.TviewsAdapter._catalog`) would
read from pg_catalog on PostgreSQL 15-18:

* tables carry pg_class.relkind ("r" table, "p" partitioned table, "v" view, "m" materialized
  view, "f" foreign table) and their columns in attnum order;
* `unqualified` is the search_path resolution of names written without a schema (search_path = app);
* functions are keyed by lower-cased proname, with the volatility aggregated over every overload the
  way the adapter's query does it ("v" if all overloads are volatile, "i" if all are immutable, else
  "s"), prokind 'a' / 'w' and proretset. The values were copied from pg_proc (PostgreSQL 15).
  `coalesce`, `nullif`, `greatest`, `least` are SQL constructs, not pg_proc entries, so they are
  deliberately absent, exactly as the adapter would leave them out.
"""

from __future__ import annotations

from tviews.catalog import Catalog, Function, Table

SCHEMA = "app"

_TABLES = (
    Table(SCHEMA, "tb_user", "r", ("pk_user", "id", "name", "email", "created_at")),
    Table(SCHEMA, "tb_post", "r", ("pk_post", "id", "fk_user", "title", "body", "published", "created_at")),
    Table(SCHEMA, "tb_comment", "r", ("pk_comment", "id", "fk_post", "fk_user", "body", "created_at")),
    Table(SCHEMA, "tb_tag", "r", ("pk_tag", "name")),
    Table(SCHEMA, "tb_post_tag", "r", ("fk_post", "fk_tag")),
    Table(SCHEMA, "tb_category", "r", ("pk_category", "fk_parent", "name")),
    # a partitioned table is a legitimate source (relkind 'p')
    Table(SCHEMA, "tb_visit", "p", ("pk_visit", "fk_post", "visited_at")),
    # relations a tview must not read
    Table(SCHEMA, "v_post", "v", ("pk_post", "id", "title", "author_name")),
    Table(SCHEMA, "mv_post_stats", "m", ("pk_post", "n_comments")),
    Table(SCHEMA, "ft_remote_post", "f", ("pk_post", "title")),
)

# (name, volatility, is_aggregate, is_window, returns_set) as aggregated from pg_proc
_FUNCTIONS = (
    # aggregates
    ("jsonb_agg", "s", True, False, False),
    ("json_agg", "s", True, False, False),
    ("jsonb_object_agg", "i", True, False, False),
    ("count", "i", True, False, False),
    ("sum", "i", True, False, False),
    ("avg", "i", True, False, False),
    ("min", "i", True, False, False),
    ("max", "i", True, False, False),
    ("array_agg", "i", True, False, False),
    ("string_agg", "i", True, False, False),
    ("bool_and", "i", True, False, False),
    ("bool_or", "i", True, False, False),
    ("every", "i", True, False, False),
    # window functions (rank is also a hypothetical-set aggregate)
    ("row_number", "i", False, True, False),
    ("rank", "i", True, True, False),
    ("lag", "i", False, True, False),
    # set-returning
    ("jsonb_array_elements", "i", False, False, True),
    ("generate_series", "s", False, False, True),
    ("unnest", "i", False, False, True),
    # volatile
    ("random", "v", False, False, False),
    ("clock_timestamp", "v", False, False, False),
    ("timeofday", "v", False, False, False),
    ("gen_random_uuid", "v", False, False, False),
    ("nextval", "v", False, False, False),
    # stable
    ("now", "s", False, False, False),
    ("statement_timestamp", "s", False, False, False),
    ("jsonb_build_object", "s", False, False, False),
    ("jsonb_build_array", "s", False, False, False),
    ("to_jsonb", "s", False, False, False),
    ("concat", "s", False, False, False),
    ("format", "s", False, False, False),
    ("to_char", "s", False, False, False),
    ("date_trunc", "s", False, False, False),
    ("length", "s", False, False, False),
    ("age", "s", False, False, False),  # age(ts) = age(current_date, ts): STABLE, yet moves daily
    # immutable
    ("lower", "i", False, False, False),
    ("upper", "i", False, False, False),
    ("btrim", "i", False, False, False),
    ("left", "i", False, False, False),
    ("substr", "i", False, False, False),
    ("md5", "i", False, False, False),
    ("abs", "i", False, False, False),
    ("round", "i", False, False, False),
    ("array_length", "i", False, False, False),
    ("cardinality", "i", False, False, False),
    ("jsonb_strip_nulls", "i", False, False, False),
    ("string_to_array", "i", False, False, False),
    # user-defined functions of the application (CREATE FUNCTION app.slugify ... IMMUTABLE, and a
    # VOLATILE one that is in no built-in list, so only pg_proc can tell)
    ("slugify", "i", False, False, False),
    ("next_ticket", "v", False, False, False),
)


def make_catalog() -> Catalog:
    """The blog catalog: tables of schema `app`, search_path = app, the functions above."""
    tables = {(t.schema, t.name): t for t in _TABLES}
    return Catalog(
        tables=tables,
        unqualified={t.name: t.schema for t in _TABLES},
        functions={name: Function(name, vol, agg, win, srf) for name, vol, agg, win, srf in _FUNCTIONS},
    )


CATALOG = make_catalog()

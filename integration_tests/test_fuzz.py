"""Grammar-based random SELECTs (fuzz.py) built as tviews: none may crash the build or go stale.

One run per module, shared by the tests below: TVIEWS_FUZZ_QUERIES generated queries (default 50)
on the schema as written (mixed-case quoted columns in `ord`), as many again with those columns
spelled in lower case (so the run goes past a refusal of mixed-case names), TVIEWS_FUZZ_WRITES
write transactions per built tview (default 20), seed TVIEWS_FUZZ_SEED (default 1). Up to
TVIEWS_FUZZ_MINIMIZE bugs (default 3) are minimized, TVIEWS_FUZZ_MINIMIZE_SECONDS each (default
10), so that a failure shows small reproducers; `python integration_tests/fuzz.py --seed N
--queries Q --writes W [--plain-names]` reruns the same queries as a soak with full minimization.
About 60-90 s on a 2-core machine with the defaults.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import pytest
from fuzz import BUGS, Case, Fuzzer, Outcome, Query, Report, S, Step
from pgtarget import PgTarget

pytestmark = [pytest.mark.db]

QUERIES = int(os.environ.get("TVIEWS_FUZZ_QUERIES", "50"))
WRITES = int(os.environ.get("TVIEWS_FUZZ_WRITES", "20"))
SEED = int(os.environ.get("TVIEWS_FUZZ_SEED", "1"))
MINIMIZE = int(os.environ.get("TVIEWS_FUZZ_MINIMIZE", "3"))
MINIMIZE_SECONDS = float(os.environ.get("TVIEWS_FUZZ_MINIMIZE_SECONDS", "10"))


@pytest.fixture(scope="module")
def reports(pg: PgTarget) -> Iterator[dict[str, Report]]:
    """The fuzzer's reports for the schema as written ("mixed") and with plain lower-case names."""
    out = {}
    for mode in ("mixed", "plain"):
        fuzzer = Fuzzer(pg.dsn, seed=SEED, writes=WRITES, minimize_budget=MINIMIZE_SECONDS,
                        max_minimize=MINIMIZE, log=lambda _: None, plain_names=mode == "plain")
        out[mode] = fuzzer.run(QUERIES)
        print(f"\nfuzz ({mode} names), seed {SEED}:\n{out[mode].summary()}")
    yield out


def bugs_of(reports: dict[str, Report], kinds: tuple[str, ...]) -> str:
    """The reproducers of the bugs of these kinds, or '' when there are none."""
    texts = []
    for mode, report in reports.items():
        bugs = [b for b in report.bugs if b.result.kind in kinds]
        if bugs:
            texts.append(f"=== {mode} names, seed {SEED}: {len(bugs)} bug(s)")
            texts += [b.text() for b in bugs if b.minimized is not None]
            texts += [f"BUG #{b.number} [{b.result.kind}] query {b.query_index}: {b.result.detail} (not minimized; "
                      f"rerun with fuzz.py --seed {SEED}{' --plain-names' if mode == 'plain' else ''})"
                      for b in bugs if b.minimized is None]
    return "\n\n".join(texts)


def test_no_generated_tview_goes_stale(reports: dict[str, Report]) -> None:
    """After every write statement and transaction, every tview that built equals its SELECT."""
    found = bugs_of(reports, (Outcome.STALE,))
    assert not found, "tviews went silently stale:\n\n" + found


def test_no_build_crashes(reports: dict[str, Report]) -> None:
    """A generated SELECT is built or refused with a TviewError or a clear install() error, never a crash."""
    found = bugs_of(reports, (Outcome.CRASHED,))
    assert not found, "building a tview crashed:\n\n" + found


def test_no_write_is_refused_by_a_maintenance_error(reports: dict[str, Report]) -> None:
    """Maintenance raises only where the write leaves the SELECT failing or its key NULL or duplicated."""
    found = bugs_of(reports, (Outcome.WRITE_CRASH,))
    assert not found, "maintenance failed on valid writes:\n\n" + found


def test_the_fuzzer_tests_something(reports: dict[str, Report]) -> None:
    """The generated SQL is valid, a good share of it builds in every shape, and the writes are varied."""
    assert set(BUGS) == {Outcome.CRASHED, Outcome.STALE, Outcome.WRITE_CRASH}
    for mode, report in reports.items():
        assert report.queries == QUERIES, (mode, report.summary())
        assert report.counts[Outcome.INVALID] == 0, (mode, report.invalid[:3])
    plain, mixed = reports["plain"], reports["mixed"]
    # With plain names nothing stands in the way of most shapes: most queries build.
    assert plain.counts[Outcome.BUILT] >= 0.6 * QUERIES, plain.summary()
    # Mixed-case names are refused by the analysis today (every query reading `ord`); those that
    # do not read it still build.
    assert mixed.counts[Outcome.BUILT] >= 0.2 * QUERIES, mixed.summary()
    if QUERIES >= 40:
        built_shapes = {s for s, c in plain.by_shape.items() if c[Outcome.BUILT]}
        assert built_shapes == {"spj", "group", "distinct", "distinct_on", "union"}, plain.summary()
        stats: Counter[str] = plain.stats + mixed.stats
        statements = {k.split(":")[1] for k in stats if k.startswith("stmt:")}
        assert {"insert", "update", "delete", "with", "truncate"} <= statements, stats
        assert stats["rollback"] and stats["commit"] > stats["rollback"] and stats["checks"] > stats["commit"], stats


def test_the_oracle_reports_a_tview_whose_maintenance_misses_a_write(pg: PgTarget) -> None:
    """A write the triggers do not see leaves the tview different from its SELECT: reported as stale."""
    query = Query(f"SELECT c.id, c.name FROM {S}.cust c", ["id"], "spj")
    with Fuzzer(pg.dsn).connect() as conn:
        case = Case(conn)
        try:
            case.create({"cust": [(1, "ann", "n", None, 1)], "prod": [], "ord": [], "item": [], "fav": []})
            assert case.build(query).kind == Outcome.BUILT
            steps = [Step("stmt", f"UPDATE {S}.cust SET name = 'bob' WHERE id = 1")]
            seen, _ = case.run_txn(query, lambda i: steps[i] if i < len(steps) else None, "commit", 0, Counter(),
                                   check_each=True)
            assert seen is None
            conn.execute(case.sql(f"ALTER TABLE {S}.cust DISABLE TRIGGER USER"))
            steps = [Step("stmt", f"UPDATE {S}.cust SET name = 'cy' WHERE id = 1")]
            missed, _ = case.run_txn(query, lambda i: steps[i] if i < len(steps) else None, "commit", 1, Counter(),
                                     check_each=False)
            assert missed is not None and missed.kind == Outcome.STALE, missed
            assert sorted(p for p, _ in missed.rows) == ["extra in tview", "missing from tview"], missed.rows
        finally:
            case.drop()

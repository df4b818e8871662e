"""The randomized differential oracle over the corpus of tview shapes (bounded budget for CI)."""

import os

from conftest import unique_schema
from oracle import SHAPES, run


def test_random_transactions_leave_every_tview_exact(conn) -> None:
    """Seeded random transactions over 20+ shapes leave every tview equal to its SELECT."""
    assert len(SHAPES) >= 20
    schema = unique_schema("tvo")
    transactions = int(os.environ.get("TVIEWS_ORACLE_TXNS", "400"))
    try:
        assert run(conn, schema, transactions, seed=int(os.environ.get("TVIEWS_ORACLE_SEED", "7"))) == 0
    finally:
        conn.execute(f'drop schema if exists "{schema}" cascade')
        conn.execute("select tviews.gc()")

"""The catalog answers the controller's questions with index probes, not scans."""

from __future__ import annotations

from pathlib import Path

import pytest

from aghmem.storage.catalog import Catalog


def plan(catalog: Catalog, sql: str) -> str:
    params = (None,) * sql.count("?")
    return " | ".join(row[3] for row in catalog.db.execute("EXPLAIN QUERY PLAN " + sql, params))


@pytest.mark.parametrize("analyzed", [False, True])
def test_write_path_lookups_use_their_indexes(tmp_path: Path, analyzed: bool) -> None:
    catalog = Catalog(tmp_path / "aghmem.db")
    # 2,000 rows in one scope so the planner has something to choose between.
    with catalog.write() as db:
        db.executemany(
            "INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [("global", f"user_{i}.md", f"mem_{i}", "user", f"n{i}", "", f"h{i}", f"b{i}", 1, i, None, None,
              f"e{i % 50}" if i % 3 == 0 else None, None, None, f"s{i % 40}" if i % 2 else None, None, f"2026-{i:06d}")
             for i in range(2000)],
        )
        if analyzed:
            db.execute("ANALYZE")
    assert "USING INDEX entries_body (scope_key=? AND body_hash=?)" in plan(catalog, Catalog.BODY_QUERY)
    assert "USING INDEX entries_slot (scope_key=? AND entity=? AND attribute=?)" in plan(catalog, Catalog.SLOT_QUERY)
    last = "SELECT id FROM decisions WHERE scope_key = ? AND target_filename = ? AND status = 'applied' ORDER BY seq DESC LIMIT 1"
    assert "USING INDEX decisions_target" in plan(catalog, last)
    # The CF face's lookups (COMPAT N6): by session, and a page by type, in created order without a sort.
    rows = catalog.db.execute(
        "EXPLAIN QUERY PLAN SELECT name FROM entries e WHERE e.scope_key = ? AND e.source_session = ? "
        "ORDER BY e.created_sort DESC, e.id LIMIT 20", ("global", "s1"),
    ).fetchall()
    assert "USING INDEX entries_session (scope_key=? AND source_session=?)" in rows[0][3] and len(rows) == 1
    rows = catalog.db.execute(
        "EXPLAIN QUERY PLAN SELECT name FROM entries e WHERE e.scope_key = ? AND (e.cf_type = ? OR "
        "(e.cf_type IS NULL AND e.type IN (?))) ORDER BY e.created_sort DESC, e.id LIMIT 20", ("global", "fact", "user"),
    ).fetchall()
    assert "USING INDEX entries_created (scope_key=?)" in rows[0][3] and len(rows) == 1

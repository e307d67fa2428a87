"""The Tantivy index on its own: a rebuild replaces everything, whatever
was staged before it (issue 12 §4: a reindex left duplicate documents)."""

from __future__ import annotations

import itertools
from pathlib import Path

from aghmem.storage.tantivy_index import IndexDoc, SearchIndex


def test_a_rebuild_over_a_staged_change_leaves_no_duplicate(tmp_path: Path) -> None:
    stamps = itertools.count()
    index = SearchIndex(tmp_path / "index", stamp=lambda: next(stamps), commit_delay=60)  # nothing commits by itself
    try:
        docs = [IndexDoc(f"global:{n}.md", "global", f"{n}.md", 1, f"{n} text") for n in ("alpha", "beta")]
        index.rebuild(docs, len(docs))
        index.stage(upserts=[docs[0]])  # a hand edit, staged, not yet committed
        index.rebuild(docs, len(docs))
        index.flush()
        assert index.num_docs() == 2
        hits = index.search({"words": ["alpha"]}, ["global"], 10)
        assert [hit.id for hit in hits] == ["global:alpha.md"]
    finally:
        index.close()


def test_searches_share_a_snapshot_until_a_change_is_committed(tmp_path: Path) -> None:
    # Issue 16: the snapshot (and what it has read: document frequencies,
    # hits' stored fields) is kept between searches, so it must never
    # outlive a commit: a search after a change sees the change.
    stamps = itertools.count()
    index = SearchIndex(tmp_path / "index", stamp=lambda: next(stamps), commit_delay=60)
    try:
        index.rebuild([IndexDoc("global:a.md", "global", "a.md", 1, "alpha text")], 1)
        first = index.snapshot()
        assert index.snapshot() is first
        assert [h.id for h in index.search({"words": ["alpha"]}, ["global"], 10)] == ["global:a.md"]
        assert index.search({"words": ["beta"]}, ["global"], 10) == []
        index.stage(upserts=[IndexDoc("global:b.md", "global", "b.md", 2, "beta alpha")])
        hits = index.search({"words": ["beta"]}, ["global"], 10)  # commits what is staged first
        assert [(h.id, h.filename, h.mtime_ns) for h in hits] == [("global:b.md", "b.md", 2)]
        assert index.snapshot() is not first
        assert {h.id for h in index.search({"words": ["alpha"]}, ["global"], 10)} == {"global:a.md", "global:b.md"}
        index.stage(deletes=["global:a.md"])
        assert [h.id for h in index.search({"words": ["alpha"]}, ["global"], 10)] == ["global:b.md"]
    finally:
        index.close()

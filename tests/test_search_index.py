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

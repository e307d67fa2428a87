"""Keeping the search index in step with the catalog.

Every applied change reaches `on_change` (a controller listener) and is
staged into the index. Rows of `index_dirty` say which documents may lag the
catalog; at start they are replayed, and a missing or outdated index is
rebuilt from the catalog's copy of each file, with progress.
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..model import Entry, Selector, memory_id
from ..storage.catalog import Catalog
from ..storage.files import utc_now
from ..storage.index_fields import Fields, index_text
from ..storage.tantivy_index import IndexDoc, SearchIndex

log = logging.getLogger("aghmem.index")

Progress = Callable[[int, int], None]
BUILD_COMMIT_DELAY = 5.0  # seconds between commits while a cold start fills an empty index


@dataclass
class JobProgress:
    """What a long job (rebuild, reindex) is doing, for health and the CLI."""

    job: str
    done: int = 0
    total: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"job": self.job, "done": self.done, "total": self.total}


def document(entry: Entry) -> IndexDoc:
    return IndexDoc(
        entry.id,
        entry.selector.key,
        entry.filename,
        entry.mtime_ns,
        index_text(entry.name, entry.description, entry.raw),
    )


class Indexing:
    def __init__(self, catalog: Catalog, path: Path, *, commit_delay: float) -> None:
        self.catalog = catalog
        self.path = path
        self.commit_delay = commit_delay
        self.index = self._open()
        self.progress: JobProgress | None = None
        self.last_reindex: str | None = None
        self._job_lock = threading.Lock()

    def _open(self) -> SearchIndex:
        return SearchIndex(
            self.path, stamp=self.catalog.stamp, commit_delay=self.commit_delay, on_commit=self.catalog.clear_dirty
        )

    # --- changes -------------------------------------------------------------

    def on_change(self, selector: Selector, filename: str, entry: Entry | None) -> None:
        if entry is None:
            self.index.stage(deletes=[memory_id(selector, filename)])
        else:
            self.index.stage(upserts=[document(entry)])

    def start_empty(self) -> None:
        """A new index with an empty catalog (a cold start) needs no
        rebuild: the scan's baselines stage each file into it as they take
        it in (`take_analysed`), analysed once, beside the reading. Until
        `catch_up` it is `building`: searches see it commit by commit (and
        say so), without forcing commits of their own."""
        if self.index.needs_rebuild and self.catalog.entry_count() == 0:
            self.index.needs_rebuild = False
            self.index.building = True
            # Fewer, bigger commits while it fills: each commit is a segment
            # the writer merges again later, and over many scopes (each with
            # its own copy of every term) merging costs more than indexing.
            self.index.set_commit_delay(max(self.commit_delay, BUILD_COMMIT_DELAY))

    def wants_analysed(self) -> bool:
        """Whether documents a scan analysed are wanted (not while a rebuild
        from the catalog is due: it will index them itself)."""
        return not self.index.needs_rebuild

    def take_analysed(self, analysed: list[tuple[Entry, Fields]]) -> None:
        if analysed:
            self.index.stage(upserts=[document(entry) for entry, _ in analysed], analysed=[f for _, f in analysed])

    def replay_dirty(self) -> None:
        """Stage what the catalog holds and the index may not (dirty rows),
        once what is staged already is committed."""
        self.index.flush()
        ids = self.catalog.dirty_ids()
        if ids:
            self.restage(ids)

    def catch_up(self) -> None:
        """At start: rebuild a new or damaged index, else replay dirty rows."""
        self.index.building = False  # a cold start's filling is over
        self.index.set_commit_delay(self.commit_delay)
        if self.index.needs_rebuild:
            self.rebuild()
            return
        ids = self.catalog.dirty_ids()
        if ids:
            self.restage(ids)
            self.index.flush()
            log.info("index: caught up with %d change(s) from the last run", len(ids))

    def restage(self, ids: Sequence[str]) -> None:
        found = {row[0]: IndexDoc(*row) for row in self.catalog.index_docs(ids)}
        self.index.stage(upserts=list(found.values()), deletes=[i for i in ids if i not in found])

    def rebuild(self, progress: Progress | None = None) -> int:
        """Index every catalog entry afresh, reporting progress."""
        with self._job_lock:
            total = self.catalog.entry_count()
            self.progress = JobProgress("rebuild", 0, total)

            def report(done: int, total: int) -> None:
                assert self.progress is not None
                self.progress.done = done
                log.info("index rebuild: %d/%d", done, total)
                if progress is not None:
                    progress(done, total)

            docs = (IndexDoc(*row) for row in self.catalog.index_docs())
            count = self.index.rebuild(docs, total, report)
            self.progress = None
            self.last_reindex = utc_now()
            return count

    def reindex(self, scope_keys: Sequence[str]) -> int:
        """Re-index the entries of some scopes (all their documents)."""
        with self._job_lock:
            ids = self.catalog.ids_in_scopes(scope_keys)
            self.progress = JobProgress("reindex", 0, len(ids))
            for start in range(0, len(ids), 1000):
                self.restage(ids[start : start + 1000])
                self.progress.done = min(start + 1000, len(ids))
            self.index.flush()
            self.progress = None
            self.last_reindex = utc_now()
            return len(ids)

    def reset(self) -> int:
        """Throw the index away and build it again; returns files deleted."""
        with self._job_lock:
            self.index.close()
            deleted = sum(1 for p in self.path.rglob("*") if p.is_file()) if self.path.exists() else 0
            shutil.rmtree(self.path, ignore_errors=True)
            self.index = self._open()
        self.rebuild()
        return deleted

    # --- status ----------------------------------------------------------------

    def status(self) -> dict[str, object]:
        return self.index.status()

    def close(self) -> None:
        self.index.close()

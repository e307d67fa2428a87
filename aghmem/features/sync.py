"""Keeping the catalog (and through it the index) in step with the files.

`Reconciler` walks scope directories, compares each file's size and mtime
with the catalog and re-reads only what differs. The first scan of a scope
takes its files in as a baseline; later scans hand each difference to
`Controller.observe`, which records it as an observed decision. Between
scans the `Watcher` (features/watcher.py) sees hand edits as they happen.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol

from .. import faults
from ..controller.controller import Controller
from ..model import Entry, Selector
from ..storage.catalog import Catalog
from ..storage.filenames import is_memory_filename, is_text_name, shown_name
from ..storage.files import remove_stale_temp_files, utc_now
from ..storage.index_fields import Fields
from ..storage.layout import Layout, is_inside
from ..storage.schema import DEFERRED_INDEXES
from . import bulk_intake
from .bulk_intake import Group, Taken

log = logging.getLogger("aghmem.sync")

Progress = Callable[[int, int], None]


@contextlib.contextmanager
def deferred_indexes(catalog: Catalog) -> Iterator[None]:
    """Around a first load into an empty catalog (a cold start): the
    indexes whose keys come in no order (schema.DEFERRED_INDEXES) are
    dropped, then built once, sorted, at the end: inserting at random
    places in them, and writing their pages again at every commit, made
    the loading thread the bottleneck at 100k files (bench_cold: 21.6-23.4
    -> 19.9-20.5 s). Queries that would use them scan meanwhile; after a
    crash, the next open creates them (the schema is applied at every open)."""
    if catalog.entry_count():
        yield
        return
    with catalog.write() as db:
        for name in DEFERRED_INDEXES:
            db.execute(f"DROP INDEX IF EXISTS {name}")
    try:
        yield
    finally:
        with catalog.write() as db:
            for ddl in DEFERRED_INDEXES.values():
                db.execute(ddl)


@dataclass
class ScanReport:
    scopes: int = 0
    files: int = 0
    changed: int = 0
    removed: int = 0
    invalid: int = 0
    temp_files_removed: int = 0
    changed_scopes: list[Selector] = field(default_factory=list)


STALE_TEMP_SECONDS = 3600.0


class AnalysedSink(Protocol):
    """Where a scan's baselines send the documents they analysed (the index)."""

    def wants_analysed(self) -> bool: ...

    def take_analysed(self, analysed: list[tuple[Entry, Fields]]) -> None: ...


# Files a baseline writes to the catalog per transaction: the database is
# free for writes between two, and the index gets its documents as they come.
WRITE_BATCH = 1000


class Reconciler:
    def __init__(
        self, layout: Layout, catalog: Catalog, controller: Controller, index: AnalysedSink | None = None
    ) -> None:
        self.layout = layout
        self.catalog = catalog
        self.controller = controller
        self.index = index
        self.startup = True  # until the first full scan is done
        self._lock = threading.RLock()  # one scan at a time

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """No scan and no hand edit is taken in meanwhile (this thread's may):
        a reset empties the catalog and scans again under it, else a hand
        edit observed in between would be news to the empty catalog. Scans
        take this lock before the controller's, as here."""
        with self._lock, self.controller.lock:
            yield

    def scan_all(self, progress: Progress | None = None) -> ScanReport:
        with self._lock:
            report = ScanReport()
            seen_keys: set[str] = set()
            baselines: list[Group] = []
            for selector, directory in list(self.layout.scope_dirs()):
                seen_keys.add(selector.key)
                baselines += self._scan_scope(selector, directory, report)
            # First scans last, all together: their files are read in bulk.
            self._baseline(baselines, report, progress)
            # Scopes whose directories vanished (an agent removed, a workspace
            # unregistered) leave nothing behind.
            with self.catalog.write() as db:
                for key in set(self.catalog.scope_keys()) - seen_keys:
                    report.removed += self.catalog.delete_scope(db, key)
                marks = ",".join("?" * len(seen_keys))
                db.execute(f"DELETE FROM invalid_files WHERE scope_key NOT IN ({marks})", tuple(seen_keys))
            self.startup = False
            return report

    def scan_scope(self, selector: Selector, directory: Path) -> ScanReport:
        with self._lock:
            report = ScanReport()
            self._baseline(self._scan_scope(selector, directory, report), report, None)
            return report

    def _scan_scope(self, selector: Selector, directory: Path, report: ScanReport) -> list[Group]:
        """Observe what changed in a scope scanned before; a scope never
        scanned is returned, as the files its baseline takes in."""
        report.scopes += 1
        # At start-up no write is under way: every temp file is a crash's.
        # Later, one may belong to a write in progress: only old ones go.
        older_than = None if self.startup else STALE_TEMP_SECONDS
        for where in (directory, self.layout.tmp_path(selector)):
            report.temp_files_removed += remove_stale_temp_files(where, older_than=older_than)
        known = self.catalog.scope_files(selector.key)
        refused = self.catalog.refused_files(selector.key)
        on_disk: dict[str, tuple[int, int]] = {}  # name → (size, mtime_ns): a warm start's whole cost, per file
        odd: list[str] = []  # names that are not UTF-8: reported by hand_edits, never read
        if directory.is_dir() and is_inside(directory, self.layout.trust_root(selector)):
            with os.scandir(directory) as items:
                for item in items:
                    # Every kind of entry: a FIFO or a directory named *.md is
                    # reported, not skipped in silence.
                    if not is_memory_filename(item.name):
                        continue
                    if not is_text_name(item.name):
                        odd.append(item.name)
                        continue
                    stat = item.stat(follow_symlinks=False)
                    on_disk[item.name] = (stat.st_size, stat.st_mtime_ns)
        report.files += len(on_disk)
        for name in odd:
            self.controller.hand_edits.observe(selector, name, refresh_index=False)
        changed = [name for name, seen in on_disk.items() if seen != known.get(name) and seen != refused.get(name)]
        present = on_disk.keys() | {shown_name(name) for name in odd}  # the catalog knows them as shown
        removed = [name for name in {*known, *refused} if name not in present]
        if changed or removed:
            report.changed_scopes.append(selector)
        if not self.catalog.was_scanned(selector.key):
            return [Group(selector, directory, changed, self.controller.scanner_for(selector))]
        for name in changed + removed:
            # MEMORY.md: once per changed scope after the scan, not per file.
            decision = self.controller.hand_edits.observe(selector, name, refresh_index=False)
            report.changed += name in changed
            report.removed += name in removed
            report.invalid += decision is None and name in changed and self.catalog.is_invalid(str(directory / name))
        return []

    def _baseline(self, groups: list[Group], report: ScanReport, progress: Progress | None) -> None:
        """Take first-scanned scopes' files in without recording decisions,
        in bulk (read and analysed in helper processes when there are many).
        Refused files go through `observe` one by one, so a quarantine is on
        the record even in a first scan (a cloned repository's files)."""
        if not groups:
            return
        analyse = self.index is not None and self.index.wants_analysed()
        left = collections.Counter[str]()
        for group in groups:
            left[group.selector.key] += len(group.names)
        total = remaining = sum(left.values())
        if progress is not None and total:
            progress(0, total)
        batch: list[Taken] = []
        finished: list[str] = []  # scopes whose every file is in `batch` or written
        with deferred_indexes(self.catalog) if self.startup else contextlib.nullcontext():
            for task, taken in bulk_intake.taken_in(groups, self.controller.config.file, analyse=analyse):
                batch += taken
                for group in task.groups:
                    left[group.selector.key] -= len(group.names)
                    remaining -= len(group.names)
                    finished += [group.selector.key] if left[group.selector.key] == 0 else []
                if len(batch) >= WRITE_BATCH or remaining == 0:
                    self._write_baseline(batch, finished, report, analyse)
                    batch, finished = [], []
                    if progress is not None and total:
                        progress(total - remaining, total)

    def _write_baseline(self, batch: list[Taken], finished: list[str], report: ScanReport, analyse: bool) -> None:
        """One transaction of a baseline: the entries taken in, the scopes
        now complete; then their documents to the index, and the refused
        files observed."""
        entries = [seen for seen in batch if seen.entry is not None]
        with self.catalog.write() as db:
            # os.path.join, not Path's `/`: the same string at a tenth of the
            # cost, for every file of a cold start (11 µs each).
            self.catalog.clear_invalid_paths(db, [os.path.join(seen.directory, seen.name) for seen in entries])
            self.catalog.upsert_entries(db, [seen.entry for seen in entries])  # type: ignore[misc]
            for key in finished:
                self.catalog.mark_scanned(db, key, utc_now())
        report.changed += len(entries)
        if analyse and self.index is not None:
            self.index.take_analysed([(seen.entry, seen.fields) for seen in entries])  # type: ignore[misc]
        faults.point("scan.batch_written")
        for seen in batch:
            if seen.refused:
                self.controller.hand_edits.observe(seen.selector, seen.name)
                report.invalid += self.catalog.is_invalid(str(seen.directory / seen.name))

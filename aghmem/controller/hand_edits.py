"""Hand edits: files changed on disk by a person or another tool.

A change the watcher or a scan finds becomes an observed decision (origin
`file`), taken in through the intake gate and recorded under the same write
lock as the controller's own writes, so the two never decide on different
states of a file.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..model import Decision, Entry, Op, Selector
from ..storage.filenames import is_text_name, listed_name, shown_name
from ..storage.files import content_hash
from ..storage.reading import Refusal
from .decisions import decision_id, observed_decision, quarantine_decision, stamp
from .intake import Intake

if TYPE_CHECKING:
    from .controller import Controller

log = logging.getLogger("aghmem.controller")

# How often `observe` reads a file again that changed while it was read.
OBSERVE_TRIES = 3
# An empty or unparsable file modified this recently may be a save caught
# half-way (truncated, not yet written): it is read again after a pause, a
# few times, before it counts. Taking it at once dropped the memory from the
# catalog, and the save's own decision then had no prior text to revert to.
SETTLE_WINDOW_NS = 1_000_000_000
SETTLE_PAUSE = 0.05
SETTLE_TRIES = 4
# The daemon's own renames the watcher has not come to yet (see `wrote`);
# past this many they are forgotten, and the watcher asks the catalog.
OWN_WRITES_KEPT = 4096


class HandEdits:
    def __init__(self, controller: "Controller") -> None:
        self.controller = controller
        # (scope key, filename) → (path, inode, size, mtime_ns) as renamed.
        self._own: dict[tuple[str, str], tuple[Path, int, int, int]] = {}

    def wrote(self, selector: Selector, filename: str, path: Path, info: os.stat_result) -> None:
        """The daemon has just renamed `path` into place (under the write
        lock): its file event is recognised by one lstat, without resolving
        the scope's directory or asking the catalog."""
        if len(self._own) >= OWN_WRITES_KEPT:
            self._own.clear()
        self._own[(selector.key, filename)] = (path, info.st_ino, info.st_size, info.st_mtime_ns)

    def unchanged(self, selector: Selector, filename: str) -> bool:
        """Whether the file's size and mtime are those the catalog took in
        (or refused): a stat and a row or two, no read, no lock (`observe`
        still decides under the lock). The daemon's own writes end here."""
        if not is_text_name(filename):
            return self._odd_name(selector, filename, report=False)
        own = self._own.pop((selector.key, filename), None)
        if own is not None:
            try:
                info = os.lstat(own[0])
            except FileNotFoundError:
                pass
            else:
                if (info.st_ino, info.st_size, info.st_mtime_ns) == own[1:]:
                    return True
        catalog = self.controller.catalog
        try:
            info = os.lstat(self.controller.layout.checked_scope_dir(selector) / listed_name(filename))
        except FileNotFoundError:
            return catalog.scope_file(selector.key, filename) is None and catalog.refused_file(selector.key, filename) is None
        seen = (info.st_size, info.st_mtime_ns)
        return seen == catalog.scope_file(selector.key, filename) or seen == catalog.refused_file(selector.key, filename)

    def observe(self, selector: Selector, filename: str, *, record: bool = True, refresh_index: bool = True) -> Decision | None:
        """Bring the catalog in line with the file as it is on disk now.

        A real change (created, edited, deleted by a person or another tool)
        becomes an applied decision with origin `file` and source
        `observed`, keeping the prior text so it can be reverted. A file the
        intake gate refuses (unparsable, over a limit, caught by the safety
        scan) leaves the catalog, and so recall, and is reported until it is
        fixed; a quarantine is recorded as an observed `reject`.
        `record=False` takes files in silently (a scope's first scan);
        `refresh_index=False` leaves MEMORY.md to the caller's batch.
        """
        if not is_text_name(filename):
            self._odd_name(selector, filename, report=True)
            return None
        # Not file_path(): a symlink is reported like any file that is not a
        # regular one, never followed.
        path = self.controller.layout.checked_scope_dir(selector) / listed_name(filename)
        for _ in range(OBSERVE_TRIES):
            # Read, parse and scan outside the write lock: a slow or hostile
            # file (a FIFO, 20 MB of text) must never hold up writes.
            seen = self._settled(selector, filename)
            with self.controller.lock:
                if not _still_as_read(path, seen):
                    continue  # it changed while it was read: look again
                changed, entry, decision = self._settle(selector, filename, path, seen, record)
            if changed:
                self.controller.after_apply(selector, filename, entry, decision, refresh_index=refresh_index)
            return decision
        return None  # still changing: its last event or the next scan takes it in

    def _odd_name(self, selector: Selector, filename: str, *, report: bool) -> bool:
        """A file whose name is not UTF-8 is never read: it is reported under
        its name shown escaped (the catalog holds text) until renamed or
        gone. Whether the report is up to date; `report` brings it up to date."""
        catalog = self.controller.catalog
        path = self.controller.layout.checked_scope_dir(selector) / listed_name(filename)
        shown, shown_path = shown_name(filename), shown_name(str(path))
        try:
            info: os.stat_result | None = os.lstat(path)
        except FileNotFoundError:
            info = None
        up_to_date = (None if info is None else (info.st_size, info.st_mtime_ns)) == catalog.refused_file(selector.key, shown)
        if up_to_date or not report:
            return up_to_date
        with self.controller.lock, catalog.write() as db:
            if info is None:
                catalog.clear_invalid(db, shown_path)
                return True
            refusal = Refusal("invalid", "filename", f"the file name {shown} is not UTF-8: rename the file to take it in")
            now = stamp(self.controller.clock(), ms=True)
            catalog.set_invalid(db, shown_path, selector.key, shown, refusal, now[:19] + "Z", info)
        log.warning("%s is not taken in: its name is not UTF-8", shown_path)
        return True

    def _settled(self, selector: Selector, filename: str) -> Intake | None:
        """The file as taken in, read again while it looks like a save in
        progress (empty or unparsable, and modified a moment ago)."""
        seen = self.controller.take_in(selector, filename)
        for _ in range(SETTLE_TRIES):
            if seen is None or seen.refusal is None or seen.refusal.kind != "invalid" or seen.stat is None:
                break
            if time.time_ns() - seen.stat.st_mtime_ns > SETTLE_WINDOW_NS:
                break
            time.sleep(SETTLE_PAUSE)
            seen = self.controller.take_in(selector, filename)
        return seen

    def _settle(
        self, selector: Selector, filename: str, path: Path, seen: Intake | None, record: bool
    ) -> tuple[bool, Entry | None, Decision | None]:
        """(catalog changed, new entry, decision) for the file as read."""
        known = self.controller.catalog.get_entry(selector.key, filename)
        if seen is None:
            with self.controller.catalog.write() as db:
                self.controller.catalog.clear_invalid(db, str(path))
            if known is None:
                return False, None, None
            decision = self._observed(selector, filename, Op.DELETE, None, known) if record else None
            with self.controller.catalog.write() as db:
                self.controller.catalog.delete_entry(db, selector.key, filename)
            return True, None, decision
        if seen.refusal is not None:
            return self._refuse(selector, filename, path, seen, known, record)
        assert seen.parsed is not None and seen.stat is not None
        if known is not None and known.content_hash == seen.parsed.content_hash:
            if (known.size, known.mtime_ns) == (seen.stat.st_size, seen.stat.st_mtime_ns):
                return False, None, None
            # Touched, not changed: no decision, but a new age.
            known.size, known.mtime_ns = seen.stat.st_size, seen.stat.st_mtime_ns
            known.raw = seen.shown
            with self.controller.catalog.write() as db:
                self.controller.catalog.upsert_entry(db, known)
            return True, known, None
        entry = seen.entry(selector, filename)
        op = Op.UPDATE if known is not None else Op.ADD
        decision = self._observed(selector, filename, op, seen.raw, known) if record else None
        with self.controller.catalog.write() as db:
            self.controller.catalog.clear_invalid(db, str(path))
            self.controller.catalog.upsert_entry(db, entry)
        return True, entry, decision

    def _refuse(
        self, selector: Selector, filename: str, path: Path, seen: Intake, known: Entry | None, record: bool
    ) -> tuple[bool, Entry | None, Decision | None]:
        """Take a refused file out of the catalog and report it; a quarantine
        is recorded once per version of the file."""
        assert seen.refusal is not None
        now = stamp(self.controller.clock(), ms=True)
        prior = self.controller.catalog.raw_of(selector.key, filename) if known is not None else None
        with self.controller.catalog.write() as db:
            if known is not None:
                self.controller.catalog.delete_entry(db, selector.key, filename)
            self.controller.catalog.set_invalid(db, str(path), selector.key, filename, seen.refusal, now[:19] + "Z", seen.stat)
        decision = None
        if record and seen.refusal.kind == "quarantined":
            key = self.controller.derived_key("quarantined", "file", selector, seen.fingerprint, filename)
            if self.controller.catalog.decision_status(decision_id(key)) is None:
                decision = quarantine_decision(key, selector, filename, seen.refusal, at=now, fingerprint=seen.fingerprint)
                if known is not None:
                    decision.prior_content, decision.prior_content_hash = prior, known.content_hash
                with self.controller.catalog.write() as db:
                    self.controller.catalog.insert_decision(db, decision, "recorded")
        return known is not None, None, decision

    def _observed(self, selector: Selector, filename: str, op: Op, raw: bytes | None, known: Entry | None) -> Decision | None:
        post_hash = content_hash(raw) if raw is not None else None
        key = self.controller.derived_key("observed", "file", selector, post_hash or "deleted", filename)
        if self.controller.catalog.decision_status(decision_id(key)) is not None:
            return None  # this very change was already recorded (watcher and scan both saw it)
        prior = self.controller.catalog.raw_of(selector.key, filename) if known is not None else None
        decision = observed_decision(
            key,
            selector,
            filename,
            op,
            at=stamp(self.controller.clock(), ms=True),
            post=raw,
            prior=prior,
            prior_hash=known.content_hash if known is not None else None,
        )
        with self.controller.catalog.write() as db:
            self.controller.catalog.insert_decision(db, decision, "applied")
        return decision


def _still_as_read(path: Path, seen: Intake | None) -> bool:
    """Whether the file is the one `seen` read (same inode, size, mtime)."""
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return seen is None or seen.stat is None
    if seen is None or seen.stat is None:
        return False
    was = seen.stat
    return (now.st_ino, now.st_size, now.st_mtime_ns) == (was.st_ino, was.st_size, was.st_mtime_ns)

"""The one write path: candidate → rules → decision → record → apply.

Every change the daemon makes to a memory file goes through `submit()` or
`revert()`. Both hold one lock for the whole decide-record-apply sequence, so
decisions are taken against the state they will change (If-Match, duplicate
and slot checks cannot race). The decision row is committed before the file
is touched; `recovery.recover()` settles rows left pending by a crash. After
the lock, a write waits for its group commit (commit.py): its decision and
its file durable, the derived views up to date; only then is it answered.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import hashlib
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .. import faults
from ..config import Config
from ..errors import Conflict, NotFound, RateLimited, Unavailable
from ..model import Decision, Entry, Op, Selector, default_type
from ..storage.catalog import Catalog
from ..storage.filenames import listed_name
from ..storage.files import ParsedMemory, atomic_write, content_hash, parse_memory
from ..storage.layout import Layout, ScopeFiles
from ..storage.memory_md import INDEX_MAX_LINES, IndexRefresher
from ..storage.reading import RefusedFile, read_memory_bytes
from .commit import Change, GroupCommit, flush
from .config_files import ConfigFiles
from .decisions import (
    candidate_hash,
    decision_id,
    revert_decision,
    revert_plan,
    stamp,
    verdict_parsed,
    write_decision,
)
from .disk import Disk
from .hand_edits import HandEdits
from .intake import Intake, take_in
from .rules import Candidate, Draft, Verdict, conclude, conclude_delete, draft, slot_of
from .safety import Scanner

Clock = Callable[[], dt.datetime]
# Told (scope, filename, entry or None when removed) after each applied
# change, outside the write lock.
ChangeListener = Callable[[Selector, str, "Entry | None"], None]
# Told the applied decisions (submitted, reverted or observed), after the
# change listeners: a group commit's at once, in the order they were applied.
DecisionListener = Callable[[Sequence[Decision]], None]
# Settles an ambiguous verdict in place (controller.mode = hybrid | llm) and
# returns the llm_trace; see tiebreak.py.
TieBreaker = Callable[["Candidate", Verdict, Callable[[str], "ParsedMemory | None"]], dict]


# How often a write is decided again when its file changes under it.
REDECIDE_TRIES = 3
# Seconds a write waits for the start-up scan before it is told to retry.
WRITE_WAIT = 30.0


class ChangedOnDisk(Exception):
    """The target changed between the decision and the rename."""

    def __init__(self, selector: Selector, filename: str) -> None:
        super().__init__(filename)
        self.selector, self.filename = selector, filename


@dataclass
class Outcome:
    decision: Decision
    applied: bool
    dry_run: bool = False
    replay: bool = False


class Controller:
    def __init__(
        self,
        *,
        config: Config,
        layout: Layout,
        catalog: Catalog,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.layout = layout
        self.catalog = catalog
        self.clock: Clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.scanner = Scanner(
            redact_patterns=config.privacy_policy.redact_patterns,
            redaction=config.privacy_policy.default_redaction_string,
        )
        self.listeners: list[ChangeListener] = []
        self.decision_listeners: list[DecisionListener] = []
        self.tie_breaker: TieBreaker | None = None
        self.memory_index = IndexRefresher(functools.partial(catalog.index_rows, limit=INDEX_MAX_LINES))
        self.disk = Disk(layout, catalog, config)
        self.hand_edits = HandEdits(self)
        self.config_files = ConfigFiles(self)  # the second kind of target (config_files.py)
        # The scanner of a scope (a bound config adds its privacy policy); see scanner_for.
        self.scope_scanner: Callable[[Selector], Scanner | None] = lambda selector: None
        self.lock = threading.RLock()
        self.commits = GroupCommit(self.lock, functools.partial(flush, self))
        # Cleared while the daemon takes its files in at start: writes wait
        # for it (a write racing the first scan could be taken for a hand edit).
        self.ready = threading.Event()
        self.ready.set()
        self._recent_writes: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)

    def reconfigure(self) -> None:
        """Pick up a reloaded config (the scanner compiles its patterns)."""
        self.scanner = Scanner(
            redact_patterns=self.config.privacy_policy.redact_patterns,
            redaction=self.config.privacy_policy.default_redaction_string,
        )

    def scanner_for(self, selector: Selector) -> Scanner:
        return self.scope_scanner(selector) or self.scanner

    # --- reading the disk --------------------------------------------------

    def read(self, selector: Selector, filename: str) -> ParsedMemory | None:
        """The memory as it is on disk now (None if absent)."""
        return self.disk.parsed(selector, filename)

    def take_in(self, selector: Selector, filename: str, *, directory: Path | None = None) -> Intake | None:
        """The file through the intake gate (limits, parse, safety scan), as
        hand edits are; None if absent. Reads, never under the write lock.
        `directory`: the scope's directory, already checked (a scan passes
        it: checking it again for each of 100k files cost ~100 µs a file)."""
        directory = directory if directory is not None else self.layout.checked_scope_dir(selector)
        path = directory / listed_name(filename)
        return take_in(path, filename, default_type(selector), limits=self.config.file, scanner=self.scanner_for(selector))

    # --- submit ------------------------------------------------------------

    def wait_ready(self) -> None:
        """For writes from outside (the faces): wait for the start-up scan.
        The daemon's own writes (a synthesis refreshed by a change the scan
        finds) never wait: they are part of it."""
        if not self.ready.wait(WRITE_WAIT):
            raise Unavailable(
                "the daemon is still taking in the memory files (GET /api/memory/health says how far); retry shortly",
                retry_after=2,
            )

    def submit(self, candidate: Candidate) -> Outcome:
        """Decide and apply; if the file changes on disk between the decision
        and the rename (a person saved it), that version is recorded as a
        hand edit and the candidate decided again against it."""
        for _ in range(REDECIDE_TRIES):
            try:
                return self.submit_once(candidate).result()
            except ChangedOnDisk as changed:
                self.hand_edits.observe(changed.selector, changed.filename)
        raise Conflict(
            f"{candidate.filename or 'the target file'} kept changing on disk while this write was decided; "
            "its versions were recorded as hand edits; retry",
            filename=candidate.filename,
        )

    def submit_once(self, candidate: Candidate) -> "Future[Outcome]":
        """`submit` without the retry, answered through a future (the HTTP
        face awaits it: no thread waits); it raises ChangedOnDisk when the
        file changed between the decision and the rename (`submit` retries)."""
        # The policy and the safety scan read no file: outside the lock, so a
        # large candidate's scan never holds up other writes.
        first = draft(candidate, config=self.config, scanner=self.scanner_for(candidate.selector))
        return self.commits.submit(lambda: self._decide_and_apply(candidate, first))

    def _decide_and_apply(self, candidate: Candidate, first: Draft) -> tuple[Outcome, Change | None]:
        """Under the lock: the outcome, and the change to flush (a replay's
        too: its first writer may not have been answered yet)."""
        if candidate.idempotency_key:
            replay = self._replay(decision_id(candidate.idempotency_key))
            if replay is not None:
                return Outcome(replay, applied=False, dry_run=candidate.dry_run, replay=True), Change()
        self._check_preconditions(candidate)
        files = self.layout.scope_files(candidate.selector)
        verdict = self._decide(candidate, files, first)
        llm_trace = None
        if verdict.ambiguous and self.tie_breaker is not None and self.config.controller.mode != "rules":
            llm_trace = self.tie_breaker(candidate, verdict, lambda name: self.disk.for_write(candidate.selector, name))
        decision = self._decision_for(candidate, verdict, self.clock())
        if llm_trace is not None:
            decision.llm_trace, decision.prompt_version = llm_trace, llm_trace["prompt_version"]
            decision.source = "rule" if llm_trace["error"] else "llm"
        replay = self._replay(decision.id)
        if replay is not None:
            return Outcome(replay, applied=False, dry_run=candidate.dry_run, replay=True), Change()
        if candidate.dry_run:
            decision.status = "dry_run"
            return Outcome(decision, applied=False, dry_run=True), None
        self._count_write(candidate.origin)
        change = self._record_and_apply(decision, verdict_parsed(decision, verdict), files)
        return Outcome(decision, applied=change.applied, dry_run=False), change

    def _decide(self, candidate: Candidate, files: ScopeFiles, first: Draft) -> Verdict:
        """The rules, given the files they name, read here (the rules read nothing)."""
        if first.done:
            return first.verdict
        assert first.filename is not None
        if candidate.delete:
            return conclude_delete(first, exists=files.path(first.filename).exists())
        current = self.disk.for_write(candidate.selector, first.filename, files)
        slot = slot_of(candidate, current, first, self.catalog)
        slot_file = self.disk.for_write(candidate.selector, slot[0], files) if current is None and len(slot) == 1 else None
        return conclude(
            candidate, first, current=current, slot=slot, slot_file=slot_file, config=self.config, catalog=self.catalog
        )

    def _replay(self, existing_id: str) -> Decision | None:
        status = self.catalog.decision_status(existing_id)
        if status is None:
            return None
        if status == "abandoned":
            # The daemon died before applying it: let the retry run afresh.
            with self.catalog.write() as db:
                db.execute("DELETE FROM decisions WHERE id = ?", (existing_id,))
            return None
        return self.catalog.get_decision(existing_id)

    def _check_preconditions(self, candidate: Candidate) -> None:
        if candidate.filename is None:
            return
        if candidate.patch or candidate.if_match is not None:
            current = self.disk.current_hash(candidate.selector, candidate.filename)
            if candidate.patch and current is None:
                raise NotFound(f"no memory {candidate.filename} in this scope", filename=candidate.filename)
            # `*` matches any current version, but not a missing file (RFC 9110).
            wildcard = candidate.if_match == "*" and current is not None
            if candidate.if_match is not None and not wildcard and candidate.if_match != current:
                raise Conflict(
                    f"{candidate.filename} has changed: If-Match does not match its current content hash",
                    filename=candidate.filename,
                    current_hash=current,
                    if_match=candidate.if_match,
                )

    def _count_write(self, origin: str) -> None:
        limit = self.config.writes_per_min(origin)
        if limit <= 0:
            return
        window = self._recent_writes[origin]
        now = time.monotonic()
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= limit:
            retry_after = max(1, int(60 - (now - window[0])) + 1)
            raise RateLimited(
                f"origin {origin!r} made {limit} writes in the last minute; retry in {retry_after}s",
                origin=origin,
                limit=limit,
                retry_after=retry_after,
            )
        window.append(now)

    def room_for(self, origin: str, writes: int) -> int | None:
        """None if `origin` may make `writes` more writes now, else the
        seconds to wait (a bulk write is refused whole, not cut half-way)."""
        limit = self.config.writes_per_min(origin)
        window = self._recent_writes[origin]
        now = time.monotonic()
        recent = [t for t in window if t > now - 60]
        if limit <= 0 or len(recent) + writes <= limit:
            return None
        return max(1, int(60 - (now - recent[0])) + 1) if recent else 60

    def _decision_for(self, candidate: Candidate, verdict: Verdict, now: dt.datetime) -> Decision:
        digest = candidate_hash(candidate)
        target = verdict.target_filename or candidate.filename
        key = candidate.idempotency_key or self.derived_key("write", candidate.origin, candidate.selector, digest, target)
        prior = self._prior_of_delete(candidate.selector, verdict.target_filename) if verdict.op is Op.DELETE else None
        return write_decision(candidate, verdict, key=key, candidate_hash=digest, now=now, limits=self.config.file, prior=prior)

    def _prior_of_delete(self, selector: Selector, filename: str | None) -> bytes | None:
        """What a delete removes, kept for a revert (None: too large to keep)."""
        assert filename
        try:
            return read_memory_bytes(self.layout.file_path(selector, filename), max_bytes=self.config.file.max_bytes)[0]
        except RefusedFile as exc:
            if exc.refusal.rule != "file.max_bytes":
                raise Conflict(f"{filename} cannot be deleted here ({exc.message}); remove it by hand", filename=filename) from None
            return None

    def derived_key(self, kind: str, origin: str, selector: Selector, candidate_hash: str, filename: str | None) -> str:
        """A key that names this candidate against the target's current state:
        the same request twice in a row is one decision, but the same content
        after the memory changed (say, deleted) is a new one."""
        last = self.catalog.last_decision_for(selector.key, filename) if filename else None
        parts = [kind, origin, selector.key, candidate_hash, filename or "", last or ""]
        return "derived:" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()

    # --- record and apply --------------------------------------------------

    def _record_and_apply(
        self, decision: Decision, parsed: ParsedMemory | None = None, files: ScopeFiles | None = None
    ) -> Change:
        """Record the decision, then change the file; returns the change for
        the group commit to flush."""
        changes_file = decision.op in (Op.ADD, Op.UPDATE, Op.DELETE)
        decision.status = "pending" if changes_file else "recorded"
        self.catalog.record(decision, decision.status)
        if not changes_file:
            return Change(decision=decision)
        files = files or self.layout.scope_files(decision.selector)
        entry = self._apply(decision, parsed, files)
        assert decision.target_filename
        return Change(decision.selector, decision.target_filename, entry, decision, files, applied=True)

    def _apply(self, decision: Decision, parsed: ParsedMemory | None, files: ScopeFiles) -> Entry | None:
        selector = decision.selector
        assert decision.target_filename
        filename = decision.target_filename
        path = files.path(filename)
        faults.point("controller.before_rename")
        self._check_unchanged(decision, files)
        if decision.op is not Op.DELETE and not files.directory.is_dir():
            self.layout.checked_scope_dir(selector, create=True)  # the scope's first memory
        entry: Entry | None = None
        # The directory's fsync is the group commit's (one for the batch).
        if decision.op is Op.DELETE:
            path.unlink(missing_ok=True)
        else:
            assert decision.post_content is not None
            raw = decision.post_content.encode("utf-8")
            atomic_write(path, raw, tmp_dir=files.tmp_dir, sync_dir=False)
            stat = path.stat()
            self.hand_edits.wrote(selector, filename, path, stat)
            if parsed is None:
                parsed = parse_memory(raw, filename, default_type(selector))
            entry = parsed.to_entry(selector, filename, stat.st_size, stat.st_mtime_ns)
        applied_at = stamp(self.clock(), ms=True)
        self.catalog.settle(decision.id, applied_at, selector, filename, entry)
        decision.applied_at, decision.status = applied_at, "applied"
        return entry

    def _check_unchanged(self, decision: Decision, files: ScopeFiles) -> None:
        """Refuse to replace a file that is no longer the one the decision was
        taken on (a save landed since it was read): the decision is
        abandoned and ChangedOnDisk raised, so the save is never lost."""
        assert decision.target_filename
        if decision.op is Op.DELETE and decision.prior_content_hash is None:
            return  # a delete too large to keep its prior: nothing to compare
        on_disk = self.disk.raw(decision.selector, decision.target_filename, files)
        if (content_hash(on_disk) if on_disk is not None else None) == decision.prior_content_hash:
            return
        with self.catalog.write() as db:
            self.catalog.mark_abandoned(db, decision.id, "the file changed on disk after the decision was taken")
        decision.status = "abandoned"
        raise ChangedOnDisk(decision.selector, decision.target_filename)

    def after_apply(
        self,
        selector: Selector,
        filename: str | None,
        entry: Entry | None,
        decision: Decision | None,
        *,
        refresh_index: bool = True,
    ) -> None:
        """Derived views of an observed change (a hand edit), outside the
        write lock; the daemon's own writes get theirs in their group
        commit's flush (commit.flush). `refresh_index=False`: the caller
        regenerates MEMORY.md once for a batch (a scan, an editor's burst)."""
        assert filename
        # The listeners (the search index first) before MEMORY.md: a change
        # is searchable without waiting for that file's write and fsync.
        for listener in self.listeners:
            listener(selector, filename, entry)
        if refresh_index:
            self.refresh_memory_index(selector)
        if decision is not None and decision.status == "applied":
            for decision_listener in self.decision_listeners:
                decision_listener([decision])

    def refresh_memory_index(self, selector: Selector, files: ScopeFiles | None = None) -> None:
        if files is None:
            # The temp folder is made only for a directory still there (the
            # refresh writes nothing into a folder that was deleted).
            directory = self.layout.scope_dir(selector)
            tmp = self.layout.tmp_dir(selector) if directory.is_dir() else None
            self.memory_index.refresh(directory, selector.key, tmp)
        else:
            self.memory_index.refresh(files.directory, selector.key, files.tmp_dir)

    # --- revert ------------------------------------------------------------

    def revert(self, original_id: str, *, dry_run: bool = False) -> Outcome:
        """Undo an applied decision if the file is still as it left it."""
        original = self.catalog.get_decision(original_id)
        if original is not None and self.config_files.owns(original) and original.applied_at is not None:
            decision = self.config_files.revert(original, dry_run=dry_run)
            return Outcome(decision, applied=decision.status == "applied", dry_run=dry_run)
        try:
            return self._revert_once(original_id, dry_run=dry_run)
        except ChangedOnDisk as changed:
            self.hand_edits.observe(changed.selector, changed.filename)
            raise Conflict(
                f"{changed.filename} changed on disk while the revert was applied; that version was recorded; look again",
                filename=changed.filename,
            ) from None

    def _revert_once(self, original_id: str, *, dry_run: bool) -> Outcome:
        return self.commits.run(lambda: self._revert_under_lock(original_id, dry_run=dry_run))

    def _revert_under_lock(self, original_id: str, *, dry_run: bool) -> tuple[Outcome, Change | None]:
        original = self.catalog.get_decision(original_id)
        if original is None:
            raise NotFound(f"no decision {original_id}", decision_id=original_id)
        if original.applied_at is None or original.target_filename is None:
            raise Conflict(f"decision {original_id} was not applied ({original.op.value}); nothing to revert")
        selector, filename = original.selector, original.target_filename
        prior = self.disk.raw(selector, filename)
        op, post, reason = revert_plan(original, content_hash(prior) if prior is not None else None)
        key = self.derived_key("revert", "revert", selector, original.id, filename)
        decision = revert_decision(original, op, post, reason, key=key, now=self.clock(), prior=prior)
        if dry_run:
            decision.status = "dry_run"
            return Outcome(decision, applied=False, dry_run=True), None
        return Outcome(decision, applied=True), self._record_and_apply(decision)

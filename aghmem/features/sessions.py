"""Session ledgers: what agent runtimes stream to the daemon (DESIGN §9).

`HOME/sessions/<workspace_id or _unbound>/<session_id>/ledger.jsonl` holds
one event per line; `meta.json` beside it the session's times, lineage and a
chained checksum (sha256 of the previous checksum and each line, so an
append hashes only what it adds and `repair` can verify a ledger from the
start). The `sessions` table mirrors each meta.json for the dream gate and
pruning, so neither reads ledgers.

Re-sending events is safe: a sequence already in the ledger is skipped.
Appends are not fsynced (a crash of the daemon loses nothing; a power cut
may lose the last lines, which `repair` detects and trims).

A session may carry a `target` (the scope its extracted memories go to,
instead of the route's default) and the id a client knows it by
(`external_session_id`); CF ingest uses both (COMPAT N2), and deletes a
session with `delete` (N7).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import re
import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from ..controller.decisions import stamp
from ..errors import Conflict, NotFound, ValidationError
from ..model import Selector, resolve_selector
from ..storage.catalog import Catalog
from ..storage.files import atomic_write
from ..storage.layout import WorkspaceRegistry
from .ledger import EMPTY_CHECKSUM, Event, chain, ledger_message_ids, new_messages, numbered, parse_event, read_ledger

log = logging.getLogger("aghmem.sessions")

Clock = Callable[[], dt.datetime]
UNBOUND = "_unbound"
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
ROLES = ("user", "assistant", "system")
MAX_EVENTS_PER_CALL = 1_000
CACHED_SESSIONS = 256  # sessions whose sequence sets stay in memory


@dataclass
class SessionMeta:
    session_id: str
    workspace_id: str | None
    created_at: str
    updated_at: str
    stopped_at: str | None = None
    parent_session_id: str | None = None
    root_session_id: str | None = None
    spawn_depth: int = 0
    version: int = 1
    event_count: int = 0
    last_sequence: int = 0
    checksum: str = EMPTY_CHECKSUM
    path: str = ""
    target: Selector | None = None  # where its extracted memories go
    external_session_id: str | None = None  # the client's id for it

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = self.target.to_dict() if self.target else None
        return data

    def bind(self, target: Selector | None, external_session_id: str | None) -> None:
        """Take a target and an external id, the first time they are given;
        a later append may not change them."""
        for name, value in (("target", target), ("external_session_id", external_session_id)):
            if value is None:
                continue
            if getattr(self, name) is None:
                setattr(self, name, value)
            elif getattr(self, name) != value:
                raise Conflict(f"session {self.session_id} already has another {name}", session_id=self.session_id)


@dataclass
class AppendResult:
    meta: SessionMeta
    appended: list[Event]
    skipped: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.meta.session_id,
            "appended": len(self.appended),
            "skipped": self.skipped,
            "meta": self.meta.to_dict(),
        }


class Sessions:
    def __init__(self, root: Path, catalog: Catalog, registry: WorkspaceRegistry, clock: Clock) -> None:
        self.root = root
        self.catalog = catalog
        self.registry = registry
        self.clock = clock
        # Told the events each append added (the extractor listens).
        self.listeners: list[Callable[[SessionMeta, list[Event]], None]] = []
        # Asked before new messages are written: may refuse (RateLimited)
        # when the extractor cannot keep up. The runtime sends them again.
        self.admit: Callable[[tuple[str, str], int], None] | None = None
        # A bound memory configuration's privacy policy (configs/enforce.py):
        # (workspace id, events) → (events to write, how many were dropped).
        self.policy: Callable[[str | None, list[Event]], tuple[list[Event], int]] | None = None
        self._locks: dict[tuple[str, str], threading.Lock] = collections.defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()
        self._sequences: collections.OrderedDict[tuple[str, str], set[int]] = collections.OrderedDict()

    # --- paths -------------------------------------------------------------

    def workspace(self, route_id: str) -> str | None:
        """A route's workspace: `_unbound` for none, else a registered one (404)."""
        return None if route_id == UNBOUND else self.registry.get(route_id).id

    def directory(self, workspace_id: str | None, session_id: str) -> Path:
        return self.root / (workspace_id or UNBOUND) / check_session_id(session_id)

    def _lock(self, key: tuple[str, str]) -> threading.Lock:
        with self._locks_guard:
            return self._locks[key]

    # --- appending ---------------------------------------------------------

    def append(
        self,
        route_id: str,
        session_id: str,
        events: list[Event],
        *,
        parent_session_id: str | None = None,
        root_session_id: str | None = None,
        target: Selector | None = None,
        external_session_id: str | None = None,
        unique_messages: bool = False,
    ) -> AppendResult:
        """Append events; a sequence already in the ledger is skipped.
        `target`, `external_session_id`: set on the session's first append
        that gives them. `unique_messages`: messages whose
        `payload.message_id` the ledger (or this batch) already holds are
        dropped, and the rest numbered after the ledger's last sequence
        (the events' own sequences are ignored), under the session's lock."""
        workspace_id = self.workspace(route_id)
        given = len(events)
        if self.policy is not None:
            events = self.policy(workspace_id, events)[0]
        arrived = stamp(self.clock(), ms=True)
        events = [e if e.emitted_at else Event(e.sequence, e.event_type, arrived, e.payload) for e in events]
        lineage = (parent_session_id, root_session_id)
        directory = self.directory(workspace_id, session_id)
        key = (workspace_id or "", session_id)
        with self._lock(key):
            meta = self._read_meta(directory)
            now = stamp(self.clock(), ms=True)
            if meta is None:
                meta = self._new_meta(workspace_id, session_id, lineage, now, directory)
            meta.bind(target, external_session_id)
            if unique_messages:
                events = numbered(new_messages(events, ledger_message_ids(directory)), meta.last_sequence)
            seen = self._seen(key, directory)
            fresh = _unseen(events, seen)
            try:
                if fresh and meta.stopped_at is not None:
                    raise Conflict(
                        f"session {session_id} stopped at {meta.stopped_at}; send new events under a new session id",
                        session_id=session_id,
                        stopped_at=meta.stopped_at,
                    )
                messages = sum(1 for event in fresh if event.event_type == "message")
                if messages and self.admit is not None:
                    self.admit(key, messages)
                if fresh:
                    self._write_events(directory, meta, fresh, now)
            except Exception:
                # Not taken: the runtime may send these sequences again.
                seen.difference_update(event.sequence for event in fresh)
                raise
        for listener in self.listeners:
            if fresh:
                listener(meta, fresh)
        return AppendResult(meta, fresh, given - len(fresh))

    def _new_meta(
        self, workspace_id: str | None, session_id: str, lineage: tuple[str | None, str | None], now: str, directory: Path
    ) -> SessionMeta:
        parent, root = lineage
        for name, value in (("parent_session_id", parent), ("root_session_id", root)):
            if value is not None:
                check_session_id(value, field=name)
        depth = 0
        if parent:
            parent_meta = self._read_meta(self.directory(workspace_id, parent))
            depth = parent_meta.spawn_depth + 1 if parent_meta else 1
            root = root or (parent_meta.root_session_id if parent_meta else None) or parent
        return SessionMeta(
            session_id, workspace_id, now, now, parent_session_id=parent, root_session_id=root or session_id,
            spawn_depth=depth, path=str(directory / "ledger.jsonl"),
        )

    def _write_events(self, directory: Path, meta: SessionMeta, fresh: list[Event], now: str) -> None:
        # Lines first: an event that cannot be serialised must fail before
        # the session's folder exists.
        lines = [event.line() for event in fresh]
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / "ledger.jsonl", "ab") as handle:
            handle.write(b"".join(lines))
        for event, line in zip(fresh, lines):
            meta.checksum = chain(meta.checksum, line)
            if event.event_type == "session.stopped" and meta.stopped_at is None:
                # The daemon's time, not the runtime's: the dream gate compares
                # it with its own clock.
                meta.stopped_at = now
        meta.event_count += len(fresh)
        meta.last_sequence = max(meta.last_sequence, *(e.sequence for e in fresh))
        meta.updated_at = now
        self._save_meta(directory, meta)

    def _save_meta(self, directory: Path, meta: SessionMeta) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write(directory / "meta.json", json.dumps(meta.to_dict(), indent=2).encode("utf-8"), durable=False)
        with self.catalog.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO sessions (workspace_id, session_id, created_at, updated_at, stopped_at, "
                "last_sequence, event_count) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (meta.workspace_id or "", meta.session_id, meta.created_at, meta.updated_at, meta.stopped_at,
                 meta.last_sequence, meta.event_count),
            )

    def _seen(self, key: tuple[str, str], directory: Path) -> set[int]:
        """The sequences in a ledger: read once, then kept (a few hundred
        sessions at most; the least recently used is forgotten)."""
        seen = self._sequences.get(key)
        if seen is None:
            seen = {event.sequence for event in read_ledger(directory / "ledger.jsonl")}
            self._sequences[key] = seen
            while len(self._sequences) > CACHED_SESSIONS:
                self._sequences.popitem(last=False)
        self._sequences.move_to_end(key)
        return seen

    # --- reading -----------------------------------------------------------

    def _read_meta(self, directory: Path) -> SessionMeta | None:
        try:
            data = json.loads((directory / "meta.json").read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            raise Conflict(f"{directory / 'meta.json'} is not valid JSON; run POST /api/memory/sessions/repair") from None
        known = set(SessionMeta.__dataclass_fields__)
        meta = SessionMeta(**{k: v for k, v in data.items() if k in known})
        if isinstance(meta.target, dict):
            meta.target = resolve_selector(meta.target)
        return meta

    def meta(self, workspace_id: str | None, session_id: str) -> SessionMeta:
        meta = self._read_meta(self.directory(workspace_id, session_id))
        if meta is None:
            raise NotFound(f"no session {session_id}", session_id=session_id, workspace_id=workspace_id)
        return meta

    def ledger(self, route_id: str, session_id: str) -> dict[str, Any]:
        workspace_id = self.workspace(route_id)
        meta = self.meta(workspace_id, session_id)
        events = list(read_ledger(self.directory(workspace_id, session_id) / "ledger.jsonl"))
        return {"meta": meta.to_dict(), "events": [asdict(e) for e in events]}

    def replay(
        self,
        route_id: str,
        session_id: str,
        *,
        include_tools: bool = False,
        include_memory: bool = False,
        after_sequence: int = 0,
    ) -> dict[str, Any]:
        """The conversation in order: tool and memory events only when asked."""
        workspace_id = self.workspace(route_id)
        flags = {"include_tools": include_tools, "include_memory": include_memory}
        after = after_sequence
        self.meta(workspace_id, session_id)
        events = []
        for event in sorted(read_ledger(self.directory(workspace_id, session_id) / "ledger.jsonl"), key=lambda e: e.sequence):
            kind = event.event_type.split(".", 1)[0]
            if event.sequence <= after:
                continue
            if kind == "tool" and not flags["include_tools"] or kind == "memory" and not flags["include_memory"]:
                continue
            events.append(asdict(event))
        return {"session_id": session_id, "events": events}

    def message_ids(self, route_id: str, session_id: str) -> set[str]:
        """The `payload.message_id`s a session's ledger holds (empty for a
        session that does not exist)."""
        return ledger_message_ids(self.directory(self.workspace(route_id), session_id))

    def targeting(self, route_id: str, target: Selector | None = None) -> list[SessionMeta]:
        """A route's sessions with a target (that one, or any), the most
        recently updated first. Reads each session's meta.json: for deletes
        and summaries, not for every request."""
        base = self.root / (self.workspace(route_id) or UNBOUND)
        found = []
        for path in base.glob("*/meta.json") if base.is_dir() else []:
            try:
                meta = self._read_meta(path.parent)
            except Conflict:
                continue  # a damaged meta.json: repair's business
            if meta is not None and meta.target is not None and (target is None or meta.target == target):
                found.append(meta)
        return sorted(found, key=lambda m: (m.updated_at, m.session_id), reverse=True)

    # --- maintenance -------------------------------------------------------

    def delete(self, route_id: str, session_id: str, before: Callable[[str | None, str], None] | None = None) -> bool:
        """Remove a session: its ledger folder and its row. Idempotent (False:
        there was none). `before` runs first under the session's lock (the
        extractor cancels its jobs there), so no append slips in between."""
        workspace_id = self.workspace(route_id)
        directory = self.directory(workspace_id, session_id)
        key = (workspace_id or "", session_id)
        with self._lock(key):
            if before is not None:
                before(workspace_id, session_id)
            existed = directory.is_dir()
            shutil.rmtree(directory, ignore_errors=True)
            self._sequences.pop(key, None)
            with self.catalog.write() as db:
                db.execute("DELETE FROM sessions WHERE workspace_id = ? AND session_id = ?", key)
        return existed


    def prune(self, older_than_hours: float, *, dry_run: bool = False) -> dict[str, Any]:
        """Delete sessions whose last activity is older than `older_than_hours`."""
        hours = older_than_hours
        cutoff = stamp(self.clock() - dt.timedelta(hours=hours), ms=True)
        rows = self.catalog.db.execute(
            "SELECT workspace_id, session_id, event_count FROM sessions WHERE COALESCE(stopped_at, updated_at) < ?",
            (cutoff,),
        ).fetchall()
        if not dry_run:
            for workspace_id, session_id, _ in rows:
                key = (workspace_id, session_id)
                with self._lock(key):
                    shutil.rmtree(self.directory(workspace_id or None, session_id), ignore_errors=True)
                    self._sequences.pop(key, None)
                    with self.catalog.write() as db:
                        db.execute("DELETE FROM sessions WHERE workspace_id = ? AND session_id = ?", key)
        return {"dry_run": dry_run, "pruned_sessions": len(rows), "pruned_events": sum(r[2] for r in rows)}

    def repair(self, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Check every ledger against its meta: trim a torn last line, fix a
        wrong checksum or count. A ledger with damage before its last line
        is left alone and reported (skipped)."""
        directories = [d for d in self.root.glob("*/*") if d.is_dir()] if self.root.is_dir() else []
        repaired, skipped, problems = 0, 0, []
        for done, directory in enumerate(directories, 1):
            workspace_id = None if directory.parent.name == UNBOUND else directory.parent.name
            key = (workspace_id or "", directory.name)
            with self._lock(key):
                try:
                    fixed = self._repair_one(directory, workspace_id)
                except (ValueError, OSError) as exc:
                    skipped += 1
                    problems.append({"path": str(directory), "error": str(exc)})
                    continue
                self._sequences.pop(key, None)
            repaired += fixed
            if progress is not None:
                progress(done, len(directories))
        return {
            "repaired_ledgers": repaired,
            "skipped_ledgers": skipped,
            "problems": problems,
            "completed_at": stamp(self.clock(), ms=False),
        }

    def _repair_one(self, directory: Path, workspace_id: str | None) -> bool:
        ledger = directory / "ledger.jsonl"
        raw = ledger.read_bytes() if ledger.exists() else b""
        lines = raw.split(b"\n")
        good: list[bytes] = []
        for index, line in enumerate(lines):
            if not line:
                continue
            try:
                parse_event(json.loads(line))
            except (ValueError, TypeError, KeyError):
                if index < len(lines) - 1 and any(lines[index + 1 :]):
                    raise ValueError(f"line {index + 1} of {ledger} is damaged and is not the last line") from None
                break  # a torn last line: trimmed below
            good.append(line + b"\n")
        fixed = False
        if b"".join(good) != raw:
            atomic_write(ledger, b"".join(good), durable=True)
            fixed = True
        checksum = EMPTY_CHECKSUM
        events = []
        for line in good:
            checksum = chain(checksum, line)
            events.append(parse_event(json.loads(line)))
        try:
            meta = self._read_meta(directory)
        except Conflict:
            meta = None
        if meta is None:
            now = stamp(self.clock(), ms=True)
            meta = SessionMeta(directory.name, workspace_id, now, now, root_session_id=directory.name, path=str(ledger))
            fixed = True
        expected = (checksum, len(events), max((e.sequence for e in events), default=0))
        if (meta.checksum, meta.event_count, meta.last_sequence) != expected:
            meta.checksum, meta.event_count, meta.last_sequence = expected
            fixed = True
        stops = [e.emitted_at for e in events if e.event_type == "session.stopped"]
        if stops and meta.stopped_at is None:
            meta.stopped_at, fixed = stops[0], True
        if fixed:
            self._save_meta(directory, meta)
        return fixed


def check_session_id(value: Any, *, field: str = "session_id") -> str:
    if not isinstance(value, str) or not SESSION_ID_RE.fullmatch(value) or ".." in value:
        raise ValidationError(f"{field} must match [A-Za-z0-9][A-Za-z0-9._:-]{{0,127}}", field=field)
    return value


def _unseen(events: list[Event], seen: set[int]) -> list[Event]:
    """The events whose sequence the ledger does not hold, marked as seen."""
    fresh = []
    for event in events:
        if event.sequence not in seen:
            seen.add(event.sequence)
            fresh.append(event)
    return fresh

"""What the runtimes' lifecycle hooks get (INTEGRATIONS §2): recall when a
prompt comes in, a brief when a session starts, and the transcript's new
turns in the session ledger when a turn ends, so the extractor learns from
real conversations.

- `prompt_context`: implicit recall for the prompt (the trivial gate and
  the relevance floor apply; what the session was shown already is not
  shown again), rendered by `injection.context_text`: fenced as data,
  ≤ 9,500 characters, "" when nothing passes.
- `session_brief`: the scope's most recalled memories, then the newest
  (global user and feedback ones too; a workspace memory shadows a global
  one of the same file name), the same way, within BRIEF_BYTES.
- `capture`: the transcript's turns (features/transcripts.py) as `message`
  events, secrets redacted as the controller redacts them; with a stop
  reason, `session.stopped` after them. A session resumed after it stopped
  goes on in a ledger of its own, `<session>:2`, `:3`…, whose parent is the
  one before: sequences are transcript line numbers, so the new ledger
  takes the lines after the stop.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import zlib
from dataclasses import dataclass

from ..config import Config
from ..controller.controller import Controller
from ..errors import Conflict, NotFound, RateLimited
from ..model import GLOBAL, GLOBAL_TYPES, Entry, Scope, Selector
from ..storage.catalog import Catalog
from ..storage.files import body_of
from .injection import context_text
from .package import entry_item, fit, recall_package
from .recall import IMPLICIT, Recall, SearchRequest
from .sessions import UNBOUND, Event, Sessions
from .transcripts import Reading, TranscriptReader, TranscriptRefused, Turn

log = logging.getLogger("aghmem.hooks")

MAX_QUERY_CHARS = 4_000  # as for POST /api/memory/search: a longer prompt is cut at a word
BRIEF_BYTES = 6_000
BRIEF_HEADING = "Memories from aghmem for this workspace, most used first."
MAX_CONTINUATIONS = 64
BRIEFED_SESSIONS = 256
LOCK_STRIPES = 64


@dataclass(frozen=True)
class Capture:
    """What a capture wrote: the ledger (a session id) and how many events,
    or a note saying why nothing was read."""

    appended: int = 0
    ledger: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Ledger:
    """The ledger a session's next turns go to."""

    session_id: str
    parent: str | None  # the stopped ledger this one continues
    after: int  # turns up to this line are in earlier ledgers
    exists: bool


class Hooks:
    def __init__(self, config: Config, recall: Recall, catalog: Catalog, sessions: Sessions, controller: Controller) -> None:
        self.config = config
        self.recall = recall
        self.catalog = catalog
        self.sessions = sessions
        self.controller = controller  # its scanner redacts (and is rebuilt on reload)
        self.transcripts = TranscriptReader(config)
        # Memories each recent session's brief showed: its prompts' recall
        # leaves them out (the brief does not count as a recall signal).
        self._briefed: collections.OrderedDict[str, list[str]] = collections.OrderedDict()
        self._briefed_lock = threading.Lock()
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]

    # --- recall ----------------------------------------------------------------

    def prompt_context(self, prompt: str, workspace_id: str | None, session_id: str | None, now: dt.datetime) -> str:
        """UserPromptSubmit's additionalContext in a workspace (None: global
        only), or "" (a short prompt, or nothing past the relevance floor)."""
        prompt = prompt.strip()
        if len(prompt) < self.config.hooks.min_prompt_chars:
            return ""
        if len(prompt) > MAX_QUERY_CHARS:
            prompt = prompt[:MAX_QUERY_CHARS].rsplit(None, 1)[0]
        settings = self.config.recall
        with self._briefed_lock:
            shown = list(self._briefed.get(session_id or "", []))
        request = SearchRequest(
            query_text=prompt,
            selector=_selector(workspace_id),
            top_k=settings.top_k,
            raw_candidates=settings.raw_candidates,
            session_id=session_id,
            mode=IMPLICIT,
            already_surfaced=shown,
            include_already_surfaced=settings.include_already_surfaced,
            include_system=settings.include_system,
        )
        return context_text(self.recall.search(request, now))

    def session_brief(self, workspace_id: str | None, session_id: str | None, now: dt.datetime) -> str:
        """SessionStart's additionalContext: the most useful memories of a
        workspace (None: global only), or "" when there are none."""
        limit = self.config.hooks.brief_entries
        keys = [scope.key for scope in _selector(workspace_id).visible_scopes()]
        found = self._unshadowed(self.catalog.most_recalled(keys, [t.value for t in GLOBAL_TYPES], limit * 2), keys)[:limit]
        if not found:
            return ""
        texts = self.catalog.raw_by_ids([entry.id for entry in found])
        after_days = self.config.recall.freshness.banner_after_days
        items = [
            (entry, entry_item(entry, body_of(texts.get(entry.id, "")), entry.staleness_banner(now, after_days), [], now))
            for entry in found
        ]
        budget = min(BRIEF_BYTES, self.config.recall.max_package_bytes)
        packaged, omitted, used = fit(items, budget)
        if session_id:
            with self._briefed_lock:
                self._briefed[session_id] = [entry.id for entry, _ in packaged]
                while len(self._briefed) > BRIEFED_SESSIONS:
                    self._briefed.popitem(last=False)
        package = recall_package(packaged, [item for _, item in omitted], used, budget)
        return context_text({"recall": package}, heading=BRIEF_HEADING)

    def _unshadowed(self, entries: list[Entry], keys: list[str]) -> list[Entry]:
        """Without global entries that a deeper scope's file of the same name shadows."""
        shallow = [entry.filename for entry in entries if entry.selector.depth == 0]
        deeper = [key for key in keys if key != "global"]
        shadowed = {filename for _, filename, _ in self.catalog.entries_named(shallow, deeper)}
        return [entry for entry in entries if entry.selector.depth > 0 or entry.filename not in shadowed]

    # --- capture -----------------------------------------------------------------

    def capture(
        self, workspace_id: str | None, session_id: str, transcript_path: str | None, *, source: str, event: str, stop: str | None = None
    ) -> Capture:
        """Append the transcript's new turns to the session's ledger (in the
        workspace's partition, or `_unbound`), and `session.stopped` when
        `stop` gives a reason. Nothing is written before the transcript
        holds a user turn."""
        if not transcript_path:
            return Capture(note="no transcript_path: nothing to record")
        # One capture of a session at a time: read, append, remember how far.
        with self._locks[zlib.crc32(session_id.encode()) % LOCK_STRIPES]:
            try:
                reading = self.transcripts.read(transcript_path)
            except TranscriptRefused as exc:
                log.warning("hook %s of session %s: %s; not read", event, session_id, exc)
                return Capture(note=f"{exc}; not read")
            if not reading.progress.has_user:
                return Capture(note="the transcript has no user turn yet: nothing recorded")
            try:
                return self._append(workspace_id or UNBOUND, session_id, reading, source, event, stop)
            except RateLimited:
                return Capture(note="the extractor is busy: these turns are sent again with the next hook")

    def _append(self, route_id: str, session_id: str, reading: Reading, source: str, event: str, stop: str | None) -> Capture:
        ledger = self._open_ledger(route_id, session_id)
        events = [self._message(turn, source, event) for turn in reading.turns if turn.sequence > ledger.after]
        if stop is not None and (events or ledger.exists):
            # Numbered after every line read, so it sorts after every turn.
            payload = {"reason": stop, "source": source, "hook": event}
            events.append(Event(reading.progress.lines + 1, "session.stopped", None, payload))
        appended = 0
        if events:
            result = self.sessions.append(route_id, ledger.session_id, events, parent_session_id=ledger.parent)
            appended = len(result.appended)
        self.transcripts.commit(reading)
        return Capture(appended, ledger.session_id)

    def _message(self, turn: Turn, source: str, event: str) -> Event:
        text, _ = self.controller.scanner.redact(turn.text)
        return Event(turn.sequence, "message", None, {"role": turn.role, "content": text, "source": source, "hook": event})

    def _open_ledger(self, route_id: str, session_id: str) -> Ledger:
        """The first ledger of the session that is not stopped (or not there yet)."""
        workspace_id = self.sessions.workspace(route_id)
        name, parent, after = session_id, None, 0
        for number in range(2, MAX_CONTINUATIONS + 2):
            try:
                meta = self.sessions.meta(workspace_id, name)
            except NotFound:
                return Ledger(name, parent, after, exists=False)
            if meta.stopped_at is None:
                return Ledger(name, parent, after, exists=True)
            # The stop event's sequence is one past the last line read then.
            parent, name, after = name, f"{session_id}:{number}", meta.last_sequence - 1
        raise Conflict(f"session {session_id} was resumed more than {MAX_CONTINUATIONS} times", session_id=session_id)


def _selector(workspace_id: str | None) -> Selector:
    return Selector(Scope.WORKSPACE, workspace_id=workspace_id) if workspace_id else GLOBAL

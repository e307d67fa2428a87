"""The extractor: memories from session messages, through an inbox.

Per session, one job in flight and one queued: turns that arrive while a job
runs join the queued one. A job takes at most `extractor.queue.coalesce_max`
turns; what is left waits for the next job (the session is "backpressured"),
so a fast sender is slowed down, never cut. At most
`extractor.queue.capacity` sessions wait: beyond that, `admit` refuses new
messages with 429 (memory.rate_limited) before they are written, and the
runtime sends them again: nothing is lost.
A job extracts candidates (rules, or the LLM provider with the rules as
fallback), writes them to a JSONL file in the inbox, claims the file by
renaming it, and sends each candidate through the controller (origin
`extractor`) with an idempotency key made of the session, the message and
the text. A daemon killed with a claimed file re-processes it at start, and
the keys make that create nothing twice. A file that fails goes to the
dead-letter folder, where `retry` finds it.
A session with a `target` (CF ingest) sends every candidate there, with
the session's external id as its source; `wait_session` waits for one
session's work, `cancel_session` drops it (the session is being deleted).
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ... import faults
from ...config import Config
from ...controller.controller import Controller
from ...controller.decisions import stamp
from ...controller.rules import Candidate
from ...errors import RateLimited
from ...model import GLOBAL, MemoryType, Op, Scope, Selector, resolve_selector
from ...storage.files import atomic_write
from ..providers import Guard, ProviderError, Providers
from ..sessions import Event, SessionMeta
from .dead_letters import DeadLetters
from .llm import LLM_SYSTEM, llm_item
from .patterns import Extracted, extract

log = logging.getLogger("aghmem.extractor")

SESSION_TYPES = {MemoryType.PROJECT.value, MemoryType.FEEDBACK.value, MemoryType.REFERENCE.value}


@dataclass
class Job:
    meta: SessionMeta
    turns: list[Event] = field(default_factory=list)


@dataclass
class Counters:
    dropped_turns: int = 0
    refused_turns: int = 0
    coalesced_turns: int = 0
    skipped_turns: int = 0  # messages the rules do not read (not the user's)
    processed_jobs: int = 0
    candidates: int = 0
    applied: int = 0
    llm_fallbacks: int = 0
    bad_llm_lines: int = 0


class Extractor:
    def __init__(self, config: Config, controller: Controller, providers: Providers, home: Path) -> None:
        self.config = config
        self.controller = controller
        self.providers = providers
        self.inbox = home / config.extractor.inbox_path
        self.dead_letters = DeadLetters(home / config.extractor.dlq_path, self.inbox)
        self.counters = Counters()
        # (session, turns) → the turns the llm mode sends (a bound config's window).
        self.window: Callable[[SessionMeta, list[Event]], list[Event]] | None = None
        # session → a bound config's breaker for its provider calls (configs/breakers.py).
        self.guard: Callable[[SessionMeta], Guard | None] | None = None
        self._queued: collections.OrderedDict[tuple[str, str], Job] = collections.OrderedDict()
        self._in_flight: set[tuple[str, str]] = set()
        self._pending_files: collections.deque[Path] = collections.deque()
        self._current_file: Path | None = None  # the inbox file the worker holds
        self._cancelled: set[tuple[str, str]] = set()  # sessions whose work in hand stops
        self._working = 0  # items taken by the worker and not finished
        self._with_provider = 0  # jobs waiting on the llm provider now
        self._cond = threading.Condition()
        self._stopping = False
        self._worker: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Take up inbox files a previous run left (claimed or not), then work."""
        if self.inbox.is_dir():
            leftovers = sorted(self.inbox.glob("*/*.jsonl")) + sorted(self.inbox.glob("*/*.jsonl.claimed"))
            if leftovers:
                log.info("extractor: %d inbox file(s) left by the last run; processing them", len(leftovers))
            self._pending_files.extend(leftovers)
        with self._cond:  # a close() during start-up must not join an unstarted thread, nor precede one
            if not self._stopping:
                self._worker = threading.Thread(target=self._run, name="aghmem-extractor", daemon=True)
                self._worker.start()

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=30)

    # --- intake (Sessions' admission check and listener) ----------------------

    def admit(self, key: tuple[str, str], messages: int) -> None:
        """Refuse a session's new messages while `capacity` other sessions wait."""
        if not self.config.extractor.enabled:
            return
        capacity = self.config.extractor.queue.capacity
        with self._cond:
            waiting = len(self._queued)
            if key in self._queued or key in self._in_flight or waiting < capacity:
                return
            self.counters.refused_turns += messages
        raise RateLimited(
            f"the extractor has {waiting} sessions waiting (extractor.queue.capacity); send these events again shortly",
            retry_after=1,
            retry_after_ms=100,
            queued_sessions=waiting,
        )

    def on_events(self, meta: SessionMeta, events: list[Event]) -> None:
        if not self.config.extractor.enabled:
            return
        turns = [e for e in events if e.event_type == "message"]
        if not turns:
            return
        key = (meta.workspace_id or "", meta.session_id)
        with self._cond:
            if self._stopping:
                self.counters.dropped_turns += len(turns)  # still in the ledger
                return
            job = self._queued.get(key)
            if job is None:
                job = self._queued[key] = Job(meta)
            else:
                job.meta = meta
                self.counters.coalesced_turns += len(turns)
            job.turns.extend(turns)
            self._cond.notify_all()

    # --- the worker --------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                item = self._next()
                while item is None and not self._stopping:
                    self._cond.wait()
                    item = self._next()
                if item is None:
                    return
            try:
                if isinstance(item, Path):
                    self._process_file(item)
                else:
                    self._run_job(item[1])
            except Exception:  # noqa: BLE001 - logged; the worker goes on
                log.exception("extractor job failed")
            finally:
                with self._cond:
                    self._working -= 1
                    if not isinstance(item, Path):
                        self._in_flight.discard(item[0])
                    self._current_file = None
                    self._cancelled.clear()  # one worker: nothing else in hand
                    self._cond.notify_all()

    def _next(self) -> Path | tuple[tuple[str, str], Job] | None:
        """The next inbox file or queued job (called holding the condition)."""
        if self._pending_files:
            self._working += 1
            self._current_file = self._pending_files.popleft()
            return self._current_file
        limit = max(1, self.config.extractor.queue.coalesce_max)
        for key, queued in self._queued.items():
            if key not in self._in_flight:
                job = Job(queued.meta, queued.turns[:limit])
                del queued.turns[:limit]
                if not queued.turns:
                    del self._queued[key]
                self._in_flight.add(key)
                self._working += 1
                return key, job
        return None

    def _run_job(self, job: Job) -> None:
        found = self._extract(job)
        self.counters.processed_jobs += 1
        if not found:
            return
        meta = job.meta
        job_id = f"{int(time.time() * 1000)}-{uuid.uuid4().hex[:8]}"
        directory = self.inbox / meta.session_id
        directory.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(self._inbox_line(meta, item)) for item in found]
        path = directory / f"{job_id}.jsonl"
        atomic_write(path, ("\n".join(lines) + "\n").encode("utf-8"), durable=False)
        self.counters.candidates += len(found)
        self._process_file(path)

    def _inbox_line(self, meta: SessionMeta, item: Extracted) -> dict[str, Any]:
        key_text = f"extractor\x1f{meta.workspace_id or ''}\x1f{meta.session_id}\x1f{item.source_sequence}\x1f{item.content}"
        return {
            "key": "extract:" + hashlib.sha256(key_text.encode("utf-8")).hexdigest()[:32],
            "session_id": meta.session_id,
            "workspace_id": meta.workspace_id,
            "target": meta.target.to_dict() if meta.target else None,
            "source_session": meta.external_session_id,
            "candidate": item.to_dict(),
        }

    # --- extraction --------------------------------------------------------

    def _extract(self, job: Job) -> list[Extracted]:
        if self.config.extractor.mode == "llm":
            guard = self.guard(job.meta) if self.guard is not None else None
            if self.providers.llm_usable(guard):
                try:
                    return self._extract_llm(job, guard)
                except ProviderError as exc:
                    log.warning("extractor: provider failed (%s); using the rules for this job", exc.code)
            self.counters.llm_fallbacks += 1
        found = []
        for turn in job.turns:
            if turn.payload.get("role") == "user":
                found.extend(extract(str(turn.payload.get("content", "")), turn.sequence))
            else:
                self.counters.skipped_turns += 1
        return found

    def _extract_llm(self, job: Job, guard: Guard | None = None) -> list[Extracted]:
        # A bound memory configuration's window (configs/window.py) cuts what is sent.
        turns = self.window(job.meta, job.turns) if self.window is not None else job.turns
        transcript = "\n".join(f"[{t.sequence}] {t.payload.get('role')}: {t.payload.get('content')}" for t in turns)
        self._with_provider += 1
        try:
            completion = self.providers.complete(
                [{"role": "system", "content": LLM_SYSTEM}, {"role": "user", "content": transcript}],
                model=self.config.extractor.model or None,
                guard=guard,
            )
        finally:
            self._with_provider -= 1
        found = []
        last = job.turns[-1].sequence if job.turns else None
        for raw in completion.text.splitlines():
            line = raw.strip()
            if not line or line.startswith("```"):
                continue
            item = llm_item(line, last)
            if item is None:
                self.counters.bad_llm_lines += 1
                log.info("extractor: skipped a line the provider sent that is not a memory: %.120s", line)
                continue
            found.append(item)
        return found

    # --- the inbox ---------------------------------------------------------

    def _process_file(self, path: Path) -> None:
        """Claim an inbox file by renaming it, send its candidates, then
        remove it (or move it to the dead-letter folder)."""
        claimed = path if path.name.endswith(".claimed") else path.with_name(path.name + ".claimed")
        if claimed != path:
            try:
                path.rename(claimed)
            except FileNotFoundError:
                return  # someone else claimed it
        faults.point("extractor.claimed")
        try:
            for line in claimed.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                data = json.loads(line)
                if (data.get("workspace_id") or "", data["session_id"]) in self._cancelled:
                    break  # its session is being deleted
                self._submit(data)
        except Exception as exc:  # noqa: BLE001 - the file goes to the dead-letter folder
            self._dead_letter(claimed, exc)
            return
        claimed.unlink(missing_ok=True)
        try:
            claimed.parent.rmdir()
        except OSError:
            pass  # other jobs of this session are still there

    def _submit(self, line: dict[str, Any]) -> None:
        item = line["candidate"]
        workspace_id = line.get("workspace_id")
        kind = item["type"]
        selector = Selector(Scope.WORKSPACE, workspace_id=workspace_id) if workspace_id and kind in SESSION_TYPES else GLOBAL
        if line.get("target"):
            selector = resolve_selector(line["target"])
        source_session = line.get("source_session") or line["session_id"]
        candidate = Candidate(
            selector=selector,
            origin="extractor",
            type=MemoryType(kind),
            filename=item.get("filename"),
            name=item.get("name"),
            body=item["content"],
            entity=item.get("entity"),
            attribute=item.get("attribute"),
            provenance={"source_sessions": [source_session], "confidence": item.get("confidence", 0.7)},
            idempotency_key=line["key"],
        )
        while True:
            try:
                outcome = self.controller.submit(candidate)
                break
            except RateLimited as exc:
                if self._stopping:
                    raise
                time.sleep(min(5.0, float(exc.details.get("retry_after", 1))))
        if outcome.applied and outcome.decision.op in (Op.ADD, Op.UPDATE):
            self.counters.applied += 1
        faults.point("extractor.submitted")

    def _dead_letter(self, claimed: Path, exc: Exception) -> None:
        self.dead_letters.record(claimed, exc, stamp(self.controller.clock(), ms=True))

    # --- the endpoints' side -------------------------------------------------

    def failures(self, *, session_id: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        return self.dead_letters.list(session_id=session_id, limit=limit)

    def retry(self, ids: list[str] | None = None) -> dict[str, Any]:
        """Put dead-letter files back in the inbox (all, or `ids`) and
        process them; `failed` counts the ids that could not be put back."""
        moved, missed = self.dead_letters.take_back(ids)
        with self._cond:
            self._pending_files.extend(moved)
            self._cond.notify_all()
        retried = [path.parent.name + "__" + path.stem for path in moved]
        return {"retried": len(moved), "failed": len(missed), "ids": retried, "missing": missed}

    def drain(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until nothing is queued or in flight (at most `timeout` s)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.busy and time.monotonic() < deadline:
                self._cond.wait(timeout=0.05)
            # jobs waiting, inbox files waiting, and what the worker holds
            remaining = len(self._queued) + len(self._pending_files) + self._working
        return {
            "drained": remaining == 0,
            "drained_at": stamp(self.controller.clock(), ms=True),
            "remaining": remaining,
            "extractor": self.status(),
        }

    def wait_session(self, workspace_id: str | None, session_id: str, timeout: float) -> bool:
        """Wait until a session has nothing queued, in flight or in the
        inbox (at most `timeout` s); whether it got there."""
        key = (workspace_id or "", session_id)
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._holds(key):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(timeout=min(left, 0.5))
        return True

    def _holds(self, key: tuple[str, str]) -> bool:
        """Work of this session waits or runs (called holding the condition).
        Inbox files are told apart by session id only: a namesake in another
        workspace makes the wait longer, never shorter."""
        files = [*self._pending_files, *([self._current_file] if self._current_file else [])]
        return key in self._queued or key in self._in_flight or any(path.parent.name == key[1] for path in files)

    def cancel_session(self, workspace_id: str | None, session_id: str, timeout: float = 30.0) -> int:
        """Drop a session's work: its queued job, its inbox files (and the
        pending ones of them), the rest of the job in hand. Waits (at most
        `timeout` s) for the job in hand to stop. How many jobs and files
        were dropped."""
        key = (workspace_id or "", session_id)
        deadline = time.monotonic() + timeout
        with self._cond:
            dropped = 1 if self._queued.pop(key, None) is not None else 0
            mine = [p for p in self._pending_files if p.parent.name == session_id and _workspace_of(p) == key[0]]
            for path in mine:
                self._pending_files.remove(path)
            if self._holds(key):  # the job or file in hand: stops at its next candidate
                self._cancelled.add(key)
            while self._holds(key) and time.monotonic() < deadline:
                self._cond.wait(timeout=0.1)
        directory = self.inbox / session_id
        for path in sorted(directory.glob("*.jsonl*")) if directory.is_dir() else []:
            if _workspace_of(path) == key[0]:
                path.unlink(missing_ok=True)
                dropped += 1
        try:
            directory.rmdir()
        except OSError:
            pass  # gone, or another workspace's session of that name has files
        return dropped

    @property
    def busy(self) -> bool:
        return bool(self._queued or self._pending_files or self._working)

    def status(self) -> dict[str, Any]:
        c = self.counters
        state = "disabled" if not self.config.extractor.enabled else "running" if self.busy else "idle"
        return {
            "status": state,
            "mode": self.config.extractor.mode,
            "queued_sessions": len(self._queued),
            "backpressured_sessions": sum(1 for job in self._queued.values() if len(job.turns) > self.config.extractor.queue.coalesce_max),
            "in_flight_sessions": len(self._in_flight),
            "active_provider_sessions": self._with_provider,
            "dropped_turns": c.dropped_turns,
            "refused_turns": c.refused_turns,
            "coalesced_turns": c.coalesced_turns,
            "skipped_turns": c.skipped_turns,
            "failure_count": self.dead_letters.count(),
            "processed_jobs": c.processed_jobs,
            "candidates": c.candidates,
            "applied": c.applied,
            "llm_fallbacks": c.llm_fallbacks,
            "bad_llm_lines": c.bad_llm_lines,
        }


def _workspace_of(path: Path) -> str:
    """The workspace id ("" unbound) an inbox file's first line names."""
    try:
        with open(path, encoding="utf-8") as handle:
            first = json.loads(handle.readline() or "{}")
    except (OSError, ValueError):
        return ""
    return (first.get("workspace_id") or "") if isinstance(first, dict) else ""

"""MemoryService: the parts wired together, and the one API the faces use.

Routes, the CLI (through HTTP) and library users call these methods; they
take and return plain Python values and raise `aghmem.errors` exceptions.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..config import Config
from ..controller.controller import ChangedOnDisk, Clock, Outcome
from ..controller.rules import Candidate
from ..errors import Conflict, NotFound, Rejected, ValidationError
from ..features.recall import SearchRequest
from ..features.sessions import AppendResult, Event
from ..features.sync import ScanReport
from ..model import GLOBAL, Decision, Entry, Op, Selector
from ..reloading import LOCKED_PATHS, mutable_paths
from ..storage.decision_log import DecisionFilter
from ..storage.schema import DERIVED_TABLES
from .cloudflare import Cloudflare
from .cloudflare_core import CloudflareCore
from .configs import Configurations
from .health import health_report
from .hooks import HookMethods
from .inspection import Inspection
from .kv import KeyValue
from .runtime import Runtime
from .workspaces import Workspaces

log = logging.getLogger("aghmem")

MAX_LIST_LIMIT = 500


@dataclass
class MemoryView:
    summary: dict[str, Any]
    content: str
    content_hash: str
    path: str = ""
    frontmatter: dict[str, Any] = field(default_factory=dict)


class MemoryService(Inspection, Workspaces, HookMethods, KeyValue, Configurations, CloudflareCore, Cloudflare):
    def __init__(self, config: Config, *, clock: Clock | None = None, config_path: Path | None = None) -> None:
        self.runtime = Runtime(config, clock=clock, config_path=config_path)
        rt = self.runtime
        # The parts the methods below use (the runtime owns them).
        self.config, self.registry, self.layout, self.catalog = rt.config, rt.registry, rt.layout, rt.catalog
        self.controller, self.indexing, self.recall, self.signals = rt.controller, rt.indexing, rt.recall, rt.signals
        self.sessions, self.extractor, self.providers = rt.sessions, rt.extractor, rt.providers
        self.daily, self.dreaming, self.scheduler = rt.daily, rt.dreaming, rt.scheduler

    @property
    def clock(self) -> Clock:
        return self.controller.clock

    # --- lifecycle (the runtime's) ------------------------------------------

    def start(self, *, watch: bool = True, background: bool = False) -> None:
        """Bring everything up to the disk; `background`: return at once and
        take the files in behind (`ready` is set when done)."""
        self.runtime.start(watch=watch, background=background)

    @property
    def ready(self) -> threading.Event:
        return self.runtime.ready

    def close(self) -> None:
        self.runtime.close()

    def rescan(self) -> ScanReport:
        return self.runtime.rescan()

    def prune_decisions(self) -> int:
        return self.runtime.prune_decisions()

    def sweep_daily(self) -> dict[str, int]:
        return self.runtime.sweep_daily()

    def sweep_sessions(self) -> int:
        return self.runtime.sweep_sessions()

    def _scan_scope(self, selector: Selector) -> None:
        self.runtime.scan_scope(selector)

    def _now(self) -> str:
        return self.runtime.now()

    # --- selectors and scopes ----------------------------------------------

    def check_selector(self, selector: Selector) -> Selector:
        """Fail early (404) for a workspace that is not registered."""
        if selector.workspace_id:
            self.registry.get(selector.workspace_id)
        return selector

    def scope_show(self, selector: Selector) -> dict[str, Any]:
        self.check_selector(selector)
        visible = selector.visible_scopes()
        return {
            "selector": selector.to_dict(),
            "precedence": [s.to_dict() for s in sorted(visible, key=lambda s: -s.depth)],
            "roots": self.layout.roots(selector),
        }

    # --- memories ----------------------------------------------------------

    def summary(self, entry: Entry) -> dict[str, Any]:
        return entry.summary(entry.staleness_banner(self.clock(), self.config.recall.freshness.banner_after_days))

    def list_memories(self, selector: Selector, *, limit: int = 100, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        self.check_selector(selector)
        limit = _limit(limit, MAX_LIST_LIMIT)
        entries, next_cursor = self.catalog.list_entries(selector.key, limit=limit, cursor=cursor)
        return [self.summary(e) for e in entries], next_cursor

    def get_memory(self, selector: Selector, filename: str) -> MemoryView:
        """One memory as it is on disk now (the files are the truth), through
        the same gate as hand edits: a quarantined file is not served, and
        with redaction on, secrets come back redacted."""
        self.check_selector(selector)
        path = self.layout.file_path(selector, filename)  # refuses names and symlinks that leave the scope
        seen = self.controller.take_in(selector, filename, directory=path.parent)
        if seen is None:
            raise NotFound(f"no memory {filename} in this scope", filename=filename, **selector.to_dict())
        if seen.refusal is not None:
            verb = "is quarantined" if seen.refusal.kind == "quarantined" else "cannot be parsed"
            raise Conflict(
                f"{filename} {verb}: {seen.refusal.reason}; fix the file by hand",
                filename=filename,
                rule=seen.refusal.rule,
            )
        entry = seen.entry(selector, filename)
        known = self.catalog.get_entry(selector.key, filename)
        if known is not None:
            entry.recall_count, entry.last_recalled_at = known.recall_count, known.last_recalled_at
        assert seen.parsed is not None
        return MemoryView(self.summary(entry), seen.body, seen.parsed.content_hash, str(path), dict(seen.parsed.meta))

    def submit(self, candidate: Candidate, *, changed: ChangedOnDisk | None = None) -> Outcome:
        """A write, patch or delete through the controller; a rejection is a
        Rejected error (a replayed rejection too: same answer, same status).
        `changed`: the save `submit_soon`'s future found landing on the file
        as the write was decided, recorded as a hand edit before the write
        is decided again (else it would only survive as the write's prior)."""
        self.check_selector(candidate.selector)
        self.controller.wait_ready()
        if changed is not None:
            self.controller.hand_edits.observe(changed.selector, changed.filename)
        return self.accepted(self.controller.submit(candidate))

    def submit_soon(self, candidate: Candidate) -> "Future[Outcome] | None":
        """`submit` for a caller that awaits instead of waiting (the HTTP
        face): the write queued, its future to await and pass to `accepted`.
        None while the daemon still takes its files in (call `submit`, which
        waits). The future raises ChangedOnDisk when a save landed on the
        file while the write was decided: pass it to `submit`, which takes
        the save in and decides again."""
        self.check_selector(candidate.selector)
        if not self.controller.ready.is_set():
            return None
        return self.controller.submit_once(candidate)

    def accepted(self, outcome: Outcome) -> Outcome:
        """A write's outcome; a rejection is a Rejected error."""
        if outcome.decision.op is Op.REJECT:
            raise Rejected(outcome.decision.reason, decision=outcome.decision.to_dict())
        return outcome

    def promote(
        self,
        filename: str,
        source_scope: Selector,
        target_scope: Selector,
        *,
        dry_run: bool = False,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Copy a memory into another scope through the controller (origin
        `promote`); the source stays. A rejection is a Rejected error."""
        self.check_selector(source_scope)
        self.check_selector(target_scope)
        if source_scope == target_scope:
            raise ValidationError("from and to name the same scope", field="to")
        source = self.controller.read(source_scope, filename)
        if source is None:
            raise NotFound(f"no memory {filename} in the source scope", filename=filename, **source_scope.to_dict())
        meta = source.meta
        candidate = Candidate(
            selector=target_scope,
            origin="promote",
            filename=filename,
            type=source.type,
            name=source.name,
            description=source.description,
            body=source.body,
            entity=meta.get("entity"),
            attribute=meta.get("attribute"),
            tags=meta.get("tags"),
            metadata=meta.get("metadata"),
            provenance={"source_sessions": source.provenance.get("source_sessions") or []},
            idempotency_key=idempotency_key,
            dry_run=dry_run,
        )
        return self.submit(candidate)

    def ad_hoc(self, candidate: Candidate) -> dict[str, Any]:
        """A quick note (name and type already inferred by the caller)."""
        outcome = self.submit(candidate)
        decision = outcome.decision
        path = None
        if decision.target_filename:
            path = str(self.layout.scope_dir(candidate.selector) / decision.target_filename)
        return {
            "accepted": decision.op in (Op.ADD, Op.UPDATE, Op.NOOP),
            "applied": outcome.applied,
            "created_at": decision.applied_at or decision.decided_at,
            "path": path,
            "decision": decision.to_dict(),
        }

    # --- decisions and history ---------------------------------------------

    def list_decisions(
        self,
        selector: Selector | None,
        *,
        op: Op | None = None,
        since: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        applied_only: bool = False,
        filename: str | None = None,
    ) -> tuple[list[Decision], str | None]:
        """Decisions newest first; `since` is a stamp (ISO 8601, UTC, ms);
        `filename`: only those that targeted that file."""
        if selector is not None:
            self.check_selector(selector)
        filt = DecisionFilter(
            scope_key=selector.key if selector else None,
            filename=filename,
            op=op,
            since=since,
            limit=_limit(limit, MAX_LIST_LIMIT),
            cursor=cursor,
            applied_only=applied_only,
        )
        return self.catalog.list_decisions(filt)

    def get_decision(self, decision_id: str) -> Decision:
        decision = self.catalog.get_decision(decision_id)
        if decision is None:
            raise NotFound(f"no decision {decision_id}", decision_id=decision_id)
        return decision

    def revert(self, decision_id: str, *, dry_run: bool = False) -> Outcome:
        self.controller.wait_ready()
        return self.controller.revert(decision_id, dry_run=dry_run)

    def history(
        self,
        selector: Selector | None,
        *,
        operation: Op | None = None,
        since: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Applied operations (add, update, delete), newest first."""
        decisions, next_cursor = self.list_decisions(
            selector, op=operation, since=since, limit=limit, cursor=cursor, applied_only=True
        )
        operations = [d.operation() for d in decisions]
        return operations, next_cursor

    # --- sessions ----------------------------------------------------------

    def append_events(
        self,
        route_id: str,
        session_id: str,
        events: list[Event],
        *,
        parent_session_id: str | None = None,
        root_session_id: str | None = None,
    ) -> AppendResult:
        """Append a runtime's events to a session's ledger (`route_id`: a
        workspace id or `_unbound`); sequences already there are skipped."""
        return self.sessions.append(
            route_id, session_id, events, parent_session_id=parent_session_id, root_session_id=root_session_id
        )

    def session_ledger(self, route_id: str, session_id: str) -> dict[str, Any]:
        return self.sessions.ledger(route_id, session_id)

    def replay_session(
        self, route_id: str, session_id: str, *, include_tools: bool = False, include_memory: bool = False, after_sequence: int = 0
    ) -> dict[str, Any]:
        return self.sessions.replay(
            route_id, session_id, include_tools=include_tools, include_memory=include_memory, after_sequence=after_sequence
        )

    def prune_sessions(self, older_than_hours: float, *, dry_run: bool = False) -> dict[str, Any]:
        return self.sessions.prune(older_than_hours, dry_run=dry_run)

    def repair_sessions(self) -> dict[str, Any]:
        return self.sessions.repair()

    # --- extractor and providers ---------------------------------------------

    def extractor_status(self) -> dict[str, Any]:
        return self.extractor.status()

    def extractor_failures(self, *, session_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return self.extractor.failures(session_id=session_id, limit=_limit(limit, MAX_LIST_LIMIT))

    def retry_extraction(self, ids: list[str] | None = None) -> dict[str, Any]:
        """Put failed inbox files back (all, or `ids`) and process them."""
        return self.extractor.retry(ids)

    def drain_extractor(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until the extractor has nothing queued or in flight."""
        return self.extractor.drain(timeout)

    def list_providers(self) -> list[dict[str, Any]]:
        return self.providers.list()

    def provider(self, name: str) -> dict[str, Any]:
        return self.providers.view(name)

    def select_provider(self, name: str) -> dict[str, Any]:
        return self.providers.select(name)

    def set_provider_enabled(self, name: str, enabled: bool) -> tuple[dict[str, Any], bool]:
        """(the provider, whether its state changed)."""
        return self.providers.set_enabled(name, enabled)

    # --- search ------------------------------------------------------------

    def search(self, request: SearchRequest) -> dict[str, Any]:
        self.check_selector(request.selector)
        return self.recall.search(request, self.clock())

    def search_waits(self, request: SearchRequest) -> bool:
        """Whether `search` would wait on another thread (a commit, the
        signal writer) rather than only compute."""
        return self.recall.waits(request)

    def recall_trace(self, session_id: str, turn_seq: int) -> dict[str, Any]:
        self.signals.flush()
        trace = self.catalog.recall_trace(session_id, turn_seq)
        if trace is None:
            raise NotFound(f"no recall trace for session {session_id!r} turn {turn_seq}", session_id=session_id, turn_seq=turn_seq)
        return trace

    # --- dreaming and daily logs ---------------------------------------------

    def trigger_dream(self, selector: Selector, *, force: bool = False, dry_run: bool = False) -> dict[str, Any]:
        self.check_selector(selector)
        return self.dreaming.trigger(selector, force=force, dry_run=dry_run).to_dict()

    def retry_dream(self, dream_id: str) -> dict[str, Any]:
        result = self.dreaming.retry(dream_id)
        return {**result.to_dict(), "retried": result.triggered}

    def get_dream(self, dream_id: str) -> dict[str, Any]:
        return self.dreaming.get(dream_id).to_dict()

    def list_dreams(self, selector: Selector | None, *, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        if selector is not None:
            self.check_selector(selector)
        return [d.to_dict() for d in self.dreaming.list(selector, status=status, limit=_limit(limit, MAX_LIST_LIMIT))]

    def dream_status(self, selector: Selector | None) -> list[dict[str, Any]]:
        if selector is not None:
            self.check_selector(selector)
        return self.dreaming.status(selector)

    def daily_logs(self, selector: Selector | None, *, date: str | None = None, limit: int = 30) -> list[dict[str, Any]]:
        """Daily logs of one scope, or of every scope."""
        if selector is not None:
            self.check_selector(selector)
        scopes = [selector] if selector else [s for s, _ in self.layout.scope_dirs()]
        return self.daily.list(scopes, date=date, limit=_limit(limit, MAX_LIST_LIMIT))

    def reindex(self, selector: Selector | None, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Scan the files again and rebuild the index documents of a scope
        (its visible scopes), or of everything."""
        if selector is None:
            self.rescan()
            count = self.indexing.rebuild(progress)
        else:
            self.check_selector(selector)
            for scope in selector.visible_scopes():
                self._scan_scope(scope)
            count = self.indexing.reindex([s.key for s in selector.visible_scopes()])
        return {**(selector or GLOBAL).to_dict(), "indexed_files": count, "completed_at": self._now()}

    def reset(self) -> dict[str, Any]:
        """Drop the derived state (catalog entries, index) and rebuild it from
        the files. Memory files and history (decisions, signals) stay."""
        with self.runtime.reconciler.held():
            with self.catalog.write() as db:
                rows = sum(db.execute(f"DELETE FROM {table}").rowcount for table in DERIVED_TABLES)
            self.runtime.last_scan = None
            self.rescan()
        files = self.indexing.reset()
        return {"derived_only": True, "deleted_rows": rows, "deleted_files": files, "reset_at": self._now()}

    def reload(self) -> dict[str, Any]:
        """Take the config file again. Settings read once at start-up
        (locked_paths) keep their running value; `needs_restart` names those
        the file changed."""
        needs_restart = self.runtime.reload()
        self.indexing.index.flush()
        return {"generation": self.indexing.index.generation, "reloaded_at": self._now(), "needs_restart": needs_restart}

    # --- status ------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return health_report(self.runtime)

    def config_view(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "mutable_paths": mutable_paths(self.config),
            "locked_paths": list(LOCKED_PATHS),
            "providers": self.providers.list(),
            "compat": {"cfg": {"effective": self.configs_view()}},
        }


def _limit(value: Any, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationError(f"limit must be a whole number from 1 to {maximum}", field="limit")
    return min(value, maximum)

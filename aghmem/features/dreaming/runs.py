"""Dream runs: gates, the cross-process lock, run records, artifacts, the
synthesis write, failures and retries (DESIGN §8). Written syntheses are
kept in step with the memories they quote by refresh.py.

A run for one scope:
  gates (time, debounce, sessions; `force` skips them) → lock file in the
  scope's `_system/dreaming/` → review (signal gate, quality gates) → record
  `running` → candidates artifact → synthesis through the controller
  (origin `dreaming`) → signals marked promoted and the record `promoted`,
  in one transaction.
Anything that goes wrong after the record exists makes it `failed` with a
failure file; the time gate only counts runs that completed, so a failure
"restores the clock", and `retry()` runs it again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import faults
from ...config import Config, parse_duration
from ...controller.controller import Clock, Controller
from ...controller.decisions import parse_stamp, stamp
from ...controller.rules import Candidate
from ...errors import AghmemError, Conflict, NotFound, ParseError, ValidationError
from ...model import MemoryType, Op, Selector
from ...storage.files import atomic_write
from ...storage.layout import Layout
from ...storage.lockfile import ExpiringLock, LockBusy
from ..signals import Signals
from .refresh import SynthesisRefresher
from .review import Review, review
from .store import STATUSES, DreamRecord, DreamStore

log = logging.getLogger("aghmem.dream")


@dataclass
class Gate:
    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


@dataclass
class TriggerResult:
    dream: DreamRecord | None
    triggered: bool
    reason: str
    gates: list[Gate]
    review: Review | None = None
    synthesis: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dream": self.dream.to_dict() if self.dream else None,
            "triggered": self.triggered,
            "reason": self.reason,
            "gates": {gate.name: gate.to_dict() for gate in self.gates},
        }
        if self.review is not None:
            out["candidates"] = [c.to_dict() for c in self.review.candidates]
        if self.synthesis is not None:
            out["synthesis"] = self.synthesis
        return out


def synthesis_filename(day: dt.date) -> str:
    return f"project_dreaming_{day:%Y%m%d}.md"


class Dreaming:
    def __init__(self, *, config: Config, layout: Layout, controller: Controller, signals: Signals, store: DreamStore) -> None:
        self.config = config
        self.layout = layout
        self.controller = controller
        self.signals = signals
        self.store = store
        self._running = threading.Lock()  # one run at a time in this process
        # Wired as a controller listener by the service.
        self.syntheses = SynthesisRefresher(controller, layout)

    @property
    def clock(self) -> Clock:
        return self.controller.clock

    @property
    def failures_dir(self) -> Path:
        return self.layout.global_dir / "_system" / "dream" / "failures"

    def lock_for(self, selector: Selector) -> ExpiringLock:
        # In the scope directory, not in HOME: daemons with different homes
        # that share a workspace must not dream for it at once.
        return ExpiringLock(self.layout.scope_dir(selector) / "_system" / "dreaming" / "dream.lock", self.clock)

    # --- gates -------------------------------------------------------------

    def gates(self, selector: Selector, now: dt.datetime) -> list[Gate]:
        """The time, debounce and session gates (the signal gate needs a review)."""
        dream = self.config.dream
        key = selector.key
        last = self.store.last_completed_at(key)
        if last is None:
            time_gate = Gate("time", True, "no dream has completed in this scope yet")
        else:
            hours = (now - parse_stamp(last)).total_seconds() / 3600
            time_gate = Gate("time", hours >= dream.min_hours, f"{hours:.1f} h since the last dream; needs {dream.min_hours:g}")
        debounce = parse_duration(dream.debounce)
        started = self.store.last_started_at(key)
        since_start = (now - parse_stamp(started)).total_seconds() if started else None
        debounce_gate = Gate(
            "debounce",
            since_start is None or since_start >= debounce,
            "no earlier run" if since_start is None else f"{since_start:.0f} s since the last run started; needs {debounce:g}",
        )
        stopped = self.store.stopped_sessions(selector.workspace_id, last)
        session_gate = Gate(
            "sessions",
            stopped >= dream.min_sessions,
            f"{stopped} session(s) stopped since the last dream; needs {dream.min_sessions}",
        )
        return [time_gate, debounce_gate, session_gate]

    def _signal_gate(self, result: Review) -> Gate:
        gates = self.config.dream.gates
        return Gate(
            "signals",
            result.eligible >= gates.min_unpromoted,
            f"{result.eligible} unpromoted memories recalled ≥ {gates.min_recall_count} times with score ≥ "
            f"{gates.min_score}; needs {gates.min_unpromoted}",
        )

    def review(self, selector: Selector, now: dt.datetime) -> Review:
        self.signals.flush()  # every recall so far counts
        gates = self.config.dream.gates
        rows = self.store.unpromoted(selector.key, gates.min_recall_count)
        texts = self.store.catalog.raw_by_ids([row.memory_id for row in rows])
        return review(
            rows, texts, now=now, config=self.config.dream, scanner=self.controller.scanner,
            existing_body=self._existing_synthesis(selector, now.date()),
        )

    def _existing_synthesis(self, selector: Selector, day: dt.date) -> str:
        try:
            current = self.controller.read(selector, synthesis_filename(day))
        except ParseError:
            return ""  # the write will fail with a clear conflict, recorded
        return current.body if current is not None else ""

    # --- triggering --------------------------------------------------------

    def trigger(self, selector: Selector, *, force: bool = False, dry_run: bool = False, trigger: str = "http") -> TriggerResult:
        now = self.clock()
        gates = self.gates(selector, now)
        closed = [g for g in gates if not g.ok]
        if dry_run:
            result = self.review(selector, now)
            signal_gate = self._signal_gate(result)
            gates.append(signal_gate)
            blocking = [g for g in gates if not g.ok and (g.name == "signals" or not force)]
            verdict = "would run" if not blocking else f"would not run ({blocking[0].name} gate: {blocking[0].detail})"
            body = result.synthesis_body
            return TriggerResult(
                None, False, f"dry run: {verdict}; {len(result.kept)} of {len(result.candidates)} candidate(s) kept",
                gates, result, {"filename": synthesis_filename(now.date()), "content": body} if result.kept else None,
            )
        if closed and not force:
            return TriggerResult(None, False, f"{closed[0].name} gate: {closed[0].detail}", gates)
        return self._attempt(selector, trigger=trigger, forced=force, gates=gates)

    def retry(self, dream_id: str) -> TriggerResult:
        record = self.get(dream_id)
        if record.status != "failed":
            raise Conflict(f"dream {dream_id} is {record.status}; only a failed dream can be retried", status=record.status)
        return self._attempt(record.selector, trigger="retry", forced=True, gates=[], record=record)

    def check(self) -> list[TriggerResult]:
        """The scheduled job: every scope with unpromoted signals whose gates are open."""
        dream = self.config.dream
        if not dream.enabled:
            return []
        results = []
        for key in self.store.scopes_with_unpromoted(dream.gates.min_recall_count):
            selector = Selector.from_key(key)
            if selector.agent_name and selector.agent_name != dream.agent:
                continue  # agent scopes dream only for dream.agent
            if selector.workspace_id and selector.workspace_id not in self.layout.registry:
                continue
            result = self.trigger(selector, trigger="schedule")
            if result.triggered:
                log.info("dream %s for %s: %s", result.dream and result.dream.id, key, result.reason)
            results.append(result)
        return results

    def _attempt(
        self, selector: Selector, *, trigger: str, forced: bool, gates: list[Gate], record: DreamRecord | None = None
    ) -> TriggerResult:
        if not self._running.acquire(blocking=False):
            return TriggerResult(record, False, "another dream is running in this daemon", gates)
        try:
            dream_id = record.id if record else f"dream_{uuid.uuid4().hex[:16]}"
            lock = self.lock_for(selector)
            ttl = dt.timedelta(seconds=parse_duration(self.config.dream.lock_ttl))
            try:
                holder = lock.acquire(dream_id, ttl)
            except LockBusy as busy:
                return TriggerResult(record, False, f"another dream holds this scope's lock: {busy.message}", gates)
            try:
                return self._locked_run(selector, dream_id, holder.until, trigger, forced, gates, record)
            finally:
                lock.release(dream_id)
        finally:
            self._running.release()

    def _locked_run(
        self, selector: Selector, dream_id: str, lock_until: str, trigger: str, forced: bool,
        gates: list[Gate], record: DreamRecord | None,
    ) -> TriggerResult:
        now = self.clock()
        faults.point("dream.locked")
        result = self.review(selector, now)
        signal_gate = self._signal_gate(result)
        gates.append(signal_gate)
        if not signal_gate.ok and record is None:
            return TriggerResult(None, False, f"signals gate: {signal_gate.detail}", gates)
        record = record or DreamRecord(dream_id, selector.key, "running", trigger, forced, stamp(now, ms=True))
        record.status, record.trigger, record.pid = "running", trigger, os.getpid()
        record.started_at, record.completed_at = stamp(now, ms=True), None
        record.failure_reason = record.failure_path = record.reason = None
        record.lock_until = _stamp_iso(lock_until)
        record.candidate_count, record.promoted_count, record.artifact_paths = len(result.candidates), 0, []
        self.store.save(record)
        try:
            self._run(record, selector, result, now)
        except Exception as exc:  # noqa: BLE001 - recorded, with a failure file
            self._fail(record, exc)
            return TriggerResult(record, True, f"failed: {record.failure_reason}", gates)
        # The candidates are in the artifact; only a dry run answers with them.
        return TriggerResult(record, True, record.reason or record.status, gates)

    def _run(self, record: DreamRecord, selector: Selector, result: Review, now: dt.datetime) -> None:
        record.artifact_paths.append(str(self._write_artifact(record, selector, result, now)))
        self.store.save(record)
        faults.point("dream.after_artifact")
        kept = result.kept
        if not kept:
            record.status, record.reason = "skipped", "no candidate passed the quality gates"
            record.completed_at = stamp(self.clock(), ms=True)
            self.store.save(record)
            return
        filename = synthesis_filename(now.date())
        if result.new_lines:
            outcome = self.controller.submit(self._synthesis(record, selector, result, filename, now))
            decision = outcome.decision
            if decision.op is Op.REJECT:
                raise DreamFailed(f"the controller rejected the synthesis: {decision.reason}", decision=decision.id)
            record.decision_id = decision.id
            # The review read the memories from the catalog; one may have
            # changed since, before this synthesis was there to be refreshed.
            self.syntheses.check(selector, filename)
        record.artifact_paths.append(str(self.layout.scope_dir(selector) / filename))
        faults.point("dream.before_promote")
        record.status, record.promoted_count = "promoted", len(kept)
        record.reason = f"promoted {len(kept)} memor{'y' if len(kept) == 1 else 'ies'} into {filename}"
        record.completed_at = stamp(self.clock(), ms=True)
        with self.store.catalog.write() as db:
            self.store.mark_promoted(db, [c.signal.memory_id for c in kept], record.completed_at)
            self.store.save(record, db)

    def _synthesis(self, record: DreamRecord, selector: Selector, result: Review, filename: str, now: dt.datetime) -> Candidate:
        lines = result.synthesis_body.count("\n")
        return Candidate(
            selector=selector,
            origin="dreaming",
            filename=filename,
            type=MemoryType.PROJECT,
            name=f"Dreaming synthesis {now.date().isoformat()}",
            description=f"{lines} memor{'y' if lines == 1 else 'ies'} agents kept recalling, promoted by dreaming",
            body=result.synthesis_body,
            metadata={"dream_id": record.id, "prompt_version": self.config.dream.prompt_version},
        )

    def _write_artifact(self, record: DreamRecord, selector: Selector, result: Review, now: dt.datetime) -> Path:
        directory = self.layout.scope_dir(selector) / "_system" / "dreaming"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{now:%Y%m%d}-{record.id}-candidates.md"
        atomic_write(path, render_artifact(record, result, self.config).encode("utf-8"), durable=False)
        return path

    def _fail(self, record: DreamRecord, exc: BaseException) -> None:
        message = exc.message if isinstance(exc, AghmemError) else str(exc)
        record.status, record.failure_reason = "failed", f"{type(exc).__name__}: {message}"
        record.completed_at = stamp(self.clock(), ms=True)
        record.failure_path = str(self._write_failure(record, "".join(traceback.format_exception(exc))))
        self.store.save(record)
        log.error("dream %s failed: %s", record.id, record.failure_reason)

    def _write_failure(self, record: DreamRecord, trace: str) -> Path:
        self.failures_dir.mkdir(parents=True, exist_ok=True)
        path = self.failures_dir / f"{record.id}.json"
        payload = {"dream": record.to_dict(), "traceback": trace, "written_at": stamp(self.clock(), ms=True)}
        payload["dream"]["failure_path"] = str(path)
        atomic_write(path, json.dumps(payload, indent=2).encode("utf-8"), durable=False)
        return path

    # --- start-up ----------------------------------------------------------

    def recover(self) -> int:
        """Runs left `running` by a daemon that died: failed, with a failure
        file. Their lock files name a dead pid, so the next run reclaims them."""
        interrupted = self.store.running()
        for record in interrupted:
            record.status = "failed"
            record.failure_reason = f"interrupted: the daemon (pid {record.pid}) stopped during the run"
            record.completed_at = stamp(self.clock(), ms=True)
            record.failure_path = str(self._write_failure(record, ""))
            self.store.save(record)
            log.warning("dream %s was interrupted; marked failed (retry with POST /api/memory/dreams/%s/retry)", record.id, record.id)
        return len(interrupted)

    # --- reading -----------------------------------------------------------

    def get(self, dream_id: str) -> DreamRecord:
        record = self.store.get(dream_id)
        if record is None:
            raise NotFound(f"no dream {dream_id}", dream_id=dream_id)
        return record

    def list(self, selector: Selector | None, *, status: str | None, limit: int) -> list[DreamRecord]:
        if status is not None and status not in STATUSES:
            raise ValidationError(f"status must be one of: {', '.join(STATUSES)}", field="status")
        return self.store.list(scope_key=selector.key if selector else None, status=status, limit=limit)

    def status(self, selector: Selector | None) -> list[dict[str, Any]]:
        """Each scope's latest run (or `idle`), with its gates as they stand."""
        latest = self.store.latest_by_scope()
        now = self.clock()
        scopes = [selector] if selector else [s for s, _ in self.layout.scope_dirs()]
        out = []
        for scope in scopes:
            record = latest.get(scope.key)
            view = record.to_dict() if record else DreamRecord("", scope.key, "idle", "", False, "").to_dict()
            if record is None:
                view["id"] = view["started_at"] = None
            gates = self.gates(scope, now) + [self._signal_gate(self.review(scope, now))]
            view["gates"] = {gate.name: gate.to_dict() for gate in gates}
            lock = self.lock_for(scope).holder()
            view["lock"] = None if lock is None else {"pid": lock.pid, "owner": lock.owner, "until": lock.until}
            out.append(view)
        return out


class DreamFailed(AghmemError):
    """A run cannot complete (the synthesis was rejected, say)."""


def render_artifact(record: DreamRecord, result: Review, config: Config) -> str:
    """The candidates of one run as markdown: each score term and each verdict."""
    weights = config.dream.scoring.weights
    gates = config.dream.gates
    lines = [
        f"# Dream {record.id}: candidates",
        "",
        f"- scope: {record.scope_key}",
        f"- started: {record.started_at} ({record.trigger}{', forced' if record.forced else ''})",
        f"- weights: frequency {weights.frequency}, relevance {weights.relevance}, recency {weights.recency}, "
        f"freshness {weights.freshness}; half-life {config.dream.scoring.recency_half_life_days} days",
        f"- gates: recalls ≥ {gates.min_recall_count}, score ≥ {gates.min_score}, distinct queries ≥ "
        f"{gates.min_distinct_queries}, {result.eligible} eligible (needs {gates.min_unpromoted})",
        f"- kept: {len(result.kept)} of {len(result.candidates)}",
        "",
        "| memory | recalls | queries | score | frequency | relevance | recency | freshness | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for cand in result.candidates:
        s = cand.signal
        terms = " | ".join(f"{t.value:.2f}×{t.weight:g}={t.contribution:.3f}" for t in cand.terms.values())
        verdict = _cell(("keep: " if cand.keep else "drop: ") + cand.reason)
        lines.append(
            f"| [{_cell(s.name)}](../../{s.filename}) | {s.recall_count} | {s.query_count} | {cand.score:.3f} | "
            f"{terms} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def _stamp_iso(iso: str) -> str:
    return stamp(dt.datetime.fromisoformat(iso), ms=True)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")

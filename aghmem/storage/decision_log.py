"""The decision log's queries: record, settle, look up, list and prune
decisions (history: never rebuilt from the files).

`Catalog` inherits these: one SQLite connection per thread serves the
derived tables and the history alike.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..errors import ValidationError
from ..model import Decision, Op, RuleResult, Selector


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("cursor is not one this server issued", field="cursor") from None
    if not isinstance(values, list) or len(values) != arity:
        raise ValidationError("cursor is not one this server issued", field="cursor")
    return values


@dataclass
class DecisionFilter:
    scope_key: str | None = None
    filename: str | None = None
    op: Op | None = None
    since: str | None = None
    applied_only: bool = False
    limit: int = 50
    cursor: str | None = None


class DecisionLog:
    """Decision queries over `self.db`, written through `self.write()`
    (Catalog provides both)."""

    db: sqlite3.Connection
    path: Path
    _wal_dir_synced = False
    _sync_lock = threading.Lock()

    def write(self) -> Any: ...

    def sync(self) -> None:
        """Make every transaction committed so far durable. Commits run with
        synchronous=NORMAL: they reach the WAL, which survives a crash of
        the process but not a power cut until it is fsynced. Writers call
        this once for a batch of commits (controller/commit.py) before they
        answer: one fsync instead of one per commit. No WAL means every
        commit was checkpointed into the database file, and a checkpoint
        syncs it."""
        wal = Path(f"{self.path}-wal")
        try:
            fd = os.open(wal, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        with self._sync_lock:
            if not self._wal_dir_synced:
                # The WAL's own name, once: created after the directory was last synced.
                dir_fd = os.open(wal.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
                self._wal_dir_synced = True

    def insert_decision(self, db: sqlite3.Connection, decision: Decision, status: str) -> None:
        d = decision
        db.execute(
            "INSERT INTO decisions (id, idempotency_key, candidate_hash, scope_key, op, origin, source, reason, "
            "confidence, targets, target_filename, frontmatter, post_content, post_content_hash, prior_content, "
            "prior_content_hash, rule_trace, llm_trace, prompt_version, decided_at, applied_at, status, reverts) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                d.id,
                d.idempotency_key,
                d.candidate_hash,
                d.selector.key,
                d.op.value,
                d.origin,
                d.source,
                d.reason,
                d.confidence,
                json.dumps(d.targets),
                d.target_filename,
                json.dumps(d.frontmatter) if d.frontmatter is not None else None,
                d.post_content,
                d.post_content_hash,
                d.prior_content,
                d.prior_content_hash,
                json.dumps([r.to_dict() for r in d.rule_trace]),
                json.dumps(d.llm_trace) if d.llm_trace is not None else None,
                d.prompt_version,
                d.decided_at,
                d.applied_at,
                status,
                d.reverts,
            ),
        )

    def mark_applied(self, db: sqlite3.Connection, decision_id: str, applied_at: str) -> None:
        db.execute(
            "UPDATE decisions SET status = 'applied', applied_at = ? WHERE id = ?", (applied_at, decision_id)
        )

    def mark_abandoned(self, db: sqlite3.Connection, decision_id: str, reason: str) -> None:
        db.execute(
            "UPDATE decisions SET status = 'abandoned', reason = reason || ' (abandoned: ' || ? || ')' WHERE id = ?",
            (reason, decision_id),
        )

    _DECISION_COLUMNS = (
        "id, idempotency_key, candidate_hash, scope_key, op, origin, source, reason, confidence, targets, "
        "target_filename, frontmatter, post_content, post_content_hash, prior_content, prior_content_hash, "
        "rule_trace, llm_trace, prompt_version, decided_at, applied_at, reverts, seq, status"
    )

    def _decision(self, row: Sequence[Any]) -> Decision:
        return Decision(
            id=row[0],
            idempotency_key=row[1],
            candidate_hash=row[2],
            selector=Selector.from_key(row[3]),
            op=Op(row[4]),
            origin=row[5],
            source=row[6],
            reason=row[7],
            confidence=row[8],
            targets=json.loads(row[9]),
            target_filename=row[10],
            frontmatter=json.loads(row[11], parse_constant=str) if row[11] else None,  # an Infinity an older daemon stored stays text
            post_content=row[12],
            post_content_hash=row[13],
            prior_content=row[14],
            prior_content_hash=row[15],
            rule_trace=[RuleResult(**r) for r in json.loads(row[16])],
            llm_trace=json.loads(row[17], parse_constant=str) if row[17] else None,
            prompt_version=row[18],
            decided_at=row[19],
            applied_at=row[20],
            reverts=row[21],
            status=row[23],
        )

    def get_decision(self, decision_id: str) -> Decision | None:
        row = self.db.execute(f"SELECT {self._DECISION_COLUMNS} FROM decisions WHERE id = ?", (decision_id,)).fetchone()
        return self._decision(row) if row else None

    def decision_status(self, decision_id: str) -> str | None:
        row = self.db.execute("SELECT status FROM decisions WHERE id = ?", (decision_id,)).fetchone()
        return row[0] if row else None

    def last_decision_for(self, scope_key: str, filename: str) -> str | None:
        """Id of the latest applied decision that touched this file."""
        row = self.db.execute(
            "SELECT id FROM decisions WHERE scope_key = ? AND target_filename = ? AND status = 'applied' "
            "ORDER BY seq DESC LIMIT 1",
            (scope_key, filename),
        ).fetchone()
        return row[0] if row else None

    def pending_decisions(self) -> list[Decision]:
        rows = self.db.execute(
            f"SELECT {self._DECISION_COLUMNS} FROM decisions WHERE status = 'pending' ORDER BY seq"
        )
        return [self._decision(row) for row in rows]

    def list_decisions(self, filt: DecisionFilter) -> tuple[list[Decision], str | None]:
        where: list[str] = []
        params: list[Any] = []
        if filt.scope_key is not None:
            where.append("scope_key = ?")
            params.append(filt.scope_key)
        if filt.filename is not None:
            where.append("target_filename = ?")
            params.append(filt.filename)
        if filt.op is not None:
            where.append("op = ?")
            params.append(filt.op.value)
        if filt.since:
            where.append("decided_at >= ?")
            params.append(filt.since)
        if filt.applied_only:
            where.append("status = 'applied'")
        if filt.cursor:
            (seq,) = decode_cursor(filt.cursor, 1)
            where.append("seq < ?")
            params.append(int(seq))
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = self.db.execute(
            f"SELECT {self._DECISION_COLUMNS} FROM decisions {clause} ORDER BY seq DESC LIMIT ?",
            (*params, filt.limit + 1),
        ).fetchall()
        decisions = [self._decision(row) for row in rows[: filt.limit]]
        next_cursor = encode_cursor(rows[filt.limit - 1][22]) if len(rows) > filt.limit else None
        return decisions, next_cursor

    def prune_decisions(self, applied_before: str, *, keep_summary: bool) -> int:
        """Drop decisions applied before a time (their reverts with them);
        with `keep_summary`, a one-line summary of each stays."""
        with self.write() as db:
            if keep_summary:
                db.execute(
                    "INSERT OR IGNORE INTO decision_summaries SELECT id, scope_key, op, origin, target_filename, "
                    "reason, applied_at FROM decisions WHERE status = 'applied' AND applied_at < ?",
                    (applied_before,),
                )
            return db.execute(
                "DELETE FROM decisions WHERE status = 'applied' AND applied_at < ?", (applied_before,)
            ).rowcount

    def operation_stats(self) -> tuple[int, str | None]:
        row = self.db.execute(
            "SELECT COUNT(*), MAX(applied_at) FROM decisions WHERE status = 'applied'"
        ).fetchone()
        return row[0], row[1]



"""Dream run records and the rows a dream reads (signals, sessions), in SQLite."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Sequence

from ...model import Selector
from ...storage.catalog import Catalog
from .review import RecallSignal

STATUSES = ("idle", "running", "promoted", "skipped", "failed")
_COLUMNS = (
    "id, scope_key, status, trigger, forced, candidate_count, promoted_count, started_at, completed_at, "
    "lock_until, artifact_paths, decision_id, reason, failure_reason, failure_path, pid"
)


@dataclass
class DreamRecord:
    id: str
    scope_key: str
    status: str
    trigger: str
    forced: bool
    started_at: str
    candidate_count: int = 0
    promoted_count: int = 0
    completed_at: str | None = None
    lock_until: str | None = None
    artifact_paths: list[str] = field(default_factory=list)
    decision_id: str | None = None
    reason: str | None = None
    failure_reason: str | None = None
    failure_path: str | None = None
    pid: int | None = None

    @property
    def selector(self) -> Selector:
        return Selector.from_key(self.scope_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.selector.to_dict(),
            "status": self.status,
            "trigger": self.trigger,
            "forced": self.forced,
            "candidate_count": self.candidate_count,
            "promoted_count": self.promoted_count,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "lock_until": self.lock_until,
            "artifact_paths": self.artifact_paths,
            "decision_id": self.decision_id,
            "reason": self.reason,
            "failure_reason": self.failure_reason,
            "failure_path": self.failure_path,
        }


def _record(row: Sequence[Any]) -> DreamRecord:
    (id_, scope_key, status, trigger, forced, candidates, promoted, started, completed, lock_until,
     artifacts, decision_id, reason, failure_reason, failure_path, pid) = row
    return DreamRecord(
        id_, scope_key, status, trigger, bool(forced), started, candidates, promoted, completed, lock_until,
        json.loads(artifacts), decision_id, reason, failure_reason, failure_path, pid,
    )


class DreamStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # --- run records -------------------------------------------------------

    def save(self, record: DreamRecord, db: sqlite3.Connection | None = None) -> None:
        values = (
            record.id, record.scope_key, record.status, record.trigger, int(record.forced), record.candidate_count,
            record.promoted_count, record.started_at, record.completed_at, record.lock_until,
            json.dumps(record.artifact_paths), record.decision_id, record.reason, record.failure_reason,
            record.failure_path, record.pid,
        )
        sql = f"INSERT OR REPLACE INTO dreams ({_COLUMNS}) VALUES ({', '.join('?' * len(values))})"
        if db is not None:
            db.execute(sql, values)
        else:
            with self.catalog.write() as tx:
                tx.execute(sql, values)

    def get(self, dream_id: str) -> DreamRecord | None:
        row = self.catalog.db.execute(f"SELECT {_COLUMNS} FROM dreams WHERE id = ?", (dream_id,)).fetchone()
        return _record(row) if row else None

    def list(self, *, scope_key: str | None, status: str | None, limit: int) -> list[DreamRecord]:
        where, args = [], []
        if scope_key is not None:
            where.append("scope_key = ?")
            args.append(scope_key)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.catalog.db.execute(
            f"SELECT {_COLUMNS} FROM dreams {clause} ORDER BY started_at DESC, id DESC LIMIT ?", (*args, limit)
        )
        return [_record(row) for row in rows]

    def latest_by_scope(self) -> dict[str, DreamRecord]:
        rows = self.catalog.db.execute(
            f"SELECT {_COLUMNS} FROM dreams d WHERE started_at = "
            "(SELECT MAX(started_at) FROM dreams WHERE scope_key = d.scope_key)"
        )
        return {record.scope_key: record for record in map(_record, rows)}

    def last_completed_at(self, scope_key: str | None) -> str | None:
        """When the time gate's clock was last set (in one scope, or any): the
        end of the last run that promoted or found nothing to promote (a
        failure does not count)."""
        sql = "SELECT MAX(completed_at) FROM dreams WHERE status IN ('promoted', 'skipped')"
        args: tuple[str, ...] = ()
        if scope_key is not None:
            sql, args = sql + " AND scope_key = ?", (scope_key,)
        return self.catalog.db.execute(sql, args).fetchone()[0]

    def last_started_at(self, scope_key: str) -> str | None:
        row = self.catalog.db.execute("SELECT MAX(started_at) FROM dreams WHERE scope_key = ?", (scope_key,)).fetchone()
        return row[0]

    def running(self) -> list[DreamRecord]:
        return [_record(r) for r in self.catalog.db.execute(f"SELECT {_COLUMNS} FROM dreams WHERE status = 'running'")]

    # --- what a dream reads --------------------------------------------------

    def unpromoted(self, scope_key: str, min_recall_count: int) -> list[RecallSignal]:
        """A scope's memories with unpromoted signals. CROSS JOIN keeps the
        plan signals-first: there are far fewer signals than entries."""
        rows = self.catalog.db.execute(
            "SELECT e.id, e.filename, e.name, e.description, s.recall_count, s.query_count, s.session_count, "
            "s.first_recalled_at, s.last_recalled_at, s.recall_score, e.superseded_by "
            "FROM signals s CROSS JOIN entries e ON e.id = s.memory_id "
            "WHERE s.promoted_at IS NULL AND s.recall_count >= ? AND e.scope_key = ?",
            (min_recall_count, scope_key),
        )
        return [RecallSignal(*row) for row in rows]

    def scopes_with_unpromoted(self, min_recall_count: int) -> list[str]:
        rows = self.catalog.db.execute(
            "SELECT DISTINCT e.scope_key FROM signals s CROSS JOIN entries e ON e.id = s.memory_id "
            "WHERE s.promoted_at IS NULL AND s.recall_count >= ?",
            (min_recall_count,),
        )
        return sorted(row[0] for row in rows)

    def mark_promoted(self, db: sqlite3.Connection, memory_ids: Sequence[str], at: str) -> None:
        db.executemany("UPDATE signals SET promoted_at = ? WHERE memory_id = ?", [(at, i) for i in memory_ids])

    def stopped_sessions(self, workspace_id: str | None, since: str | None) -> int:
        """Sessions stopped after `since` (all, or one workspace's)."""
        sql = "SELECT COUNT(*) FROM sessions WHERE stopped_at IS NOT NULL"
        args: list[Any] = []
        if since is not None:
            sql += " AND stopped_at > ?"
            args.append(since)
        if workspace_id is not None:
            sql += " AND workspace_id = ?"
            args.append(workspace_id)
        return self.catalog.db.execute(sql, args).fetchone()[0]

"""Recall signals, surfaced sets and recall traces, written off the request path.

A search hands its outcome to `Signals.record()` and returns; a worker
thread writes the signals in one transaction per batch. A full queue drops
the event (counted), and a failure is logged: signals never fail a search.
Readers that need the effects (a trace, a session's already-surfaced set)
call `flush()` first.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

from ..storage.catalog import Catalog

log = logging.getLogger("aghmem.signals")


@dataclass
class RecallEvent:
    at: str
    query_hash: str
    session_id: str | None
    turn_seq: int | None
    recalled: list[tuple[str, float]] = field(default_factory=list)  # (memory id, score)
    trace: dict[str, Any] | None = None


class Signals:
    def __init__(self, catalog: Catalog, *, capacity: int, retries: int, enabled: bool = True) -> None:
        self.catalog = catalog
        self.enabled = enabled
        self.retries = retries
        self.dropped = 0
        # Each memory's smoothed recall score, mirrored in memory so ranking
        # reads no rows; written back by the worker with the same formula.
        self.scores: dict[str, float] = catalog.recall_scores()
        self._queue: queue.Queue[RecallEvent | None] = queue.Queue(maxsize=capacity)
        self._worker = threading.Thread(target=self._run, name="aghmem-signals", daemon=True)
        self._worker.start()

    def record(self, event: RecallEvent) -> None:
        if not self.enabled and event.trace is None:
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def flush(self) -> None:
        """Wait until every event recorded so far is written."""
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.task_done()
                return
            batch = [first]
            while len(batch) < 256:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # finish this batch, then stop
                    self._queue.task_done()
                    break
                batch.append(item)
            for attempt in range(self.retries + 1):
                try:
                    self._write(batch)
                    break
                except Exception:  # noqa: BLE001 - logged; never reaches a request
                    if attempt == self.retries:
                        log.exception("dropping %d recall event(s) after %d attempts", len(batch), attempt + 1)
            for _ in batch:
                self._queue.task_done()

    def _write(self, batch: list[RecallEvent]) -> None:
        updated: dict[str, float] = {}
        with self.catalog.write() as db:
            for event in batch:
                if self.enabled:
                    for memory_id, score in event.recalled:
                        _bump(db, event, memory_id, score)
                        old = updated.get(memory_id, self.scores.get(memory_id))
                        updated[memory_id] = score if old is None else 0.8 * old + 0.2 * score
                if event.session_id:
                    db.executemany(
                        "INSERT OR IGNORE INTO surfaced VALUES (?, ?)",
                        [(event.session_id, memory_id) for memory_id, _ in event.recalled],
                    )
                if event.trace is not None and event.session_id and event.turn_seq is not None:
                    db.execute(
                        "INSERT OR REPLACE INTO recall_traces VALUES (?, ?, ?, ?)",
                        (event.session_id, event.turn_seq, event.at, json.dumps(event.trace)),
                    )
        # Only once the transaction committed, so memory never runs ahead of
        # the database; each score is replaced whole (readers see old or new).
        self.scores.update(updated)


def _bump(db: Any, event: RecallEvent, memory_id: str, score: float) -> None:
    new_query = db.execute(
        "INSERT OR IGNORE INTO signal_queries VALUES (?, ?)", (memory_id, event.query_hash)
    ).rowcount
    new_session = 0
    if event.session_id:
        new_session = db.execute(
            "INSERT OR IGNORE INTO signal_sessions VALUES (?, ?)", (memory_id, event.session_id)
        ).rowcount
    # recall_score: the first score, then 0.8·old + 0.2·new (DESIGN §7).
    db.execute(
        "INSERT INTO signals (memory_id, recall_count, last_recalled_at, first_recalled_at, recall_score, "
        "session_count, query_count) VALUES (?, 1, ?, ?, ?, ?, ?) "
        "ON CONFLICT (memory_id) DO UPDATE SET recall_count = recall_count + 1, last_recalled_at = excluded.last_recalled_at, "
        "recall_score = 0.8 * recall_score + 0.2 * excluded.recall_score, "
        "session_count = session_count + excluded.session_count, query_count = query_count + excluded.query_count",
        (memory_id, event.at, event.at, score, new_session, new_query),
    )

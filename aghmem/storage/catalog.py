"""SQLite: the catalog of memory entries and the history of decisions.

The tables are in `schema.py`.

`entries` and `invalid_files` are derived from the memory files and can be
rebuilt at any time; `decisions` (and later signals, traces, dreams) are
history and are never rebuilt. One connection per thread; WAL lets readers
run while the single writer commits.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from ..model import Decision, Entry, MemoryType, Selector, memory_id
from .decision_log import DecisionLog, decode_cursor, encode_cursor
from .index_fields import index_text
from .reading import Refusal
from .schema import DERIVED_TABLES, SCHEMA, SCHEMA_VERSION

ENTRY_COLUMNS = (
    "e.scope_key, e.filename, e.type, e.name, e.description, e.content_hash, e.body_hash, e.size, "
    "e.mtime_ns, e.created_at, e.updated_at, e.entity, e.attribute, e.superseded_by, "
    "COALESCE(s.recall_count, 0), s.last_recalled_at, e.id, e.source_session, e.cf_type"
)
ENTRY_FROM = "entries e LEFT JOIN signals s ON s.memory_id = e.id"
MMAP_BYTES = 256 * 1024 * 1024  # address space, not memory: pages are the OS's file cache


def entry_of_row(row: Sequence[Any], raw: str = "") -> Entry:
    return Entry(
        selector=Selector.from_key(row[0]),
        filename=row[1],
        type=MemoryType(row[2]),
        name=row[3],
        description=row[4],
        content_hash=row[5],
        body_hash=row[6],
        size=row[7],
        mtime_ns=row[8],
        created_at=row[9],
        updated_at=row[10],
        entity=row[11],
        attribute=row[12],
        superseded_by=row[13],
        recall_count=row[14],
        last_recalled_at=row[15],
        known_id=row[16],
        source_session=row[17],
        cf_type=row[18],
        raw=raw,
    )


def _entry_row(entry: Entry) -> tuple[Any, ...]:
    """An entry as its `entries` row."""
    return (
        entry.selector.key,
        entry.filename,
        entry.id,
        entry.type.value,
        entry.name,
        entry.description,
        entry.content_hash,
        entry.body_hash,
        entry.size,
        entry.mtime_ns,
        entry.created_at,
        entry.updated_at,
        entry.entity,
        entry.attribute,
        entry.superseded_by,
        entry.source_session,
        entry.cf_type,
        entry.created_at or entry.mod_time,
    )


class Stamps:
    """A process-wide monotonic counter ordering catalog writes against
    index staging: a commit may clear a dirty row only if the row was
    written before the document was staged."""

    def __init__(self, start: int = 0) -> None:
        self._next = itertools.count(start + 1)

    def __call__(self) -> int:
        return next(self._next)


class Catalog(DecisionLog):
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            for table in DERIVED_TABLES:
                self.db.execute(f"DROP TABLE IF EXISTS {table}")
        self.db.executescript(SCHEMA)
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        top = self.db.execute("SELECT MAX(stamp) FROM index_dirty").fetchone()[0]
        self.stamp = Stamps(top or 0)

    # --- connections -------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a crash of the process loses nothing; a power
            # cut may lose the last commits but never corrupts the database.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            # Reads map the file, not copy pages: recall's 10 rows at 20k, 186 → 124 µs.
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def write(self) -> "_Transaction":
        return _Transaction(self.db)

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.ProgrammingError:
                    pass
            self._all.clear()
        self._local = threading.local()

    # --- entries -----------------------------------------------------------

    def upsert_entry(self, db: sqlite3.Connection, entry: Entry) -> None:
        self.upsert_entries(db, [entry])

    def upsert_entries(self, db: sqlite3.Connection, entries: Sequence[Entry]) -> None:
        """Entries as their files now are, in bulk (a cold start writes
        thousands: one statement each per table, not per entry)."""
        db.executemany("INSERT OR REPLACE INTO index_dirty VALUES (?, ?)", [(e.id, self.stamp()) for e in entries])
        db.executemany("INSERT OR REPLACE INTO texts VALUES (?, ?)", [(e.id, e.raw) for e in entries])
        db.executemany("INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", map(_entry_row, entries))

    def record(self, decision: Decision, status: str) -> None:
        """A decision row, committed on its own (before its file changes)."""
        with self.write() as db:
            self.insert_decision(db, decision, status)

    def settle(self, decision_id: str, applied_at: str, selector: Selector, filename: str, entry: Entry | None) -> None:
        """An applied change, in one transaction: the entry as the file now
        is (None: removed) and the decision marked applied."""
        with self.write() as db:
            if entry is None:
                self.delete_entry(db, selector.key, filename)
            else:
                self.upsert_entry(db, entry)
            self.mark_applied(db, decision_id, applied_at)

    def delete_entry(self, db: sqlite3.Connection, scope_key: str, filename: str) -> None:
        gone = memory_id(Selector.from_key(scope_key), filename)
        db.execute("INSERT OR REPLACE INTO index_dirty VALUES (?, ?)", (gone, self.stamp()))
        db.execute("DELETE FROM texts WHERE id = ?", (gone,))
        db.execute("DELETE FROM entries WHERE scope_key = ? AND filename = ?", (scope_key, filename))

    def delete_scope(self, db: sqlite3.Connection, scope_key: str) -> int:
        db.execute(
            "INSERT OR REPLACE INTO index_dirty SELECT id, ? FROM entries WHERE scope_key = ?", (self.stamp(), scope_key)
        )
        db.execute("DELETE FROM texts WHERE id IN (SELECT id FROM entries WHERE scope_key = ?)", (scope_key,))
        return db.execute("DELETE FROM entries WHERE scope_key = ?", (scope_key,)).rowcount

    # --- what the index needs ----------------------------------------------

    def raw_of(self, scope_key: str, filename: str) -> str | None:
        row = self.db.execute(
            "SELECT t.raw FROM entries e JOIN texts t ON t.id = e.id WHERE e.scope_key = ? AND e.filename = ?",
            (scope_key, filename),
        ).fetchone()
        return row[0] if row else None

    def index_docs(self, ids: Sequence[str] | None = None) -> Iterator[tuple[str, str, str, int, str]]:
        """(id, scope_key, filename, mtime_ns, text to index) for the given
        ids, or for all."""
        sql = (
            "SELECT e.id, e.scope_key, e.filename, e.mtime_ns, e.name, e.description, t.raw "
            "FROM entries e JOIN texts t ON t.id = e.id"
        )
        rows: Iterable[Sequence[Any]]
        if ids is None:
            # In id order, as before the CF columns widened the rows (the
            # planner then chose to scan `texts`): equal BM25 scores keep
            # breaking ties the same way after a rebuild.
            rows = self.db.execute(sql + " ORDER BY e.id")
        else:
            rows = self._in_chunks(sql + " WHERE e.id IN ({})", list(ids))
        for memory_id_, scope_key, filename, mtime_ns, name, description, raw in rows:
            yield memory_id_, scope_key, filename, mtime_ns, index_text(name, description, raw)

    def _in_chunks(self, sql: str, values: list[Any], size: int = 500) -> Iterator[Sequence[Any]]:
        for start in range(0, len(values), size):
            chunk = values[start : start + size]
            yield from self.db.execute(sql.format(",".join("?" * len(chunk))), chunk)

    def dirty_ids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT id FROM index_dirty")]

    def clear_dirty(self, staged: Sequence[tuple[str, int]]) -> None:
        """Forget rows the index has committed: (id, stamp when staged); "*"
        stands for every id (a rebuild)."""
        everything = [(stamp,) for memory_id_, stamp in staged if memory_id_ == "*"]
        with self.write() as db:
            db.executemany("DELETE FROM index_dirty WHERE stamp <= ?", everything)
            db.executemany(
                "DELETE FROM index_dirty WHERE id = ? AND stamp <= ?", [row for row in staged if row[0] != "*"]
            )

    def entry_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]

    def entries_by_ids(self, ids: Sequence[str]) -> dict[str, Entry]:
        """Entries (without their text) for a handful of ids, in one query."""
        return {entry.id: entry for entry in map(entry_of_row, self._in_chunks(
            f"SELECT {ENTRY_COLUMNS} FROM {ENTRY_FROM} WHERE e.id IN ({{}})", list(ids)
        ))}

    def entries_with_text(self, ids: Sequence[str]) -> dict[str, Entry]:
        """Entries with their file text (`raw`) for a handful of ids: what
        recall shows, in one query."""
        rows = self._in_chunks(
            f"SELECT {ENTRY_COLUMNS}, t.raw FROM {ENTRY_FROM} LEFT JOIN texts t ON t.id = e.id WHERE e.id IN ({{}})", list(ids)
        )
        return {entry.id: entry for entry in (entry_of_row(row, row[-1] or "") for row in rows)}

    def raw_by_ids(self, ids: Sequence[str]) -> dict[str, str]:
        """The file text of a few entries (what recall shows)."""
        return dict(self._in_chunks("SELECT id, raw FROM texts WHERE id IN ({})", list(ids)))

    def entries_named(self, filenames: Sequence[str], scope_keys: Sequence[str]) -> list[tuple[str, str, str]]:
        """(scope_key, filename, id) of these filenames in these scopes: the
        lookup behind shadowing."""
        if not filenames or not scope_keys:
            return []
        marks_f = ",".join("?" * len(filenames))
        marks_s = ",".join("?" * len(scope_keys))
        return self.db.execute(
            f"SELECT scope_key, filename, id FROM entries WHERE filename IN ({marks_f}) AND scope_key IN ({marks_s})",
            (*filenames, *scope_keys),
        ).fetchall()

    def mark_scanned(self, db: sqlite3.Connection, scope_key: str, at: str) -> None:
        db.execute("INSERT OR REPLACE INTO scanned_scopes VALUES (?, ?)", (scope_key, at))

    def was_scanned(self, scope_key: str) -> bool:
        return self.db.execute("SELECT 1 FROM scanned_scopes WHERE scope_key = ?", (scope_key,)).fetchone() is not None

    def get_entry(self, scope_key: str, filename: str) -> Entry | None:
        row = self.db.execute(
            f"SELECT {ENTRY_COLUMNS} FROM {ENTRY_FROM} WHERE e.scope_key = ? AND e.filename = ?",
            (scope_key, filename),
        ).fetchone()
        return entry_of_row(row) if row else None

    # Left to itself (no ANALYZE statistics) SQLite walks the covering primary
    # key through the whole scope for these; INDEXED BY makes them one probe.
    # They return a row or two, sorted here. tests/test_catalog.py pins it.
    BODY_QUERY = (
        f"SELECT {ENTRY_COLUMNS} FROM entries e INDEXED BY entries_body LEFT JOIN signals s ON s.memory_id = e.id "
        "WHERE e.scope_key = ? AND e.body_hash = ?"
    )
    SLOT_QUERY = (
        f"SELECT {ENTRY_COLUMNS} FROM entries e INDEXED BY entries_slot LEFT JOIN signals s ON s.memory_id = e.id "
        "WHERE e.scope_key = ? AND e.entity = ? AND e.attribute IS ? AND e.entity IS NOT NULL"
    )

    def entries_with_body(self, scope_key: str, body_hash: str) -> list[Entry]:
        rows = self.db.execute(self.BODY_QUERY, (scope_key, body_hash))
        return sorted((entry_of_row(row) for row in rows), key=lambda e: e.filename)

    def entries_in_slot(self, scope_key: str, entity: str, attribute: str | None) -> list[Entry]:
        rows = self.db.execute(self.SLOT_QUERY, (scope_key, entity, attribute))
        return sorted((entry_of_row(row) for row in rows), key=lambda e: e.filename)

    def list_entries(self, scope_key: str, *, limit: int, cursor: str | None = None) -> tuple[list[Entry], str | None]:
        """Newest first; `cursor` continues a previous page."""
        params: list[Any] = [scope_key]
        where = "e.scope_key = ?"
        if cursor:
            mtime_ns, filename = decode_cursor(cursor, 2)
            where += " AND (e.mtime_ns < ? OR (e.mtime_ns = ? AND e.filename > ?))"
            params += [mtime_ns, mtime_ns, filename]
        rows = self.db.execute(
            f"SELECT {ENTRY_COLUMNS} FROM {ENTRY_FROM} WHERE {where} "
            "ORDER BY e.mtime_ns DESC, e.filename LIMIT ?",
            (*params, limit + 1),
        ).fetchall()
        entries = [entry_of_row(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = entries[-1]
            next_cursor = encode_cursor(last.mtime_ns, last.filename)
        return entries, next_cursor

    def index_rows(self, scope_key: str, limit: int) -> list[tuple[str, str, str]]:
        """(filename, name, description) newest first, system files left out:
        just what MEMORY.md needs, so regenerating it after a write is cheap."""
        return self.db.execute(
            "SELECT filename, name, description FROM entries WHERE scope_key = ? "
            "AND filename NOT LIKE '\\_system%' ESCAPE '\\' ORDER BY mtime_ns DESC, filename LIMIT ?",
            (scope_key, limit),
        ).fetchall()

    def most_recalled(self, scope_keys: Sequence[str], global_types: Sequence[str], limit: int) -> list[Entry]:
        """Entries recall may show (no system file, nothing superseded) in
        these scopes, global ones only of `global_types`: most recalled
        first, then newest."""
        if not scope_keys or limit < 1:
            return []
        rows = self.db.execute(
            f"SELECT {ENTRY_COLUMNS} FROM {ENTRY_FROM} WHERE e.scope_key IN ({','.join('?' * len(scope_keys))}) "
            "AND e.superseded_by IS NULL AND e.filename NOT LIKE '\\_system%' ESCAPE '\\' "
            f"AND (e.scope_key != 'global' OR e.type IN ({','.join('?' * len(global_types)) or 'NULL'})) "
            "ORDER BY COALESCE(s.recall_count, 0) DESC, e.mtime_ns DESC, e.filename LIMIT ?",
            (*scope_keys, *global_types, limit),
        )
        return [entry_of_row(row) for row in rows]

    def scope_stats(self) -> dict[str, int]:
        """Number of entries per scope key (one grouped query)."""
        rows = self.db.execute("SELECT scope_key, COUNT(*) FROM entries GROUP BY scope_key")
        return {key: count for key, count in rows}

    def scope_files(self, scope_key: str) -> dict[str, tuple[int, int]]:
        """filename → (size, mtime_ns), for a reconcile scan."""
        rows = self.db.execute("SELECT filename, size, mtime_ns FROM entries WHERE scope_key = ?", (scope_key,))
        return {name: (size, mtime) for name, size, mtime in rows}

    def scope_file(self, scope_key: str, filename: str) -> tuple[int, int] | None:
        row = self.db.execute(
            "SELECT size, mtime_ns FROM entries WHERE scope_key = ? AND filename = ?", (scope_key, filename)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def scope_keys(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT DISTINCT scope_key FROM entries")]

    # --- invalid files -----------------------------------------------------

    def set_invalid(
        self,
        db: sqlite3.Connection,
        path: str,
        scope_key: str,
        filename: str,
        refusal: Refusal,
        seen_at: str,
        stat: os.stat_result | None,
    ) -> None:
        size, mtime_ns = (stat.st_size, stat.st_mtime_ns) if stat is not None else (None, None)
        db.execute(
            "INSERT OR REPLACE INTO invalid_files VALUES (?,?,?,?,?,?,?,?,?)",
            (path, scope_key, filename, refusal.reason, seen_at, refusal.kind, refusal.rule, size, mtime_ns),
        )

    def refused_files(self, scope_key: str) -> dict[str, tuple[int, int]]:
        """filename → (size, mtime_ns) of the version refused, for a scan to
        skip until the file changes."""
        rows = self.db.execute(
            "SELECT filename, size, mtime_ns FROM invalid_files WHERE scope_key = ?", (scope_key,)
        )
        return {name: (size, mtime_ns) for name, size, mtime_ns in rows}

    def refused_file(self, scope_key: str, filename: str) -> tuple[int, int] | None:
        row = self.db.execute(
            "SELECT size, mtime_ns FROM invalid_files WHERE scope_key = ? AND filename = ?", (scope_key, filename)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def refusal_of(self, path: str) -> Refusal | None:
        row = self.db.execute("SELECT kind, rule, error FROM invalid_files WHERE path = ?", (path,)).fetchone()
        return Refusal(*row) if row else None

    def clear_invalid(self, db: sqlite3.Connection, path: str) -> None:
        self.clear_invalid_paths(db, [path])

    def clear_invalid_paths(self, db: sqlite3.Connection, paths: Sequence[str]) -> None:
        db.executemany("DELETE FROM invalid_files WHERE path = ?", [(path,) for path in paths])

    def is_invalid(self, path: str) -> bool:
        return self.db.execute("SELECT 1 FROM invalid_files WHERE path = ?", (path,)).fetchone() is not None

    def ids_in_scopes(self, scope_keys: Sequence[str]) -> list[str]:
        marks = ",".join("?" * len(scope_keys))
        return [row[0] for row in self.db.execute(f"SELECT id FROM entries WHERE scope_key IN ({marks})", tuple(scope_keys))]

    def recall_scores(self) -> dict[str, float]:
        return dict(self.db.execute("SELECT memory_id, recall_score FROM signals").fetchall())

    def surfaced_ids(self, session_id: str) -> set[str]:
        """Memories a session has already been shown."""
        rows = self.db.execute("SELECT memory_id FROM surfaced WHERE session_id = ?", (session_id,))
        return {row[0] for row in rows}

    def recall_trace(self, session_id: str, turn_seq: int) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT trace FROM recall_traces WHERE session_id = ? AND turn_seq = ?", (session_id, turn_seq)
        ).fetchone()
        if row is None:
            return None
        trace = json.loads(row[0])
        # An older daemon kept age_days with decimals; seed 004 counts whole days.
        for block in (trace.get("recall") or {}).get("blocks") or []:
            for entry in block.get("entries") or []:
                entry["age_days"] = int(entry.get("age_days") or 0)
        return trace

    def invalid_files(self) -> list[dict[str, str]]:
        """Every file not taken in: path, error, scope_key, filename, kind, rule."""
        rows = self.db.execute(
            "SELECT path, error, scope_key, filename, kind, rule FROM invalid_files ORDER BY path"
        )
        keys = ("path", "error", "scope_key", "filename", "kind", "rule")
        return [dict(zip(keys, row)) for row in rows]


class _Transaction:
    """`with catalog.write() as db:` — one IMMEDIATE transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


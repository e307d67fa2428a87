"""Memory files seen as Cloudflare memories (COMPAT §1.3's field table),
and the list's filters and keyset cursors.

A file read back is typed by `metadata.cf_type` when that is a CF type,
else by its native type (hand-written files are first-class): classify.py's
`read_back`. A list entry (no `content`) comes from the catalog's row alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from ...errors import NotFound, ValidationError
from ...model import CF_TYPES, Entry, iso_utc
from ...storage.entry_query import Keyset
from ...storage.files import ParsedMemory
from . import cursors
from .classify import read_back


def memory_not_found() -> NotFound:
    return NotFound("Memory not found", cf_code=10005)


def cf_time(value: Any, fallback_ns: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS.sssZ` from a provenance stamp, else the mtime."""
    moment = value if isinstance(value, dt.datetime) else None
    if isinstance(value, str) and value:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is not None:
        try:
            return iso_utc(moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc), ms=True)
        except OverflowError:
            pass  # a hand-written stamp past the calendar once in UTC: the mtime says more
    return iso_utc(dt.datetime.fromtimestamp(fallback_ns / 1e9, dt.timezone.utc), ms=True)


def cf_type_read(parsed: ParsedMemory) -> str:
    metadata = parsed.meta.get("metadata")
    return read_back(parsed.type, metadata if isinstance(metadata, dict) else None)


def sessions_of(parsed: ParsedMemory) -> list[str]:
    """provenance.source_sessions, as text."""
    sessions = parsed.provenance.get("source_sessions")
    return [str(s) for s in sessions] if isinstance(sessions, list) else []


def cf_memory(memory_id: str, parsed: ParsedMemory, mtime_ns: int, *, content: bool = True) -> dict[str, Any]:
    provenance = parsed.provenance
    view: dict[str, Any] = {
        "id": memory_id,
        "type": cf_type_read(parsed),
        "summary": parsed.description or parsed.name,
    }
    if content:
        view["content"] = parsed.body
    view["sessionId"] = next(iter(sessions_of(parsed)), None)
    view["createdAt"] = cf_time(provenance.get("created_at"), mtime_ns)
    view["updatedAt"] = cf_time(provenance.get("updated_at"), mtime_ns)
    return view


def cf_entry(entry: Entry) -> dict[str, Any]:
    """A list entry (no `content`) from the catalog's row: what the file
    says, as `cf_memory` reads it."""
    return {
        "id": entry.id,
        "type": entry.cf_type or read_back(entry.type),
        "summary": entry.description or entry.name,
        "sessionId": entry.source_session,
        "createdAt": cf_time(entry.created_at, entry.mtime_ns),
        "updatedAt": cf_time(entry.updated_at, entry.mtime_ns),
    }


@dataclass(frozen=True)
class ListFilter:
    """The list's filters, and its cursors: `{v, c, i, f}` = the keyset
    (created_sort, id) of the page's last entry and the filters' fingerprint."""

    session_id: str | None = None
    type: str | None = None

    @classmethod
    def of(cls, session_id: str | None, cf_type: str | None) -> "ListFilter":
        if cf_type is not None and cf_type not in CF_TYPES:
            raise ValidationError(f"type must be one of {', '.join(CF_TYPES)}", field="type")
        return cls(session_id or None, cf_type or None)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.session_id or ''}\x1f{self.type or ''}".encode()).hexdigest()[:8]

    def keyset(self, cursor: str) -> Keyset:
        """Where a cursor made under these filters resumes; a 400 for any other."""
        at = cursors.decode(cursor, ("c", "i", "f"))
        if at["f"] != self.fingerprint:
            raise ValidationError("invalid cursor", field="cursor")
        return at["c"], at["i"]

    def cursor(self, following: Keyset | None) -> str:
        return cursors.encode({"c": following[0], "i": following[1], "f": self.fingerprint}) if following else ""

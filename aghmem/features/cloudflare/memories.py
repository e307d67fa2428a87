"""Memory files seen as Cloudflare memories (COMPAT §1.3's field table),
and the list: filters, newest first, keyset cursors.

A file read back is typed by `metadata.cf_type` when that is a CF type,
else by its native type (hand-written files are first-class).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from ...errors import NotFound, ParseError, ValidationError
from ...model import Entry, MemoryType, Selector, default_type, iso_utc
from ...storage.catalog import Catalog
from ...storage.files import ParsedMemory, parse_memory
from . import cursors

CF_TYPES = ("fact", "event", "instruction", "task")
# Reading back a file without a (valid) metadata.cf_type.
READ_BACK = {
    MemoryType.FEEDBACK: "instruction",
    MemoryType.USER: "fact",
    MemoryType.PROJECT: "event",
    MemoryType.REFERENCE: "fact",
}


def memory_not_found() -> NotFound:
    return NotFound("Memory not found", cf_code=10005)


def cf_time(value: Any, fallback_ns: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS.sssZ` from a provenance stamp, else the mtime."""
    if isinstance(value, str) and value:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.timezone.utc)
            return iso_utc(moment, ms=True)
        except ValueError:
            pass
    return iso_utc(dt.datetime.fromtimestamp(fallback_ns / 1e9, dt.timezone.utc), ms=True)


def cf_type_read(parsed: ParsedMemory) -> str:
    metadata = parsed.meta.get("metadata")
    cf_type = metadata.get("cf_type") if isinstance(metadata, dict) else None
    return cf_type if cf_type in CF_TYPES else READ_BACK[parsed.type]


def session_of(parsed: ParsedMemory) -> str | None:
    provenance = parsed.meta.get("provenance")
    sessions = provenance.get("source_sessions") if isinstance(provenance, dict) else None
    return str(sessions[0]) if isinstance(sessions, list) and sessions else None


def cf_memory(memory_id: str, parsed: ParsedMemory, mtime_ns: int, *, content: bool = True) -> dict[str, Any]:
    provenance = parsed.meta.get("provenance")
    provenance = provenance if isinstance(provenance, dict) else {}
    view: dict[str, Any] = {
        "id": memory_id,
        "type": cf_type_read(parsed),
        "summary": parsed.description or parsed.name,
    }
    if content:
        view["content"] = parsed.body
    view["sessionId"] = session_of(parsed)
    view["createdAt"] = cf_time(provenance.get("created_at"), mtime_ns)
    view["updatedAt"] = cf_time(provenance.get("updated_at"), mtime_ns)
    return view


@dataclass(frozen=True)
class ListFilter:
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

    def keeps(self, memory: dict[str, Any]) -> bool:
        return (self.session_id is None or memory["sessionId"] == self.session_id) and (
            self.type is None or memory["type"] == self.type
        )


def page(memories: list[dict[str, Any]], filt: ListFilter, per_page: int, cursor: str | None) -> tuple[list[dict[str, Any]], str]:
    """One page, newest createdAt first (tie: id), and the next cursor ("" on the last)."""
    kept = sorted((m for m in memories if filt.keeps(m)), key=lambda m: m["id"])
    kept.sort(key=lambda m: m["createdAt"], reverse=True)
    if cursor:
        at = cursors.decode(cursor, ("c", "i", "f"))
        if at["f"] != filt.fingerprint:
            raise ValidationError("invalid cursor", field="cursor")
        kept = [m for m in kept if m["createdAt"] < at["c"] or (m["createdAt"] == at["c"] and m["id"] > at["i"])]
    shown = kept[:per_page]
    more = len(kept) > per_page
    following = cursors.encode({"c": shown[-1]["createdAt"], "i": shown[-1]["id"], "f": filt.fingerprint}) if more else ""
    return shown, following


def scope_memories(catalog: Catalog, selector: Selector, *, content: bool = False) -> list[dict[str, Any]]:
    """Every memory of one scope as CF memories (system files left out),
    from the catalog's copy of each file's text."""
    entries: list[Entry] = []
    cursor: str | None = None
    while True:
        batch, cursor = catalog.list_entries(selector.key, limit=1000, cursor=cursor)
        entries += [e for e in batch if not e.system_managed]
        if cursor is None:
            break
    raws = catalog.raw_by_ids([e.id for e in entries])
    found = []
    for entry in entries:
        try:
            parsed = parse_memory(raws.get(entry.id, "").encode("utf-8"), entry.filename, default_type(selector))
        except ParseError:
            continue
        found.append(cf_memory(entry.id, parsed, entry.mtime_ns, content=content))
    return found


def latest_session(catalog: Catalog, selector: Selector, batch: int = 32) -> str | None:
    """The sessionId of the profile's newest memory that has one (the
    newest first, parsed a batch at a time: usually the first has one)."""
    entries: list[Entry] = []
    cursor: str | None = None
    while True:
        page_of, cursor = catalog.list_entries(selector.key, limit=1000, cursor=cursor)
        entries += [e for e in page_of if not e.system_managed]
        if cursor is None:
            break
    entries.sort(key=lambda e: e.created_at or e.mod_time, reverse=True)
    for start in range(0, len(entries), batch):
        chunk = entries[start:start + batch]
        raws = catalog.raw_by_ids([e.id for e in chunk])
        for entry in chunk:
            try:
                parsed = parse_memory(raws.get(entry.id, "").encode("utf-8"), entry.filename, default_type(selector))
            except ParseError:
                continue
            if (session := session_of(parsed)) is not None:
                return session
    return None

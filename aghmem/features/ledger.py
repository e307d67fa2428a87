"""One session ledger's lines (`ledger.jsonl`): the event each line holds,
reading them back, the chained checksum, and the message ids CF ingest
deduplicates by (features/sessions.py does the appending)."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

log = logging.getLogger("aghmem.sessions")

EMPTY_CHECKSUM = hashlib.sha256(b"").hexdigest()


@dataclass
class Event:
    sequence: int
    event_type: str
    emitted_at: str | None  # None on input: the daemon stamps it on arrival
    payload: dict[str, Any]

    def line(self) -> bytes:
        return (json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def chain(checksum: str, line: bytes) -> str:
    return hashlib.sha256(checksum.encode("ascii") + line).hexdigest()


def parse_event(data: Any) -> Event:
    if not isinstance(data, dict):
        raise TypeError("an event is a JSON object")
    return Event(int(data["sequence"]), str(data["event_type"]), str(data["emitted_at"]), dict(data["payload"]))


def read_ledger(path: Path) -> Iterator[Event]:
    """The events of a ledger; a torn last line (a crash mid-append) is ignored."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            try:
                yield parse_event(json.loads(line))
            except (ValueError, TypeError, KeyError):
                log.warning("%s: skipping an unreadable line (POST /api/memory/sessions/repair trims it)", path)


def ledger_message_ids(directory: Path) -> set[str]:
    """The `payload.message_id`s a ledger holds (one read of the file)."""
    ids = set()
    for event in read_ledger(directory / "ledger.jsonl"):
        message_id = event.payload.get("message_id")
        if isinstance(message_id, str):
            ids.add(message_id)
    return ids


def new_messages(events: list[Event], known: set[str]) -> list[Event]:
    """Events whose message_id is neither known nor repeated earlier in
    the list (events without one are kept)."""
    kept, seen = [], set(known)
    for event in events:
        message_id = event.payload.get("message_id")
        if isinstance(message_id, str):
            if message_id in seen:
                continue
            seen.add(message_id)
        kept.append(event)
    return kept


def numbered(events: list[Event], last_sequence: int) -> list[Event]:
    return [Event(last_sequence + i, e.event_type, e.emitted_at, e.payload) for i, e in enumerate(events, 1)]

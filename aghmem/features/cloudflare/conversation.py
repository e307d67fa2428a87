"""CF ingest and recall, the parts that are plain data (COMPAT §1.6):
validating messages, the derived and native session ids, content-addressed
message ids, the ledger events; the thinkingLevel table, the task rule and
the candidates of a recall."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from ...errors import ValidationError
from ...model import iso_utc
from ..sessions import SESSION_ID_RE, Event

ROLES = ("user", "assistant", "system")
MAX_MESSAGES = 500
MAX_CONTENT_BYTES = 32_768
MAX_QUERY_BYTES = 1_024
# thinkingLevel → (raw candidates, results kept)
THINKING = {"low": (50, 5), "medium": (100, 10), "high": (200, 20)}
LENGTHS = ("short", "medium", "long")
STALE_TASK_FACTOR = 0.5  # tasks of a session that is not the latest (Q35)
SEP = "\x1f"


@dataclass(frozen=True)
class Message:
    role: str
    content: str
    timestamp: str | None  # ISO 8601 UTC with ms, or None (stamped on arrival)


def parse_instant(value: Any, field: str, pointer: str) -> dt.datetime:
    """An ISO date or date-time (a date is its midnight UTC), one that UTC
    can name: 9999-12-31T23:59:59-14:00 is in year 10000 there."""
    if isinstance(value, str) and 10 <= len(value) <= 40:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
            moment.astimezone(dt.timezone.utc)
        except ValueError:
            moment = None
        except OverflowError:
            raise ValidationError(f"{field} is out of range (years 1 to 9999 in UTC)", field=field, pointer=pointer) from None
        if moment is not None:
            return moment
    raise ValidationError(f"{field} must be an ISO 8601 date or date-time", field=field, pointer=pointer)


def parse_messages(raw: Any) -> list[Message]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_MESSAGES:
        raise ValidationError(f"messages must be a list of 1-{MAX_MESSAGES} messages", field="messages", pointer="/messages")
    messages = []
    for i, item in enumerate(raw):
        where = f"/messages/{i}"
        if not isinstance(item, dict):
            raise ValidationError(f"messages[{i}] must be an object", field="messages", pointer=where)
        if item.get("role") not in ROLES:
            raise ValidationError(f"messages[{i}].role must be one of {', '.join(ROLES)}", field="role", pointer=where + "/role")
        content = item.get("content")
        if not isinstance(content, str) or len(content.encode("utf-8")) > MAX_CONTENT_BYTES:
            raise ValidationError(
                f"messages[{i}].content must be a string of at most {MAX_CONTENT_BYTES} bytes", field="content", pointer=where + "/content"
            )
        stamp = item.get("timestamp")
        at = None if stamp is None else iso_utc(parse_instant(stamp, "timestamp", where + "/timestamp"), ms=True)
        messages.append(Message(item["role"], content, at))
    return messages


def derived_session_id(messages: list[Message]) -> str:
    """A conversation without a sessionId: the same messages, the same session (Q8)."""
    digest = hashlib.sha256("\x1e".join(f"{m.role}{SEP}{m.content}" for m in messages).encode("utf-8")).hexdigest()
    return "auto-" + digest[:24]


def native_session_id(namespace_id: str, agent: str, session_id: str) -> str:
    """The ledger's session id: profile-scoped, as CF's sessions are."""
    plain = f"{agent}:{session_id}"
    if SESSION_ID_RE.fullmatch(plain) and ".." not in plain:
        return plain
    return "cf-" + hashlib.sha256(SEP.join((namespace_id, agent, session_id)).encode("utf-8")).hexdigest()[:40]


def message_events(native_sid: str, messages: list[Message]) -> list[Event]:
    """Ledger events; a message's id depends on its session, role and content only."""
    events = []
    for n, m in enumerate(messages, start=1):
        message_id = "msg_" + hashlib.sha256(SEP.join((native_sid, m.role, m.content)).encode("utf-8")).hexdigest()[:24]
        events.append(Event(n, "message", m.timestamp, {"role": m.role, "content": m.content, "message_id": message_id}))
    return events


def check_query(query: Any) -> str:
    if not isinstance(query, str) or not 1 <= len(query.encode("utf-8")) <= MAX_QUERY_BYTES or not query.strip():
        raise ValidationError(f"query must be 1-{MAX_QUERY_BYTES} bytes of text", field="query", pointer="/query")
    return query


def rank(found: list[dict[str, Any]], latest_session: str | None, keep: int) -> list[dict[str, Any]]:
    """Recalled CF memories (with a `score`), tasks of older sessions halved, best `keep`."""
    for memory in found:
        if memory["type"] == "task" and memory["sessionId"] != latest_session:
            memory["score"] *= STALE_TASK_FACTOR
    return sorted(found, key=lambda m: -m["score"])[:keep]


def candidate(memory: dict[str, Any]) -> dict[str, Any]:
    score = round(min(max(float(memory["score"]), 0.0), 1.0), 4)
    return {"id": memory["id"], "summary": memory["summary"], "sessionId": memory["sessionId"], "score": score}

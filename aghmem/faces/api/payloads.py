"""Strict validation of write payloads (from HTTP, the CLI, or a library user).

Hand-written files are parsed tolerantly; API writes are not: an unknown
field, a wrong type or a missing required value is a ValidationError that
names the field.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from ...controller.decisions import parse_stamp, stamp
from ...controller.rules import Candidate
from ...errors import ValidationError
from ...features.sessions import EVENT_TYPE_RE, MAX_EVENTS_PER_CALL, ROLES, Event, check_session_id
from ...model import SELECTOR_FIELDS, MemoryType, Selector, has_selector_fields, parse_type, resolve_selector
from ...storage.files import check_filename

if TYPE_CHECKING:
    from ...features.recall import SearchRequest

MEMORY_FIELDS = frozenset(
    {
        *SELECTOR_FIELDS,
        "type",
        "name",
        "description",
        "content",
        "filename",
        "entity",
        "attribute",
        "tags",
        "provenance",
        "metadata",
        "origin",
        "idempotency_key",
        "dry_run",
    }
)
PATCH_FIELDS = MEMORY_FIELDS - {"filename"}
DELETE_FIELDS = frozenset({*SELECTOR_FIELDS, "origin", "idempotency_key", "dry_run"})
AD_HOC_FIELDS = frozenset({*SELECTOR_FIELDS, "content", "type", "origin", "idempotency_key", "dry_run"})
PROVENANCE_FIELDS = frozenset({"source_sessions", "source_session_ids", "confidence", "source_actor"})

MAX_NAME = 200
MAX_DESCRIPTION = 1_000
MAX_KEY = 200


def check_fields(body: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationError(
            f"unknown field(s): {', '.join(unknown)}", unknown=unknown, allowed=sorted(allowed)
        )


def _text(body: Mapping[str, Any], key: str, *, limit: int | None = None, one_line: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be a string", field=key)
    if limit is not None and len(value) > limit:
        raise ValidationError(f"{key} is longer than {limit} characters", field=key)
    if one_line and ("\n" in value or "\r" in value):
        raise ValidationError(f"{key} must be a single line", field=key)
    if "\x00" in value:
        raise ValidationError(f"{key} contains a NUL byte", field=key)
    return value


def flag(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise ValidationError(f"{key} must be true or false", field=key)
    return value


def timestamp(value: Any, name: str) -> str:
    """An ISO 8601 date-time (UTC when no zone is given), as stored: ms, Z."""
    try:
        moment = parse_stamp(str(value))
    except ValueError:
        raise ValidationError(f"{name} must be an ISO 8601 date-time, e.g. 2026-04-21T00:00:00Z", field=name) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return stamp(moment, ms=True)


def _tags(body: Mapping[str, Any]) -> list[str] | None:
    value = body.get("tags")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, str) and t and len(t) <= 64 for t in value):
        raise ValidationError("tags must be a list of non-empty strings (≤ 64 characters each)", field="tags")
    return list(dict.fromkeys(value))


def _provenance(body: Mapping[str, Any]) -> dict[str, Any] | None:
    value = body.get("provenance")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError("provenance must be an object", field="provenance")
    check_fields(value, PROVENANCE_FIELDS)
    sessions = value.get("source_sessions", value.get("source_session_ids"))
    if sessions is not None and (not isinstance(sessions, list) or not all(isinstance(s, str) for s in sessions)):
        raise ValidationError("provenance.source_sessions must be a list of strings", field="provenance")
    confidence = value.get("confidence")
    if confidence is not None and not isinstance(confidence, (str, int, float)):
        raise ValidationError("provenance.confidence must be a string or a number", field="provenance")
    return {"source_sessions": sessions or [], "confidence": confidence}


def _metadata(body: Mapping[str, Any]) -> dict[str, Any] | None:
    value = body.get("metadata")
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValidationError("metadata must be an object", field="metadata")
    return value


def _origin(body: Mapping[str, Any], default: str) -> str:
    return _text(body, "origin", limit=32, one_line=True) or default


def _common(body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": _text(body, "name", limit=MAX_NAME, one_line=True),
        "description": _text(body, "description", limit=MAX_DESCRIPTION),
        "body": _text(body, "content"),
        "entity": _text(body, "entity", limit=MAX_KEY, one_line=True),
        "attribute": _text(body, "attribute", limit=MAX_KEY, one_line=True),
        "tags": _tags(body),
        "provenance": _provenance(body),
        "metadata": _metadata(body),
        "idempotency_key": _text(body, "idempotency_key", limit=MAX_KEY, one_line=True),
        "dry_run": flag(body, "dry_run"),
    }


def write_candidate(body: Mapping[str, Any], *, default_origin: str = "http") -> Candidate:
    """`POST /api/memory`: create a memory, or update the one it names."""
    check_fields(body, MEMORY_FIELDS)
    if body.get("type") is None:
        raise ValidationError("type is required (user, feedback, project or reference)", field="type")
    memory_type = parse_type(body["type"])
    fields = _common(body)
    if not fields["body"] or not fields["body"].strip():
        raise ValidationError("content is required and must not be blank", field="content")
    selector = resolve_selector(body, memory_type if not has_selector_fields(body) else None)
    filename = check_filename(body["filename"]) if body.get("filename") is not None else None
    return Candidate(
        selector=selector,
        origin=_origin(body, default_origin),
        filename=filename,
        type=memory_type,
        **fields,
    )


def patch_candidate(
    filename: str,
    body: Mapping[str, Any],
    query: Mapping[str, Any],
    *,
    if_match: str | None,
    default_origin: str = "http",
) -> Candidate:
    """`PATCH /api/memory/{filename}`: change some fields of one memory."""
    check_fields(body, PATCH_FIELDS)
    fields = _common(body)
    if fields["body"] is not None and not fields["body"].strip():
        raise ValidationError("content must not be blank", field="content")
    changes = [k for k in ("type", "name", "description", "content", "entity", "attribute", "tags", "metadata") if k in body]
    if not changes:
        raise ValidationError("nothing to change: give at least one of content, name, description, type, entity, attribute, tags, metadata")
    memory_type: MemoryType | None = parse_type(body["type"]) if body.get("type") is not None else None
    return Candidate(
        selector=selector_from(body, query),
        origin=_origin(body, default_origin),
        filename=check_filename(filename, system=True),
        type=memory_type,
        if_match=if_match,
        patch=True,
        **fields,
    )


def delete_candidate(
    filename: str,
    body: Mapping[str, Any],
    query: Mapping[str, Any],
    *,
    if_match: str | None,
    default_origin: str = "http",
) -> Candidate:
    check_fields(body, DELETE_FIELDS)
    return Candidate(
        selector=selector_from(body, query),
        origin=_origin(body, default_origin),
        delete=True,
        filename=check_filename(filename, system=True),
        idempotency_key=_text(body, "idempotency_key", limit=MAX_KEY, one_line=True),
        dry_run=flag(body, "dry_run") or _query_flag(query, "dry_run"),
        if_match=if_match,
    )


def ad_hoc_candidate(body: Mapping[str, Any], *, default_origin: str = "http") -> Candidate:
    """`POST /api/memory/ad-hoc`: a quick note; name and type are inferred."""
    check_fields(body, AD_HOC_FIELDS)
    content = _text(body, "content")
    if not content or not content.strip():
        raise ValidationError("content is required and must not be blank", field="content")
    selector = resolve_selector(body)
    if body.get("type") is not None:
        memory_type = parse_type(body["type"])
    elif selector.workspace_id:
        memory_type = MemoryType.PROJECT
    else:
        memory_type = MemoryType.USER
    first_line = next((line.strip(" #-*") for line in content.splitlines() if line.strip()), "")
    name = " ".join(first_line.split()[:8])[:MAX_NAME] or "Note"
    return Candidate(
        selector=selector,
        origin=_origin(body, default_origin),
        type=memory_type,
        name=name,
        body=content,
        idempotency_key=_text(body, "idempotency_key", limit=MAX_KEY, one_line=True),
        dry_run=flag(body, "dry_run"),
    )


def selector_from(body: Mapping[str, Any], query: Mapping[str, Any]) -> Selector:
    """The selector of a request that names one memory: body, else query."""
    source = body if has_selector_fields(body) else query
    return resolve_selector({key: source.get(key) for key in SELECTOR_FIELDS})


def _query_flag(query: Mapping[str, Any], key: str) -> bool:
    value = query.get(key)
    if value in (None, "", "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise ValidationError(f"{key} must be true or false", field=key)


SEARCH_FIELDS = frozenset(
    {
        *SELECTOR_FIELDS,
        "query_text",
        "query",
        "context_hint",
        "session_id",
        "turn_seq",
        "top_k",
        "raw_candidates",
        "allow_trivial_query",
        "already_surfaced",
        "include_already_surfaced",
        "include_system",
        "explicit",
        "mode",
    }
)
MAX_TOP_K = 20
MAX_EXPLICIT_TOP_K = 50
MAX_RAW_CANDIDATES = 200
# Runtimes send whole user messages: a longer query is cut here, not refused.
MAX_QUERY_CHARS = 4_000


def _bounded_int(body: Mapping[str, Any], key: str, default: int, maximum: int) -> int:
    value = body.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationError(f"{key} must be a whole number from 1 to {maximum}", field=key)
    if value > maximum:
        raise ValidationError(f"{key} must be at most {maximum}", field=key)
    return value


def search_request(body: Mapping[str, Any], recall: Any) -> "SearchRequest":
    """`POST /api/memory/search`.

    `mode` is `explicit` (the default: someone asked, e.g. the CLI or a plain
    HTTP call; a lone word is searched, top_k up to 50) or `implicit` (a
    runtime's per-turn recall: trivial messages are skipped, top_k up to
    20). `explicit: true` is the older spelling of `mode: "explicit"`. A
    query over MAX_QUERY_CHARS is cut at a word boundary (`query_truncated`).
    """
    from ...features.recall import EXPLICIT, IMPLICIT, MODES, SearchRequest

    check_fields(body, SEARCH_FIELDS)
    query = _text(body, "query_text") if "query_text" in body else _text(body, "query")
    if query is None or not query.strip():
        raise ValidationError("query_text is required", field="query_text")
    truncated = len(query) > MAX_QUERY_CHARS
    if truncated:
        query = _cut(query, MAX_QUERY_CHARS)
    mode = body.get("mode", IMPLICIT if body.get("explicit") is False else EXPLICIT)
    if mode not in MODES:
        raise ValidationError("mode must be explicit (someone searching) or implicit (recall for a turn)", field="mode")
    if flag(body, "explicit") and mode != EXPLICIT:
        raise ValidationError("explicit: true contradicts mode: implicit", field="explicit")
    turn_seq = body.get("turn_seq")
    if turn_seq is not None and (not isinstance(turn_seq, int) or isinstance(turn_seq, bool) or turn_seq < 0):
        raise ValidationError("turn_seq must be a whole number ≥ 0", field="turn_seq")
    surfaced = body.get("already_surfaced") or []
    if not isinstance(surfaced, list) or not all(isinstance(i, str) for i in surfaced):
        raise ValidationError("already_surfaced must be a list of memory ids", field="already_surfaced")
    selector_fields = {key: body.get(key) for key in SELECTOR_FIELDS}
    if not selector_fields.get("scope"):
        selector_fields["scope"] = None
    return SearchRequest(
        query_text=query,
        selector=resolve_selector(selector_fields),
        top_k=_bounded_int(body, "top_k", recall.top_k, MAX_EXPLICIT_TOP_K if mode == EXPLICIT else MAX_TOP_K),
        raw_candidates=_bounded_int(body, "raw_candidates", recall.raw_candidates, MAX_RAW_CANDIDATES),
        session_id=_text(body, "session_id", limit=200, one_line=True),
        turn_seq=turn_seq,
        context_hint=_text(body, "context_hint", limit=4_000),
        mode=mode,
        allow_trivial_query=flag(body, "allow_trivial_query"),
        already_surfaced=list(surfaced),
        include_already_surfaced=bool(body.get("include_already_surfaced", recall.include_already_surfaced)),
        include_system=bool(body.get("include_system", recall.include_system)),
        query_truncated=truncated,
    )


def _cut(text: str, limit: int) -> str:
    """The first `limit` characters, ending at a word boundary when one is
    near (a half word would only add a term nothing holds)."""
    head = text[:limit]
    if not text[limit].isspace():
        space = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        if space > limit - 100:
            head = head[:space]
    return head.rstrip()


DREAM_TRIGGER_FIELDS = frozenset({*SELECTOR_FIELDS, "selector", "force", "dry_run"})


def dream_trigger(body: Mapping[str, Any]) -> tuple[Selector, bool, bool]:
    """(scope, force, dry_run) of a dream trigger. The scope is given as
    top-level selector fields or as a `selector` object; none is global."""
    check_fields(body, DREAM_TRIGGER_FIELDS)
    fields: Mapping[str, Any] = body
    nested = body.get("selector")
    if nested is not None:
        if not isinstance(nested, dict):
            raise ValidationError('selector must be an object, e.g. {"workspace_id": "ws_…"}', field="selector")
        if has_selector_fields(body):
            raise ValidationError("give the scope as `selector` or as top-level fields, not both", field="selector")
        check_fields(nested, frozenset(SELECTOR_FIELDS))
        fields = nested
    selector = resolve_selector({key: fields.get(key) for key in SELECTOR_FIELDS})
    return selector, flag(body, "force"), flag(body, "dry_run")


# --- sessions ------------------------------------------------------------------

# Sequences are stored and compared as SQLite integers (signed 64-bit).
MAX_SEQUENCE = 2**63 - 1


@dataclass
class SessionAppend:
    """`POST …/sessions/{sid}/events`."""

    events: list[Event]
    parent_session_id: str | None = None
    root_session_id: str | None = None


def session_append(body: Mapping[str, Any]) -> SessionAppend:
    check_fields(body, frozenset({"events", "parent_session_id", "root_session_id"}))
    lineage = {}
    for name in ("parent_session_id", "root_session_id"):
        value = body.get(name)
        lineage[name] = check_session_id(value, field=name) if value is not None else None
    return SessionAppend(_events(body.get("events")), **lineage)


def _events(raw: Any) -> list[Event]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError("events must be a non-empty list", field="events")
    if len(raw) > MAX_EVENTS_PER_CALL:
        raise ValidationError(f"at most {MAX_EVENTS_PER_CALL} events per call", field="events")
    events = []
    for index, item in enumerate(raw):
        where = f"events[{index}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{where} must be an object", field=where)
        check_fields(item, frozenset({"sequence", "event_type", "emitted_at", "payload"}))
        sequence = item.get("sequence")
        if not isinstance(sequence, int) or isinstance(sequence, bool) or not 1 <= sequence <= MAX_SEQUENCE:
            raise ValidationError(f"{where}.sequence must be a whole number from 1 to 2^63-1", field=f"{where}.sequence")
        event_type = item.get("event_type")
        if not isinstance(event_type, str) or not EVENT_TYPE_RE.match(event_type):
            raise ValidationError(f"{where}.event_type must be a lower-case name such as message or session.stopped", field=f"{where}.event_type")
        payload = item.get("payload", {})
        if not isinstance(payload, dict):
            raise ValidationError(f"{where}.payload must be an object", field=f"{where}.payload")
        if event_type == "message":
            if payload.get("role") not in ROLES or not isinstance(payload.get("content"), str):
                raise ValidationError(
                    f"{where}.payload of a message needs role ({', '.join(ROLES)}) and content (a string)",
                    field=f"{where}.payload",
                )
        emitted = item.get("emitted_at")
        events.append(Event(sequence, event_type, None if emitted is None else timestamp(emitted, f"{where}.emitted_at"), payload))
    return events



def replay_options(body: Mapping[str, Any]) -> dict[str, Any]:
    """`POST …/replay`: keyword arguments for `MemoryService.replay_session`."""
    check_fields(body, frozenset({"include_tools", "include_memory", "after_sequence"}))
    after = body.get("after_sequence", 0)
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_SEQUENCE:
        raise ValidationError(f"after_sequence must be a whole number from 0 to {MAX_SEQUENCE}", field="after_sequence")
    return {"include_tools": flag(body, "include_tools"), "include_memory": flag(body, "include_memory"), "after_sequence": after}


MAX_PRUNE_HOURS = 24 * 365 * 100


def prune_options(body: Mapping[str, Any]) -> tuple[float, bool]:
    """`POST /api/memory/sessions/prune`: (older_than_hours, dry_run)."""
    check_fields(body, frozenset({"older_than_hours", "dry_run"}))
    hours = body.get("older_than_hours")
    if (
        not isinstance(hours, (int, float))
        or isinstance(hours, bool)
        or not math.isfinite(hours)
        or not 0 <= hours <= MAX_PRUNE_HOURS
    ):
        raise ValidationError(f"older_than_hours must be a number from 0 to {MAX_PRUNE_HOURS}", field="older_than_hours")
    return float(hours), flag(body, "dry_run")

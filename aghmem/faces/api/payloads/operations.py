"""Payloads of the daemon's operations: session events, replay and prune;
the extractor's retry and drain; choosing a provider."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from ....errors import ValidationError
from ....features.sessions import EVENT_TYPE_RE, MAX_EVENTS_PER_CALL, ROLES, Event, check_session_id

if TYPE_CHECKING:
    pass
from .fields import check_fields, flag, timestamp

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
        if not isinstance(event_type, str) or not EVENT_TYPE_RE.fullmatch(event_type):
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


# --- extractor and providers --------------------------------------------------

MAX_DRAIN_SECONDS = 300


def retry_ids(body: Mapping[str, Any]) -> list[str] | None:
    """`POST …/extractor/retry`: the failure ids to retry (None: all)."""
    ids = body.get("ids")
    if set(body) - {"ids"} or (ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids))):
        raise ValidationError("retry takes ids: a list of failure ids (none: all)", field="ids")
    return ids


def drain_timeout(body: Mapping[str, Any]) -> float:
    timeout = body.get("timeout_seconds", 60)
    if (
        set(body) - {"timeout_seconds"}
        or not isinstance(timeout, (int, float))
        or isinstance(timeout, bool)
        or not 0 <= timeout <= MAX_DRAIN_SECONDS
    ):
        raise ValidationError(f"drain takes timeout_seconds: a number from 0 to {MAX_DRAIN_SECONDS}", field="timeout_seconds")
    return float(timeout)


def provider_name(body: Mapping[str, Any]) -> str:
    """`POST /api/memory/providers/select`."""
    name = body.get("name")
    if set(body) - {"name"}:
        raise ValidationError("select takes only name", field="name")
    if not isinstance(name, str):
        raise ValidationError("name must be a provider name (local or llm)", field="name")
    return name

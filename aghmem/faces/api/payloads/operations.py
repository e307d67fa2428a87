"""Payloads of the daemon's operations: session events, replay and prune;
the extractor's retry and drain; choosing a provider; reindex, and the
routes that take no body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ....errors import ValidationError
from ....features.sessions import EVENT_TYPE_RE, MAX_EVENTS_PER_CALL, ROLES, SESSION_ID_RE, Event, check_session_id
from ....model import Selector, has_selector_fields, resolve_selector
from .fields import DRY_RUN, SELECTOR, STAMP, core, timestamp
from .spec import MAX_INT, Body, Field

# --- sessions ------------------------------------------------------------------

SESSION_ID = Field(
    "string", "A session id", pattern=f"(?!.*\\.\\.)(?:{core(SESSION_ID_RE)})",
    checker=lambda value, name: check_session_id(value, field=name),
)
EVENT = Field("object", body=Body({
    "sequence": Field("integer", "The event's place in the session (events already there are skipped)", required=True,
                      minimum=1, maximum=MAX_INT),
    "event_type": Field("string", "message, tool, session.stopped…", required=True, pattern=core(EVENT_TYPE_RE),
                        hint="event_type must be a lower-case name such as message or session.stopped"),
    "emitted_at": STAMP.but(description="When the runtime emitted it"),
    "payload": Field("object", "A message's is {role, content}", body=Body(open=True)),
}))
SESSION_APPEND_BODY = Body({
    "events": Field("array", "The events, in order", required=True, items=EVENT, min_items=1, max_items=MAX_EVENTS_PER_CALL,
                    missing="events must be a non-empty list"),
    "parent_session_id": SESSION_ID.but(description="The session that spawned this one"),
    "root_session_id": SESSION_ID.but(description="The first session of the tree"),
}, description="Events a runtime appends to a session's ledger", example={"events": [
    {"sequence": 1, "event_type": "message", "payload": {"role": "user", "content": "I prefer tabs over spaces."}},
]})


@dataclass
class SessionAppend:
    """`POST …/sessions/{sid}/events`."""

    events: list[Event]
    parent_session_id: str | None = None
    root_session_id: str | None = None


def session_append(body: Mapping[str, Any]) -> SessionAppend:
    SESSION_APPEND_BODY.check(body)
    events = []
    for index, item in enumerate(body["events"]):
        payload = item.get("payload") or {}
        if item["event_type"] == "message" and (payload.get("role") not in ROLES or not isinstance(payload.get("content"), str)):
            where = f"events[{index}].payload"
            raise ValidationError(f"{where} of a message needs role ({', '.join(ROLES)}) and content (a string)", field=where)
        emitted = item.get("emitted_at")
        stamped = None if emitted is None else timestamp(emitted, f"events[{index}].emitted_at")
        events.append(Event(item["sequence"], item["event_type"], stamped, payload))
    return SessionAppend(events, body.get("parent_session_id"), body.get("root_session_id"))


REPLAY_BODY = Body({
    "include_tools": Field("boolean", "Tool events too"),
    "include_memory": Field("boolean", "Memory events (recalls, writes) too"),
    "after_sequence": Field("integer", "Only events after this one", minimum=0, maximum=MAX_INT),
}, description="Which events to replay")


def replay_options(body: Mapping[str, Any]) -> dict[str, Any]:
    """`POST …/replay`: keyword arguments for `MemoryService.replay_session`."""
    REPLAY_BODY.check(body)
    return {
        "include_tools": bool(body.get("include_tools")),
        "include_memory": bool(body.get("include_memory")),
        "after_sequence": body.get("after_sequence") or 0,
    }


MAX_PRUNE_HOURS = 24 * 365 * 100
PRUNE_BODY = Body({
    "older_than_hours": Field("number", "Sessions idle for longer than this", required=True, minimum=0, maximum=MAX_PRUNE_HOURS,
                              hint=f"older_than_hours must be a number from 0 to {MAX_PRUNE_HOURS}"),
    "dry_run": DRY_RUN,
}, example={"older_than_hours": 720, "dry_run": True})


def prune_options(body: Mapping[str, Any]) -> tuple[float, bool]:
    """`POST /api/memory/sessions/prune`: (older_than_hours, dry_run)."""
    PRUNE_BODY.check(body)
    return float(body["older_than_hours"]), bool(body.get("dry_run"))


# --- extractor and providers --------------------------------------------------

MAX_DRAIN_SECONDS = 300
RETRY_BODY = Body({
    "ids": Field("array", "The failures to retry (none: all)", items=Field("string", max_length=400),
                 hint="retry takes ids: a list of failure ids (none: all)"),
})
DRAIN_BODY = Body({
    "timeout_seconds": Field("number", "How long to wait at most", minimum=0, maximum=MAX_DRAIN_SECONDS,
                             hint=f"drain takes timeout_seconds: a number from 0 to {MAX_DRAIN_SECONDS}"),
})
PROVIDERS = ("local", "llm")
SELECT_BODY = Body({"name": Field("string", "A provider", required=True, enum=PROVIDERS,
                                  missing="name must be a provider name (local or llm)")}, example={"name": "local"})


def retry_ids(body: Mapping[str, Any]) -> list[str] | None:
    """`POST …/extractor/retry`: the failure ids to retry (None: all)."""
    return RETRY_BODY.check(body).get("ids")


def drain_timeout(body: Mapping[str, Any]) -> float:
    timeout = DRAIN_BODY.check(body).get("timeout_seconds")
    return 60.0 if timeout is None else float(timeout)


def provider_name(body: Mapping[str, Any]) -> str:
    """`POST /api/memory/providers/select`."""
    return SELECT_BODY.check(body)["name"]


# --- the daemon's own -----------------------------------------------------------

NO_BODY = Body(description="Nothing to send (an empty object, or no body at all)")
REINDEX_BODY = Body(dict(SELECTOR), description="A scope to reindex (its visible scopes); none: everything")


def no_body(body: Mapping[str, Any]) -> None:
    NO_BODY.check(body)


def reindex_selector(body: Mapping[str, Any]) -> Selector | None:
    REINDEX_BODY.check(body)
    return resolve_selector(body) if has_selector_fields(body) else None

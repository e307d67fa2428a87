"""Payloads that write memories: POST/PATCH/DELETE /api/memory, ad-hoc
notes, promote, reset, and the decision log's filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ....controller.rules import Candidate
from ....errors import ValidationError
from ....model import SELECTOR_FIELDS, MemoryType, Op, Selector, has_selector_fields, parse_type, resolve_selector
from ....storage.files import check_filename
from .fields import MAX_DESCRIPTION, MAX_KEY, MAX_NAME, check_fields, flag, query_flag, text, texts, timestamp

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
    return text(body, "origin", limit=32, one_line=True) or default


# The text fields every write may carry: (limit, single line).
COMMON_TEXT: dict[str, tuple[int | None, bool]] = {
    "name": (MAX_NAME, True),
    "description": (MAX_DESCRIPTION, False),
    "content": (None, False),
    "entity": (MAX_KEY, True),
    "attribute": (MAX_KEY, True),
    "idempotency_key": (MAX_KEY, True),
}


def _common(body: Mapping[str, Any]) -> dict[str, Any]:
    fields = texts(body, COMMON_TEXT)
    fields["body"] = fields.pop("content")
    fields.update(tags=_tags(body), provenance=_provenance(body), metadata=_metadata(body), dry_run=flag(body, "dry_run"))
    return fields


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
        idempotency_key=text(body, "idempotency_key", limit=MAX_KEY, one_line=True),
        dry_run=flag(body, "dry_run") or query_flag(query, "dry_run"),
        if_match=if_match,
    )


def ad_hoc_candidate(body: Mapping[str, Any], *, default_origin: str = "http") -> Candidate:
    """`POST /api/memory/ad-hoc`: a quick note; name and type are inferred."""
    check_fields(body, AD_HOC_FIELDS)
    content = text(body, "content")
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
        idempotency_key=text(body, "idempotency_key", limit=MAX_KEY, one_line=True),
        dry_run=flag(body, "dry_run"),
    )


def selector_from(body: Mapping[str, Any], query: Mapping[str, Any]) -> Selector:
    """The selector of a request that names one memory: body, else query."""
    source = body if has_selector_fields(body) else query
    return resolve_selector({key: source.get(key) for key in SELECTOR_FIELDS})


# --- promote, reset, decisions ------------------------------------------------


@dataclass
class Promotion:
    """`POST /api/memory/promote`."""

    filename: str
    source: Selector
    target: Selector
    dry_run: bool = False
    idempotency_key: str | None = None


def promotion(body: Mapping[str, Any]) -> Promotion:
    check_fields(body, frozenset({"filename", "from", "to", "dry_run", "idempotency_key"}))
    filename = check_filename(body.get("filename"))
    scopes = []
    for side in ("from", "to"):
        fields = body.get(side)
        if not isinstance(fields, dict):
            raise ValidationError(f'{side} must be a selector object, e.g. {{"scope": "global"}}', field=side)
        check_fields(fields, frozenset(SELECTOR_FIELDS))
        scopes.append(resolve_selector(fields))
    return Promotion(
        filename,
        scopes[0],
        scopes[1],
        dry_run=flag(body, "dry_run"),
        idempotency_key=text(body, "idempotency_key", limit=MAX_KEY, one_line=True),
    )


def reset_request(body: Mapping[str, Any]) -> None:
    """`POST /api/memory/reset` must say it knows what it asks for."""
    check_fields(body, frozenset({"confirm", "derived_only"}))
    if body.get("confirm") is not True or body.get("derived_only") is not True:
        raise ValidationError("reset needs confirm: true and derived_only: true (only derived state can be reset)")


def decision_op(value: str | None) -> Op | None:
    if not value:
        return None
    try:
        return Op(value)
    except ValueError:
        raise ValidationError(f"op must be one of: {', '.join(o.value for o in Op)}", field="op") from None


def since(value: str | None) -> str | None:
    """A `since` filter as stored (ISO 8601, UTC, milliseconds)."""
    return timestamp(value, "since") if value else None

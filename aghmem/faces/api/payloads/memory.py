"""Payloads that write memories: POST/PATCH/DELETE /api/memory, ad-hoc
notes, promote, reset, and the decision log's filters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from ....controller.rules import Candidate
from ....errors import ValidationError
from ....model import SELECTOR_FIELDS, MemoryType, Op, Selector, has_selector_fields, parse_type, resolve_selector
from ....storage.filenames import FILENAME_RE, INDEX_FILENAME, check_filename
from .fields import (
    DRY_RUN,
    EXAMPLE_WORKSPACE,
    IDEMPOTENCY_KEY,
    MAX_DESCRIPTION,
    MAX_KEY,
    MAX_NAME,
    ORIGIN,
    SELECTOR,
    SELECTOR_BODY,
    core,
    query_flag,
    timestamp,
)
from .spec import Body, Field

# --- what a memory write may carry ---------------------------------------------

MEMORY_TYPES = tuple(t.value for t in MemoryType)
TYPE = Field("string", "Memory type", enum=MEMORY_TYPES)
NAME = Field("string", "A short title (one line)", max_length=MAX_NAME, one_line=True)
DESCRIPTION = Field("string", "What the memory is for", max_length=MAX_DESCRIPTION)
CONTENT = Field("string", "The memory's text (markdown); the file limits apply (413 past them)", not_blank=True)
# Client-chosen names: no `_system…` (system-managed), not MEMORY.md (the index), no `..`.
FILENAME_PATTERN = f"(?!{re.escape(INDEX_FILENAME)}$)(?!.*\\.\\.)" + core(FILENAME_RE)
EXAMPLE_FILENAME = "user_prefers_small_commits.md"
FILENAME = Field(
    "string", "The memory's file name", pattern=FILENAME_PATTERN, checker=lambda value, _: check_filename(value),
    example=EXAMPLE_FILENAME,
)
SLOT = Field("string", max_length=MAX_KEY, one_line=True)
TAGS = Field(
    "array", "Labels", items=Field("string", min_length=1, max_length=64),
    hint="tags must be a list of non-empty strings (≤ 64 characters each)",
)
SESSION_IDS = Field("array", "Sessions the memory came from", items=Field("string", max_length=MAX_KEY))
PROVENANCE = Field("object", "Where the memory came from", body=Body({
    "source_sessions": SESSION_IDS,
    "source_session_ids": SESSION_IDS.but(description="The same as source_sessions"),
    "confidence": Field(("string", "number"), "How sure the source is (high, or a number)", max_length=MAX_KEY),
    "source_actor": Field("string", "Ignored: the origin is the actor", max_length=MAX_KEY),
}))
METADATA = Field("object", "Free-form data kept in the frontmatter", body=Body(open=True))

_MEMORY_FIELDS = {
    "type": TYPE, "name": NAME, "description": DESCRIPTION, "content": CONTENT, "filename": FILENAME,
    "entity": SLOT.but(description="What the memory is about (with attribute: one memory per slot)"),
    "attribute": SLOT.but(description="Which fact about the entity"),
    "tags": TAGS, "provenance": PROVENANCE, "metadata": METADATA,
    "origin": ORIGIN, "idempotency_key": IDEMPOTENCY_KEY, "dry_run": DRY_RUN,
}
WRITE_BODY = Body({
    **SELECTOR, **_MEMORY_FIELDS,
    "type": TYPE.but(required=True, missing="type is required (user, feedback, project or reference)"),
    "content": CONTENT.but(required=True, missing="content is required and must not be blank",
                           hint="content is required and must not be blank"),
}, description="A memory to create, or to update (the one its filename or slot names)",
   example={"type": "user", "name": "Prefers small commits", "content": "The user prefers small, focused commits."})
PATCH_BODY = Body(
    {**SELECTOR, **_MEMORY_FIELDS}, description="The fields to change (at least one)",
    example={"content": "The user prefers small commits with clear messages."},
).without("filename")
DELETE_BODY = Body({**SELECTOR, "origin": ORIGIN, "idempotency_key": IDEMPOTENCY_KEY, "dry_run": DRY_RUN})
AD_HOC_BODY = Body({
    **SELECTOR, "type": TYPE, "origin": ORIGIN, "idempotency_key": IDEMPOTENCY_KEY, "dry_run": DRY_RUN,
    "content": CONTENT.but(required=True, missing="content is required and must not be blank",
                           hint="content is required and must not be blank"),
}, description="A quick note: its name (its first words) and type are inferred",
   example={"content": "Staging is reset every Monday at 6am."})
PATCHABLE = ("type", "name", "description", "content", "entity", "attribute", "tags", "metadata")
MEMORY_FIELDS = frozenset(WRITE_BODY.fields)  # the names a write takes (the CLI's docs list them)


def _provenance(body: Mapping[str, Any]) -> dict[str, Any] | None:
    value = body.get("provenance")
    if value is None:
        return None
    sessions = value.get("source_sessions", value.get("source_session_ids"))
    return {"source_sessions": sessions or [], "confidence": value.get("confidence")}


def _common(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields every write may carry, from a body already checked."""
    tags = body.get("tags")
    return {
        **{key: body.get(key) for key in ("name", "description", "entity", "attribute", "idempotency_key")},
        "body": body.get("content"),
        "tags": list(dict.fromkeys(tags)) if tags is not None else None,
        "provenance": _provenance(body),
        "metadata": body.get("metadata"),
        "dry_run": bool(body.get("dry_run")),
    }


def _origin(body: Mapping[str, Any], default: str) -> str:
    return body.get("origin") or default


def write_candidate(body: Mapping[str, Any], *, default_origin: str = "http") -> Candidate:
    """`POST /api/memory`: create a memory, or update the one it names."""
    WRITE_BODY.check(body)
    memory_type = parse_type(body["type"])
    selector = resolve_selector(body, memory_type if not has_selector_fields(body) else None)
    return Candidate(
        selector=selector,
        origin=_origin(body, default_origin),
        filename=body.get("filename"),
        type=memory_type,
        **_common(body),
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
    PATCH_BODY.check(body)
    if not any(key in body for key in PATCHABLE):
        raise ValidationError(f"nothing to change: give at least one of {', '.join(PATCHABLE)}")
    memory_type: MemoryType | None = parse_type(body["type"]) if body.get("type") is not None else None
    return Candidate(
        selector=selector_from(body, query),
        origin=_origin(body, default_origin),
        filename=check_filename(filename, system=True),
        type=memory_type,
        if_match=if_match,
        patch=True,
        **_common(body),
    )


def delete_candidate(
    filename: str,
    body: Mapping[str, Any],
    query: Mapping[str, Any],
    *,
    if_match: str | None,
    default_origin: str = "http",
) -> Candidate:
    DELETE_BODY.check(body)
    return Candidate(
        selector=selector_from(body, query),
        origin=_origin(body, default_origin),
        delete=True,
        filename=check_filename(filename, system=True),
        idempotency_key=body.get("idempotency_key"),
        dry_run=bool(body.get("dry_run")) or query_flag(query, "dry_run"),
        if_match=if_match,
    )


def ad_hoc_candidate(body: Mapping[str, Any], *, default_origin: str = "http") -> Candidate:
    """`POST /api/memory/ad-hoc`: a quick note; name and type are inferred."""
    AD_HOC_BODY.check(body)
    content: str = body["content"]
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
        idempotency_key=body.get("idempotency_key"),
        dry_run=bool(body.get("dry_run")),
    )


def selector_from(body: Mapping[str, Any], query: Mapping[str, Any]) -> Selector:
    """The selector of a request that names one memory: body, else query
    (whose values are held to their form either way)."""
    given = {key: query.get(key) for key in SELECTOR_FIELDS}
    SELECTOR_BODY.check(given)
    source = body if has_selector_fields(body) else given
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


SELECTOR_OBJECT = Field("object", body=SELECTOR_BODY, required=True)
PROMOTE_BODY = Body({
    "filename": FILENAME.but(required=True),
    "from": SELECTOR_OBJECT.but(description="The scope the memory is in", missing='from must be a selector object, e.g. {"scope": "global"}'),
    "to": SELECTOR_OBJECT.but(description="The scope to copy it to", missing='to must be a selector object, e.g. {"scope": "global"}'),
    "dry_run": DRY_RUN,
    "idempotency_key": IDEMPOTENCY_KEY,
}, description="Copy a memory into another scope", example={
    "filename": EXAMPLE_FILENAME, "from": {"scope": "global"}, "to": {"workspace_id": EXAMPLE_WORKSPACE},
})


def promotion(body: Mapping[str, Any]) -> Promotion:
    PROMOTE_BODY.check(body)
    return Promotion(
        body["filename"],
        resolve_selector(body["from"]),
        resolve_selector(body["to"]),
        dry_run=bool(body.get("dry_run")),
        idempotency_key=body.get("idempotency_key"),
    )


_RESET_HINT = "reset needs confirm: true and derived_only: true (only derived state can be reset)"
_YES = Field("boolean", required=True, enum=(True,), missing=_RESET_HINT, hint=_RESET_HINT)
RESET_BODY = Body({
    "confirm": _YES.but(description="Yes, rebuild the derived state"),
    "derived_only": _YES.but(description="Only derived state (the catalog, the index) is reset; files and history stay"),
}, example={"confirm": True, "derived_only": True})


def reset_request(body: Mapping[str, Any]) -> None:
    """`POST /api/memory/reset` must say it knows what it asks for."""
    RESET_BODY.check(body)


REVERT_BODY = Body({"dry_run": DRY_RUN}, description="Undo an applied decision")


def revert_options(body: Mapping[str, Any]) -> bool:
    """`POST …/decisions/{id}/revert`: whether it is a dry run."""
    return bool(REVERT_BODY.check(body).get("dry_run"))


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

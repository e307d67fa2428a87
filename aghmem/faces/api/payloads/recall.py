"""Payloads of recall and dreaming: POST /api/memory/search and
/api/memory/dreams/trigger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ....errors import ValidationError
from ....model import SELECTOR_FIELDS, Selector, has_selector_fields, resolve_selector

if TYPE_CHECKING:
    from ....features.recall import SearchRequest
from .fields import bounded_int, check_fields, flag, text

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


def search_request(body: Mapping[str, Any], recall: Any) -> "SearchRequest":
    """`POST /api/memory/search`.

    `mode` is `explicit` (the default: someone asked, e.g. the CLI or a plain
    HTTP call; a lone word is searched, top_k up to 50) or `implicit` (a
    runtime's per-turn recall: trivial messages are skipped, top_k up to
    20). `explicit: true` is the older spelling of `mode: "explicit"`. A
    query over MAX_QUERY_CHARS is cut at a word boundary (`query_truncated`).
    """
    from ....features.recall import EXPLICIT, IMPLICIT, MODES, SearchRequest

    check_fields(body, SEARCH_FIELDS)
    query = text(body, "query_text") if "query_text" in body else text(body, "query")
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
        top_k=bounded_int(body, "top_k", recall.top_k, MAX_EXPLICIT_TOP_K if mode == EXPLICIT else MAX_TOP_K),
        raw_candidates=bounded_int(body, "raw_candidates", recall.raw_candidates, MAX_RAW_CANDIDATES),
        session_id=text(body, "session_id", limit=200, one_line=True),
        turn_seq=turn_seq,
        context_hint=text(body, "context_hint", limit=4_000),
        mode=mode,
        allow_trivial_query=flag(body, "allow_trivial_query"),
        already_surfaced=list(surfaced),
        include_already_surfaced=bool(body.get("include_already_surfaced", recall.include_already_surfaced)),
        include_system=bool(body.get("include_system", recall.include_system)),
        query_truncated=truncated,
    )


def _cut(query: str, limit: int) -> str:
    """The first `limit` characters, ending at a word boundary when one is
    near (a half word would only add a term nothing holds)."""
    head = query[:limit]
    if not query[limit].isspace():
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

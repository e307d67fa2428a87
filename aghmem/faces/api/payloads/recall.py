"""Payloads of recall and dreaming: POST /api/memory/search and
/api/memory/dreams/trigger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ....errors import ValidationError
from ....model import SELECTOR_FIELDS, Selector, has_selector_fields, resolve_selector
from .fields import SELECTOR, SELECTOR_BODY, bounded_int
from .spec import MAX_INT, Body, Field

if TYPE_CHECKING:
    from ....features.recall import SearchRequest

MAX_TOP_K = 20
MAX_EXPLICIT_TOP_K = 50
MAX_RAW_CANDIDATES = 200
# Runtimes send whole user messages: a longer query is cut here, not refused.
MAX_QUERY_CHARS = 4_000
MODES = ("explicit", "implicit")  # as features.recall names them

QUERY = Field("string", f"What to recall (cut at {MAX_QUERY_CHARS} characters)", not_blank=True, hint="query_text is required")
SEARCH_BODY = Body({
    **SELECTOR,
    "query_text": QUERY,
    "query": QUERY.but(description="The older name of query_text"),
    "context_hint": Field("string", "What the agent is doing (helps ranking)", max_length=4_000),
    "session_id": Field("string", "The session recalling (its trace and signals are kept)", max_length=200, one_line=True),
    "turn_seq": Field("integer", "The session's turn", minimum=0, maximum=MAX_INT),
    "top_k": Field("integer", f"How many memories (at most {MAX_TOP_K} in implicit mode)", minimum=1, maximum=MAX_EXPLICIT_TOP_K),
    "raw_candidates": Field("integer", "How many candidates to rank", minimum=1, maximum=MAX_RAW_CANDIDATES),
    "allow_trivial_query": Field("boolean", "Recall even for a message like 'ok thanks'"),
    "already_surfaced": Field("array", "Memory ids the agent has already seen", items=Field("string", max_length=200)),
    "include_already_surfaced": Field("boolean", "Show those again"),
    "include_system": Field("boolean", "Include system-managed memories"),
    "explicit": Field("boolean", "The older spelling of mode: explicit"),
    "mode": Field("string", "explicit: someone searching; implicit: a runtime's recall for a turn", enum=MODES,
                  hint="mode must be explicit (someone searching) or implicit (recall for a turn)"),
}, any_of_required=("query_text", "query"), description="A recall query", example={"query_text": "commit style"})
SEARCH_FIELDS = frozenset(SEARCH_BODY.fields)


def search_request(body: Mapping[str, Any], recall: Any) -> "SearchRequest":
    """`POST /api/memory/search`.

    `mode` is `explicit` (the default: someone asked, e.g. the CLI or a plain
    HTTP call; a lone word is searched, top_k up to 50) or `implicit` (a
    runtime's per-turn recall: trivial messages are skipped, top_k up to
    20). `explicit: true` is the older spelling of `mode: "explicit"`. A
    query over MAX_QUERY_CHARS is cut at a word boundary (`query_truncated`).
    """
    from ....features.recall import EXPLICIT, IMPLICIT, SearchRequest

    SEARCH_BODY.check(body)
    query: str = body["query_text"] if body.get("query_text") is not None else body["query"]
    truncated = len(query) > MAX_QUERY_CHARS
    if truncated:
        query = _cut(query, MAX_QUERY_CHARS)
    mode = body.get("mode") or (IMPLICIT if body.get("explicit") is False else EXPLICIT)
    if body.get("explicit") is True and mode != EXPLICIT:
        raise ValidationError("explicit: true contradicts mode: implicit", field="explicit")
    selector_fields = {key: body.get(key) for key in SELECTOR_FIELDS}
    if not selector_fields.get("scope"):
        selector_fields["scope"] = None
    return SearchRequest(
        query_text=query,
        selector=resolve_selector(selector_fields),
        top_k=bounded_int(body, "top_k", recall.top_k, MAX_EXPLICIT_TOP_K if mode == EXPLICIT else MAX_TOP_K),
        raw_candidates=body.get("raw_candidates") or recall.raw_candidates,
        session_id=body.get("session_id"),
        turn_seq=body.get("turn_seq"),
        context_hint=body.get("context_hint"),
        mode=mode,
        allow_trivial_query=bool(body.get("allow_trivial_query")),
        already_surfaced=list(body.get("already_surfaced") or []),
        include_already_surfaced=_choice(body, "include_already_surfaced", recall.include_already_surfaced),
        include_system=_choice(body, "include_system", recall.include_system),
        query_truncated=truncated,
    )


def _choice(body: Mapping[str, Any], key: str, default: bool) -> bool:
    value = body.get(key)
    return default if value is None else value


def _cut(query: str, limit: int) -> str:
    """The first `limit` characters, ending at a word boundary when one is
    near (a half word would only add a term nothing holds)."""
    head = query[:limit]
    if not query[limit].isspace():
        space = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        if space > limit - 100:
            head = head[:space]
    return head.rstrip()


DREAM_TRIGGER_BODY = Body({
    **SELECTOR,
    "selector": Field("object", "The scope, as one object (or give its fields at the top level)", body=SELECTOR_BODY,
                      hint='selector must be an object, e.g. {"workspace_id": "ws_…"}'),
    "force": Field("boolean", "Skip the time and session gates (not the signals gate)"),
    "dry_run": Field("boolean", "Score the candidates and change nothing"),
}, description="Run a dream now; no scope is global", example={"dry_run": True})
DREAM_TRIGGER_FIELDS = frozenset(DREAM_TRIGGER_BODY.fields)


def dream_trigger(body: Mapping[str, Any]) -> tuple[Selector, bool, bool]:
    """(scope, force, dry_run) of a dream trigger. The scope is given as
    top-level selector fields or as a `selector` object; none is global."""
    DREAM_TRIGGER_BODY.check(body)
    fields: Mapping[str, Any] = body
    nested = body.get("selector")
    if nested is not None:
        if has_selector_fields(body):
            raise ValidationError("give the scope as `selector` or as top-level fields, not both", field="selector")
        fields = nested
    selector = resolve_selector({key: fields.get(key) for key in SELECTOR_FIELDS})
    return selector, bool(body.get("force")), bool(body.get("dry_run"))

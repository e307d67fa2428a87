"""What the routes answer, as JSON Schema: the shapes of seed 004 (every key
it shows is required, with its type), and what this daemon adds (optional).

A value is nullable only where the thing it names may not exist: the scope
coordinates a scope does not have, an event that has not happened, an
optional link or annotation. tests/test_seed_contract.py checks the seed's
examples against these shapes and the daemon's answers against the seed;
the OpenAPI fuzz test checks the daemon's answers against these shapes.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from ...config import Config
from ...model import MemoryType, Op, Scope, Tier

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
STAMP: Schema = {"type": "string", "format": "date-time"}
ANY_OBJECT: Schema = {"type": "object"}


def null(schema: Schema) -> Schema:
    """`schema`, or null: the thing may not exist."""
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def one_of(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None, **extra: Any) -> Schema:
    """An object with these keys (`required` always present); other keys may follow."""
    return {"type": "object", "required": list(required), "properties": {**required, **(optional or {})}, **extra}


def mapping(values: Schema) -> Schema:
    return {"type": "object", "additionalProperties": values}


SELECTOR: dict[str, Schema] = {
    "scope": one_of(*(s.value for s in Scope)),
    "workspace_id": null(STR),
    "agent_name": null(STR),
    "agent_tier": null(one_of(*(t.value for t in Tier))),
}
MEMORY_TYPE = one_of(*(t.value for t in MemoryType))

MEMORY_SUMMARY = obj(
    {
        **SELECTOR, "content_hash": STR, "created_at": STR, "description": STR, "filename": STR, "injection": BOOL,
        "last_recalled_at": null(STR), "mod_time": STAMP, "name": STR, "recall_count": INT, "staleness_banner": null(STR),
        "superseded_by": null(STR), "system_managed": BOOL, "type": MEMORY_TYPE, "updated_at": STR,
    },
    {"id": STR, "entity": null(STR), "attribute": null(STR)},
)
PROVENANCE = obj({
    "confidence": null(STR), "created_at": STR, "source_actor": STR, "source_session_ids": array(STR),
    "superseded_by": null(STR), "updated_at": STR,
})
FRONTMATTER = obj(
    {**SELECTOR, "description": STR, "filename": STR, "mod_time": STAMP, "name": STR, "provenance": ref("Provenance"),
     "type": MEMORY_TYPE},
    {"entity": null(STR), "attribute": null(STR), "tags": {"type": "array"}},
)
RULE_RESULT = obj({"details": null(STR), "name": STR, "passed": BOOL, "reason": STR, "target": null(STR)})
LLM_TRACE = obj({"error": null(STR), "latency_ms": INT, "model": null(STR), "prompt_version": null(STR)})
DECISION = obj(
    {
        **SELECTOR, "applied_at": null(STAMP), "candidate_hash": STR, "confidence": NUM, "decided_at": STAMP,
        "frontmatter": ref("Frontmatter"), "id": STR, "idempotency_key": STR, "llm_trace": null(ref("LlmTrace")),
        "op": one_of(*(o.value for o in Op)), "post_content_hash": null(STR), "prompt_version": null(STR), "reason": STR,
        "rule_trace": array(ref("RuleResult")), "source": STR, "target_filename": null(STR), "targets": array(STR),
    },
    {"origin": STR, "post_content": null(STR), "prior_content": null(STR), "reverts": null(STR), "status": STR},
)
GATE = obj({"ok": BOOL, "detail": STR})
DREAM = obj(
    {
        **SELECTOR, "artifact_paths": array(STR), "candidate_count": INT, "completed_at": null(STAMP),
        "failure_path": null(STR), "failure_reason": null(STR), "id": STR, "lock_until": null(STAMP),
        "promoted_count": INT, "started_at": STAMP, "status": one_of("idle", "running", "promoted", "skipped", "failed"),
    },
    {"trigger": STR, "forced": BOOL, "decision_id": null(STR), "reason": null(STR)},
)
# A scope that never dreamed has no run yet: no id, no start.
DREAM_STATUS = {
    "allOf": [
        {**DREAM, "properties": {**DREAM["properties"], "id": null(STR), "started_at": null(STAMP)}},
        obj({"gates": mapping(ref("Gate"))}, {"lock": null(ANY_OBJECT)}),
    ]
}
PROVIDER = obj(
    {
        "active": BOOL, "builtin": BOOL, "cooldown_until": null(STAMP), "failure_count": INT, "last_error_code": null(STR),
        "name": STR, "status": STR, "tools": array(STR),
    },
    {"enabled": BOOL, "model": null(STR), "base_url": null(STR)},
)
RECALL_ENTRY = obj(
    {
        "age_days": INT, "body": STR, "filename": STR, "id": STR, "mod_time": STAMP, "staleness_banner": null(STR),
        "title": STR, "type": MEMORY_TYPE, "why_recalled": array(STR), "workspace_id": null(STR),
    },
    {"truncated": BOOL},
)
RECALL = obj(
    {
        "blocks": array(obj({"agent_tier": null(STR), "entries": array(ref("RecallEntry")), "scope": STR})),
        "header": obj({"content_hash": STR, "text": STR}),
    },
    {"bytes": INT, "max_bytes": INT, "truncated": BOOL, "omitted": {"type": "array"}},
)
EVENT = obj({"emitted_at": STAMP, "event_type": STR, "payload": ANY_OBJECT, "sequence": INT})
SESSION_META = obj(
    {
        "checksum": STR, "created_at": STAMP, "parent_session_id": null(STR), "path": STR, "root_session_id": null(STR),
        "session_id": STR, "spawn_depth": INT, "stopped_at": null(STAMP), "version": INT, "workspace_id": null(STR),
    },
    {"updated_at": STAMP, "event_count": INT, "last_sequence": INT},
)
EXTRACTOR = obj(
    {
        **{name: INT for name in (
            "active_provider_sessions", "backpressured_sessions", "coalesced_turns", "dropped_turns", "failure_count",
            "in_flight_sessions", "queued_sessions", "skipped_turns",
        )},
        "status": one_of("idle", "running", "disabled"),
    },
    {"mode": STR, **{name: INT for name in (
        "refused_turns", "processed_jobs", "candidates", "applied", "llm_fallbacks", "bad_llm_lines",
    )}},
)
FAILURE = obj(
    {
        "agent_name": null(STR), "created_at": STAMP, "id": STR, "path": STR, "reason": STR, "session_id": STR,
        "workspace_id": null(STR),
    },
    {"error": STR, "failed_at": null(STAMP), "candidate_count": INT},
)
WORKSPACE = obj({"id": STR, "path": STR}, additionalProperties=True)
ERROR = obj(
    {"code": STR, "details": ANY_OBJECT, "message": STR},
    description="The error envelope: a stable code (memory.validation, memory.not_found…), a message, details",
)

COMPONENTS: dict[str, Schema] = {
    "Error": ERROR, "MemorySummary": MEMORY_SUMMARY, "Provenance": PROVENANCE, "Frontmatter": FRONTMATTER,
    "RuleResult": RULE_RESULT, "LlmTrace": LLM_TRACE, "Decision": DECISION, "Gate": GATE, "Dream": DREAM,
    "Provider": PROVIDER, "RecallEntry": RECALL_ENTRY, "Recall": RECALL, "Event": EVENT, "SessionMeta": SESSION_META,
    "Extractor": EXTRACTOR, "Failure": FAILURE, "Workspace": WORKSPACE,
}


def of_dataclass(kind: Any) -> Schema:
    """The JSON shape of a dataclass's `asdict`, from its type hints (the
    configuration's sections)."""
    hints = typing.get_type_hints(kind)
    return obj({f.name: _of_hint(hints[f.name]) for f in dataclasses.fields(kind)})


def _of_hint(hint: Any) -> Schema:
    if dataclasses.is_dataclass(hint):
        return of_dataclass(hint)
    origin = typing.get_origin(hint)
    if origin is list:
        return array(_of_hint(typing.get_args(hint)[0]))
    if origin is dict:
        return ANY_OBJECT
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return null(_of_hint(options[0])) if len(options) == 1 else {}
    return {bool: BOOL, int: INT, float: NUM, str: STR}.get(hint, {})


CONFIG = {"allOf": [of_dataclass(Config), obj({"global_dir": STR})]}


# --- the answers of the routes ---------------------------------------------------

NEXT_CURSOR = {"next_cursor": null(STR)}
OUTCOME = obj({"applied": BOOL, "decision": ref("Decision"), "dry_run": BOOL}, {"replay": BOOL})
AD_HOC = obj(
    {"accepted": BOOL, "created_at": STAMP, "path": null(STR)}, {"applied": BOOL, "decision": ref("Decision")},
)
MEMORY = obj({"memory": obj({"content": STR, "summary": ref("MemorySummary")})})
MEMORIES = obj({"memories": array(ref("MemorySummary"))}, NEXT_CURSOR)
DECISIONS = obj({"decisions": array(ref("Decision"))}, NEXT_CURSOR)
ONE_DECISION = obj({"decision": ref("Decision")})
REVERTED = obj({"decision": ref("Decision"), "dry_run": BOOL, "reverted": BOOL})
OPERATIONS = obj({"operations": array(obj(
    {**SELECTOR, "filename": null(STR), "id": STR, "operation": one_of("memory.write", "memory.update", "memory.delete"),
     "summary": STR, "timestamp": null(STAMP)},
    {"origin": STR},
))}, NEXT_CURSOR)

DREAMS = obj({"dreams": array(ref("Dream"))})
DREAMS_NOW = obj({"dreams": array(DREAM_STATUS)})
ONE_DREAM = obj({"dream": ref("Dream")})
TRIGGERED = obj(
    {"dream": null(ref("Dream")), "reason": STR, "triggered": BOOL},
    {"gates": mapping(ref("Gate")), "candidates": {"type": "array"}, "synthesis": null(ANY_OBJECT)},
)
RETRIED = obj({"dream": null(ref("Dream")), "retried": BOOL}, TRIGGERED["properties"])
DAILY = obj({"logs": array(obj({**SELECTOR, "date": STR, "operation_count": INT, "path": STR}, {"seq": INT, "bytes": INT}))})

RESULT = obj(
    {"already_shown": BOOL, "memory": ref("MemorySummary"), "score": NUM, "shadowed_by": null(STR), "snippet": STR,
     "why_recalled": array(STR)},
    {"evidence": NUM},
)
SEARCHED = obj(
    {"recall": ref("Recall"), "results": array(RESULT)},
    {"skipped_reason": null(STR), "note": null(STR), "query_truncated": BOOL, "index": ANY_OBJECT},
)
TRACE = obj({"trace": obj({
    "executed_at": STAMP,
    "options": obj({
        "allow_trivial_query": BOOL, "already_surfaced": array(STR), "include_already_surfaced": BOOL, "include_system": BOOL,
        "raw_candidates": INT, "top_k": INT,
    }, {"mode": STR}),
    "query": obj({"agent_name": null(STR), "context_hint": null(STR), "query_text": STR, "workspace_id": null(STR)}),
    "recall": ref("Recall"),
    "session_id": STR,
    "skipped_reason": null(STR),
    "turn_seq": INT,
})})
REINDEXED = obj({**SELECTOR, "completed_at": STAMP, "indexed_files": INT})
RESET = obj({"deleted_files": INT, "deleted_rows": INT, "derived_only": BOOL, "reset_at": STAMP})
RELOADED = obj({"generation": INT, "reloaded_at": STAMP}, {"needs_restart": array(STR)})

APPENDED = obj({"session_id": STR, "appended": INT, "skipped": INT, "meta": ref("SessionMeta")})
LEDGER = obj({"events": array(ref("Event")), "meta": ref("SessionMeta")})
REPLAYED = obj({"events": array(ref("Event")), "session_id": STR})
PRUNED = obj({"dry_run": BOOL, "pruned_events": INT, "pruned_sessions": INT})
REPAIRED = obj({"completed_at": STAMP, "repaired_ledgers": INT, "skipped_ledgers": INT}, {"problems": {"type": "array"}})

EXTRACTOR_STATUS = obj({"extractor": ref("Extractor")})
FAILURES = obj({"failures": array(ref("Failure"))})
EXTRACTION_RETRIED = obj({"failed": INT, "retried": INT}, {"ids": array(STR), "missing": array(STR)})
DRAINED = obj({"drained_at": STAMP, "remaining": INT}, {"drained": BOOL, "extractor": ref("Extractor")})
PROVIDERS = obj({"providers": array(ref("Provider"))})
ONE_PROVIDER = obj({"provider": ref("Provider")})
PROVIDER_CHANGED = obj({"changed": BOOL, "provider": ref("Provider")})

HEALTH = obj(
    {
        "configured": BOOL, "dream_agent": STR, "dream_check_interval": STR, "dream_enabled": BOOL, "dream_min_hours": NUM,
        "dream_min_sessions": INT, "enabled": BOOL, "global_dir": STR, "global_files": INT, "indexed_files": INT,
        "last_consolidation": null(STR), "last_operation_at": null(STR), "last_reindex": null(STR), "operation_count": INT,
        "orphaned_files": INT, "reason": STR, "status": one_of("ok", "degraded"), "workspace_count": INT,
        "workspace_files": INT,
    },
    {
        "version": STR, "home": STR, "agent_files": INT, "catalog_files": INT, "last_scan": null(STR), "job": null(ANY_OBJECT),
        "invalid_files": array(obj({"path": STR, "error": STR})),
        "quarantined_files": array(obj({"path": STR, "rule": STR, "reason": STR})),
        "index": ANY_OBJECT,
    },
)
CONFIG_VIEW = obj({"config": CONFIG, "locked_paths": array(STR), "mutable_paths": array(STR), "providers": array(ref("Provider"))})
SCOPES = obj({"precedence": array(obj(SELECTOR)), "roots": mapping(STR), "selector": obj(SELECTOR)})
WORKSPACES = obj({"workspaces": array(ref("Workspace"))})
WORKSPACE_ADDED = obj({"workspace": ref("Workspace"), "created": BOOL})
WORKSPACE_MOVED = obj({"workspace": ref("Workspace")})
WORKSPACE_REMOVED = obj({"workspace": ref("Workspace"), "forgotten": INT})
WORKSPACE_RESOLVED = obj({"workspace": null(ref("Workspace"))})
HOOK_ANSWERED = {
    "type": "object",
    "description": "{} when there is nothing to add; context for SessionStart and UserPromptSubmit",
    "properties": {"hookSpecificOutput": obj({"hookEventName": STR, "additionalContext": STR})},
}
OPENAPI = obj({"openapi": STR, "info": ANY_OBJECT, "paths": ANY_OBJECT})
READY = {"type": "string", "enum": ["ok"]}

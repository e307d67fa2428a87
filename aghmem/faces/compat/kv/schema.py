"""How /openapi.json describes the path the key-value API shares with the
native one: GET /api/memory with an optional `agentId`, POST /api/memory as
one of (native write | key-value single | key-value bulk)."""

from __future__ import annotations

from typing import Any

from ...api import answers
from ...api.answers import ref
from ...api.payloads import WRITE_BODY, Field
from ...api.payloads import queries as q
from ...api.payloads.spec import ONE_LINE, OneOfBody

# Any JSON value but null (a null `memory` is "memory data required").
VALUE: dict[str, Any] = {"type": ["object", "array", "string", "number", "boolean"], "description": "Any JSON value but null (at most 100 KB as compact JSON)"}
KEY: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": ONE_LINE, "description": "Memory key"}
AGENT_ID: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 256, "description": "ID of the agent (seed 003)"}

KV_SINGLE: dict[str, Any] = {
    "type": "object",
    "description": "Key-value memory (seed 003): write one key",
    "properties": {"agentId": AGENT_ID, "key": KEY, "memory": VALUE},
    "required": ["agentId", "key", "memory"],
    "additionalProperties": True,
}
KV_BULK: dict[str, Any] = {
    "type": "object",
    "description": "Key-value memory (seed 003): write 1-50 keys",
    "properties": {
        "agentId": AGENT_ID,
        "memory": {
            "type": "object", "minProperties": 1, "maxProperties": 50, "propertyNames": KEY, "additionalProperties": VALUE,
            "description": "Key → value",
        },
    },
    "required": ["agentId", "memory"],
    "not": {"required": ["key"]},
    "additionalProperties": True,
}
POST_BODY = OneOfBody((WRITE_BODY.schema(), KV_SINGLE, KV_BULK), example=WRITE_BODY.example)

KV_READ = answers.obj(
    {
        "memory": {"type": "object", "description": "Key → value"},
        "agentId": {"type": ["string", "null"]},
        "count": {"type": "integer", "minimum": 0},
        "lastUpdated": answers.null(answers.STAMP),
    }
)
KV_SAVED = {**answers.STAMP, "description": "When the write was applied (ISO 8601, UTC)"}
KV_SINGLE_ANSWER = answers.obj({"success": {"type": "boolean"}, "agentId": {"type": "string"}, "key": {"type": "string"}, "saved": KV_SAVED})
KV_BULK_ANSWER = answers.obj(
    {"success": {"type": "boolean"}, "agentId": {"type": "string"}, "keysUpdated": {"type": "integer", "minimum": 1}, "saved": KV_SAVED}
)
# The native answer first: what a native client gets (`x-shared-path` says so).
GET_ANSWER = {"anyOf": [answers.MEMORIES, KV_READ], "x-shared-path": "native, or key-value with agentId"}
POST_ANSWER = {"anyOf": [answers.OUTCOME, KV_SINGLE_ANSWER, KV_BULK_ANSWER], "x-shared-path": "native, or key-value with agentId, key or memory"}
KV_ERROR = answers.obj({"error": {"type": "string"}})
ERROR = {"anyOf": [ref("Error"), KV_ERROR]}
GET_QUERY = {
    **q.PAGE_QUERY,
    "agentId": Field(
        "string",
        "Key-value memory (seed 003): this agent's keys (`all`, or empty: every agent's). "
        "Not combined with the other parameters.",
        max_length=256,
    ),
}

"""`/openapi.json`, built from the route table so every route is described."""

from __future__ import annotations

import re
from typing import Any, Sequence

from starlette.routing import BaseRoute, Route

from ... import __version__
from .payloads.memory import MEMORY_FIELDS
from .payloads.recall import SEARCH_FIELDS

_PARAM_RE = re.compile(r"{(\w+)(?::\w+)?}")

_SELECTOR_PARAMS = [
    {"name": "scope", "in": "query", "schema": {"type": "string", "enum": ["global", "workspace", "agent"]}},
    {"name": "workspace_id", "in": "query", "schema": {"type": "string"}},
    {"name": "agent_name", "in": "query", "schema": {"type": "string"}},
    {"name": "agent_tier", "in": "query", "schema": {"type": "string", "enum": ["workspace", "global"]}},
]
_LIST_PARAMS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
]
_SELECTOR_ROUTES = {
    "list_memories", "get_memory", "patch_memory", "delete_memory", "scope_show", "list_decisions", "history",
    "list_dreams", "dream_status", "daily_logs",
}
_LIST_ROUTES = {"list_memories", "list_decisions", "history"}
_LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}}
_EXTRA_QUERY = {
    "list_dreams": [
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["idle", "running", "promoted", "skipped", "failed"]}},
        _LIMIT,
    ],
    "resolve_workspace": [{"name": "path", "in": "query", "required": True, "schema": {"type": "string"}}],
    "daily_logs": [{"name": "date", "in": "query", "schema": {"type": "string", "format": "date"}}, _LIMIT],
    "list_decisions": [
        {"name": "op", "in": "query", "schema": {"type": "string", "enum": ["noop", "add", "update", "delete", "reject"]}},
        {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    ],
    "hook": [{"name": "event", "in": "query", "schema": {"type": "string"}, "description": "the hook, e.g. user-prompt-submit"}],
    "history": [
        {"name": "operation", "in": "query", "schema": {"type": "string"}},
        {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    ],
}
_REQUEST_SCHEMAS = {
    "write_memory": {
        "type": "object",
        "required": ["type", "content"],
        "additionalProperties": False,
        "properties": {name: {} for name in sorted(MEMORY_FIELDS)},
    },
    "search": {
        "type": "object",
        "required": ["query_text"],
        "additionalProperties": False,
        "properties": {name: {} for name in sorted(SEARCH_FIELDS)},
    },
    "trigger_dream": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "selector": {"type": "object"},
            **{name: {"type": "string"} for name in ("scope", "workspace_id", "agent_name", "agent_tier")},
            "force": {"type": "boolean"},
            "dry_run": {"type": "boolean"},
        },
    },
    "reset": {
        "type": "object",
        "required": ["confirm", "derived_only"],
        "properties": {"confirm": {"type": "boolean"}, "derived_only": {"type": "boolean"}},
    },
    "add_workspace": {
        "type": "object",
        "required": ["path"],
        "additionalProperties": False,
        "properties": {"path": {"type": "string"}},
    },
}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message", "details"],
    "properties": {
        "code": {"type": "string", "example": "memory.validation"},
        "message": {"type": "string"},
        "details": {"type": "object", "additionalProperties": True},
    },
}


def _operation(route: Route, method: str) -> dict[str, Any]:
    name = route.name
    doc = (route.endpoint.__doc__ or name).strip().splitlines()[0]
    params: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in _PARAM_RE.findall(route.path)
    ]
    if name in _SELECTOR_ROUTES:
        params += _SELECTOR_PARAMS
    if name in _LIST_ROUTES:
        params += _LIST_PARAMS
    params += _EXTRA_QUERY.get(name, [])
    if method in ("PATCH", "DELETE"):
        params.append({"name": "If-Match", "in": "header", "schema": {"type": "string"}})
    operation: dict[str, Any] = {
        "operationId": name,
        "summary": doc,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
            "default": {
                "description": "Error envelope",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    if params:
        operation["parameters"] = params
    if method in ("POST", "PATCH"):
        schema = _REQUEST_SCHEMAS.get(name, {"type": "object"})
        operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": schema}}}
    return operation


def openapi_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route) or not route.include_in_schema:
            continue  # mounts, and the web inspector's pages (HTML, not API)
        path = _PARAM_RE.sub(r"{\1}", route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(path, {})[method.lower()] = _operation(route, method)
    return {
        "openapi": "3.1.0",
        "info": {"title": "aghmem", "version": __version__, "description": "Local memory daemon for coding agents."},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }

"""What each MCP tool does: parse its arguments into the typed requests the
HTTP API builds (the same parsers), call MemoryService, render text.

Each function takes the service, the connection's workspace (never an
argument: see connection.py) and the tool's arguments, and returns the text
for the model or raises an `aghmem.errors` exception (server.py turns it
into an `isError` result).
"""

from __future__ import annotations

import dataclasses

from ...errors import NotFound, ValidationError
from ...features.injection import SEARCH_MAX_LIMIT, results_text
from ...model import MemoryType, Selector, parse_type
from ...service.service import MemoryService, MemoryView
from ...storage.filenames import check_filename
from ..api.payloads import delete_candidate, search_request, write_candidate
from . import render
from .connection import ScopeName, default_type, lookup_selectors, search_selector, write_selector

ORIGIN = "mcp"


def search(
    service: MemoryService, workspace_id: str | None, query: str, limit: int, scope: ScopeName | None, include_system: bool
) -> str:
    if not 1 <= limit <= SEARCH_MAX_LIMIT:
        raise ValidationError(f"limit must be from 1 to {SEARCH_MAX_LIMIT}", field="limit")
    selector = search_selector(workspace_id, scope)
    body = {"query_text": query, "top_k": limit, "mode": "explicit", "include_system": include_system, **_fields(selector)}
    request = search_request(body, service.config.recall)
    return results_text(service.search(request), query)


def get(service: MemoryService, workspace_id: str | None, filename: str, scope: ScopeName | None) -> str:
    return render.memory_text(_find(service, workspace_id, filename, scope)[1])


def write(
    service: MemoryService,
    workspace_id: str | None,
    *,
    content: str,
    name: str | None,
    type: str | None,
    description: str | None,
    scope: ScopeName | None,
    filename: str | None,
    if_match: str | None,
) -> str:
    memory_type: MemoryType = parse_type(type) if type else default_type(workspace_id, scope)
    if if_match and not filename:
        raise ValidationError("if_match needs the filename of the memory it guards", field="if_match")
    selector = write_selector(workspace_id, scope, memory_type)
    body = {
        "content": content,
        "name": name,
        "type": memory_type.value,
        "description": description,
        "filename": filename,
        "origin": ORIGIN,
        **_fields(selector),
    }
    candidate = write_candidate({k: v for k, v in body.items() if v is not None})
    candidate = dataclasses.replace(candidate, if_match=if_match or None)
    return render.decision_text(service.submit(candidate))


def forget(
    service: MemoryService, workspace_id: str | None, filename: str, scope: ScopeName | None, if_match: str | None
) -> str:
    selector, _ = _find(service, workspace_id, filename, scope)
    candidate = delete_candidate(filename, {"origin": ORIGIN}, _fields(selector), if_match=if_match or None)
    return render.decision_text(service.submit(candidate), verb="forgot")


def status(service: MemoryService, named: str | None, workspace_id: str | None) -> str:
    if workspace_id:
        where = f"workspace {workspace_id}"
    else:
        where = "no workspace (global only)" if not named else f"no workspace ({named!r} is not registered)"
    return render.status_text(service.health(), where)


def _find(service: MemoryService, workspace_id: str | None, filename: str, scope: ScopeName | None) -> tuple[Selector, MemoryView]:
    """The memory `filename` names, in the deepest scope that holds it."""
    check_filename(filename, system=True)
    for selector in lookup_selectors(workspace_id, scope):
        try:
            return selector, service.get_memory(selector, filename)
        except NotFound:
            continue
    where = "this workspace or global" if workspace_id and scope is None else f"scope {scope or 'global'}"
    raise NotFound(f"no memory {filename} in {where}", filename=filename)


def _fields(selector: Selector) -> dict[str, str]:
    """A selector as the payload parsers take it (query or body fields)."""
    return {key: value for key, value in selector.to_dict().items() if value}

"""The pages that look: scopes, a memory, search (with recall as injected),
health. Each parses the address, asks MemoryService, and renders."""

from __future__ import annotations

import dataclasses
import json
import shlex
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...errors import NotFound, ValidationError
from ...features.injection import SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT, context_text, freshness_line, results_text
from ...model import Selector, resolve_selector
from ...service.service import MemoryService
from ..api.errors import STATUS
from ..api.parsing import query_int, query_selector
from ..api.payloads import search_request
from ..setup import mcp_snippets
from .rendering import page, render
from .views import selector_query

SCOPE_PREVIEW = 12  # memories listed per scope on the overview
SCOPE_PAGE = 100  # memories per page on one scope's list


def _service(request: Request) -> MemoryService:
    return request.app.state.service


def _previews(service: MemoryService, overview: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each scope with its newest few memories."""
    sections = []
    for item in overview:
        memories: list[dict[str, Any]] = []
        if item["count"] and not item["missing"]:
            memories, _ = service.list_memories(resolve_selector(item), limit=SCOPE_PREVIEW)
        sections.append({**item, "memories": memories})
    return sections


@page
async def scopes(request: Request) -> Response:
    """`/`: every scope with its count and newest memories; with selector
    fields, that one scope in full and what its reader sees."""
    service = _service(request)
    selector = query_selector(request, optional=True)
    if selector is not None:
        return await _one_scope(request, service, selector)
    overview = await run_in_threadpool(service.scope_overview)
    sections = await run_in_threadpool(_previews, service, overview)
    context = {
        "sections": sections,
        "total": sum(s["count"] for s in sections),
        "twins": [("counts", "/api/memory/health"), ("workspaces", "/api/workspaces")],
    }
    return render(request, "scopes.html", context)


async def _one_scope(request: Request, service: MemoryService, selector: Selector) -> Response:
    cursor = request.query_params.get("cursor") or None
    memories, next_cursor = await run_in_threadpool(
        lambda: service.list_memories(selector, limit=SCOPE_PAGE, cursor=cursor)
    )
    effective = None
    if selector.depth > 0:
        effective = await run_in_threadpool(service.effective_view, selector)
    query = selector_query(selector.to_dict())
    context = {
        "scope": selector.to_dict(),
        "memories": memories,
        "next_href": f"/?{selector_query(selector.to_dict(), cursor=next_cursor)}" if next_cursor else None,
        "effective": effective,
        "twins": [("memories", f"/api/memory?{query}"), ("scope", f"/api/memory/scope-show?{query}")],
    }
    return render(request, "scope.html", context)


@page
async def memory(request: Request) -> Response:
    """A memory's page: rendered body, frontmatter, where it lives, and the
    decisions that touched it."""
    service = _service(request)
    selector = query_selector(request)
    assert selector is not None
    filename = request.path_params["filename"]
    view = await run_in_threadpool(service.get_memory, selector, filename)
    decisions, more = await run_in_threadpool(lambda: service.list_decisions(selector, filename=filename, limit=50))
    query = selector_query(selector.to_dict(), filename=filename)
    context = {
        "view": view,
        "m": view.summary,
        "provenance": view.frontmatter.get("provenance") or {},
        "decisions": [d.to_dict() for d in decisions],
        "more_decisions": f"/decisions?{query}" if more else None,
        "twins": [("memory", f"/api/memory/{filename}?{selector_query(selector.to_dict())}"), ("decisions", f"/api/memory/decisions?{query}")],
    }
    return render(request, "memory.html", context)


def _search_body(q: str, limit: int, workspace_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"query_text": q, "top_k": limit}
    if workspace_id:
        body["workspace_id"] = workspace_id
    return body


def _curl(request: Request, body: dict[str, Any]) -> str:
    url = f"{str(request.base_url).rstrip('/')}/api/memory/search"
    return f"curl -s {url} -H 'Content-Type: application/json' -d {shlex.quote(json.dumps(body, ensure_ascii=False))}"


def _as_injected(service: MemoryService, q: str, workspace_id: str | None, found: dict[str, Any]) -> dict[str, str]:
    """The text each face hands the agent for this query: `memory_search`
    (MCP) renders the explicit search; a prompt hook runs implicit recall
    with the default top_k and injects its package."""
    hook = ""
    if len(q.strip()) >= service.config.hooks.min_prompt_chars:
        body = {"query_text": q, "mode": "implicit", **({"workspace_id": workspace_id} if workspace_id else {})}
        implicit = dataclasses.replace(search_request(body, service.config.recall), record=False)
        hook = context_text(service.search(implicit))
    return {"mcp": results_text(found, q), "hook": hook}


def _run_search(service: MemoryService, q: str, limit: int, workspace: str | None) -> dict[str, Any]:
    workspace_id = service.workspace_for(workspace) if workspace else None
    body = _search_body(q, limit, workspace_id)
    explicit = dataclasses.replace(search_request(body, service.config.recall), record=False)
    found = service.search(explicit)
    return {
        "response": found,
        "body": body,
        "freshness": freshness_line(found.get("index")),
        "injected": _as_injected(service, q, workspace_id, found),
    }


@page
async def search(request: Request) -> Response:
    """`/search?q=…[&workspace=…][&limit=…]`: recall as a person sees it
    (ranked, with why and freshness) and as the agent gets it. Looking
    records no recall signal."""
    service = _service(request)
    params = request.query_params
    q, workspace = params.get("q"), params.get("workspace") or None
    context: dict[str, Any] = {
        "q": q or "",
        "workspace": workspace or "",
        "limit": SEARCH_DEFAULT_LIMIT,
        "workspaces": service.list_workspaces(),
        "hook_min": service.config.hooks.min_prompt_chars,
        "twins": [("search API", "/openapi.json")],
    }
    if q is None:
        return render(request, "search.html", context)
    try:
        limit = context["limit"] = query_int(request, "limit", SEARCH_DEFAULT_LIMIT)
        if not 1 <= limit <= SEARCH_MAX_LIMIT:
            raise ValidationError(f"limit must be from 1 to {SEARCH_MAX_LIMIT}", field="limit")
        if not q.strip():
            raise ValidationError("type something to search for", field="q")
        context.update(await run_in_threadpool(_run_search, service, q, limit, workspace))
    except (ValidationError, NotFound) as exc:
        return render(request, "search.html", {**context, "error": exc.message}, status=STATUS[exc.code])
    context["curl"] = _curl(request, context["body"])
    return render(request, "search.html", context)


@page
async def health(request: Request) -> Response:
    """`/health`: what is wrong (files refused), how fresh the index and the
    watcher are, the version, and how to connect each agent runtime."""
    service = _service(request)
    report = await run_in_threadpool(service.health)
    base_url = str(request.base_url)
    context = {
        "h": report,
        "snippets": mcp_snippets(base_url),
        "base_url": base_url.rstrip("/"),
        "twins": [("health", "/api/memory/health"), ("config", "/api/memory/config")],
    }
    return render(request, "health.html", context)

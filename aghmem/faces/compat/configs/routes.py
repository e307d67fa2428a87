"""`/api/v0/memories[/{memory_id}]`: compozy's memory configuration API
(seed 002, COMPAT §2.4) over the YAML files of HOME/compat/configs.

Routes take every method and answer 405 themselves, so a wrong method and
an unknown path under /api/v0 get problem+json, not the native envelope.
They stay out of /openapi.json (which describes the native API): seed 002
is compozy's own document."""

from __future__ import annotations

from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ....errors import AghmemError
from ....features.configs.bindings import NOT_ENFORCED
from ....service.service import MemoryService
from ...api.parsing import read_json
from .problems import InvalidIfMatch, from_error, problem, success, unexpected

PREFIX = "/api/v0"
COLLECTION = f"{PREFIX}/memories"
Handler = Callable[[Request], Awaitable[Response]]
# Starlette gives a function route only GET unless told: every method goes
# to the route, which answers 405 itself.
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _service(request: Request) -> MemoryService:
    return request.app.state.service


def guarded(methods: dict[str, Handler]) -> Handler:
    """One route for every method: 405 for the others, and every error as
    a problem (the native handlers would answer in the native envelope)."""

    async def endpoint(request: Request) -> Response:
        handler = methods.get("GET" if request.method == "HEAD" else request.method)
        path = request.url.path
        if handler is None:
            allow = ", ".join(sorted(methods))
            return problem(405, "method_not_allowed", f"{request.method} is not allowed on {path}", path, headers={"Allow": allow})
        try:
            return await handler(request)
        except AghmemError as exc:
            return from_error(exc, path)
        except Exception as exc:  # noqa: BLE001 - masked, logged with an incident id
            return unexpected(exc, request.method, path)

    return endpoint


def _headers(etag: str | None = None) -> dict[str, str]:
    headers = {"X-Aghmem-Not-Enforced": NOT_ENFORCED}
    if etag:
        headers["ETag"] = f'"{etag}"'
    return headers


async def list_memories(request: Request) -> Response:
    query = request.query_params
    result = await run_in_threadpool(
        _service(request).list_configs, query.get("project"), limit=query.get("limit"),
        cursor_text=query.get("cursor"), q=query.get("q"),
    )
    headers = _headers()
    links = [f'<{_link(request, c)}>; rel="{rel}"' for rel, c in (("next", result.next_cursor), ("prev", result.prev_cursor)) if c]
    if links:
        headers["Link"] = ", ".join(links)
    return success(200, "memories retrieved", {"memories": result.memories, "page": result.page}, headers)


def _link(request: Request, cursor: str) -> str:
    params = {k: v for k, v in request.query_params.items() if k != "cursor"}
    return f"{request.url.path}?{urlencode({**params, 'cursor': cursor})}"


async def get_memory(request: Request) -> Response:
    config, etag = await run_in_threadpool(
        _service(request).get_config, request.query_params.get("project"), request.path_params["memory_id"]
    )
    return success(200, "memory retrieved", config, _headers(etag))


async def put_memory(request: Request) -> Response:
    if_match = parse_if_match(request.headers.get("if-match"))
    body: dict[str, Any] = await read_json(request)
    memory_id = request.path_params["memory_id"]
    written = await run_in_threadpool(
        lambda: _service(request).put_config(request.query_params.get("project"), memory_id, body, if_match=if_match)
    )
    headers = _headers(written.etag)
    if written.created:
        headers["Location"] = f"{COLLECTION}/{memory_id}"
        return success(201, "memory created", written.config, headers)
    return success(200, "memory updated", written.config, headers)


async def delete_memory(request: Request) -> Response:
    await run_in_threadpool(
        _service(request).delete_config, request.query_params.get("project"), request.path_params["memory_id"]
    )
    return Response(status_code=204)


def parse_if_match(header: str | None) -> list[str] | None:
    """None (no header), ["*"], or the strong ETags listed (quoted or not);
    a weak one is 400 `invalid_if_match`."""
    if header is None or not header.strip():
        return None
    tags = [part.strip() for part in header.split(",") if part.strip()]
    if any(tag.startswith("W/") for tag in tags):
        raise InvalidIfMatch("If-Match must be a strong ETag (W/… is weak)")
    return [tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else tag for tag in tags]


async def not_found(request: Request) -> Response:
    return problem(404, "not_found", f"no route {request.method} {request.url.path}", request.url.path)


def routes() -> list[BaseRoute]:
    return [
        Route(COLLECTION, guarded({"GET": list_memories}), methods=ALL_METHODS, include_in_schema=False),
        Route(COLLECTION + "/{memory_id}", guarded({"GET": get_memory, "PUT": put_memory, "DELETE": delete_memory}), methods=ALL_METHODS, include_in_schema=False),
        Route(PREFIX, not_found, methods=ALL_METHODS, include_in_schema=False),
        Route(PREFIX + "/{rest:path}", not_found, methods=ALL_METHODS, include_in_schema=False),
    ]

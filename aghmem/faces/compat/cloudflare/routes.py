"""The CF routes (COMPAT §1.5), relative to the /client/v4 mount: parse,
call the service's cf_* methods, render the V4 envelope."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ....errors import ValidationError
from ....features.cloudflare.conversation import LENGTHS, THINKING, parse_instant
from ....features.cloudflare.cursors import per_page
from ....service.service import MemoryService
from ...json_answer import JSONResponse
from . import bodies
from .envelope import ok, render_error

Handler = Callable[[Request], Awaitable[Response]]
BASE = "/accounts/{account_id}/agent-memory"
NAMESPACES = BASE + "/namespaces"
PROFILE = NAMESPACES + "/{namespace}/profiles/{profile}"


def _service(request: Request) -> MemoryService:
    return request.app.state.service


def _call(request: Request, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
    return run_in_threadpool(method, *args, **kwargs)


def _profile_args(request: Request) -> tuple[str, str, str]:
    p = request.path_params
    return p["account_id"], p["namespace"], p["profile"]


def route(path: str, methods: list[str]) -> Callable[[Handler], Route]:
    """A route whose every failure is a V4 error, after the account check."""

    def wrap(handler: Handler) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                account = request.path_params.get("account_id")
                if account is not None:
                    _service(request).cf_check_account(account, request.url.path)
                return await handler(request)
            except Exception as exc:  # every failure in the V4 envelope
                return render_error(exc, request.method, request.url.path)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return Route(path, endpoint, methods=methods)

    return wrap


def _page_info(items: list[Any], size: int, cursor: str) -> dict[str, Any]:
    return {"cursor": cursor, "per_page": size, "count": len(items)}


# --- namespaces --------------------------------------------------------------


@route(NAMESPACES, ["POST"])
async def create_namespace(request: Request) -> JSONResponse:
    values, notices = bodies.take(await bodies.read_object(request), ("name",))
    if "name" not in values:
        raise ValidationError("name is required", field="name", pointer="/name")
    result = await _call(request, _service(request).cf_create_namespace, request.path_params["account_id"], values["name"])
    return ok(result, messages=notices)


@route(NAMESPACES, ["GET"])
async def list_namespaces(request: Request) -> JSONResponse:
    size = per_page(request.query_params.get("per_page"))
    cursor = request.query_params.get("cursor") or None
    items, following = await _call(request, _service(request).cf_list_namespaces, request.path_params["account_id"], size, cursor)
    return ok(items, result_info=_page_info(items, size, following))


@route(NAMESPACES + "/{namespace}", ["GET"])
async def get_namespace(request: Request) -> JSONResponse:
    p = request.path_params
    return ok(await _call(request, _service(request).cf_get_namespace, p["account_id"], p["namespace"]))


@route(NAMESPACES + "/{namespace}", ["DELETE"])
async def delete_namespace(request: Request) -> JSONResponse:
    p = request.path_params
    await _call(request, _service(request).cf_delete_namespace, p["account_id"], p["namespace"])
    return ok(None)


# --- profiles and memories -------------------------------------------------------


@route(PROFILE, ["DELETE"])
async def delete_profile(request: Request) -> JSONResponse:
    await _call(request, _service(request).cf_delete_profile, *_profile_args(request))
    return ok(None)


@route(PROFILE + "/sessions/{session_id}", ["DELETE"])
async def delete_session(request: Request) -> JSONResponse:
    await _call(request, _service(request).cf_delete_session, *_profile_args(request), request.path_params["session_id"])
    return ok(None)


@route(PROFILE + "/ingest", ["POST"])
async def ingest(request: Request) -> JSONResponse:
    cap = _service(request).config.compat.cf.max_ingest_bytes
    values, notices = bodies.take(await bodies.read_object(request, cap=cap), ("messages", "sessionId"))
    session_id = bodies.text(values, "sessionId", max_chars=64)
    if "messages" not in values:
        raise ValidationError("messages is required", field="messages", pointer="/messages")
    await _call(request, _service(request).cf_ingest, *_profile_args(request), values["messages"], session_id)
    return ok(None, messages=notices)


@route(PROFILE + "/recall", ["POST"])
async def recall(request: Request) -> JSONResponse:
    names = ("query", "thinkingLevel", "responseLength", "referenceDate")
    values, notices = bodies.take(await bodies.read_object(request), names)
    query = bodies.text(values, "query", required=True)
    thinking = bodies.choice(values, "thinkingLevel", tuple(THINKING), "low")
    length = bodies.choice(values, "responseLength", LENGTHS, "medium")
    raw_date = values.get("referenceDate")
    reference = None if raw_date is None else parse_instant(raw_date, "referenceDate", "/referenceDate")
    found = await _call(
        request,
        lambda: _service(request).cf_recall(*_profile_args(request), query, thinking=thinking, length=length, reference=reference),
    )
    return ok(found, messages=notices)


@route(PROFILE + "/remember", ["POST"])
async def remember(request: Request) -> JSONResponse:
    values, notices = bodies.take(await bodies.read_object(request), ("content", "sessionId"))
    content = bodies.text(values, "content", required=True)
    session_id = bodies.text(values, "sessionId", max_chars=64)
    assert content is not None
    memory = await _call(request, _service(request).cf_remember, *_profile_args(request), content, session_id)
    return ok(memory, messages=notices)


@route(PROFILE + "/memories", ["GET"])
async def list_memories(request: Request) -> JSONResponse:
    q = request.query_params
    size = per_page(q.get("per_page"))
    items, following = await _call(
        request,
        lambda: _service(request).cf_list_memories(
            *_profile_args(request), per_page=size, cursor=q.get("cursor") or None,
            session_id=q.get("session_id") or q.get("sessionId"), cf_type=q.get("type"),
        ),
    )
    return ok(items, result_info=_page_info(items, size, following))


@route(PROFILE + "/memories/{memory_id}", ["GET"])
async def get_memory(request: Request) -> JSONResponse:
    return ok(await _call(request, _service(request).cf_get_memory, *_profile_args(request), request.path_params["memory_id"]))


@route(PROFILE + "/memories/{memory_id}", ["DELETE"])
async def delete_memory(request: Request) -> JSONResponse:
    return ok(await _call(request, _service(request).cf_delete_memory, *_profile_args(request), request.path_params["memory_id"]))


@route(PROFILE + "/summary", ["POST"])
async def summary(request: Request) -> JSONResponse:
    values, notices = bodies.take(await bodies.read_object(request), ("sessionId",))
    session_id = bodies.text(values, "sessionId", max_chars=64)
    text = await _call(request, _service(request).cf_summary, *_profile_args(request), session_id)
    return ok({"summary": text}, messages=notices)


@route("/user/tokens/verify", ["GET"])
async def verify_token(request: Request) -> JSONResponse:
    """For tools that check their token first (the guard already did)."""
    return ok({"id": "aghmem-local", "status": "active"})


routes = [
    create_namespace, list_namespaces, get_namespace, delete_namespace,
    delete_profile, delete_session, ingest, recall, remember, list_memories, get_memory, delete_memory, summary, verify_token,
]

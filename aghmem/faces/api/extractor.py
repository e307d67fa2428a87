"""Routes for the extractor and the providers."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from ...service.service import MemoryService
from ..json_answer import JSONResponse
from . import answers
from .contract import contract
from .parsing import query_int, query_value, read_json
from .payloads import DRAIN_BODY, NO_BODY, RETRY_BODY, SELECT_BODY, drain_timeout, no_body, provider_name, retry_ids
from .payloads import queries as q
from .routing import ParamRoute


def _service(request: Request) -> MemoryService:
    return request.app.state.service


@contract(answer=answers.EXTRACTOR_STATUS)
async def extractor_status(request: Request) -> JSONResponse:
    """Queue depth, in-flight sessions, dropped and coalesced turns, failures."""
    return JSONResponse({"extractor": _service(request).extractor_status()})


@contract(answer=answers.FAILURES, query=q.FAILURES_QUERY)
async def extractor_failures(request: Request) -> JSONResponse:
    """Inbox files that failed, in the dead-letter folder (oldest first)."""
    session_id = query_value(request, "session_id", q.FAILURES_QUERY["session_id"])
    limit = query_int(request, "limit", 100)
    failures = await run_in_threadpool(lambda: _service(request).extractor_failures(session_id=session_id, limit=limit))
    return JSONResponse({"failures": failures})


@contract(answer=answers.EXTRACTION_RETRIED, body=RETRY_BODY)
async def extractor_retry(request: Request) -> JSONResponse:
    """Put failed inbox files back (all, or `ids`) and process them."""
    ids = retry_ids(await read_json(request))
    return JSONResponse(await run_in_threadpool(_service(request).retry_extraction, ids))


@contract(answer=answers.DRAINED, body=DRAIN_BODY)
async def extractor_drain(request: Request) -> JSONResponse:
    """Wait until the extractor has nothing queued or in flight."""
    timeout = drain_timeout(await read_json(request))
    return JSONResponse(await run_in_threadpool(_service(request).drain_extractor, timeout))


@contract(answer=answers.PROVIDERS)
async def list_providers(request: Request) -> JSONResponse:
    """The builtin local provider and the llm one, with breaker state."""
    return JSONResponse({"providers": _service(request).list_providers()})


@contract(answer=answers.ONE_PROVIDER, path={"name": q.PROVIDER_NAME}, errors=(404,))
async def get_provider(request: Request) -> JSONResponse:
    """One provider."""
    return JSONResponse({"provider": _service(request).provider(request.path_params["name"])})


@contract(answer=answers.ONE_PROVIDER, body=SELECT_BODY, errors=(404, 409))
async def select_provider(request: Request) -> JSONResponse:
    """Make a provider the active one (kept across restarts)."""
    name = provider_name(await read_json(request))
    return JSONResponse({"provider": await run_in_threadpool(_service(request).select_provider, name)})


@contract(answer=answers.PROVIDER_CHANGED, body=NO_BODY, path={"name": q.PROVIDER_NAME}, errors=(404, 409))
async def enable_provider(request: Request) -> JSONResponse:
    """Enable a provider (closes its circuit breaker)."""
    no_body(await read_json(request))
    provider, changed = await run_in_threadpool(_service(request).set_provider_enabled, request.path_params["name"], True)
    return JSONResponse({"provider": provider, "changed": changed})


@contract(answer=answers.PROVIDER_CHANGED, body=NO_BODY, path={"name": q.PROVIDER_NAME}, errors=(404, 409))
async def disable_provider(request: Request) -> JSONResponse:
    """Disable a provider; the rules take over."""
    no_body(await read_json(request))
    provider, changed = await run_in_threadpool(_service(request).set_provider_enabled, request.path_params["name"], False)
    return JSONResponse({"provider": provider, "changed": changed})


routes = [
    Route("/api/memory/extractor/status", extractor_status, methods=["GET"]),
    Route("/api/memory/extractor/failures", extractor_failures, methods=["GET"]),
    Route("/api/memory/extractor/retry", extractor_retry, methods=["POST"]),
    Route("/api/memory/extractor/drain", extractor_drain, methods=["POST"]),
    Route("/api/memory/providers", list_providers, methods=["GET"]),
    Route("/api/memory/providers/select", select_provider, methods=["POST"]),
    ParamRoute("/api/memory/providers/{name}", get_provider, methods=["GET"]),
    ParamRoute("/api/memory/providers/{name}/enable", enable_provider, methods=["POST"]),
    ParamRoute("/api/memory/providers/{name}/disable", disable_provider, methods=["POST"]),
]

"""Routes for the extractor and the providers."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ...service.service import MemoryService
from .parsing import read_json
from .payloads import drain_timeout, provider_name, retry_ids


def _service(request: Request) -> MemoryService:
    return request.app.state.service


async def extractor_status(request: Request) -> JSONResponse:
    """Queue depth, in-flight sessions, dropped and coalesced turns, failures."""
    return JSONResponse(_service(request).extractor_status())


async def extractor_failures(request: Request) -> JSONResponse:
    """Inbox files that failed, in the dead-letter folder."""
    return JSONResponse({"failures": await run_in_threadpool(_service(request).extractor_failures)})


async def extractor_retry(request: Request) -> JSONResponse:
    """Put failed inbox files back (all, or `ids`) and process them."""
    ids = retry_ids(await read_json(request))
    return JSONResponse(await run_in_threadpool(_service(request).retry_extraction, ids))


async def extractor_drain(request: Request) -> JSONResponse:
    """Wait until the extractor has nothing queued or in flight."""
    timeout = drain_timeout(await read_json(request))
    return JSONResponse(await run_in_threadpool(_service(request).drain_extractor, timeout))


async def list_providers(request: Request) -> JSONResponse:
    """The builtin local provider and the llm one, with breaker state."""
    return JSONResponse({"providers": _service(request).list_providers()})


async def get_provider(request: Request) -> JSONResponse:
    """One provider."""
    return JSONResponse({"provider": _service(request).provider(request.path_params["name"])})


async def select_provider(request: Request) -> JSONResponse:
    """Make a provider the active one (kept across restarts)."""
    name = provider_name(await read_json(request))
    return JSONResponse({"provider": await run_in_threadpool(_service(request).select_provider, name)})


async def enable_provider(request: Request) -> JSONResponse:
    """Enable a provider (closes its circuit breaker)."""
    await read_json(request)
    provider = await run_in_threadpool(_service(request).set_provider_enabled, request.path_params["name"], True)
    return JSONResponse({"provider": provider})


async def disable_provider(request: Request) -> JSONResponse:
    """Disable a provider; the rules take over."""
    await read_json(request)
    provider = await run_in_threadpool(_service(request).set_provider_enabled, request.path_params["name"], False)
    return JSONResponse({"provider": provider})


routes = [
    Route("/api/memory/extractor/status", extractor_status, methods=["GET"]),
    Route("/api/memory/extractor/failures", extractor_failures, methods=["GET"]),
    Route("/api/memory/extractor/retry", extractor_retry, methods=["POST"]),
    Route("/api/memory/extractor/drain", extractor_drain, methods=["POST"]),
    Route("/api/memory/providers", list_providers, methods=["GET"]),
    Route("/api/memory/providers/select", select_provider, methods=["POST"]),
    Route("/api/memory/providers/{name}", get_provider, methods=["GET"]),
    Route("/api/memory/providers/{name}/enable", enable_provider, methods=["POST"]),
    Route("/api/memory/providers/{name}/disable", disable_provider, methods=["POST"]),
]

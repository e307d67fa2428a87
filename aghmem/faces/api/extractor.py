"""Routes for the extractor and the providers."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ...errors import ValidationError
from ...service.service import MemoryService
from .parsing import read_json

MAX_DRAIN_SECONDS = 300


def _service(request: Request) -> MemoryService:
    return request.app.state.service


async def extractor_status(request: Request) -> JSONResponse:
    """Queue depth, in-flight sessions, dropped and coalesced turns, failures."""
    return JSONResponse(_service(request).extractor.status())


async def extractor_failures(request: Request) -> JSONResponse:
    """Inbox files that failed, in the dead-letter folder."""
    return JSONResponse({"failures": await run_in_threadpool(_service(request).extractor.failures)})


async def extractor_retry(request: Request) -> JSONResponse:
    """Put failed inbox files back (all, or `ids`) and process them."""
    body = await read_json(request)
    return JSONResponse(await run_in_threadpool(_service(request).extractor.retry, body))


async def extractor_drain(request: Request) -> JSONResponse:
    """Wait until the extractor has nothing queued or in flight."""
    body = await read_json(request)
    timeout = body.get("timeout_seconds", 60)
    if set(body) - {"timeout_seconds"} or not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 <= timeout <= MAX_DRAIN_SECONDS:
        raise ValidationError(f"drain takes timeout_seconds: a number from 0 to {MAX_DRAIN_SECONDS}", field="timeout_seconds")
    return JSONResponse(await run_in_threadpool(_service(request).extractor.drain, float(timeout)))


async def list_providers(request: Request) -> JSONResponse:
    """The builtin local provider and the llm one, with breaker state."""
    return JSONResponse({"providers": _service(request).providers.list()})


async def get_provider(request: Request) -> JSONResponse:
    """One provider."""
    return JSONResponse({"provider": _service(request).providers.view(request.path_params["name"])})


async def select_provider(request: Request) -> JSONResponse:
    """Make a provider the active one (kept across restarts)."""
    body = await read_json(request)
    return JSONResponse({"provider": await run_in_threadpool(_service(request).providers.select, body)})


async def enable_provider(request: Request) -> JSONResponse:
    """Enable a provider (closes its circuit breaker)."""
    await read_json(request)
    provider = await run_in_threadpool(_service(request).providers.set_enabled, request.path_params["name"], True)
    return JSONResponse({"provider": provider})


async def disable_provider(request: Request) -> JSONResponse:
    """Disable a provider; the rules take over."""
    await read_json(request)
    provider = await run_in_threadpool(_service(request).providers.set_enabled, request.path_params["name"], False)
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

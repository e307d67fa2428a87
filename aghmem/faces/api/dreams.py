"""Routes for dreaming and daily logs."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from ...service.service import MemoryService
from ..json_answer import JSONResponse
from . import answers
from .contract import contract
from .parsing import query_int, query_selector, query_value, read_json
from .payloads import DREAM_TRIGGER_BODY, NO_BODY, dream_trigger, no_body
from .payloads import queries as q
from .routing import ParamRoute


def _service(request: Request) -> MemoryService:
    return request.app.state.service


@contract(answer=answers.DREAMS, query=q.DREAMS_QUERY, errors=(404,))
async def list_dreams(request: Request) -> JSONResponse:
    """Dream runs newest first; filter by selector and status."""
    dreams = await run_in_threadpool(
        _service(request).list_dreams,
        query_selector(request, optional=True),
        status=query_value(request, "status", q.DREAMS_QUERY["status"]),
        limit=query_int(request, "limit", 50),
    )
    return JSONResponse({"dreams": dreams})


@contract(answer=answers.DREAMS_NOW, query=q.SELECTOR_QUERY, errors=(404,))
async def dream_status(request: Request) -> JSONResponse:
    """Each scope's latest run (or idle) and its gates as they stand now."""
    dreams = await run_in_threadpool(_service(request).dream_status, query_selector(request, optional=True))
    return JSONResponse({"dreams": dreams})


@contract(answer=answers.ONE_DREAM, path={"dream_id": q.DREAM_ID}, errors=(404,))
async def get_dream(request: Request) -> JSONResponse:
    """One dream run."""
    dream = await run_in_threadpool(_service(request).get_dream, request.path_params["dream_id"])
    return JSONResponse({"dream": dream})


@contract(answer=answers.TRIGGERED, body=DREAM_TRIGGER_BODY, errors=(404, 503))
async def trigger_dream(request: Request) -> JSONResponse:
    """Run a dream now (`force` skips the time and session gates; `dry_run`
    scores the candidates and changes nothing)."""
    selector, force, dry_run = dream_trigger(await read_json(request))
    return JSONResponse(await run_in_threadpool(lambda: _service(request).trigger_dream(selector, force=force, dry_run=dry_run)))


@contract(answer=answers.RETRIED, body=NO_BODY, path={"dream_id": q.DREAM_ID}, errors=(404, 409, 503))
async def retry_dream(request: Request) -> JSONResponse:
    """Run a failed dream again."""
    no_body(await read_json(request))
    return JSONResponse(await run_in_threadpool(_service(request).retry_dream, request.path_params["dream_id"]))


@contract(answer=answers.DAILY, query=q.DAILY_QUERY, errors=(404,))
async def daily_logs(request: Request) -> JSONResponse:
    """Daily logs newest first, with their operation counts."""
    logs = await run_in_threadpool(
        _service(request).daily_logs,
        query_selector(request, optional=True),
        date=query_value(request, "date", q.DAILY_QUERY["date"]),
        limit=query_int(request, "limit", 30),
    )
    return JSONResponse({"logs": logs})


routes = [
    Route("/api/memory/dreams", list_dreams, methods=["GET"]),
    Route("/api/memory/dreams/status", dream_status, methods=["GET"]),
    Route("/api/memory/dreams/trigger", trigger_dream, methods=["POST"]),
    ParamRoute("/api/memory/dreams/{dream_id}", get_dream, methods=["GET"]),
    ParamRoute("/api/memory/dreams/{dream_id}/retry", retry_dream, methods=["POST"]),
    Route("/api/memory/daily", daily_logs, methods=["GET"]),
]

"""Routes for session ledgers: append events, read, replay, prune, repair."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from ...service.service import MemoryService
from ..json_answer import JSONResponse
from . import answers
from .contract import contract
from .parsing import read_json
from .payloads import (
    NO_BODY,
    PRUNE_BODY,
    REPLAY_BODY,
    SESSION_APPEND_BODY,
    no_body,
    prune_options,
    replay_options,
    session_append,
)
from .payloads import queries as q


def _service(request: Request) -> MemoryService:
    return request.app.state.service


def _ids(request: Request) -> tuple[str, str]:
    return request.path_params["workspace_id"], request.path_params["session_id"]


@contract(answer=answers.APPENDED, body=SESSION_APPEND_BODY, path=q.SESSION_PATH, errors=(404, 409, 429))
async def append_events(request: Request) -> JSONResponse:
    """Append events to a session's ledger (sequences already there are skipped)."""
    body = session_append(await read_json(request))
    result = await run_in_threadpool(
        _service(request).append_events,
        *_ids(request),
        body.events,
        parent_session_id=body.parent_session_id,
        root_session_id=body.root_session_id,
    )
    return JSONResponse(result.to_dict())


@contract(answer=answers.LEDGER, path=q.SESSION_PATH, errors=(404, 409))
async def session_ledger(request: Request) -> JSONResponse:
    """A session's meta and every event in its ledger."""
    return JSONResponse(await run_in_threadpool(_service(request).session_ledger, *_ids(request)))


@contract(answer=answers.REPLAYED, body=REPLAY_BODY, path=q.SESSION_PATH, errors=(404, 409))
async def replay_session(request: Request) -> JSONResponse:
    """The conversation in order (tool and memory events only when asked)."""
    options = replay_options(await read_json(request))
    return JSONResponse(await run_in_threadpool(lambda: _service(request).replay_session(*_ids(request), **options)))


@contract(answer=answers.PRUNED, body=PRUNE_BODY)
async def prune_sessions(request: Request) -> JSONResponse:
    """Delete sessions idle for longer than older_than_hours."""
    hours, dry_run = prune_options(await read_json(request))
    return JSONResponse(await run_in_threadpool(lambda: _service(request).prune_sessions(hours, dry_run=dry_run)))


@contract(answer=answers.REPAIRED, body=NO_BODY)
async def repair_sessions(request: Request) -> JSONResponse:
    """Trim torn ledger lines and fix checksums; damaged ledgers are reported."""
    no_body(await read_json(request))
    return JSONResponse(await run_in_threadpool(_service(request).repair_sessions))


_SESSION = "/api/workspaces/{workspace_id}/memory/sessions/{session_id}"
routes = [
    Route(f"{_SESSION}/events", append_events, methods=["POST"]),
    Route(f"{_SESSION}/ledger", session_ledger, methods=["GET"]),
    Route(f"{_SESSION}/replay", replay_session, methods=["POST"]),
    Route("/api/memory/sessions/prune", prune_sessions, methods=["POST"]),
    Route("/api/memory/sessions/repair", repair_sessions, methods=["POST"]),
]

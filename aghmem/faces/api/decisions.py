"""Routes for the decision log: list, show, revert, and the history view."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from ...errors import ValidationError
from ...model import HISTORY_OPERATIONS, Op
from ...service.service import MemoryService
from ..json_answer import JSONResponse
from . import answers
from .contract import contract
from .parsing import query_int, query_selector, query_value, read_json
from .payloads import REVERT_BODY, decision_op, revert_options, since
from .payloads import queries as q
from .routing import ParamRoute


def _service(request: Request) -> MemoryService:
    return request.app.state.service


@contract(answer=answers.DECISIONS, query=q.DECISIONS_QUERY, errors=(404,))
async def list_decisions(request: Request) -> JSONResponse:
    """Decisions newest first; filter by selector, op, since, filename."""
    params = request.query_params
    decisions, next_cursor = await run_in_threadpool(
        _service(request).list_decisions,
        query_selector(request, optional=True),
        op=decision_op(params.get("op")),
        since=since(params.get("since")),
        limit=query_int(request, "limit", 50),
        cursor=params.get("cursor") or None,
        filename=query_value(request, "filename", q.DECISIONS_QUERY["filename"]),
    )
    return JSONResponse({"decisions": [d.to_dict() for d in decisions], "next_cursor": next_cursor})


@contract(answer=answers.ONE_DECISION, path={"decision_id": q.DECISION_ID}, errors=(404,))
async def get_decision(request: Request) -> JSONResponse:
    """One decision with its rule trace."""
    decision = await run_in_threadpool(_service(request).get_decision, request.path_params["decision_id"])
    return JSONResponse({"decision": decision.to_dict()})


@contract(answer=answers.REVERTED, body=REVERT_BODY, path={"decision_id": q.DECISION_ID}, errors=(404, 409, 422, 429, 503))
async def revert_decision(request: Request) -> JSONResponse:
    """Undo an applied decision if the file is still as it left it."""
    dry_run = revert_options(await read_json(request))
    outcome = await run_in_threadpool(_service(request).revert, request.path_params["decision_id"], dry_run=dry_run)
    return JSONResponse(
        {"reverted": outcome.applied, "dry_run": outcome.dry_run, "decision": outcome.decision.to_dict()}
    )


@contract(answer=answers.OPERATIONS, query=q.HISTORY_QUERY, errors=(404,))
async def history(request: Request) -> JSONResponse:
    """Applied operations newest first, one line each."""
    params = request.query_params
    operations, next_cursor = await run_in_threadpool(
        _service(request).history,
        query_selector(request, optional=True),
        operation=history_operation(params.get("operation") or params.get("op")),
        since=since(params.get("since")),
        limit=query_int(request, "limit", 50),
        cursor=params.get("cursor") or None,
    )
    return JSONResponse({"operations": operations, "next_cursor": next_cursor})


routes = [
    Route("/api/memory/decisions", list_decisions, methods=["GET"]),
    ParamRoute("/api/memory/decisions/{decision_id}", get_decision, methods=["GET"]),
    ParamRoute("/api/memory/decisions/{decision_id}/revert", revert_decision, methods=["POST"]),
    Route("/api/memory/history", history, methods=["GET"]),
]


def history_operation(value: str | None) -> Op | None:
    """`memory.write` | `memory.update` | `memory.delete` → the decision op."""
    if not value:
        return None
    by_name = {name: op for op, name in HISTORY_OPERATIONS.items()}
    if value not in by_name:
        raise ValidationError(f"operation must be one of: {', '.join(by_name)}", field="operation")
    return by_name[value]

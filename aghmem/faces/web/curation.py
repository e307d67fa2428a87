"""The pages that change things, carefully: the decision log (a diff and a
Revert form per decision) and dreaming (gates, candidates, dry run, run).

Every POST passes `checked_form` (same-origin Origin and a signed token)
before anything is read from it; a refusal changes nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import Conflict
from ...model import SELECTOR_FIELDS, Op, resolve_selector
from ...service.service import MemoryService
from ..api.parsing import query_selector
from ..api.payloads import decision_op, since
from .csrf import checked_form
from .rendering import page, render
from .views import diff_lines

DECISIONS_PAGE = 50
RECENT_DREAMS = 20
REVERTABLE = (Op.ADD, Op.UPDATE, Op.DELETE)


def _service(request: Request) -> MemoryService:
    return request.app.state.service


@page
async def decisions(request: Request) -> Response:
    """`/decisions`: the log newest first, filtered by scope, op, file, time."""
    service = _service(request)
    params = request.query_params
    filters = {
        "selector": query_selector(request, optional=True),
        "op": decision_op(params.get("op")),
        "since": since(params.get("since")),
        "filename": params.get("filename") or None,
        "cursor": params.get("cursor") or None,
    }
    rows, next_cursor = await run_in_threadpool(
        lambda: service.list_decisions(
            filters["selector"],
            op=filters["op"],
            since=filters["since"],
            filename=filters["filename"],
            cursor=filters["cursor"],
            limit=DECISIONS_PAGE,
        )
    )
    query = {key: value for key, value in params.items() if value and key != "cursor"}
    context = {
        "rows": [d.to_dict() for d in rows],
        "form": {key: params.get(key, "") for key in (*SELECTOR_FIELDS, "op", "since", "filename")},
        "filtered": bool(query),
        "ops": [op.value for op in Op],
        "workspaces": service.list_workspaces(),
        "next_href": f"/decisions?{urlencode({**query, 'cursor': next_cursor})}" if next_cursor else None,
        "twins": [("decisions", "/api/memory/decisions" + (f"?{request.url.query}" if request.url.query else ""))],
    }
    return render(request, "decisions.html", context)


async def _decision_page(request: Request, decision_id: str, *, error: str | None = None, status: int = 200) -> Response:
    service = _service(request)
    decision = await run_in_threadpool(service.get_decision, decision_id)
    revertable = decision.status == "applied" and decision.op in REVERTABLE and decision.target_filename is not None
    refusal = await run_in_threadpool(service.revert_refusal, decision_id) if revertable and not error else None
    context = {
        "d": decision.to_dict(),
        "diff": diff_lines(decision.prior_content, decision.post_content),
        "revertable": revertable,
        "refusal": refusal,
        "error": error,
        "reverted": request.query_params.get("reverted"),
        "twins": [("decision", f"/api/memory/decisions/{quote(decision_id)}")],
    }
    return render(request, "decision.html", context, status=status)


@page
async def decision(request: Request) -> Response:
    """`/decisions/{id}`: what it decided and why, the diff, and Revert."""
    return await _decision_page(request, request.path_params["decision_id"])


@page
async def revert(request: Request) -> Response:
    """The Revert form: undo the decision if its file is as it left it.
    The "changed since" refusal is shown on the decision's page (409)."""
    decision_id = request.path_params["decision_id"]
    await checked_form(request)
    try:
        outcome = await run_in_threadpool(_service(request).revert, decision_id)
    except Conflict as exc:
        return await _decision_page(request, decision_id, error=exc.message, status=409)
    target = f"/decisions/{quote(outcome.decision.id)}?{urlencode({'reverted': decision_id})}"
    return RedirectResponse(target, status_code=303)


async def revert_get(request: Request) -> Response:
    """The form's address typed or reloaded: the decision's page."""
    return RedirectResponse(f"/decisions/{quote(request.path_params['decision_id'])}", status_code=303)


async def _dreams_page(request: Request, *, result: dict[str, Any] | None = None, asked: dict[str, Any] | None = None) -> Response:
    service = _service(request)
    scopes = await run_in_threadpool(service.dream_status, None)
    recent = await run_in_threadpool(lambda: service.list_dreams(None, limit=RECENT_DREAMS))
    context = {
        "scopes": scopes,
        "schedule": service.dream_schedule(),
        "recent": recent,
        "result": result,
        "asked": asked,
        "twins": [("status", "/api/memory/dreams/status"), ("runs", "/api/memory/dreams")],
    }
    return render(request, "dreams.html", context)


@page
async def dreams(request: Request) -> Response:
    """`/dreams`: each scope's last run and gates, recent runs, and buttons
    to dry-run or run a scope's dream."""
    return await _dreams_page(request)


@page
async def trigger(request: Request) -> Response:
    """The Dry run / Run now buttons of one scope."""
    form = await checked_form(request)
    selector = resolve_selector({key: form.get(key) for key in SELECTOR_FIELDS})
    dry_run, force = form.get("dry_run") == "1", form.get("force") == "1"
    result = await run_in_threadpool(lambda: _service(request).trigger_dream(selector, force=force, dry_run=dry_run))
    return await _dreams_page(request, result=result, asked={**selector.to_dict(), "dry_run": dry_run, "force": force})

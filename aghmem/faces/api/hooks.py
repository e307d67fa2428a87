"""`POST /api/hooks/{runtime}`: a runtime's lifecycle hook, answered by the
daemon. Claude Code's `type: "http"` hooks post their JSON here (no process
per prompt); `aghmem hook <event>` forwards its stdin here with `?event=`.

SessionStart and UserPromptSubmit answer exactly `{"hookSpecificOutput":
{"hookEventName": …, "additionalContext": …}}`: Codex checks a hook's output
against a schema without additional properties. With nothing to add the
answer is `{}`, which both runtimes take as no output. Stop, PreCompact and
SessionEnd record the transcript's new turns and answer `{}` (context on a
Stop would make Claude go on). What was done, or why not, is in the
`X-Aghmem-Hook` header, which `aghmem hook` prints on stderr.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from ...errors import ValidationError
from ...service.service import MemoryService
from ..json_answer import JSONResponse
from . import answers
from .contract import contract
from .parsing import query_value, read_json
from .payloads import Field
from .payloads.hooks import CONTEXT_EVENTS, HOOK_BODY, HOOK_QUERY, RUNTIMES, HookCall, hook_call

NOTE_HEADER = "X-Aghmem-Hook"


def _service(request: Request) -> MemoryService:
    return request.app.state.service


def _answer(body: dict[str, object], note: str) -> JSONResponse:
    return JSONResponse(body, headers={NOTE_HEADER: note.encode("ascii", "replace").decode("ascii")})


def _context(service: MemoryService, call: HookCall) -> str:
    if call.event == "UserPromptSubmit":
        return service.prompt_context(call.prompt, cwd=call.cwd, session_id=call.session_id)
    return service.session_brief(cwd=call.cwd, session_id=call.session_id)


@contract(
    answer=answers.HOOK_ANSWERED, body=HOOK_BODY, query=HOOK_QUERY, path={"runtime": Field("string", "The runtime", enum=RUNTIMES)},
    errors=(404, 409, 429),
)
async def hook(request: Request) -> JSONResponse:
    """Answer one hook: context for SessionStart and UserPromptSubmit, the
    transcript into the session ledger for Stop, PreCompact and SessionEnd."""
    service = _service(request)
    event = query_value(request, "event", HOOK_QUERY["event"])
    call = hook_call(request.path_params["runtime"], await read_json(request), event)
    if call.event is None:
        return _answer({}, "not an event aghmem handles")
    if call.event in CONTEXT_EVENTS:
        text = await run_in_threadpool(_context, service, call)
        if not text:
            return _answer({}, "nothing to add")
        return _answer({"hookSpecificOutput": {"hookEventName": call.event, "additionalContext": text}}, f"{len(text)} characters")
    if call.session_id is None:
        raise ValidationError("session_id is required to record a session", field="session_id")
    stop = (call.reason or "other") if call.event == "SessionEnd" else None
    capture = await run_in_threadpool(
        lambda: service.capture_transcript(
            call.session_id, call.transcript_path, cwd=call.cwd, source=call.runtime, event=call.event, stop=stop
        )
    )
    return _answer({}, capture.note or f"{capture.appended} event(s) recorded in session {capture.ledger}")


routes = [Route("/api/hooks/{runtime}", hook, methods=["POST"])]

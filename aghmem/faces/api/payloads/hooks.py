"""Payloads of `POST /api/hooks/{runtime}`: what Claude Code and Codex send
a lifecycle hook (the JSON a command hook reads on stdin, the body of an
http hook).

Common fields `session_id`, `transcript_path` (null in Codex when there is
none), `cwd`, `hook_event_name`; SessionStart adds `source`,
UserPromptSubmit `prompt`, Stop `stop_hook_active` and
`last_assistant_message`, PreCompact `trigger`, SessionEnd `reason`; Codex
adds `turn_id` and `model`. Unlike the other payloads, fields not read here
are allowed: the runtimes add some with each release (`permission_mode`,
`effort`, `prompt_id`…), and a hook must not fail on them. The fields that
are read are checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Mapping

from ....errors import NotFound, ValidationError
from ....features.sessions import check_session_id
from .fields import text
from .operations import SESSION_ID
from .spec import Body, Field

RUNTIMES = ("claude", "codex")
# The events aghmem answers, as the runtimes spell them; the CLI's
# `aghmem hook user-prompt-submit` is the same name in kebab case.
EVENTS = ("SessionStart", "UserPromptSubmit", "PreCompact", "Stop", "SessionEnd")
CONTEXT_EVENTS = ("SessionStart", "UserPromptSubmit")
MAX_PATH = 4_096
MAX_WORD = 64

# The fields read (any other is allowed: see above). `prompt` is read for
# UserPromptSubmit only and `reason` (SessionEnd) is clipped, never refused.
HOOK_BODY = Body({
    "hook_event_name": Field("string", "The event: SessionStart, UserPromptSubmit, PreCompact, Stop, SessionEnd (or ?event=)",
                             max_length=MAX_WORD, one_line=True),
    "session_id": SESSION_ID.but(description="The runtime's session"),
    "cwd": Field("string", "The session's working directory (absolute): it names the workspace", max_length=MAX_PATH,
                 one_line=True, pattern="/.*", hint="cwd must be an absolute path"),
    "transcript_path": Field("string", "The session's transcript (JSONL)", max_length=MAX_PATH, one_line=True),
    "prompt": Field("string", "UserPromptSubmit: what the user typed"),
    "reason": Field(("string", "number", "boolean", "array", "object"), "SessionEnd: why it ended (a label: clipped, never refused)"),
}, open=True, description="A hook's payload, as Claude Code or Codex sends it", example={
    "hook_event_name": "UserPromptSubmit", "session_id": "chat-1", "cwd": "/home/me/project", "prompt": "How do we deploy?",
})
HOOK_QUERY = {"event": Field("string", "The hook (aghmem hook's), e.g. user-prompt-submit: it wins over hook_event_name",
                             max_length=MAX_WORD, one_line=True)}


@dataclass(frozen=True)
class HookCall:
    runtime: str  # claude | codex
    event: str | None  # one of EVENTS; None for an event aghmem does not handle
    session_id: str | None
    cwd: str | None  # absolute
    transcript_path: str | None
    prompt: str = ""  # UserPromptSubmit
    reason: str | None = None  # SessionEnd: why the session ended


def event_name(raw: str) -> str | None:
    """`UserPromptSubmit` or `user-prompt-submit` → `UserPromptSubmit`; None
    for an event not in EVENTS."""
    name = "".join(part[:1].upper() + part[1:] for part in raw.split("-"))
    return name if name in EVENTS else None


def hook_call(runtime: str, body: Mapping[str, Any], event: str | None = None) -> HookCall:
    """The hook's payload; `event` (the CLI's, from the query string) wins
    over the payload's `hook_event_name`."""
    if runtime not in RUNTIMES:
        raise NotFound(f"no hook runtime {runtime!r}; use one of: {', '.join(RUNTIMES)}", runtime=runtime)
    HOOK_BODY.check({key: value for key, value in body.items() if key != "reason"})  # a label: clipped by _word, never refused
    raw_event = event if event is not None else text(body, "hook_event_name", limit=MAX_WORD, one_line=True)
    if not raw_event:
        raise ValidationError("hook_event_name is required (or ?event= naming the hook)", field="hook_event_name")
    session_id = body.get("session_id")
    cwd = text(body, "cwd", limit=MAX_PATH, one_line=True)
    if cwd is not None and not PurePath(cwd).is_absolute():
        raise ValidationError("cwd must be an absolute path", field="cwd")
    name = event_name(raw_event)
    return HookCall(
        runtime=runtime,
        event=name,
        session_id=None if session_id is None else check_session_id(session_id),
        cwd=cwd,
        transcript_path=text(body, "transcript_path", limit=MAX_PATH, one_line=True),
        prompt=(text(body, "prompt") or "") if name == "UserPromptSubmit" else "",
        reason=_word(body.get("reason")) if name == "SessionEnd" else None,
    )


def _word(value: Any) -> str | None:
    """A short runtime-given label (SessionEnd's `reason`), kept whatever it
    is: clipped to one line of MAX_WORD characters, not refused."""
    if not isinstance(value, str):
        return None
    printable = "".join(ch for ch in value if ch.isprintable() or ch.isspace())  # NUL and other controls go
    return " ".join(printable.split())[:MAX_WORD] or None

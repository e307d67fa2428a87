"""The text the MCP tools hand a model: short, plain, and every recalled
memory fenced as data (features/injection.py's fence), never raw JSON.

Errors become one line that says what went wrong and what to do next.
"""

from __future__ import annotations

from typing import Any, Mapping

from ...controller.controller import Outcome
from ...errors import AghmemError
from ...features.injection import CLOSE, DATA_NOTE, OPEN, defang, freshness_line, scope_label
from ...service.service import MemoryView

MAX_LISTED_PROBLEMS = 5

# What to do next, by error code (the message says what went wrong).
_NEXT_STEP = {
    "memory.validation": "Fix the argument and call again.",
    "memory.not_found": "Find the file name with memory_search (or check the scope).",
    "memory.rejected": "Not saved; change the content if the reason allows it.",
    "memory.too_large": "Shorten the content and call again.",
    "memory.rate_limited": "Too many writes; wait a minute and retry.",
    "memory.forbidden": "Not allowed here.",
    "memory.unauthorized": "The daemon needs its bearer token.",
}


def error_text(exc: AghmemError) -> str:
    message = exc.message.rstrip(".")
    if exc.code == "memory.conflict" and exc.details.get("current_hash"):
        return (
            f"{message}. Read it again with memory_get, then retry with "
            f"if_match={exc.details['current_hash']!r} if your change still applies."
        )
    if exc.code == "memory.conflict" and "if_match" in exc.details:
        return f"{message}: there is no such memory now. Check the file name with memory_search, or leave out if_match to add it."
    if exc.code == "memory.conflict":
        return f"{message}."
    if exc.code == "memory.rejected" and isinstance(exc.details.get("decision"), dict):
        return f"Not saved: {message} (decision {exc.details['decision'].get('id')})."
    return f"{message}. {_NEXT_STEP.get(exc.code, '')}".rstrip()


def memory_text(view: MemoryView) -> str:
    """One memory in full: what it is, where, its hash (for if_match), and
    its content inside the data fence."""
    s = view.summary
    lines = [
        f"{defang(s.get('name') or s['filename'])} — {scope_label(s)} · {s['filename']} · type {s['type']}",
        f"hash: {view.content_hash} (pass as if_match to update or forget exactly this version)",
    ]
    if s.get("description"):
        lines.append(f"description: {defang(s['description'])}")
    if s.get("staleness_banner"):
        lines.append(f"note: {defang(s['staleness_banner'])}")
    lines += [DATA_NOTE, OPEN, defang(view.content.strip()), CLOSE]
    return "\n".join(lines) + "\n"


def decision_text(outcome: Outcome, *, verb: str = "saved") -> str:
    """What the controller decided: op, file, decision id, reason."""
    d = outcome.decision
    where = f"{d.target_filename} ({scope_label(d.selector.to_dict())})" if d.target_filename else scope_label(d.selector.to_dict())
    if outcome.dry_run:
        head = f"dry run, {d.op.value}: {where}"
    elif d.op.value in ("add", "update", "delete"):
        head = f"{d.op.value}: {verb} {where}"
    else:
        head = f"{d.op.value}: nothing changed — {where}"
    lines = [head, f"decision: {d.id} — {d.reason}"]
    if d.post_content_hash and d.op.value != "delete":
        lines.append(f"hash: {d.post_content_hash}")
    if outcome.applied:
        lines.append(f"revertable: aghmem decisions revert {d.id}")
    if outcome.replay:
        lines.append("(a replay: this exact request was decided before)")
    return "\n".join(lines) + "\n"


def status_text(health: Mapping[str, Any], workspace: str) -> str:
    """`memory_status`: health, counts, index freshness, problems."""
    lines = [
        f"aghmem {health.get('version')}: {health.get('status')}" + (f" — {health['reason']}" if health.get("reason") else ""),
        f"this connection: {workspace}",
        (
            f"memories: {health.get('global_files', 0)} global, {health.get('workspace_files', 0)} in "
            f"{health.get('workspace_count', 0)} workspace(s), {health.get('agent_files', 0)} agent; "
            f"{health.get('indexed_files', 0)} indexed"
        ),
        freshness_line(_index_view(health.get("index"))),
        f"last scan: {health.get('last_scan') or 'never'}; last write: {health.get('last_operation_at') or 'never'}",
    ]
    problems = [*health.get("invalid_files", []), *health.get("quarantined_files", [])]
    for item in problems[:MAX_LISTED_PROBLEMS]:
        lines.append(f"problem: {item['path']}: {item.get('error') or item.get('reason')}")
    if len(problems) > MAX_LISTED_PROBLEMS:
        lines.append(f"({len(problems) - MAX_LISTED_PROBLEMS} more problem(s): see `aghmem health`)")
    return "\n".join(lines) + "\n"


def _index_view(index: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The index state as the freshness line reads it: catalog rows not yet
    indexed count as pending too."""
    if not index:
        return None
    return {**index, "pending": (index.get("pending") or 0) + (index.get("dirty") or 0)}

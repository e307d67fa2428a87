"""A profile's summary in markdown (COMPAT §1.6, after getSummary's
sections): each section gets a share of `summary_max_chars`, lines are
`- <summary>`, newest first, and an empty section is left out."""

from __future__ import annotations

import datetime as dt
from typing import Any

RECENT_EVENT_DAYS = 30
RECENT_TASK_DAYS = 7
MONTHS = "January February March April May June July August September October November December".split()


def _moment(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _section(title: str, lines: list[str], budget: int) -> str:
    """The heading and as many lines as fit in `budget` characters."""
    text = f"## {title}\n"
    kept = 0
    for line in lines:
        if len(text) + len(line) + 1 > budget:
            break
        text += line + "\n"
        kept += 1
    return text if kept else ""


def last_session(memories: list[dict[str, Any]], wanted: str | None) -> str | None:
    """The session asked for, else the one of the newest memory that has one."""
    if wanted:
        return wanted
    return next((m["sessionId"] for m in memories if m["sessionId"]), None)


def summarize(memories: list[dict[str, Any]], *, now: dt.datetime, session_id: str | None, max_chars: int) -> str:
    """`memories`: CF memories, newest createdAt first."""
    if not memories:
        return ""
    by_type: dict[str, list[dict[str, Any]]] = {"fact": [], "event": [], "task": [], "instruction": []}
    for memory in memories:
        by_type[memory["type"]].append(memory)
    session = last_session(memories, session_id)
    event_floor = now - dt.timedelta(days=RECENT_EVENT_DAYS)
    events = [m for m in by_type["event"] if _moment(m["createdAt"]) >= event_floor]
    tasks = [m for m in by_type["task"] if session and m["sessionId"] == session]
    if not tasks:
        task_floor = now - dt.timedelta(days=RECENT_TASK_DAYS)
        tasks = [m for m in by_type["task"] if _moment(m["createdAt"]) >= task_floor]

    def dated(m: dict[str, Any]) -> str:
        at = _moment(m["createdAt"])
        return f"- {m['summary']} ({MONTHS[at.month - 1]} {at.day})"

    sections = [
        ("Key Facts", [f"- {m['summary']}" for m in by_type["fact"]], 0.25),
        ("Recent Events", [dated(m) for m in events], 0.25),
        ("Active Tasks", [f"- {m['summary']}" for m in tasks], 0.15),
        ("Last Session", [f"- {m['summary']}" for m in memories if session and m["sessionId"] == session], 0.15),
        ("Instructions", [f"- {m['summary']}" for m in by_type["instruction"]], 0.20),
    ]
    parts = [_section(title, lines, int(max_chars * share)) for title, lines, share in sections]
    return "\n".join(part for part in parts if part).strip()

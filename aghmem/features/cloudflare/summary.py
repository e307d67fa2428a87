"""A profile's summary in markdown (COMPAT §1.6, after getSummary's
sections): each section gets a share of `summary_max_chars`, lines are
`- <summary>`, newest first, and an empty section is left out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

RECENT_EVENT_DAYS = 30
RECENT_TASK_DAYS = 7
LAST_MESSAGES = 3  # the Last Session fallback: the ledger's last user messages
MESSAGE_CHARS = 200
MONTHS = "January February March April May June July August September October November December".split()
Memory = dict[str, Any]


@dataclass
class SummaryInput:
    """What a summary is made of. `by_type`: each CF type's newest memories
    (newest first; no more than the budget can show); `session`: the last
    session's id, its memories and, for a session without any, the text of
    its last user messages."""

    by_type: dict[str, list[Memory]]
    session: str | None = None
    session_memories: list[Memory] = field(default_factory=list)
    session_messages: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(self.by_type.values()) and not self.session_memories and not self.session_messages


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


def _cut(text: str, limit: int = MESSAGE_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def summarize(given: SummaryInput, *, now: dt.datetime, max_chars: int) -> str:
    if given.empty:
        return ""
    by_type = given.by_type
    event_floor = now - dt.timedelta(days=RECENT_EVENT_DAYS)
    events = [m for m in by_type.get("event", []) if _moment(m["createdAt"]) >= event_floor]
    tasks = [m for m in given.session_memories if m["type"] == "task"]
    if not tasks:
        task_floor = now - dt.timedelta(days=RECENT_TASK_DAYS)
        tasks = [m for m in by_type.get("task", []) if _moment(m["createdAt"]) >= task_floor]

    def dated(m: Memory) -> str:
        at = _moment(m["createdAt"])
        return f"- {m['summary']} ({MONTHS[at.month - 1]} {at.day})"

    last = [f"- {m['summary']}" for m in given.session_memories]
    if not last:
        last = [f"- {_cut(text)}" for text in given.session_messages[-LAST_MESSAGES:]]
    sections = [
        ("Key Facts", [f"- {m['summary']}" for m in by_type.get("fact", [])], 0.25),
        ("Recent Events", [dated(m) for m in events], 0.25),
        ("Active Tasks", [f"- {m['summary']}" for m in tasks], 0.15),
        ("Last Session", last, 0.15),
        ("Instructions", [f"- {m['summary']}" for m in by_type.get("instruction", [])], 0.20),
    ]
    parts = [_section(title, lines, int(max_chars * share)) for title, lines, share in sections]
    return "\n".join(part for part in parts if part).strip()

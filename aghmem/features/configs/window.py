"""A bound configuration's limits on what the llm extractor sends
(COMPAT §2.6): the transcript window is cut to the last `max_messages`
messages and at most `max_tokens` tokens (⌈chars/4⌉ a message); with
`flushing.type = hybrid_summary`, past `summarize_threshold` × the limit,
the oldest `summarize_oldest_percent` (default 0.3) become one summary
line of at most `summary_tokens` (the first sentence of each user
message: offline, no provider call). The other flushing types drop the
oldest (LRU has no access data here: it is FIFO). With
`token_allocation` and `max_tokens`, the recent messages get the
`short_term` share of max_tokens and the summary line at most the
`long_term` share; `system` is the fixed instructions' share. Offline
rules read every message as before."""

from __future__ import annotations

import math
import re
from typing import Any

from ...model import GLOBAL, Scope, Selector
from ..sessions import Event, SessionMeta
from .bindings import Bindings

_SENTENCE = re.compile(r"^(.+?[.!?])(\s|$)", re.DOTALL)


def tokens(event: Event) -> int:
    return math.ceil(len(str(event.payload.get("content", ""))) / 4)


def session_selector(meta: SessionMeta) -> Selector:
    """A session's scope: its workspace, or global for `_unbound`."""
    return Selector(Scope.WORKSPACE, workspace_id=meta.workspace_id) if meta.workspace_id else GLOBAL


class TranscriptWindow:
    def __init__(self, bindings: Bindings) -> None:
        self.bindings = bindings

    def __call__(self, meta: SessionMeta, turns: list[Event]) -> list[Event]:
        if not self.bindings.config.compat.cfg.bindings:
            return turns
        config = self.bindings.effective(session_selector(meta)).most_specific()
        return cut(turns, config) if config is not None else turns


def cut(turns: list[Event], config: dict[str, Any]) -> list[Event]:
    max_messages, max_tokens = config.get("max_messages"), config.get("max_tokens")
    flushing = config.get("flushing") or {}
    shares = config.get("token_allocation") or {}
    summary: list[Event] = []
    if flushing.get("type") == "hybrid_summary":
        summary, turns = _summarized(turns, flushing, max_messages, max_tokens, _share(max_tokens, shares, "long_term"))
    budget = _share(max_tokens, shares, "short_term")
    if budget is None:  # one budget for the whole window: the summary line is one more message
        turns, summary, budget = summary + turns, [], max_tokens
    if max_messages:
        turns = turns[-max_messages:]
    if budget:
        while len(turns) > 1 and sum(tokens(t) for t in turns) > budget:
            turns = turns[1:]
    return summary + turns


def _share(max_tokens: int | None, shares: dict[str, Any], part: str) -> int | None:
    """token_allocation's `part` of max_tokens (None: no split). `system`
    is the instructions' share: they are fixed text, so it is only kept free."""
    if not max_tokens or part not in shares:
        return None
    return math.floor(max_tokens * shares[part])


def _summarized(
    turns: list[Event], flushing: dict[str, Any], max_messages: int | None, max_tokens: int | None, cap: int | None
) -> tuple[list[Event], list[Event]]:
    """([the summary line] or [], the turns after it); `cap`: long_term's tokens."""
    threshold = flushing.get("summarize_threshold", 1.0)
    over = (max_messages and len(turns) > threshold * max_messages) or (
        max_tokens and sum(tokens(t) for t in turns) > threshold * max_tokens
    )
    if not over or len(turns) < 2:
        return [], turns
    count = max(1, math.ceil(len(turns) * flushing.get("summarize_oldest_percent", 0.3)))
    old, rest = turns[:count], turns[count:]
    limit = flushing.get("summary_tokens", 100) if cap is None else min(flushing.get("summary_tokens", 100), cap)
    if limit <= 0:
        return [], rest  # no share for a summary: the oldest are dropped
    firsts = []
    for turn in old:
        if turn.payload.get("role") == "user":
            text = str(turn.payload.get("content", "")).strip()
            match = _SENTENCE.match(text)
            firsts.append(match.group(1) if match else text)
    summary = ("Summary of earlier messages: " + " ".join(firsts))[: limit * 4]
    return [Event(old[-1].sequence, "message", old[-1].emitted_at, {"role": "system", "content": summary})], rest

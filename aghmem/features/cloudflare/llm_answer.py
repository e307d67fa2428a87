"""CF recall's `llm` answer (COMPAT §1.6): what the provider is told (the
recalled memories, best first, and the reference date; answer only from
them, nothing when they do not answer) and how its reply is read. The
candidates are never the provider's business: it only writes the answer.
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

from .answer import AnswerSource

# responseLength → the reply's max tokens
MAX_TOKENS = {"short": 60, "medium": 200, "long": 500}
MEMORY_CHARS = 2_000  # of one memory's body in the prompt
PROMPT_VERSION = "cf-answer-v1"
SYSTEM = (
    "You answer a question about a user or project using ONLY the numbered memories given. Do not use any other "
    "knowledge and do not guess. Answer directly, in plain prose, without preamble, without naming the memories. "
    "If the memories do not answer the question, reply with an empty message (nothing at all)."
)
_EMPTY_REPLIES = {'""', "''", "``", "(empty)", "<empty>"}


def answer_messages(query: str, sources: Sequence[AnswerSource], *, today: dt.date, length: str) -> list[dict[str, str]]:
    """The chat messages for one recall."""
    memories = []
    for n, source in enumerate(sources, start=1):
        body = source.body.strip()
        if len(body) > MEMORY_CHARS:
            body = body[: MEMORY_CHARS - 1] + "…"
        memories.append(f"[{n}] {source.summary.strip()}" + (f"\n{body}" if body and body != source.summary.strip() else ""))
    words = {"short": "one sentence", "medium": "at most three sentences", "long": "a short paragraph"}[length]
    user = (
        f"Today's date (the reference date): {today.isoformat()}\n\nMemories:\n" + "\n\n".join(memories)
        + f"\n\nQuestion: {query}\n\nAnswer in {words}, or reply with nothing if the memories do not answer it."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def read_answer(text: str) -> str:
    """The reply as the answer: trimmed; a reply that says "empty" is ""."""
    answer = text.strip()
    return "" if answer in _EMPTY_REPLIES else answer

"""The extractive answer of CF recall (COMPAT §1.6, "Answer, extractive
mode"): the recalled memories' sentences that share terms with the query,
best first, within the response length's budget. No model involved.

Terms are counted on the index's word view (folded, stop words dropped,
stemmed: storage/analysis.py), so "answers" in a memory meets "answer" in
the question exactly as search matched them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ...errors import ValidationError
from ...storage import analysis

# responseLength → (sentences, characters)
LENGTHS: dict[str, tuple[int, int]] = {"short": (1, 200), "medium": (3, 600), "long": (8, 1500)}
MAX_LINE_CHARS = 500  # longer lines are data (logs, minified code), not prose
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")
_LINE_MARK = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+|>\s*|\d+[.)]\s+)")


@dataclass(frozen=True)
class AnswerSource:
    """One recalled memory: its summary line, body and fused score."""

    summary: str
    body: str
    score: float


@dataclass(frozen=True)
class _Sentence:
    text: str
    score: float
    order: int  # where it came from: ties keep the sources' order


def terms_of(text: str) -> set[str]:
    """The word view's terms of a text, stemmed (as the index matches)."""
    return set(analysis.stems(analysis.word_terms(text)))


def sentences_of(text: str) -> list[str]:
    """Sentences of a memory's text: line breaks and [.!?]+space split;
    fenced code and over-long lines are left out; list and heading marks
    are taken off."""
    out: list[str] = []
    fenced = False
    for raw in text.splitlines():
        if raw.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced or len(raw) > MAX_LINE_CHARS:
            continue
        line = _LINE_MARK.sub("", raw).strip()
        out.extend(part.strip() for part in _SENTENCE_SPLIT.split(line) if part.strip())
    return out


def compose_answer(query: str, sources: Sequence[AnswerSource], length: str) -> str:
    """The answer to `query` from `sources` (best first or not: each
    sentence is ranked by its source's score × (0.5 + 0.5·overlap))."""
    if length not in LENGTHS:
        raise ValidationError(f"length must be one of: {', '.join(LENGTHS)}", field="length")
    if not sources:
        return ""
    wanted = terms_of(query)
    scored: list[_Sentence] = []
    for source in sources:
        for text in (*sentences_of(source.summary), *sentences_of(source.body)):
            overlap = len(wanted & terms_of(text)) / len(wanted) if wanted else 0.0
            if overlap > 0:
                scored.append(_Sentence(text, source.score * (0.5 + 0.5 * overlap), len(scored)))
    if not scored:
        top = max(sources, key=lambda s: s.score)
        fallback = " ".join(top.summary.split()) or next(iter(sentences_of(top.body)), "")
        scored = [_Sentence(fallback, top.score, 0)] if fallback else []
    return _pick(sorted(scored, key=lambda s: (-s.score, s.order)), *LENGTHS[length])


def _pick(ranked: Sequence[_Sentence], max_sentences: int, max_chars: int) -> str:
    """The best distinct sentences that fit: the first one is cut to fit if
    it must, a later one that does not fit is passed over."""
    chosen: list[str] = []
    seen: set[str] = set()
    used = 0
    for sentence in ranked:
        key = _canonical(sentence.text)
        if not key or key in seen:
            continue
        text = sentence.text
        if not chosen and len(_closed(text)) > max_chars:
            text = _cut(text, max_chars)
        text = _closed(text)
        cost = len(text) + (1 if chosen else 0)  # and a space before it
        if used + cost > max_chars:
            continue
        seen.add(key)
        chosen.append(text)
        used += cost
        if len(chosen) == max_sentences:
            break
    return " ".join(chosen)


def _closed(text: str) -> str:
    """A title-like line (a summary without a full stop) still ends as a sentence."""
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def _canonical(text: str) -> str:
    """What two sentences share when they say the same thing: case,
    spacing and closing punctuation aside."""
    return " ".join(text.casefold().split()).rstrip(".!?…;: ")


def _cut(text: str, max_chars: int) -> str:
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut).rstrip(" ,;:-") + "…"

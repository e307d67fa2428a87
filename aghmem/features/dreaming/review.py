"""What a dream would promote: each candidate's score, its terms, the quality
gates, and the synthesis text (DESIGN §8); and how a synthesis line is
restated when the memory it quotes changes. Reads nothing and writes
nothing: `dreaming.py` feeds it rows and acts on the review.

score = w.frequency·min(1, count/2) + w.relevance·recall_score
      + w.recency·decay(since last recall) + w.freshness·decay(since first)
decay = 0.5^(hours / (24·half_life_days))
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from ...config import DreamConfig
from ...controller.decisions import parse_stamp
from ...controller.safety import Scanner
from ...storage.files import ParsedMemory, body_of

SYNTHESIS_PREFIX = "project_dreaming_"
SUMMARY_CHARS = 160


@dataclass
class RecallSignal:
    """An unpromoted memory's recall signals, with what the synthesis shows of it."""

    memory_id: str
    filename: str
    name: str
    description: str
    recall_count: int
    query_count: int
    session_count: int
    first_recalled_at: str
    last_recalled_at: str
    recall_score: float
    superseded_by: str | None = None


@dataclass
class Term:
    value: float
    weight: float

    @property
    def contribution(self) -> float:
        return self.value * self.weight

    def to_dict(self) -> dict[str, float]:
        return {"value": round(self.value, 4), "weight": self.weight, "contribution": round(self.contribution, 4)}


@dataclass
class DreamCandidate:
    signal: RecallSignal
    terms: dict[str, Term]
    keep: bool = False
    reason: str = ""

    @property
    def score(self) -> float:
        return sum(term.contribution for term in self.terms.values())

    def to_dict(self) -> dict[str, Any]:
        s = self.signal
        return {
            "memory_id": s.memory_id,
            "filename": s.filename,
            "name": s.name,
            "recall_count": s.recall_count,
            "query_count": s.query_count,
            "session_count": s.session_count,
            "first_recalled_at": s.first_recalled_at,
            "last_recalled_at": s.last_recalled_at,
            "score": round(self.score, 4),
            "terms": {name: term.to_dict() for name, term in self.terms.items()},
            "keep": self.keep,
            "reason": self.reason,
        }


@dataclass
class Review:
    candidates: list[DreamCandidate]
    eligible: int  # count and score gates passed: what the signal gate counts
    synthesis_body: str
    new_lines: int = 0

    @property
    def kept(self) -> list[DreamCandidate]:
        return [c for c in self.candidates if c.keep]


def decay(hours: float, half_life_days: float) -> float:
    if half_life_days <= 0:
        return 0.0
    return 0.5 ** (max(0.0, hours) / (24 * half_life_days))


def _hours_since(stamp: str, now: dt.datetime) -> float:
    return (now - parse_stamp(stamp)).total_seconds() / 3600


def score_terms(signal: RecallSignal, now: dt.datetime, config: DreamConfig) -> dict[str, Term]:
    weights = config.scoring.weights
    half_life = config.scoring.recency_half_life_days
    return {
        "frequency": Term(min(1.0, signal.recall_count / 2), weights.frequency),
        "relevance": Term(min(1.0, max(0.0, signal.recall_score)), weights.relevance),
        "recency": Term(decay(_hours_since(signal.last_recalled_at, now), half_life), weights.recency),
        "freshness": Term(decay(_hours_since(signal.first_recalled_at, now), half_life), weights.freshness),
    }


def synthesis_summary(description: str, body: str) -> str:
    """What a synthesis line says of a memory: its description, else the
    start of its body, on one line."""
    summary = " ".join(description.split())
    if not summary:
        summary = " ".join(body.split())
        summary = summary if len(summary) <= SUMMARY_CHARS else summary[: SUMMARY_CHARS - 1].rstrip() + "…"
    return summary


def synthesis_line(signal: RecallSignal, raw: str) -> str:
    """One line: the memory's link and what it says (its description, else
    the start of its body)."""
    summary = synthesis_summary(signal.description, body_of(raw))
    return (
        f"- [{signal.name}]({signal.filename}) — {summary} "
        f"(recalled {signal.recall_count}× by {signal.query_count} queries)"
    )


# What a line says in place of a memory's text once that text cannot be
# quoted: the old text would be a stale fact, served by recall beside the new one.
DELETED_MARK = "(deleted since this synthesis was written)"
UNREADABLE_MARK = "(changed since this synthesis was written and cannot be read now; see the memory itself)"
WITHHELD_MARK = "(changed since this synthesis was written; its new text is not quoted: {reason})"
_TAIL_RE = re.compile(r" \(recalled [^()]*\)$")


@dataclass
class Quoted:
    """A quoted memory as it is now: `memory` None when it is gone, or
    `unreadable` when the file is there but cannot be parsed."""

    filename: str
    memory: ParsedMemory | None
    unreadable: bool = False


def refresh_lines(body: str, quoted: Quoted, scanner: Scanner) -> str:
    """The synthesis body with every line that links `quoted.filename`
    restating what the memory says now (or marked when it cannot).

    A line keeps its recall tally; its name and summary are rebuilt exactly
    as `synthesis_line` builds them, so a line already up to date is
    unchanged and refreshing twice writes nothing the second time.
    """
    link = f"]({quoted.filename})"
    lines = body.split("\n")
    for index, line in enumerate(lines):
        start = line.find(link)
        if not line.startswith("- [") or start < 0:
            continue
        old_name = line[3:start]
        tail = _TAIL_RE.search(line)
        tally = tail.group(0) if tail else ""
        memory = quoted.memory
        if memory is None:
            text = UNREADABLE_MARK if quoted.unreadable else DELETED_MARK
            lines[index] = f"- [{old_name}]({quoted.filename}) — {text}{tally}"
            continue
        fresh = f"- [{memory.name}]({quoted.filename}) — {synthesis_summary(memory.description, memory.body)}{tally}"
        # The same two scans a dream applies before it quotes a memory.
        findings = scanner.scan({"memory": memory.raw.decode("utf-8", "replace")}, autonomous=False).findings
        findings = findings or scanner.scan({"line": fresh}, autonomous=True).findings
        if findings:
            fresh = f"- [{old_name}]({quoted.filename}) — {WITHHELD_MARK.format(reason=findings[0].reason)}{tally}"
        lines[index] = fresh
    return "\n".join(lines)


def linked_filenames(body: str) -> set[str]:
    """The memories an existing synthesis already lists."""
    names = set()
    for line in body.splitlines():
        start = line.find("](")
        end = line.find(")", start + 2)
        if line.startswith("- [") and start > 0 and end > start:
            names.add(line[start + 2 : end])
    return names


def review(
    signals: list[RecallSignal],
    raw_texts: dict[str, str],
    *,
    now: dt.datetime,
    config: DreamConfig,
    scanner: Scanner,
    existing_body: str = "",
) -> Review:
    """Score every candidate, apply the gates in order, and compose the
    synthesis (today's existing lines first, then the new ones by score)."""
    gates = config.gates
    candidates = sorted(
        (DreamCandidate(s, score_terms(s, now, config)) for s in signals),
        key=lambda c: (-c.score, c.signal.filename),
    )
    already = linked_filenames(existing_body)
    lines = [line for line in existing_body.splitlines() if line.strip()]
    size = sum(len(line.encode("utf-8")) + 1 for line in lines)
    eligible = 0
    new_lines = 0
    for cand in candidates:
        s = cand.signal
        if s.filename.startswith("_system") or s.filename.startswith(SYNTHESIS_PREFIX):
            cand.reason = "system-managed memory: never promoted"
            continue
        if s.superseded_by:
            cand.reason = f"superseded by {s.superseded_by}"
            continue
        if cand.score < gates.min_score:
            cand.reason = f"score {cand.score:.3f} is below min_score {gates.min_score}"
            continue
        eligible += 1
        if s.query_count < gates.min_distinct_queries:
            cand.reason = f"recalled by {s.query_count} distinct quer{'y' if s.query_count == 1 else 'ies'}; needs {gates.min_distinct_queries}"
            continue
        findings = scanner.scan({"memory": raw_texts.get(s.memory_id, "")}, autonomous=False).findings
        if findings:
            cand.reason = f"flagged by the safety scan: {findings[0].reason}"
            continue
        line = synthesis_line(s, raw_texts.get(s.memory_id, ""))
        line_findings = scanner.scan({"line": line}, autonomous=True).findings
        if line_findings:
            cand.reason = f"its synthesis line is flagged: {line_findings[0].reason}"
            continue
        if s.filename in already:
            cand.keep, cand.reason = True, "already in this synthesis"
            continue
        cost = len(line.encode("utf-8")) + 1
        if size + cost > config.max_synthesis_bytes:
            cand.reason = f"over the synthesis size budget ({config.max_synthesis_bytes} bytes)"
            continue
        size += cost
        lines.append(line)
        new_lines += 1
        cand.keep, cand.reason = True, f"score {cand.score:.3f} ≥ {gates.min_score}"
    return Review(candidates, eligible, "\n".join(lines) + "\n" if lines else "", new_lines)

"""CF memory types and summary lines (COMPAT §1.3, §1.6).

`cf_type_of` is the offline classifier remember uses (first match wins:
task, event, instruction, fact); `summary_of` the one-line summary a memory
is named by. CF types map onto native types (the CF type is kept in
`metadata.cf_type`); a memory without one (written by hand, or by the
native API) is read back by its native type.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from ...model import CF_TYPES, MemoryType

INSTRUCTION, FACT, EVENT, TASK = CF_TYPES
SUMMARY_MAX_CHARS = 200

CF_TO_NATIVE: dict[str, MemoryType] = {
    INSTRUCTION: MemoryType.FEEDBACK,  # how the agent should work
    FACT: MemoryType.USER,  # stable knowledge about the profile's entity
    EVENT: MemoryType.PROJECT,  # time-anchored
    TASK: MemoryType.PROJECT,  # short-lived work, told apart by metadata.cf_type
}
NATIVE_TO_CF: dict[MemoryType, str] = {
    MemoryType.FEEDBACK: INSTRUCTION,
    MemoryType.USER: FACT,
    MemoryType.PROJECT: EVENT,
    MemoryType.REFERENCE: FACT,
}

_F = re.IGNORECASE
_TASK = re.compile(
    r"\b(?:todo|to-do|needs? to|follow[- ]up|remind me|next steps?|pending|investigat\w*|working on|in progress)\b", _F
)
_PAST = r"deployed|released|shipped|merged|migrated|completed|finished|launched|decided|fixed|upgraded|signed|moved|met"
# "may" counts only as a month next to a day number ("May 3", "3 May"),
# never the verb ("we may deploy").
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_EVENT = re.compile(
    rf"\b(?:{_PAST})\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b|\byesterday\b|\blast (?:week|month)\b"
    rf"|\b{_MONTH}\.? {_DAY}\b|\b{_DAY} (?:of )?{_MONTH}\b",
    _F,
)
_IMPERATIVE = re.compile(
    r"^\W*(?:use|run|write|keep|avoid|prefer|always|never|don't|do not|make sure|call|add)\b", _F
)
_RULE_WORD = re.compile(r"\b(?:always|never|must|should|don't|do not|make sure|avoid)\b", _F)
_OUTPUT = r"(?:answer|response|repl(?:y|ies)|explanation|format|style|tone|concise|verbose|language)s?"
_PREFERENCE = re.compile(
    rf"\bprefer\w*\W+(?:\w+\W+){{0,3}}?{_OUTPUT}\b|\b{_OUTPUT}\W+(?:\w+\W+){{0,3}}?prefer\w*", _F
)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def cf_type_of(text: str) -> str:
    """The CF type of a memory's text, by the offline rules (§1.6)."""
    text = text.replace("\u2019", "'")  # don’t → don't
    if _TASK.search(text):
        return TASK
    if _EVENT.search(text):
        return EVENT
    if _IMPERATIVE.search(text) or _RULE_WORD.search(text) or _PREFERENCE.search(text):
        return INSTRUCTION
    return FACT


def summary_of(text: str, max_chars: int = SUMMARY_MAX_CHARS) -> str:
    """The content itself when it is one line of at most `max_chars`;
    else its first sentence, whitespace collapsed, cut at a word boundary
    to at most `max_chars` with "…"."""
    stripped = text.strip()
    if "\n" not in stripped and "\r" not in stripped and len(stripped) <= max_chars:
        return stripped
    flat = " ".join(stripped.split())
    end = _SENTENCE_END.search(flat)
    sentence = flat[: end.end()] if end else flat
    if len(sentence) <= max_chars:
        return sentence
    cut = sentence[: max_chars - 1]
    space = cut.rfind(" ")
    if space > 0:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def native_type(cf_type: str) -> MemoryType:
    return CF_TO_NATIVE[cf_type]


def read_back(memory_type: MemoryType, metadata: Mapping[str, Any] | None = None) -> str:
    """The CF type of a memory: `metadata.cf_type` if it is one, else by
    its native type."""
    given = (metadata or {}).get("cf_type")
    if isinstance(given, str) and given in CF_TYPES:
        return given
    return NATIVE_TO_CF[memory_type]


def natives_read_as(cf_type: str) -> tuple[str, ...]:
    """The native types a memory without `metadata.cf_type` must have to
    read back as `cf_type` (the list filter's fallback): task → none."""
    return tuple(native.value for native, cf in NATIVE_TO_CF.items() if cf == cf_type)

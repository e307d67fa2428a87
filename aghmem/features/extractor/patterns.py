"""The offline extractor: durable memories in what a user says, by rules.

It keeps stated preferences ("I prefer…", "I hate…"), standing instructions
("always…", "never…", "from now on…"), and facts ("we use…", "my editor is
…", "our database is …") from user messages, and ignores questions,
chit-chat, code and logs. Precision over recall: a missed fact can be said
again, a junk memory is recalled forever. "my/our X is Y" fills a slot
(entity, attribute), so saying "my editor is helix" later updates the
memory instead of adding a second one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...storage.analysis import STOPWORDS
from ...storage.filenames import slugify

MIN_CHARS, MAX_CHARS = 12, 300

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_CODE_RE = re.compile(r"```|~~~|^\s{4,}\S|[{};]\s*$|\b(?:def|class|function|import|return|const|let|var)\b.*[(){}=]", re.MULTILINE)
_LOG_RE = re.compile(
    r"\bTraceback\b|^\s*at\s+\S+\(|\b(?:ERROR|WARN|WARNING|INFO|DEBUG|FATAL)\b[:\]]|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}|^\s*\$\s|exit code \d+",
    re.MULTILINE,
)
_QUESTION_RE = re.compile(
    r"^(?:what|why|how|when|where|who|which|can|could|would|should|is|are|do|does|did|will|shall|may|have|has)\b",
    re.IGNORECASE,
)
_PREFERENCE_RE = re.compile(
    r"^(?:i|we)\s+(?:really\s+|strongly\s+|generally\s+|usually\s+)?"
    r"(?P<verb>prefer|like|love|hate|dislike|don't like|do not like|would rather|'d rather)\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
_INSTRUCTION_RE = re.compile(
    r"^(?:please\s+|you\s+(?:should|must)\s+|make sure (?:to|you)\s+)?(?P<verb>always|never|don't ever|do not ever)\s+(?P<rest>.+)$"
    r"|^(?:from now on|going forward|in the future),?\s+(?:please\s+)?(?P<rest2>.+)$",
    re.IGNORECASE,
)
_USES_RE = re.compile(
    r"^(?:we|our team|the team|this project|the project)(?:\s+|(?='))(?P<verb>use|uses|are using|'re using|rely on|relies on|deploy to|deploys to|deploy on|deploys on)\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
_SLOT_RE = re.compile(r"^(?P<owner>my|our)\s+(?P<attr>[a-z][a-z0-9 _-]{1,40}?)\s+(?:is|are)\s+(?P<value>.+)$", re.IGNORECASE)
_USES_NAMES = {
    "use": "Uses", "uses": "Uses", "are using": "Uses", "'re using": "Uses", "rely on": "Relies on",
    "relies on": "Relies on", "deploy to": "Deploys to", "deploys to": "Deploys to", "deploy on": "Deploys on",
    "deploys on": "Deploys on",
}
# After "always/never": an imperative verb, not a story ("never had a chance").
_NOT_IMPERATIVE = frozenset(
    "had was were been did is are am be got made went knew thought felt said saw took came gave found told "
    "happy sure good glad here there up down so the a an in on at with for my your our this that it really "
    "just even ever".split()
)
# A liked thing, not a remark about the conversation ("I love it", "I like how…").
_NOT_AN_OBJECT = frozenset("it that this these those them him her you your how when what why where so".split())
# A slot value that is a mood or a state of things, not a fact ("my kids are so excited").
_NOT_A_VALUE = frozenset("so such really very going getting paying full still just also not kind like".split())
_VALUE_CUT_RE = re.compile(r"\s+-\s+|[:;,(]|\s+(?:but|and i|which|because|so)\s+", re.IGNORECASE)
_PREFERENCE_NAMES = {
    "prefer": "Prefers", "like": "Likes", "love": "Loves", "hate": "Dislikes", "dislike": "Dislikes",
    "don't like": "Dislikes", "do not like": "Dislikes", "would rather": "Would rather", "'d rather": "Would rather",
}


@dataclass
class Extracted:
    """One candidate memory, as the inbox stores it."""

    type: str
    name: str
    content: str
    rule: str
    entity: str | None = None
    attribute: str | None = None
    confidence: float = 0.7
    source_sequence: int | None = None
    # Slot facts name their file after the attribute, so that a new value
    # ("my editor is helix") lands in the same memory.
    filename: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "type": self.type, "name": self.name, "content": self.content, "rule": self.rule,
            "confidence": self.confidence, "source_sequence": self.source_sequence,
        }
        if self.entity:
            data.update(entity=self.entity, attribute=self.attribute)
        if self.filename:
            data["filename"] = self.filename
        return data


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.split(text) if s.strip()]


def _content_words(text: str) -> int:
    return sum(1 for word in re.findall(r"[a-z0-9']+", text.lower()) if word not in STOPWORDS)


def _clause(rest: str) -> str:
    return rest.strip().rstrip(".!;:,").strip()


def _title(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0]
    return text[:1].upper() + text[1:]


def _first_word(text: str) -> str:
    words = text.lower().split(maxsplit=1)
    return words[0].strip("\"'.,;:!-") if words else ""


def extract(message: str, sequence: int | None = None) -> list[Extracted]:
    """Candidates in one user message (none for code, logs, questions)."""
    if _CODE_RE.search(message) or _LOG_RE.search(message):
        return []
    message = message.replace("\u2019", "'")
    found: list[Extracted] = []
    for sentence in sentences(message):
        if not MIN_CHARS <= len(sentence) <= MAX_CHARS or sentence.endswith("?") or _QUESTION_RE.match(sentence):
            continue
        item = _match(sentence)
        if item is not None and _content_words(item.content) >= 2:
            item.source_sequence = sequence
            found.append(item)
    return found


def _match(sentence: str) -> Extracted | None:
    if m := _PREFERENCE_RE.match(sentence):
        verb, rest = m.group("verb").lower(), _clause(_VALUE_CUT_RE.split(m.group("rest"), 1)[0])
        if _first_word(rest) in _NOT_AN_OBJECT or len(rest.split()) > 10:
            return None
        label = _PREFERENCE_NAMES[verb]
        return Extracted("user", _title(f"{label} {rest}"), f"{label} {rest}.", "preference", confidence=0.8)
    if m := _INSTRUCTION_RE.match(sentence):
        if m.group("verb"):
            verb = "Never" if m.group("verb").lower() != "always" else "Always"
            rest = _clause(m.group("rest"))
            first = _first_word(rest)
            if first in _NOT_IMPERATIVE or first.endswith(("ed", "ing")):
                return None
            text = f"{verb} {rest}"
        else:
            text = _title(_clause(m.group("rest2")))
        return Extracted("feedback", _title(text), f"{text}.", "instruction", confidence=0.8)
    if m := _USES_RE.match(sentence):
        label = _USES_NAMES[m.group("verb").lower()]
        rest = _clause(m.group("rest"))
        return Extracted("project", _title(f"{label} {rest}"), f"The project {label.lower()} {rest}.", "stated_fact", confidence=0.7)
    if m := _SLOT_RE.match(sentence):
        owner, attr = m.group("owner").lower(), " ".join(m.group("attr").lower().split())
        value = _clause(_VALUE_CUT_RE.split(m.group("value"), 1)[0])
        if len(attr.split()) > 3 or not 1 <= len(value.split()) <= 6 or _first_word(value) in _NOT_A_VALUE:
            return None
        if attr in {"question", "problem", "issue", "point", "guess", "bad", "turn", "pleasure"}:
            return None  # "my question is…", "my bad": not a durable fact
        entity = "user" if owner == "my" else "project"
        whose = "The user's" if owner == "my" else "The project's"
        return Extracted(
            entity, _title(f"{attr} is {value}"), f"{whose} {attr} is {value}.", "slot_fact",
            entity=entity, attribute=attr.replace(" ", "_"), confidence=0.75, filename=f"{entity}_{slugify(attr)}.md",
        )
    return None

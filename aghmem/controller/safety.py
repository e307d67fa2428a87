"""Content safety rules run on every candidate before it can be written.

Each rule names what it found; the controller turns a finding into a
`reject` (confidence 1.0, trace `memory_scan.<rule>`). Secrets can instead
be redacted when `privacy_policy.redact_patterns` is set (seed 002).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import re2

INVISIBLE_RE = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]"
)

INJECTION_RE = re.compile(
    r"(?ix)"
    r"\b(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+|your\s+)?(previous|prior|above|earlier|preceding|system)\s+"
    r"(instructions?|prompts?|rules|messages|directions|guidelines)"
    r"|\b(reveal|print|show|leak|repeat)\s+(me\s+)?(your|the)\s+(system\s+prompt|hidden\s+instructions)"
    r"|\byou\s+are\s+now\s+(an?\s+)?(unrestricted|jailbroken|dan\b|developer\s+mode|no\s+longer)"
    r"|\b(jailbreak|do\s+anything\s+now)\b"
    r"|<\|?(im_start|im_end|system)\|?>"
    r"|\bnew\s+system\s+(prompt|instructions?)\s*:"
)

EXFILTRATION_RE = re.compile(
    r"(?ix)"
    r"\b(curl|wget|nc|ncat|netcat|scp|rsync|ftp)\b[^\n]{0,120}"
    r"(\.ssh/|\.aws/|\.env\b|id_rsa|id_ed25519|/etc/(passwd|shadow)|credentials|\$\((cat|env|printenv)\b|--data[^\n]{0,40}@)"
    r"|\b(printenv|env|cat\s+[^\n|]*(\.env|credentials|id_rsa))\s*\|\s*(curl|wget|nc|base64)"
    r"|\b(send|post|upload|exfiltrate|leak|forward|email|transmit)\w*\s+(\S+\s+){0,4}"
    r"(api[\s_-]?keys?|secrets?|credentials|passwords?|tokens?|private\s+keys?|ssh\s+keys?)\s+to\b"
)

PERSISTENCE_RE = re.compile(
    r"(?ix)"
    r"(>>?\s*~?[\w./-]*(\.bashrc|\.zshrc|\.bash_profile|\.profile|authorized_keys|crontab)\b)"
    r"|\bcrontab\s+-[elr]?\s"
    r"|\b(curl|wget)\b[^\n|]{0,200}\|\s*(sudo\s+)?(ba|z|da)?sh\b"
    r"|\b(add|append|write|insert|install)\w*\s+(\S+\s+){0,5}(to|into|in)\s+(\S+\s+)?"
    r"(~/)?(\.bashrc|\.zshrc|\.profile|authorized_keys|crontab|\.git/hooks)"
    r"|\b(in|for)\s+(every|all)\s+future\s+(sessions?|conversations?|responses?|chats?)\b"
)


class AssignedSecret:
    """`password = <value>` where the value mixes letters and digits.

    The value test runs on each match in Python: written as lookaheads in the
    pattern it re-scanned the rest of the run at every position (20,000
    characters of `password=` took 0.55 s). The possessive quantifiers keep
    each match one pass, so the whole search is linear. Offers the two
    methods of `re.Pattern` the scanner uses.
    """

    _re = re.compile(
        r"(?i)\b(?:password|passwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret)\b"
        r"\s*+[:=]\s*+['\"]?+([A-Za-z0-9_\-+/=.]{12,}+)"
    )

    @staticmethod
    def _is_secret(match: re.Match[str]) -> bool:
        value = match.group(1)
        return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)

    def search(self, text: str) -> re.Match[str] | None:
        return next((m for m in self._re.finditer(text) if self._is_secret(m)), None)

    def subn(self, repl: str, text: str) -> tuple[str, int]:
        count = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal count
            if not self._is_secret(match):
                return match.group(0)
            count += 1
            return repl

        return self._re.sub(replace, text), count


SECRET_PATTERNS: tuple[tuple[str, "re.Pattern[str] | AssignedSecret"], ...] = (
    ("private_key", re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY(?: BLOCK)?-----")),
    ("aws_access_key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("github_token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b")),
    ("anthropic_key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    ("openai_key", re.compile(r"\bsk-(?:proj-|live-)?[A-Za-z0-9_-]{20,}")),
    ("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("stripe_key", re.compile(r"\b[rs]k_live_[0-9A-Za-z]{16,}\b")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")),
    ("assigned_secret", AssignedSecret()),
)

CODE_FENCE_RE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
TRANSCRIPT_RE = re.compile(r"^\s*(user|assistant|human|ai|system|tool)\s*:", re.IGNORECASE | re.MULTILINE)
NEXT_STEPS_RE = re.compile(r"(?i)\bnext\s+steps?\b|\bTODO\b")


# A rule's anchors: clauses, any of which may let a match through; a clause
# is groups of lowercase substrings, each group needing one of its strings
# in the text. Every match of the rule's pattern satisfies some clause.
Clause = tuple[tuple[str, ...], ...]


def any_of(*anchors: str) -> tuple[Clause, ...]:
    """Clauses of one substring each: any one of them lets the pattern run."""
    return tuple(((anchor,),) for anchor in anchors)


@dataclass(frozen=True)
class Rule:
    """One check of the scan. `anchors`: the pattern runs only on text that
    satisfies one of these clauses (see Clause). A typical memory satisfies
    none, and skipping the three big patterns takes the scan of a 400-byte
    file from ~250 to ~20 µs (it runs on every file a cold start reads).
    Clauses of several groups (`ignore` and `instructions`, not either one)
    keep the big patterns off ordinary prose, whose words hit single ones."""

    name: str
    pattern: "re.Pattern[str] | AssignedSecret"
    reason: str
    mask: bool = False
    anchors: tuple[Clause, ...] = ()

    def may_match(self, lowered: str) -> bool:
        """Whether the pattern can match the text whose lowercase is `lowered`
        (ASCII: for other text IGNORECASE also folds, say, the Kelvin sign
        into "k", and every rule runs)."""
        if not self.anchors:
            return True
        # Loops, not nested any()/all(): half the time, on every file.
        for clause in self.anchors:
            for group in clause:
                for anchor in group:
                    if anchor in lowered:
                        break
                else:
                    break  # a group without any of its strings: not this clause
            else:
                return True
        return False


SECRET_ANCHORS = {
    "private_key": ("-----begin",),
    "aws_access_key": ("akia", "asia"),
    "github_token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "anthropic_key": ("sk-ant-",),
    "openai_key": ("sk-",),
    "slack_token": ("xox",),
    "google_api_key": ("aiza",),
    "stripe_key": ("k_live_",),
    "jwt": ("eyj",),
    "assigned_secret": ("passw", "secret", "key", "token"),
}

# Each clause follows one branch of the pattern above it (in order); in a
# clause the group prose holds least often comes first, so it fails early.
INJECTION_ANCHORS: tuple[Clause, ...] = (
    (("ignore", "disregard", "forget", "override"), ("instruction", "prompt", "rules", "messages", "directions", "guidelines")),
    (("system", "hidden"), ("reveal", "print", "show", "leak", "repeat")),
    (("unrestricted", "jailbroken", "dan", "developer", "longer"), ("now",), ("you",)),
    (("jailbreak",),),
    (("anything",), ("now",)),
    (("<",), ("im_start", "im_end", "system")),
    (("system",), ("new",), (":",)),
)
_FETCHERS = ("curl", "wget", "nc", "netcat", "scp", "rsync", "ftp")  # "nc" is in ncat, not in netcat
EXFILTRATION_ANCHORS: tuple[Clause, ...] = (
    ((".ssh/", ".aws/", ".env", "id_rsa", "id_ed25519", "/etc/", "credentials", "$(", "--data"), _FETCHERS),
    (("|",), ("curl", "wget", "nc", "base64"), ("env", "cat")),
    (
        ("key", "secret", "credentials", "password", "token"),
        ("send", "post", "upload", "exfiltrate", "leak", "forward", "email", "transmit"),
        ("to",),
    ),
)
_SHELL_FILES = ("bashrc", "zshrc", "profile", "authorized_keys", "crontab")
PERSISTENCE_ANCHORS: tuple[Clause, ...] = (
    ((">",), _SHELL_FILES),
    (("crontab",),),
    (("|",), ("curl", "wget"), ("sh",)),
    ((*_SHELL_FILES, ".git/hooks"), ("add", "append", "write", "insert", "install")),
    (("future",), ("session", "conversation", "response", "chat"), ("every", "all")),
)

RULES: tuple[Rule, ...] = (
    # Its characters are all outside ASCII: anchored on one that ASCII text never holds.
    Rule("invisible_unicode", INVISIBLE_RE, "invisible or bidirectional Unicode control characters", anchors=any_of("\x80")),
    Rule("prompt_injection", INJECTION_RE, "text that tries to instruct the agent (prompt injection)", anchors=INJECTION_ANCHORS),
    Rule("exfiltration", EXFILTRATION_RE, "a command or instruction that sends data off the machine", anchors=EXFILTRATION_ANCHORS),
    Rule(
        "persistence",
        PERSISTENCE_RE,
        "an instruction that plants itself in shell start-up or future sessions",
        anchors=PERSISTENCE_ANCHORS,
    ),
    *(
        Rule("secret", pattern, f"a secret ({kind.replace('_', ' ')})", mask=True, anchors=any_of(*SECRET_ANCHORS[kind]))
        for kind, pattern in SECRET_PATTERNS
    ),
)

# Things not worth saving, for autonomous origins (the extractor, dreaming).
AUTONOMOUS_RULES: tuple[Rule, ...] = (
    Rule("not_worth_saving", CODE_FENCE_RE, "a code block: code belongs in the repository, not in memory"),
    Rule("not_worth_saving", TRANSCRIPT_RE, "transcript lines, not a distilled memory"),
    Rule("not_worth_saving", NEXT_STEPS_RE, "a task list (next steps / TODO), not a durable memory"),
)


@dataclass
class Finding:
    rule: str
    reason: str
    excerpt: str
    start: int = 0  # where in the scanned (joined) text it was found


@dataclass
class ScanOutcome:
    texts: dict[str, str]
    findings: list[Finding] = field(default_factory=list)
    redactions: int = 0


def _excerpt(text: str, match: re.Match[str], *, mask: bool) -> str:
    found = match.group(0)
    if mask:
        found = found[:4] + "…" if len(found) > 4 else "…"
    return found[:80]


_RE2 = re2.Options()
_RE2.log_errors = False  # a refused pattern is reported by whoever asked, not on stderr


def re2_refusal(pattern: str) -> str | None:
    """Why RE2 refuses `pattern` (None: it takes it)."""
    try:
        re2.compile(pattern, _RE2)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "refused"
        return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return None


def redaction_pattern(pattern: str) -> Any:
    """A configured pattern, compiled for RE2, which matches in linear time:
    with Python's backtracking engine "(a+)+$" takes 2**n steps, and a
    write's scan runs on the event loop. Patterns from the configurations
    surface are RE2 by validation; a global one RE2 refuses (look-around or
    back references in the person's own config.toml) keeps Python's."""
    try:
        return re2.compile(pattern, _RE2)
    except re2.error:
        return re.compile(pattern)


class Scanner:
    """`bound`: (pattern, redaction string) pairs a scope's bound memory
    configurations add (COMPAT §2.6), each with its own redaction string."""

    def __init__(self, *, redact_patterns: list[str], redaction: str, bound: Sequence[tuple[str, str]] = ()) -> None:
        self.redaction = redaction
        self.redact_patterns = [redaction_pattern(p) for p in redact_patterns]
        self.bound = [(redaction_pattern(p), r) for p, r in bound]

    @property
    def redacting(self) -> bool:
        return bool(self.redact_patterns or self.bound)

    def redact(self, text: str) -> tuple[str, int]:
        """The text with every secret and configured pattern replaced by the
        redaction string, and how many were replaced."""
        total = 0
        # A function, not a template: a redaction string is plain text.
        for pattern in [p for _, p in SECRET_PATTERNS] + self.redact_patterns:
            text, count = pattern.subn(lambda _m: self.redaction, text)
            total += count
        for bound, redaction in self.bound:
            text, count = bound.subn(lambda _m, r=redaction: r, text)
            total += count
        return text, total

    def redact_strings(self, value: Any, *, keys: bool = False) -> Any:
        """`value` (JSON-like) with every string in it redacted, object keys
        too when `keys`: the structure stays, so JSON stays JSON."""
        if isinstance(value, str):
            return self.redact(value)[0]
        if isinstance(value, list):
            return [self.redact_strings(item, keys=keys) for item in value]
        if isinstance(value, dict):
            return {(self.redact(k)[0] if keys else k): self.redact_strings(v, keys=keys) for k, v in value.items()}
        return value

    def scan(self, texts: dict[str, str], *, autonomous: bool) -> ScanOutcome:
        """Check each named text (name, description, body); redact if set."""
        outcome = ScanOutcome(texts=dict(texts))
        if self.redacting:
            for key, text in outcome.texts.items():
                outcome.texts[key], count = self.redact(text)
                outcome.redactions += count
        joined = "\n".join(outcome.texts.values())
        # The anchors are lowercase ASCII: for other text (where IGNORECASE
        # also folds, say, the Kelvin sign into "k") every rule runs.
        lowered = joined.lower() if joined.isascii() else None
        for rule in RULES + (AUTONOMOUS_RULES if autonomous else ()):
            if lowered is not None and not rule.may_match(lowered):
                continue
            match = rule.pattern.search(joined)
            if match:
                excerpt = _excerpt(joined, match, mask=rule.mask)
                if rule.name == "invisible_unicode":
                    excerpt = f"U+{ord(match.group(0)):04X}"
                outcome.findings.append(Finding(rule=rule.name, reason=rule.reason, excerpt=excerpt, start=match.start()))
        return outcome

"""The gate a file on disk passes before the daemon takes it in.

Files written by hand, or pulled with a repository, reach recall without an
API write, so they pass what an API write passes (DESIGN §5 rule 2): only
regular files are read, never past `file.max_bytes`; the line limit; YAML
aliases refused; the safety scan. A file that fails is refused: left
untouched on disk (it is the person's file), reported, never indexed, and
taken in on its own once it is fixed.

With `privacy_policy.redact_patterns` set, secrets are redacted instead of
refused, as on the write path; the catalog (and so the index and recall)
keeps the redacted text, the file on disk is not rewritten.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import FileConfig
from ..errors import ParseError
from ..model import Entry, MemoryType, Selector
from ..storage.filenames import misnamed
from ..storage.files import ParsedMemory, body_of, content_hash, parse_memory
from ..storage.reading import Refusal, RefusedFile, read_memory_bytes
from .safety import Scanner


@dataclass
class Intake:
    """One look at a file: its bytes and stat, then either what the catalog
    keeps (`parsed`, `shown`) or why it is refused."""

    raw: bytes | None
    stat: os.stat_result | None
    parsed: ParsedMemory | None = None
    refusal: Refusal | None = None
    # The text recall may show: the file's, or its redacted copy.
    shown: str = ""
    name: str = ""
    description: str = ""
    redacted: bool = False

    def entry(self, selector: Selector, filename: str) -> Entry:
        assert self.parsed is not None and self.stat is not None
        entry = self.parsed.to_entry(selector, filename, self.stat.st_size, self.stat.st_mtime_ns)
        entry.raw, entry.name, entry.description = self.shown, self.name, self.description
        return entry

    @property
    def body(self) -> str:
        """The body recall and readers may see (redacted when it had to be)."""
        assert self.parsed is not None
        return body_of(self.shown) if self.redacted else self.parsed.body

    @property
    def fingerprint(self) -> str:
        """What a refusal is recorded against: the content's hash when it was
        read, else its size (a file too large to read)."""
        if self.parsed is not None:
            return self.parsed.content_hash
        if self.raw is not None:
            return content_hash(self.raw)
        return f"size:{self.stat.st_size if self.stat else 0}"


# Both ends of a conflict git left in the file: never half of one indexed.
_CONFLICT_RE = re.compile(rb"^<{7}(?: [^\n]*)?\n.*?^>{7}(?: [^\n]*)?$", re.MULTILINE | re.DOTALL)


def has_merge_conflict(raw: bytes) -> bool:
    return b"<<<<<<<" in raw and _CONFLICT_RE.search(raw) is not None


def decoded_strings(meta: dict[str, Any], text: str) -> str:
    """The frontmatter's strings (keys too) that the file's text does not
    hold as they are: a double-quoted YAML scalar spells characters as
    escapes ("\\x6f", "\\u202e"), so the scan of the file's lines never
    sees what a model would. Plain files yield nothing (no second scan)."""
    found: list[str] = []
    pending: list[Any] = [meta]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if value not in text:
                found.append(value)
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return "\n".join(found)


def take_in(
    path: Path, filename: str, default_type: MemoryType, *, limits: FileConfig, scanner: Scanner
) -> Intake | None:
    """Read, check and parse one file; None when it does not exist. Never
    blocks on what is not a regular file, never reads past the size cap."""
    problem = misnamed(filename)
    if problem is not None:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None
        return Intake(raw=None, stat=info, refusal=Refusal("invalid", "filename", f"{problem}: rename the file to take it in"))
    try:
        raw, info = read_memory_bytes(path, max_bytes=limits.max_bytes)
    except FileNotFoundError:
        return None
    except RefusedFile as exc:
        try:
            info = os.lstat(path)
        except OSError:
            info = None
        return Intake(raw=None, stat=info, refusal=exc.refusal)
    return check(raw, info, filename, default_type, limits=limits, scanner=scanner)


def check(
    raw: bytes, info: os.stat_result, filename: str, default_type: MemoryType, *, limits: FileConfig, scanner: Scanner
) -> Intake:
    intake = Intake(raw=raw, stat=info)
    if not raw.strip():
        intake.refusal = Refusal("invalid", "empty", "the file is empty")
        return intake
    conflict = _CONFLICT_RE.search(raw)
    if conflict is not None:
        line = raw.count(b"\n", 0, conflict.start()) + 1
        intake.refusal = Refusal(
            "invalid", "merge_conflict", f"line {line} starts a git merge conflict (<<<<<<<); resolve it and save the file"
        )
        return intake
    lines = raw.count(b"\n")
    if lines > limits.max_lines:
        intake.refusal = Refusal(
            "quarantined", "file.max_lines", f"the file has {lines} lines; the limit is {limits.max_lines} (file.max_lines)"
        )
        return intake
    try:
        parsed = parse_memory(raw, filename, default_type)
    except RefusedFile as exc:
        intake.refusal = exc.refusal
        return intake
    except ParseError as exc:
        intake.refusal = Refusal("invalid", "parse", exc.message)
        return intake
    text = raw.decode("utf-8")
    # The whole file is scanned, frontmatter too: any of it can reach a model;
    # and its strings as YAML decodes them, where an escape hid what they say.
    decoded = decoded_strings(parsed.meta, text)
    outcome = scanner.scan({"file": text, "decoded": decoded} if decoded else {"file": text}, autonomous=False)
    if outcome.findings:
        finding = outcome.findings[0]
        # Where, not what: the reason is shown in health and the decision
        # log, which agents read too (U+… names an invisible character).
        where = f"line {text.count(chr(10), 0, finding.start) + 1}" if finding.start < len(text) else "the frontmatter, decoded,"
        shown = f" ({finding.excerpt})" if finding.rule == "invisible_unicode" else ""
        intake.refusal = Refusal("quarantined", f"memory_scan.{finding.rule}", f"{where} contains {finding.reason}{shown}")
        return intake
    intake.parsed = parsed
    intake.shown, intake.name, intake.description = text, parsed.name, parsed.description
    if outcome.redactions:
        intake.redacted = True
        intake.shown = outcome.texts["file"]
        intake.name = scanner.redact(parsed.name)[0]
        intake.description = scanner.redact(parsed.description)[0]
    return intake


"""Agent transcripts (Claude Code, Codex) read for the session ledgers.

A hook names its session's transcript (`transcript_path`): JSONL, one entry
a line. Claude Code writes `{"type": "user"|"assistant", "message": {"role",
"content"}, …}`, content a string or a list of parts (`text`, `tool_use`,
`tool_result`, `thinking`…); Codex writes `{"type": "response_item",
"payload": {"type": "message", "role", "content": [{"type": "input_text" |
"output_text", "text"}]}}`. A turn is the text of a user or assistant
message; tool calls and results, reasoning, sub-agents and the runtimes'
own wrappers (slash commands, environment context) are left out, and so is
recalled memory an earlier hook injected (the `<memory-data>` fence).

A turn's number is its line number in the file: the transcript only grows,
so reading it again gives the same numbers, which makes them the ledger's
sequences (a second Stop adds nothing).

The daemon reads a path an HTTP caller names, so it reads only regular
files inside `hooks.transcript_roots`, up to `hooks.max_transcript_bytes`;
anything else is refused with a reason. Each file's read position is kept,
so a long session's next hook parses only the lines added since.
"""

from __future__ import annotations

import collections
import json
import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ValidationError
from ..storage.layout import expand_home

ROLES = ("user", "assistant")
TEXT_PARTS = ("text", "input_text", "output_text")
# User "messages" the runtimes write themselves: slash commands and their
# output, shell escapes, Codex's environment and instructions preamble.
WRAPPERS = (
    "<command-name>", "<command-message>", "<command-args>", "<local-command-stdout>", "<local-command-stderr>",
    "<bash-input>", "<bash-stdout>", "<bash-stderr>", "<environment_context>", "<user_instructions>",
    "<user_shell_command>", "# AGENTS.md instructions", "Caveat: The messages below were generated",
)
# Injected text inside a message: recalled memory and the runtime's reminders.
INJECTED_RE = re.compile(r"<(memory-data|system-reminder)>.*?</\1>", re.DOTALL | re.IGNORECASE)
MAX_TURN_CHARS = 20_000
# JSON may spell a lone UTF-16 surrogate ("\ud800") and json.loads keeps it;
# it cannot be encoded, so the ledger could never hold the turn. A transcript
# is the runtime's, not the caller's: keep the text, mark the spot (U+FFFD).
LONE_SURROGATE_RE = re.compile("[\ud800-\udfff]")
CACHED_FILES = 256


class TranscriptRefused(Exception):
    """The path is not one the daemon reads; the message says why."""


@dataclass(frozen=True)
class Turn:
    sequence: int  # the line number: stable across reads
    role: str
    text: str


@dataclass(frozen=True)
class Progress:
    """How far one file has been read."""

    device: int
    inode: int
    offset: int = 0  # bytes of whole lines read
    lines: int = 0  # whole lines read: the last turn's sequence at most
    has_user: bool = False


@dataclass
class Reading:
    """The turns added to a transcript since the last committed reading."""

    path: str
    turns: list[Turn]
    progress: Progress


def message_of(entry: Any) -> tuple[str, Any] | None:
    """(role, content) of a transcript line that is a message, else None."""
    if not isinstance(entry, dict):
        return None
    kind = entry.get("type")
    if kind in ROLES:  # Claude Code
        if entry.get("isMeta") or entry.get("isSidechain") or entry.get("isCompactSummary"):
            return None
        message = entry.get("message")
    elif kind == "response_item":  # Codex
        message = entry.get("payload")
    elif kind == "message":  # Codex, older files
        message = entry
    else:
        return None
    if not isinstance(message, dict) or message.get("type", "message") != "message":
        return None
    role = message.get("role")
    return (role, message.get("content")) if role in ROLES else None


def text_of(role: str, content: Any) -> str:
    """A message's own text: its text parts, without injected blocks or
    runtime wrappers, cut to MAX_TURN_CHARS; "" when nothing is left."""
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "\n\n".join(
            part["text"] for part in content
            if isinstance(part, dict) and part.get("type") in TEXT_PARTS and isinstance(part.get("text"), str)
        )
    else:
        return ""
    text = INJECTED_RE.sub("", text).strip()
    if not text.isascii():
        text = LONE_SURROGATE_RE.sub("\ufffd", text)
    if role == "user" and text.startswith(WRAPPERS):
        return ""
    return text if len(text) <= MAX_TURN_CHARS else text[: MAX_TURN_CHARS - 1] + "…"


def parse_lines(data: bytes, first_line: int) -> tuple[list[Turn], bool]:
    """The turns in `data`, whole JSONL lines each ending in a newline
    (numbered from `first_line`), and whether one of them is the user's. A
    line that is not JSON is skipped (its number stays taken)."""
    turns = []
    for number, line in enumerate(data.split(b"\n")[:-1], first_line):
        try:
            found = message_of(json.loads(line))
        except (ValueError, RecursionError):
            continue
        if found is not None:
            text = text_of(*found)
            if text:
                turns.append(Turn(number, found[0], text))
    return turns, any(turn.role == "user" for turn in turns)


class TranscriptReader:
    def __init__(self, config: Config) -> None:
        self.config = config  # hooks.* read at each call: a reload applies
        self._progress: collections.OrderedDict[str, Progress] = collections.OrderedDict()
        self._lock = threading.Lock()

    def resolve(self, raw: str) -> Path:
        """The real path of `raw` when it is inside a transcript root."""
        try:
            path = expand_home(raw, "transcript_path")
        except ValidationError as exc:  # ~user for a user this machine does not have
            raise TranscriptRefused(exc.message) from None
        if not path.is_absolute():
            raise TranscriptRefused("transcript_path is not an absolute path")
        real = Path(os.path.realpath(path))
        for root in self.config.hooks.transcript_roots:
            top = Path(os.path.realpath(Path(root).expanduser()))
            if real != top and real.is_relative_to(top):
                return real
        raise TranscriptRefused("transcript_path is outside hooks.transcript_roots")

    def read(self, raw: str) -> Reading:
        """The turns added since the last commit() for this file (all of
        them the first time). TranscriptRefused when it may not be read."""
        real = self.resolve(raw)
        fd, info = self._open(real)
        try:
            with self._lock:
                known = self._progress.get(str(real))
            start = Progress(info.st_dev, info.st_ino)
            if known is not None and (known.device, known.inode) == (start.device, start.inode) and known.offset <= info.st_size:
                start = known
            data = _read_range(fd, start.offset, info.st_size)
        finally:
            os.close(fd)
        whole = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next read
        turns, has_user = parse_lines(whole, start.lines + 1)
        progress = Progress(
            start.device, start.inode, start.offset + len(whole), start.lines + whole.count(b"\n"), start.has_user or has_user
        )
        return Reading(str(real), turns, progress)

    def _open(self, real: Path) -> tuple[int, os.stat_result]:
        """A descriptor of `real` if it is a regular file within the size
        cap (checked on what was opened: nothing can be swapped in between)."""
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise TranscriptRefused(f"transcript_path cannot be opened: {exc.strerror}") from None
        info = os.fstat(fd)
        cap = self.config.hooks.max_transcript_bytes
        if not stat.S_ISREG(info.st_mode) or info.st_size > cap:
            os.close(fd)
            if not stat.S_ISREG(info.st_mode):
                raise TranscriptRefused("transcript_path is not a regular file")
            raise TranscriptRefused(f"the transcript is {info.st_size} bytes, over hooks.max_transcript_bytes ({cap})")
        return fd, info

    def commit(self, reading: Reading) -> None:
        """Remember how far `reading` got (once its turns are in a ledger)."""
        with self._lock:
            self._progress[reading.path] = reading.progress
            self._progress.move_to_end(reading.path)
            while len(self._progress) > CACHED_FILES:
                self._progress.popitem(last=False)


def _read_range(fd: int, start: int, end: int) -> bytes:
    """Bytes `start` to `end` of an open file (fewer if it shrank)."""
    chunks = []
    while start < end:
        chunk = os.pread(fd, end - start, start)
        if not chunk:
            break
        chunks.append(chunk)
        start += len(chunk)
    return b"".join(chunks)

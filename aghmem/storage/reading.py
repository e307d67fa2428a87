"""Reading a memory file safely: only regular files, never past the cap.

What cannot be taken in is a `Refusal` (kind `invalid` or `quarantined`,
the rule, a reason a person can act on), raised as `RefusedFile`.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParseError


@dataclass(frozen=True)
class Refusal:
    """Why a file on disk is not taken in. `kind` is "invalid" (it cannot be
    read or parsed) or "quarantined" (it breaks a limit or the safety scan);
    `rule` names the check, as in a decision's rule trace."""

    kind: str
    rule: str
    reason: str


class RefusedFile(ParseError):
    """A memory file that is not taken in (a ParseError: every path that
    reports an unparsable file reports this one the same way)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason, rule=refusal.rule)
        self.refusal = refusal


def _invalid(rule: str, reason: str) -> RefusedFile:
    return RefusedFile(Refusal("invalid", rule, reason))


def _file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def too_large(size: int, max_bytes: int) -> RefusedFile:
    return RefusedFile(Refusal("quarantined", "file.max_bytes", f"the file is {size} bytes; the limit is {max_bytes} (file.max_bytes)"))


def read_memory_bytes(path: Path, *, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """A memory file's bytes and the stat they were read under.

    Only regular files are read, and never past `max_bytes`: a FIFO named
    `user_f.md` would block the reader forever, a device could do anything,
    and a 20 MB hand file would be held whole in memory (RSS 75 → 600 MB).
    Absent → FileNotFoundError; anything else that cannot be taken in →
    RefusedFile.
    """
    try:
        before = os.lstat(path)
    except NotADirectoryError:
        raise FileNotFoundError(str(path)) from None
    if not stat.S_ISREG(before.st_mode):
        raise _invalid("not_regular", f"{_file_kind(before.st_mode)}; memory files must be regular files")
    if before.st_size > max_bytes:
        raise too_large(before.st_size, max_bytes)
    try:
        # O_NONBLOCK: if a FIFO took the file's place since the lstat, the
        # open returns at once and the fstat below refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _invalid("unreadable", f"cannot be read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _invalid("not_regular", f"{_file_kind(info.st_mode)}; memory files must be regular files")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise _invalid("unreadable", f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > max_bytes:
        raise too_large(max(size, info.st_size), max_bytes)
    return b"".join(chunks), info

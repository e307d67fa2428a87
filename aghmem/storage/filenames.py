"""Memory file names: which names a memory may have, which directory
entries scans read, and the name a new memory gets."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

from ..errors import ValidationError
from ..model import MemoryType

INDEX_FILENAME = "MEMORY.md"

FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.md$")
# System-managed files (dreaming, daily logs…) are named `_system…`.
SYSTEM_FILENAME_RE = re.compile(r"^_system[A-Za-z0-9._-]{0,120}\.md$")


def is_memory_filename(name: str) -> bool:
    """Whether a directory entry is a memory file that scans should read."""
    return (
        name.endswith(".md")
        and name != INDEX_FILENAME
        and not name.startswith(".")
        and ".tmp-" not in name
    )


def shown_name(name: str) -> str:
    """A name (or path) as text: one that is not UTF-8 (Python holds its
    bytes as surrogates) with those bytes escaped, `user_\\xff.md`. The
    catalog stores text, and SQLite refuses the surrogates."""
    if name.isascii():
        return name
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def is_text_name(name: str) -> bool:
    return shown_name(name) == name


def check_filename(filename: Any, *, system: bool = False) -> str:
    """A memory filename, or ValidationError. `system` also admits the
    `_system…` names of system-managed files (never chosen by clients)."""
    if filename == INDEX_FILENAME:
        raise ValidationError(f"{INDEX_FILENAME} is reserved: the daemon writes it as the scope's index", field="filename")
    if not system and isinstance(filename, str) and SYSTEM_FILENAME_RE.fullmatch(filename):
        raise ValidationError("names starting with _system are reserved for system-managed files", field="filename")
    if (
        not isinstance(filename, str)
        or not (FILENAME_RE.fullmatch(filename) or (system and SYSTEM_FILENAME_RE.fullmatch(filename)))
        or ".." in filename
    ):
        raise ValidationError(
            "filename must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}.md, without '..'",
            field="filename",
        )
    return filename


def listed_name(filename: str) -> str:
    """A name as a directory listing gives it: one path component, or
    ValidationError. What a scan or the watcher finds may break the memory
    filename rule (`my notes.md`): that file is refused and reported
    (`misnamed`), not a reason to stop."""
    if not filename or "/" in filename or "\0" in filename or filename in (".", ".."):
        raise ValidationError(f"{filename!r} is not a file name", field="filename")
    return filename


def misnamed(filename: str) -> str | None:
    """Why a file found on disk cannot be a memory by its name, if it cannot."""
    try:
        check_filename(filename, system=True)
    except ValidationError as exc:
        return str(exc)
    return None


def slugify(text: str, max_len: int = 80) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:max_len].strip("_")
    if not slug:
        # Names in scripts with no ASCII letters (CJK, Cyrillic…) still need a
        # stable filename: hash the text.
        slug = "m" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    return slug


def make_filename(memory_type: MemoryType, *, entity: str | None, name: str | None, body: str) -> str:
    source = entity or name or " ".join(body.split()[:5])
    return f"{memory_type.value}_{slugify(source)}.md"

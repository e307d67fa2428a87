"""MEMORY.md: the generated one-line-per-memory index of each directory.

Every change regenerates it, but concurrent writers to one directory share
regenerations (group commit): a writer returns only after a regeneration
that started after its change was committed, and one regeneration can cover
several writers. Reading MEMORY.md after a write returns shows that write.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Iterable

from .filenames import INDEX_FILENAME
from .files import atomic_write

INDEX_MAX_LINES = 200
INDEX_MAX_BYTES = 25_000

Row = tuple[str, str, str]  # filename, name, description


# Rendered lines by row: a regeneration re-renders up to 200 lines, nearly
# all unchanged. A plain dict of strings and tuples of them, which the cyclic
# collector stops tracking (an lru_cache's entries are lists it walks at
# every full collection); started afresh when full.
_LINES: dict[Row, tuple[str, int]] = {}


def _index_line(filename: str, name: str, description: str) -> tuple[str, int]:
    """The line (with its newline) and its size in bytes."""
    row = (filename, name, description)
    if (known := _LINES.get(row)) is not None:
        return known
    name = " ".join(name.split()).replace("[", "(").replace("]", ")")
    line = f"- [{name}]({filename})"
    description = " ".join(description.split())
    line = f"{line} - {description}\n" if description else f"{line}\n"
    if len(_LINES) >= 16_384:
        _LINES.clear()
    known = _LINES[row] = (line, len(line.encode("utf-8")))
    return known


def render_index(rows: Iterable[Row]) -> str:
    """One line per memory, cut at 200 lines / 25,000 bytes.

    `rows` are (filename, name, description), newest first, without
    system-managed files.
    """
    lines: list[str] = []
    size = 0
    for row in rows:
        line, encoded = _index_line(*row)
        if len(lines) >= INDEX_MAX_LINES or size + encoded > INDEX_MAX_BYTES:
            break
        lines.append(line)
        size += encoded
    return "".join(lines)


def write_index(directory: Path, rows: Iterable[Row], tmp_dir: Path | None = None) -> bool:
    """Regenerate `MEMORY.md`; returns whether its bytes changed."""
    data = render_index(rows).encode("utf-8")
    path = directory / INDEX_FILENAME
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        if not data:
            return False
    # Derived and rebuilt at every start, so a rename without fsync is enough.
    atomic_write(path, data, durable=False, tmp_dir=tmp_dir)
    return True


class _DirectoryState:
    def __init__(self) -> None:
        self.regenerating = threading.Lock()
        self.requested = 0  # changes announced
        self.covered = 0  # changes the last finished regeneration includes


class IndexRefresher:
    """Regenerates MEMORY.md files, sharing work between concurrent writers."""

    def __init__(self, rows_for: Callable[[str], list[Row]]) -> None:
        self._rows_for = rows_for
        self._states: dict[Path, _DirectoryState] = {}
        self._lock = threading.Lock()

    def refresh(self, directory: Path, scope_key: str, tmp_dir: Path | None = None) -> None:
        """Call after a change to `directory` is committed to the catalog."""
        with self._lock:
            state = self._states.setdefault(directory, _DirectoryState())
            state.requested += 1
            mine = state.requested
        with state.regenerating:
            with self._lock:
                if state.covered >= mine:
                    return  # a regeneration that began after our change is done
                upto = state.requested
            if directory.is_dir():
                write_index(directory, self._rows_for(scope_key), tmp_dir)
            with self._lock:
                state.covered = max(state.covered, upto)

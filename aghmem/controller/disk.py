"""The files a write decides on, read the safe way.

Regular files only, never past the size cap (storage/reading.py); what
cannot be taken in is a Conflict that says how to fix it. A file someone
else changed a moment ago is read until it settles.
"""

from __future__ import annotations

import os
import time

from ..config import Config
from ..errors import Conflict, ParseError
from ..model import Selector, default_type
from ..storage.catalog import Catalog
from ..storage.files import ParsedMemory, content_hash, parse_memory
from ..storage.layout import Layout, ScopeFiles
from ..storage.reading import RefusedFile, read_memory_bytes
from .hand_edits import SETTLE_PAUSE, SETTLE_TRIES, SETTLE_WINDOW_NS
from .intake import has_merge_conflict


class Disk:
    def __init__(self, layout: Layout, catalog: Catalog, config: Config) -> None:
        self.layout = layout
        self.catalog = catalog
        self.config = config

    def read(self, selector: Selector, filename: str, files: ScopeFiles | None = None) -> tuple[bytes | None, os.stat_result | None]:
        """The file's bytes and stat (None, None if absent); Conflict for
        what cannot be read as a memory (not a regular file, over the size
        cap). `files`: the scope as a write already resolved it."""
        path = files.path(filename) if files is not None else self.layout.file_path(selector, filename)
        try:
            return read_memory_bytes(path, max_bytes=self.config.file.max_bytes)
        except FileNotFoundError:
            return None, None
        except RefusedFile as exc:
            raise Conflict(f"{filename} cannot be taken in ({exc.message}); fix it by hand or delete it", filename=filename) from None

    def raw(self, selector: Selector, filename: str, files: ScopeFiles | None = None) -> bytes | None:
        return self.read(selector, filename, files)[0]

    def current_hash(self, selector: Selector, filename: str) -> str | None:
        raw = self.raw(selector, filename)
        return content_hash(raw) if raw is not None else None

    def parsed(self, selector: Selector, filename: str) -> ParsedMemory | None:
        """The memory as it is on disk now (None if absent)."""
        raw = self.raw(selector, filename)
        return parse_memory(raw, filename, default_type(selector)) if raw is not None else None

    def settled(self, selector: Selector, filename: str, files: ScopeFiles | None = None) -> bytes | None:
        """The bytes a write decides on. A file changed by someone else a
        moment ago (not as the catalog took it in) is read until two reads
        agree: an in-place save caught half-way must not become the memory's
        prior text, nor lose its frontmatter to a guessed name."""
        raw, info = self.read(selector, filename, files)
        known = self.catalog.scope_file(selector.key, filename)
        for _ in range(SETTLE_TRIES):
            if info is None or (info.st_size, info.st_mtime_ns) == known or time.time_ns() - info.st_mtime_ns > SETTLE_WINDOW_NS:
                break
            time.sleep(SETTLE_PAUSE)
            again, info = self.read(selector, filename, files)
            if again == raw:
                break
            raw = again
        return raw

    def for_write(self, selector: Selector, filename: str, files: ScopeFiles | None = None) -> ParsedMemory | None:
        """A file a write would change, settled and parsed (None if absent);
        Conflict when it cannot be taken in (fix it by hand, or delete it first)."""
        raw = self.settled(selector, filename, files)
        if raw is None:
            return None
        if not raw.strip():
            # As the intake gate has it: empty is no memory. Most often a save
            # caught between truncating and writing: taking it as the prior
            # and renaming over it would send the save into the void.
            raise Conflict(f"{filename} is empty (a save in progress?); retry, or delete it first", filename=filename)
        if has_merge_conflict(raw):
            raise Conflict(f"{filename} holds a git merge conflict; resolve it by hand first", filename=filename)
        try:
            return parse_memory(raw, filename, default_type(selector))
        except ParseError as exc:
            raise Conflict(
                f"{filename} exists but cannot be parsed ({exc.message}); fix it by hand or delete it first",
                filename=filename,
            ) from None

"""Keeping dream syntheses in step with the memories they quote.

A synthesis quotes memories line by line; when one of them is updated,
deleted, broken or flagged, its line is restated through the controller
(origin `dreaming`), so recall never serves a synthesis's old fact beside
the new one.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ...controller.controller import Controller, Outcome
from ...controller.rules import Candidate
from ...errors import Conflict, ParseError, ValidationError
from ...model import Entry, Op, Selector
from ...storage.files import body_of
from ...storage.layout import Layout
from .review import SYNTHESIS_PREFIX, Quoted, linked_filenames, refresh_lines

log = logging.getLogger("aghmem.dream")

REFRESH_ATTEMPTS = 3  # a synthesis changed by someone else meanwhile: read it again


class _ScopeLinks:
    """One scope's links both ways: which syntheses quote a file, and which
    files a synthesis quotes (to drop its old links when it changes)."""

    def __init__(self) -> None:
        self.quoted_by: dict[str, set[str]] = {}
        self.quotes: dict[str, set[str]] = {}

    def set(self, synthesis: str, quoted: set[str]) -> None:
        for filename in self.quotes.pop(synthesis, set()) - quoted:
            holders = self.quoted_by.get(filename)
            if holders is not None:
                holders.discard(synthesis)
                if not holders:
                    del self.quoted_by[filename]
        if quoted:
            self.quotes[synthesis] = quoted
            for filename in quoted:
                self.quoted_by.setdefault(filename, set()).add(synthesis)


class SynthesisRefresher:
    """Restates a synthesis's line when the memory it quotes changes, so
    recall never serves the old fact beside the new one.

    A controller change listener: it is told every applied change (API,
    revert, hand edit, and a file that became unreadable, which makes no
    decision) after the write lock is released, and rewrites the synthesis
    through the controller (origin `dreaming`, If-Match on the version it
    read). Which syntheses quote a file is an in-memory map per scope, read
    from that scope's synthesis files the first time the scope changes and
    kept up to date from then on by the changes to syntheses themselves; a
    change to a file no synthesis quotes costs one dict lookup.

    It cannot loop: a synthesis never quotes a synthesis (review excludes
    them), and a change to a synthesis only updates the map.
    """

    def __init__(self, controller: Controller, layout: Layout) -> None:
        self.controller = controller
        self.layout = layout
        self._scopes: dict[str, _ScopeLinks] = {}
        self._lock = threading.Lock()  # the map only; never held across a write

    def on_change(self, selector: Selector, filename: str, entry: Entry | None) -> None:
        """The controller listener. Never raises: the change it is told about
        is applied already, and its caller must not see this fail."""
        try:
            if filename.startswith(SYNTHESIS_PREFIX):
                self._relink(selector, filename)
                return
            for synthesis in self.quoting(selector, filename):
                self.refresh(selector, synthesis, [filename])
        except Exception:  # noqa: BLE001 - logged; the next change or dream retries
            log.exception("could not refresh the syntheses quoting %s in %s", filename, selector.key)

    def quoting(self, selector: Selector, filename: str) -> list[str]:
        """The syntheses in this scope that quote `filename`."""
        with self._lock:
            links = self._scope(selector)
            return sorted(links.quoted_by.get(filename, ()))

    def check(self, selector: Selector, synthesis: str) -> Outcome | None:
        """Restate every line of one synthesis from the disk: a dream calls it
        after writing, since a memory may have changed after the review read
        it and before this synthesis was there to be refreshed. Never raises:
        the synthesis is written; the next change to a memory retries."""
        try:
            self._relink(selector, synthesis)
            return self.refresh(selector, synthesis, None)
        except Exception:  # noqa: BLE001 - logged; the run itself succeeded
            log.exception("could not check %s in %s against its memories", synthesis, selector.key)
            return None

    def refresh(self, selector: Selector, synthesis: str, filenames: list[str] | None) -> Outcome | None:
        """Rewrite the lines of `synthesis` that quote `filenames` (None: all
        of them) as the memories are now; None when nothing had to change."""
        for _ in range(REFRESH_ATTEMPTS):
            try:
                current = self.controller.read(selector, synthesis)
            except ParseError:
                return None  # broken by hand: reported by health, left to its editor
            if current is None:
                return None
            body = current.body
            for filename in sorted(linked_filenames(body)) if filenames is None else filenames:
                quoted = self._quoted(selector, filename)
                if quoted is not None:
                    body = refresh_lines(body, quoted, self.controller.scanner)
            if body == current.body:
                return None
            candidate = Candidate(
                selector=selector, origin="dreaming", filename=synthesis, body=body,
                patch=True, if_match=current.content_hash,
            )
            try:
                outcome = self.controller.submit(candidate)
            except Conflict:
                continue  # the synthesis changed after we read it
            if outcome.decision.op is Op.REJECT:
                log.warning("refreshing %s was rejected: %s", synthesis, outcome.decision.reason)
            return outcome
        log.warning("gave up refreshing %s: it kept changing", synthesis)
        return None

    def _quoted(self, selector: Selector, filename: str) -> Quoted | None:
        try:
            return Quoted(filename, self.controller.read(selector, filename))
        except ParseError:
            return Quoted(filename, None, unreadable=True)
        except ValidationError:
            return None  # not a memory filename (a hand-written link elsewhere)

    def _scope(self, selector: Selector) -> _ScopeLinks:
        """The scope's links, read from its synthesis files the first time
        (called with the lock held)."""
        links = self._scopes.get(selector.key)
        if links is None:
            links = _ScopeLinks()
            directory = self.layout.scope_dir(selector)
            for path in directory.glob(f"{SYNTHESIS_PREFIX}*.md"):
                links.set(path.name, _links_in(path))
            self._scopes[selector.key] = links
        return links

    def _relink(self, selector: Selector, synthesis: str) -> None:
        path = self.layout.scope_dir(selector) / synthesis
        with self._lock:
            self._scope(selector).set(synthesis, _links_in(path))


def _links_in(path: Path) -> set[str]:
    """The files a synthesis links, from its text as it is (no YAML parse:
    a synthesis with broken frontmatter still names what it quotes)."""
    try:
        return linked_filenames(body_of(path.read_text(encoding="utf-8", errors="replace")))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return set()



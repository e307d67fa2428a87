"""The watcher: hand edits seen as they happen.

`Watcher` debounces file events (file_events.py) and hands each touched file to
`Controller.observe`; events it cannot map to one file (a directory moved,
the event queue overflowing) trigger a scan (`Reconciler`, features/sync.py).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from ..controller.controller import Controller
from ..errors import AghmemError
from ..model import Selector
from ..storage.filenames import is_memory_filename
from ..storage.layout import Layout
from .file_events import file_events

log = logging.getLogger("aghmem.sync")
# Files in one debounced batch past which MEMORY.md is regenerated once per
# scope after the batch rather than after each file.
BURST_FILES = 16


class Watcher:
    """Turns filesystem events into `Controller.observe` calls, debounced."""

    def __init__(
        self,
        layout: Layout,
        controller: Controller,
        *,
        debounce: float,
        rescan: Callable[[], None],
        scan_scope: Callable[[Selector], None],
    ) -> None:
        self.layout = layout
        self.controller = controller
        self.debounce = debounce
        self.rescan = rescan
        self.scan_scope = scan_scope
        self._events = file_events(self)
        self._watched: set[Path] = set()
        self._pending: set[tuple[Selector, str]] = set()
        # Other files the daemon keeps under roots of their own (memory
        # configurations): (root, suffix, take one changed path).
        self.extra: list[tuple[Path, str, Callable[[Path], None]]] = []
        self._extra_pending: set[tuple[int, Path]] = set()
        self._new_scopes: set[Selector] = set()
        self._rescan_wanted = False
        self.overflows = 0
        self._cond = threading.Condition()
        self._starting = threading.Lock()
        self._stopping = False
        self._worker = threading.Thread(target=self._run, name="aghmem-watcher", daemon=True)

    @property
    def running(self) -> bool:
        return self._worker.is_alive()

    def status(self) -> dict[str, object]:
        """For health: is it running, how many roots, how many files wait
        for the debounce, how often the kernel's queue overflowed."""
        with self._cond:
            pending = len(self._pending) + len(self._new_scopes) + int(self._rescan_wanted)
        return {"running": self.running, "watched_roots": len(self._watched), "pending": pending, "overflows": self.overflows}

    def start(self) -> None:
        """Watch every root (a daemon that starts in the background does this
        in its start-up thread); nothing if stopped already."""
        with self._starting:
            if self._stopping:
                return
            for root in [*self.layout.watch_roots(), *(root for root, _, _ in self.extra)]:
                self.watch(root)
            self._events.start()
            self._worker.start()

    def watch(self, root: Path) -> None:
        """Cover `root` recursively (idempotent; creates it if missing)."""
        if root in self._watched:
            return
        root.mkdir(parents=True, exist_ok=True)
        self._events.watch(root)
        self._watched.add(root)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        with self._starting:  # a start under way finishes first, then is undone
            self._events.stop()
        if self._worker.is_alive():
            self._worker.join(timeout=5)

    def directory_changed(self, path: Path, *, created: bool) -> None:
        """A new directory may be a new scope (or hold one, like agents/bob);
        a moved or deleted one took an unknown set of files with it."""
        if "_system" in path.parts or "_inbox" in path.parts:
            return
        with self._cond:
            if created:
                for candidate in (path, path / "memory"):
                    selector = self.layout.scope_for_dir(candidate)
                    if selector is not None:
                        self._new_scopes.add(selector)
            else:
                self._rescan_wanted = True
            self._cond.notify()

    def overflowed(self) -> None:
        log.warning("the file event queue overflowed: rescanning every scope now")
        with self._cond:
            self.overflows += 1
            self._rescan_wanted = True
            self._cond.notify()

    def also_watch(self, root: Path, suffix: str, take: Callable[[Path], None]) -> None:
        """Hand every changed `*suffix` file under `root` to `take`, debounced."""
        self.extra.append((root, suffix, take))
        if self.running:
            self.watch(root)

    def touched(self, path: Path) -> None:
        for number, (root, suffix, _) in enumerate(self.extra):
            if path.name.endswith(suffix) and path.is_relative_to(root):
                with self._cond:
                    self._extra_pending.add((number, path))
                    self._cond.notify()
                return
        if not is_memory_filename(path.name):
            return
        selector = self.layout.scope_for_dir(path.parent)
        if selector is None:
            return
        with self._cond:
            self._pending.add((selector, path.name))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._pending or self._extra_pending or self._new_scopes or self._rescan_wanted or self._stopping):
                    self._cond.wait()
                if self._stopping:
                    return
            # Let an editor's burst (write temp, rename, chmod) settle.
            threading.Event().wait(self.debounce)
            with self._cond:
                batch, self._pending = self._pending, set()
                new_scopes, self._new_scopes = self._new_scopes, set()
                rescan, self._rescan_wanted = self._rescan_wanted, False
                extra, self._extra_pending = self._extra_pending, set()
            self._take_extra(extra)
            # A burst (a checkout, a sync) regenerates MEMORY.md once per
            # scope at the end; a person's few edits keep it in step per file.
            burst = len(batch) > BURST_FILES
            observed = {
                selector
                for selector, filename in sorted(batch, key=lambda item: (item[0].key, item[1]))
                if self._observe(selector, filename, refresh_index=not burst)
            }
            for selector in observed if burst else ():
                self._refresh_index(selector)
            try:
                if rescan:
                    self.rescan()
                else:
                    for selector in new_scopes:
                        self.scan_scope(selector)
            except Exception:  # noqa: BLE001 - the periodic scan retries
                log.exception("scan after a directory change failed")

    def _take_extra(self, batch: set[tuple[int, Path]]) -> None:
        for number, path in sorted(batch):
            try:
                self.extra[number][2](path)
            except Exception:  # noqa: BLE001 - one bad file must not stop the watcher
                log.exception("taking in %s failed", path)

    def _refresh_index(self, selector: Selector) -> None:
        """MEMORY.md once per scope for a batch of events (a checkout that
        changes hundreds of files regenerates it once, not hundreds of times)."""
        try:
            self.controller.refresh_memory_index(selector)
        except Exception:  # noqa: BLE001 - the next change or scan writes it
            log.exception("refreshing MEMORY.md after a batch failed")

    def _observe(self, selector: Selector, filename: str, *, refresh_index: bool) -> bool:
        """Take one touched file in; whether it was news (not our own write)."""
        try:
            if self.controller.hand_edits.unchanged(selector, filename):
                return False  # most often the daemon's own write, already taken in
            self.controller.hand_edits.observe(selector, filename, refresh_index=refresh_index)
        except AghmemError as exc:
            log.warning("cannot take in %s: %s", filename, exc.message)
        except Exception:  # noqa: BLE001 - one bad file must not stop the watcher
            log.exception("observing %s failed", filename)
        return True

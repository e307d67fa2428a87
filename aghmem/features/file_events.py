"""File events under the memory roots, as the watcher needs them.

The watcher (watcher.py) is told three things: a path was touched (created,
written and closed, its attributes changed, deleted or moved), a directory
was created or went away, the kernel dropped events. Where they come from:

- `InotifyEvents` (Linux): the kernel's inotify read by one thread, one
  watch per directory. Only what can change a memory is asked for (never
  each write() call, open or read), and events are handed on as they are
  parsed. watchdog, by contrast, passes each event through three threads
  and several queues (and pairs moves with a delay): with 8 clients
  writing, its threads took ~20% of the daemon's Python time.
- `WatchdogEvents`: watchdog's observer, for the other platforms.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import sys
import threading
from pathlib import Path
from typing import Protocol

log = logging.getLogger("aghmem.sync")


class EventSink(Protocol):
    """What a source of file events tells (the watcher)."""

    def touched(self, path: Path) -> None: ...

    def directory_changed(self, path: Path, *, created: bool) -> None: ...

    def overflowed(self) -> None: ...


class FileEvents(Protocol):
    def watch(self, root: Path) -> None:
        """Cover `root` and everything below it (it exists)."""

    def start(self) -> None: ...

    def stop(self) -> None:
        """Stop and wait for the reading thread (idempotent)."""


def file_events(sink: EventSink) -> FileEvents:
    """inotify read directly on Linux, watchdog elsewhere."""
    if sys.platform.startswith("linux"):
        return InotifyEvents(sink)
    return WatchdogEvents(sink)


class InotifyEvents:
    """Recursive watching with inotify: a watch per directory, added for the
    directories created (or moved in) later, dropped for those that go."""

    def __init__(self, sink: EventSink) -> None:
        from inotify_simple import INotify, flags

        self.sink = sink
        self._flags = flags
        # Close after write, not each write(): an in-place save ends with one.
        # ATTRIB: `touch` changes only the mtime, which recency uses. Never
        # opens, reads or closes without a write: a scan reading 100k files
        # would be told 200k times (watchdog's filter took a cold start from
        # 61 to 37 s for that reason).
        self._mask = (
            flags.CLOSE_WRITE
            | flags.ATTRIB
            | flags.CREATE
            | flags.DELETE
            | flags.MOVED_FROM
            | flags.MOVED_TO
            | flags.DELETE_SELF
            | flags.MOVE_SELF
            | flags.ONLYDIR
        )
        self._inotify: INotify | None = None  # made at start (a daemon that never watches holds no descriptor)
        self._paths: dict[int, str] = {}  # watch descriptor → its directory
        self._roots: list[str] = []
        # Watches on the parent of a root that went away, for its return
        # (a folder deleted and made again, a clone put in its place).
        self._parents: dict[int, str] = {}
        self._lock = threading.Lock()  # the maps: watch() runs on other threads
        self._wake_r = self._wake_w = -1  # a pipe that wakes the reading thread to stop
        self._stopping = False
        self._out_of_watches = False
        self._thread = threading.Thread(target=self._run, name="aghmem-inotify", daemon=True)

    def watch(self, root: Path) -> None:
        with self._lock:
            self._roots.append(str(root))
            started = self._inotify is not None
        if started:
            self._add_tree(str(root))

    def start(self) -> None:
        from inotify_simple import INotify

        with self._lock:
            if self._stopping:
                return
            self._inotify = INotify()
            self._wake_r, self._wake_w = os.pipe()
            roots = list(self._roots)
        for root in roots:
            self._add_tree(root)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            inotify = self._inotify
        if inotify is None:
            return  # never started
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        inotify.close()

    # --- watches -----------------------------------------------------------

    def _add(self, directory: str) -> bool:
        """Watch one directory; False if it is gone (or not a directory)."""
        assert self._inotify is not None
        try:
            wd = self._inotify.add_watch(directory, self._mask)
        except OSError as exc:
            if exc.errno == errno.ENOSPC and not self._out_of_watches:
                self._out_of_watches = True  # said once, not for each of thousands of folders
                log.warning(
                    "cannot watch %s (and maybe more folders): the system's inotify watch limit "
                    "(fs.inotify.max_user_watches) is reached; changes there are taken in by the periodic scan",
                    directory,
                )
            return False
        with self._lock:
            self._paths[wd] = directory
        return True

    def _add_tree(self, top: str, *, report: bool = False) -> None:
        """Watch `top` and every directory below it. `report`: tell the sink
        of what is inside, which was created before its watch was added (a
        `mkdir -p` and files moved in with their folder)."""
        if not self._add(top):
            return
        for directory, subdirectories, files in os.walk(top):
            for name in subdirectories:
                self._add(os.path.join(directory, name))
            for name in files if report else ():
                self.sink.touched(Path(directory, name))

    def _drop_tree(self, top: str) -> None:
        """Stop watching `top` and what is below it (moved out of sight: its
        watches would report events under its old path)."""
        prefix = top + os.sep
        with self._lock:
            gone = [wd for wd, path in self._paths.items() if path == top or path.startswith(prefix)]
            for wd in gone:
                del self._paths[wd]
        assert self._inotify is not None
        for wd in gone:
            try:
                self._inotify.rm_watch(wd)
            except OSError:
                pass  # already gone with its directory

    # --- reading -----------------------------------------------------------

    def _run(self) -> None:
        assert self._inotify is not None
        poller = select.poll()
        poller.register(self._inotify.fileno(), select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while True:
            ready = {fd for fd, _ in poller.poll()}
            if self._wake_r in ready:
                return
            try:
                for event in self._inotify.read(timeout=0):
                    self._dispatch(event.wd, event.mask, event.name)
            except Exception:  # noqa: BLE001 - one bad event must not stop the watching
                log.exception("handling a file event failed")

    def _dispatch(self, wd: int, mask: int, name: str) -> None:
        flags = self._flags
        if mask & flags.Q_OVERFLOW:
            self._overflowed()
            return
        if mask & flags.IGNORED:
            with self._lock:
                self._paths.pop(wd, None)
                self._parents.pop(wd, None)
            return
        if wd in self._parents:
            path = os.path.join(self._parents[wd], name)
            if mask & flags.ISDIR and path in self._roots:
                self._returned(path)
            return
        directory = self._paths.get(wd)
        if directory is None:
            return  # a watch already dropped
        if mask & (flags.DELETE_SELF | flags.MOVE_SELF):
            if directory in self._roots:  # below a root, the parent reports it
                if mask & flags.MOVE_SELF:
                    self._drop_tree(directory)  # its watches would report it under its old path
                self.sink.directory_changed(Path(directory), created=False)
                self._await_return(directory)
            return
        path = os.path.join(directory, name)
        if mask & flags.ISDIR:
            created = bool(mask & (flags.CREATE | flags.MOVED_TO))
            if created:
                self._add_tree(path, report=True)
            elif mask & flags.MOVED_FROM:
                self._drop_tree(path)
            if created or mask & (flags.DELETE | flags.MOVED_FROM):
                self.sink.directory_changed(Path(path), created=created)
                self.sink.touched(Path(path))  # a directory named *.md is reported like any non-file
            return
        self.sink.touched(Path(path))

    def _await_return(self, root: str) -> None:
        """Watch the parent of a root that went away, to watch the root
        again when it is back (watchdog, and inotify by itself, forget it)."""
        parent = os.path.dirname(root)
        with self._lock:
            if parent in self._paths.values():
                return  # watched already: its own events bring the root back
        assert self._inotify is not None
        try:
            wd = self._inotify.add_watch(parent, self._flags.CREATE | self._flags.MOVED_TO | self._flags.ONLYDIR)
        except OSError:
            return  # gone too: the next start watches it
        with self._lock:
            self._parents[wd] = parent
        if os.path.isdir(root):
            self._returned(root)  # back before the parent was watched

    def _returned(self, root: str) -> None:
        self._add_tree(root, report=True)
        self.sink.directory_changed(Path(root), created=True)

    def _overflowed(self) -> None:
        """Events were lost, directories created meanwhile among them: watch
        every directory again (a watch already there is kept), then rescan."""
        with self._lock:
            roots = list(self._roots)
        for root in roots:
            self._add_tree(root)
        self.sink.overflowed()


class WatchdogEvents:
    """watchdog's observer, with the filter and handler the watcher needs."""

    def __init__(self, sink: EventSink) -> None:
        from watchdog.observers import Observer

        self.sink = sink
        self._observer = Observer()
        self._handler = _watchdog_handler(sink)
        self._alarm = _OverflowAlarm(sink)

    def watch(self, root: Path) -> None:
        self._observer.schedule(self._handler, str(root), recursive=True, event_filter=_watched_events())

    def start(self) -> None:
        WATCHDOG_LOG.addHandler(self._alarm)
        self._observer.start()

    def stop(self) -> None:
        WATCHDOG_LOG.removeHandler(self._alarm)
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join(timeout=5)


# Where watchdog reports a kernel event-queue overflow (see _OverflowAlarm).
WATCHDOG_LOG = logging.getLogger("watchdog.observers.inotify_c")


def _watched_events() -> list[type]:
    """Only what can change a memory. FileModifiedEvent is listed because it
    is the only filter entry that makes watchdog (6.0) ask inotify for
    IN_ATTRIB, without which `touch` and `chmod` go unseen; the handler
    drops the modify events themselves (an in-place save ends with a close)."""
    from watchdog import events as e

    return [
        e.FileModifiedEvent, e.FileCreatedEvent, e.FileDeletedEvent, e.FileMovedEvent, e.FileClosedEvent,
        e.FileAttribEvent, e.DirCreatedEvent, e.DirDeletedEvent, e.DirMovedEvent,
    ]  # fmt: skip


def _watchdog_handler(sink: EventSink) -> object:
    from watchdog.events import FileSystemEvent, FileSystemEventHandler

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            kind = event.event_type
            if event.is_directory:
                # Every file change also "modifies" its directory: not news.
                if kind in ("created", "deleted", "moved"):
                    path = Path(os.fsdecode(event.src_path))
                    sink.directory_changed(path, created=kind == "created")
                    sink.touched(path)
                return
            if kind in ("opened", "closed_no_write", "modified"):
                return
            for raw in (event.src_path, getattr(event, "dest_path", "")):
                if raw:
                    sink.touched(Path(os.fsdecode(raw)))

    return Handler()


class _OverflowAlarm(logging.Handler):
    """After the kernel's event queue overflows, watchdog rebuilds its
    watches but tells no handler: its warning is the only sign."""

    def __init__(self, sink: EventSink) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.sink.overflowed()

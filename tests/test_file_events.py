"""The sources of file events (features/file_events.py): inotify read
directly, and watchdog, each told the same things for the same changes."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from aghmem.features.file_events import InotifyEvents, WatchdogEvents, file_events

SOURCES = [pytest.param(InotifyEvents, id="inotify"), pytest.param(WatchdogEvents, id="watchdog")]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")


class Sink:
    """Records what a source tells, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self._cond = threading.Condition()

    def touched(self, path: Path) -> None:
        self._add(("touched", str(path)))

    def directory_changed(self, path: Path, *, created: bool) -> None:
        self._add(("created" if created else "gone", str(path)))

    def overflowed(self) -> None:
        self._add(("overflowed", ""))

    def _add(self, event: tuple[str, str]) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait(self, event: tuple[str, str], timeout: float = 10.0) -> list[tuple[str, str]]:
        """Every event so far, once `event` is among them."""
        with self._cond:
            assert self._cond.wait_for(lambda: event in self.events, timeout), f"{event} never came: {self.events}"
            return list(self.events)

    def clear(self) -> None:
        with self._cond:
            self.events.clear()


@pytest.fixture(params=SOURCES)
def watched(request: Any, tmp_path: Path) -> Iterator[tuple[Sink, Path, Callable[[], None]]]:
    """A sink, a watched root (with a folder in it), and a sentinel: a file
    written after a change, whose event says every earlier one is in."""
    root = tmp_path / "root"
    (root / "memory").mkdir(parents=True)
    sink = Sink()
    source = request.param(sink)
    source.watch(root)
    source.start()

    def sentinel() -> None:
        marker = root / f"sentinel-{time.monotonic_ns()}"
        marker.write_text("x")
        sink.wait(("touched", str(marker)))

    try:
        yield sink, root, sentinel
    finally:
        source.stop()
        source.stop()  # idempotent


def test_a_save_a_touch_a_rename_and_a_delete_are_told(watched: tuple[Sink, Path, Callable[[], None]], tmp_path: Path) -> None:
    sink, root, _ = watched
    memory = root / "memory"
    note = memory / "user_note.md"
    note.write_text("one")
    sink.wait(("touched", str(note)))
    sink.clear()
    os.utime(note, (1, 1))
    sink.wait(("touched", str(note)))
    outside = tmp_path / "outside.md"
    outside.write_text("two")
    arrived = memory / "user_arrived.md"
    os.rename(outside, arrived)
    sink.wait(("touched", str(arrived)))
    note.unlink()
    sink.wait(("touched", str(note)))


def test_reads_are_not_news(watched: tuple[Sink, Path, Callable[[], None]]) -> None:
    sink, root, sentinel = watched
    note = root / "memory" / "user_note.md"
    note.write_text("one")
    sentinel()
    sink.clear()
    for _ in range(3):
        note.read_bytes()
    sentinel()
    assert ("touched", str(note)) not in sink.events


@pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")  # watchdog racing a mkdir -p
def test_folders_made_at_once_are_watched_with_what_they_hold(watched: tuple[Sink, Path, Callable[[], None]]) -> None:
    sink, root, _ = watched
    deep = root / "agents" / "bob" / "memory"
    deep.mkdir(parents=True)
    first = deep / "user_first.md"
    first.write_text("made with its folders")
    events = sink.wait(("touched", str(first)))
    assert ("created", str(root / "agents")) in events
    later = deep / "user_later.md"
    later.write_text("made once the folder was watched")
    sink.wait(("touched", str(later)))


def test_a_folder_moved_away_is_gone_and_no_longer_reported(
    watched: tuple[Sink, Path, Callable[[], None]], tmp_path: Path, request: Any
) -> None:
    """(watchdog keeps reporting what happens in it under its old name;
    the rescan its move triggers takes that in as deletions.)"""
    sink, root, sentinel = watched
    folder = root / "memory" / "old"
    folder.mkdir()
    sentinel()
    away = tmp_path / "away"
    folder.rename(away)
    sink.wait(("gone", str(folder)))
    sink.clear()
    (away / "user_elsewhere.md").write_text("not under the root any more")
    sentinel()
    if request.node.callspec.id == "inotify":
        assert not [event for event in sink.events if "elsewhere" in event[1]]


def test_a_folder_moved_within_reports_under_its_new_name(watched: tuple[Sink, Path, Callable[[], None]]) -> None:
    sink, root, _ = watched
    folder = root / "memory" / "before"
    folder.mkdir()
    (folder / "user_inside.md").write_text("one")
    sink.wait(("touched", str(folder / "user_inside.md")))
    moved = root / "memory" / "after"
    folder.rename(moved)
    sink.wait(("gone", str(folder)))
    (moved / "user_inside.md").write_text("two")
    sink.wait(("touched", str(moved / "user_inside.md")))


def test_a_deleted_folder_is_gone(watched: tuple[Sink, Path, Callable[[], None]]) -> None:
    sink, root, sentinel = watched
    folder = root / "memory" / "temporary"
    folder.mkdir()
    sentinel()
    folder.rmdir()
    sink.wait(("gone", str(folder)))


def test_a_root_deleted_and_made_again_is_watched_again(tmp_path: Path) -> None:
    """(watchdog forgets it: what is written there goes unseen until a
    periodic scan.)"""
    sink, root = Sink(), tmp_path / "memory"
    root.mkdir()
    source = InotifyEvents(sink)
    source.watch(root)
    source.start()
    try:
        for round_ in range(2):
            shutil.rmtree(root)
            sink.wait(("gone", str(root)))
            root.mkdir()
            sink.wait(("created", str(root)))
            note = root / f"user_back_{round_}.md"
            note.write_text("written in the folder made again")
            sink.wait(("touched", str(note)))
            sink.clear()
    finally:
        source.stop()


def test_a_root_moved_away_is_not_reported_under_its_name_until_it_is_back(tmp_path: Path) -> None:
    sink, root, away, other = Sink(), tmp_path / "memory", tmp_path / "elsewhere", tmp_path / "other"
    root.mkdir()
    other.mkdir()
    source = InotifyEvents(sink)
    source.watch(root)
    source.watch(other)
    source.start()
    try:
        root.rename(away)
        sink.wait(("gone", str(root)))
        (away / "user_away.md").write_text("written while the folder was elsewhere")
        (other / "sentinel").write_text("x")  # events come in order: once it is told, so would the write be
        events = sink.wait(("touched", str(other / "sentinel")))
        assert not [event for event in events if "user_away" in event[1]]
        away.rename(root)
        sink.wait(("created", str(root)))
        sink.wait(("touched", str(root / "user_away.md")))  # taken in with the folder when it came back
        note = root / "user_home.md"
        note.write_text("written once it was back")
        sink.wait(("touched", str(note)))
    finally:
        source.stop()


def test_linux_reads_inotify_itself(tmp_path: Path) -> None:
    source = file_events(Sink())
    try:
        assert isinstance(source, InotifyEvents)
    finally:
        source.stop()

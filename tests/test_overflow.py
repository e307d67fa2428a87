"""When the kernel's file-event queue overflows, the daemon rescans at once
instead of missing files until the periodic reconcile (issue 12 §4)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any, Iterator

import pytest

from aghmem.testing import inotify_guard
from conftest import wait_for
from test_sync import MEMORY

QUEUE = Path("/proc/sys/fs/inotify/max_queued_events")
FILES = 600


@pytest.fixture
def small_event_queue() -> Iterator[str]:
    """A queue of 16 events for the inotify instances created meanwhile
    (the kernel reads the limit when an instance is made); no other test's
    daemon starts while it is lowered (inotify_guard)."""
    if not os.access(QUEUE, os.W_OK):
        pytest.skip("needs root to lower fs.inotify.max_queued_events")
    before = QUEUE.read_text()
    with inotify_guard(exclusive=True):
        QUEUE.write_text("16\n")
        try:
            yield before
        finally:
            QUEUE.write_text(before)


def test_an_overflow_is_noticed_and_every_file_taken_in(small_event_queue: str, make_daemon: Any) -> None:
    daemon = make_daemon(start=False)
    daemon.guarded = False  # the guard is ours now
    daemon.start()
    QUEUE.write_text(small_event_queue)  # only the daemon's watcher gets the small queue
    memory = daemon.home / "memory"
    # Stopped while the files are written, so the queue overflows for sure
    # (a watcher that reads fast enough could otherwise keep up).
    assert daemon.proc is not None
    os.kill(daemon.proc.pid, signal.SIGSTOP)
    try:
        for i in range(FILES):
            (memory / f"user_burst_{i:05d}.md").write_text(MEMORY.format(name=f"Burst {i}", body=f"Burst file number {i}."))
    finally:
        os.kill(daemon.proc.pid, signal.SIGCONT)
    health = wait_for(lambda: (h := daemon.get("/api/memory/health").json())["catalog_files"] == FILES and h, timeout=60)
    assert health["watcher"]["overflows"] >= 1
    assert "rescanning every scope now" in daemon.log()
    settled = wait_for(lambda: (h := daemon.get("/api/memory/health").json())["index"]["dirty"] == 0 and h, timeout=60)
    assert settled["indexed_files"] == FILES and settled["orphaned_files"] == 0
    daemon.post("/api/memory/reindex", {})
    again = wait_for(lambda: (h := daemon.get("/api/memory/health").json())["index"]["dirty"] == 0 and h, timeout=60)
    assert again["indexed_files"] == FILES and again["orphaned_files"] == 0

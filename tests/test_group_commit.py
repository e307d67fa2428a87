"""Group commit (controller/commit.py): concurrent writes share their flush,
and every acknowledged write is on disk with its decision, even when the
daemon is killed right after answering; each one can still be undone."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from aghmem.controller.commit import Change, GroupCommit
from conftest import Daemon, memory_files

WRITERS = 8
ROUNDS = 6  # per writer: an add, then updates of the same memory


def _write_rounds(daemon: Daemon, writer: int) -> list[dict[str, Any]]:
    """One writer's acknowledged decisions, in the order it got them."""
    acked = []
    with httpx.Client(base_url=daemon.url, timeout=60) as client:
        for round_ in range(ROUNDS):
            response = client.post(
                "/api/memory",
                json={"type": "user", "name": f"Writer {writer}", "content": f"Writer {writer} says version {round_}."},
            )
            assert response.status_code == 200, response.text
            acked.append(response.json()["decision"])
    return acked


def _decision_rows(home: Path) -> dict[str, tuple[str, str | None]]:
    """id → (status, post_content_hash), read from the database file itself."""
    with sqlite3.connect(home / "state" / "aghmem.db") as db:
        return {row[0]: (row[1], row[2]) for row in db.execute("SELECT id, status, post_content_hash FROM decisions")}


def test_acknowledged_concurrent_writes_survive_a_kill_and_can_each_be_undone(daemon: Daemon) -> None:
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        per_writer = list(pool.map(lambda w: _write_rounds(daemon, w), range(WRITERS)))
    # Killed the moment the last answer is in: nothing it acknowledged may depend on a clean stop.
    assert daemon.proc is not None
    daemon.proc.kill()
    daemon.proc.wait(timeout=10)

    rows = _decision_rows(daemon.home)
    files = memory_files(daemon.home / "memory")
    for writer, acked in enumerate(per_writer):
        assert [d["op"] for d in acked] == ["add"] + ["update"] * (ROUNDS - 1)
        for decision in acked:
            assert rows[decision["id"]] == ("applied", decision["post_content_hash"])
        filename = acked[-1]["target_filename"]
        assert filename == f"user_writer_{writer}.md"
        assert hashlib.sha256(files[filename]).hexdigest() == acked[-1]["post_content_hash"]

    daemon.start()
    memory_index = (daemon.home / "memory" / "MEMORY.md").read_text()
    assert all(f"(user_writer_{w}.md)" in memory_index for w in range(WRITERS))

    def undo(acked: list[dict[str, Any]]) -> list[int]:
        # Newest first: each revert finds the file as the next one left it.
        with httpx.Client(base_url=daemon.url, timeout=60) as client:
            return [client.post(f"/api/memory/decisions/{d['id']}/revert").status_code for d in reversed(acked)]

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        codes = list(pool.map(undo, per_writer))
    assert codes == [[200] * ROUNDS] * WRITERS
    assert memory_files(daemon.home / "memory") == {}
    rows = _decision_rows(daemon.home)
    statuses = [status for status, _ in rows.values()]
    assert statuses.count("applied") == len(statuses) == 2 * WRITERS * ROUNDS  # the writes and their reverts


# --- the queue itself ---------------------------------------------------------


def test_a_write_from_a_flush_listener_is_applied_by_the_flushing_thread() -> None:
    """A flush's listener may write (a synthesis is refreshed when a memory
    it quotes changes): that nested write must not wait for itself."""
    lock = threading.RLock()
    flushed: list[list[str | None]] = []

    def flush(batch: Any) -> None:
        flushed.append([change.filename for change in batch])
        if batch[0].filename == "outer.md":
            assert commits.run(lambda: ("inner", Change(filename="inner.md"))) == "inner"

    commits = GroupCommit(lock, flush)
    assert commits.run(lambda: ("outer", Change(filename="outer.md"))) == "outer"
    assert flushed == [["outer.md"], ["inner.md"]]


def test_a_failed_apply_fails_its_own_write_and_a_failed_flush_every_write_of_its_batch() -> None:
    lock = threading.RLock()
    fail_flush = threading.Event()

    def flush(batch: Any) -> None:
        if fail_flush.is_set():
            raise OSError("fsync failed")

    commits = GroupCommit(lock, flush)

    def refused() -> tuple[str, Change | None]:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        commits.run(refused)
    assert commits.run(lambda: ("fine", Change())) == "fine"
    fail_flush.set()
    with pytest.raises(OSError, match="fsync failed"):
        commits.run(lambda: ("lost", Change()))
    assert commits.run(lambda: ("no change, no flush", None)) == "no change, no flush"


def test_a_write_from_a_thread_holding_the_lock_is_applied_there() -> None:
    """A reset holds the write lock while it scans; a listener of a change
    it observes may write: waiting for the committer (who needs the lock)
    would never end."""
    lock = threading.RLock()
    commits = GroupCommit(lock, lambda batch: None)
    with lock:
        outcome: list[str] = []
        worker = threading.Thread(target=lambda: outcome.append(commits.run(lambda: ("queued", Change()))))
        worker.start()
        deadline = time.monotonic() + 10
        while (commits._committer is None or commits._queue) and time.monotonic() < deadline:
            time.sleep(0.001)  # until the committer took the write, and waits for the lock this thread holds
        assert commits._committer is not None and not commits._queue
        assert commits.run(lambda: ("inline", Change())) == "inline"
    worker.join(timeout=10)
    assert outcome == ["queued"]


def _submitted_elsewhere(commits: GroupCommit, apply: Any) -> "Future[Any]":
    """A write queued by another thread (one holding the lock applies its own)."""
    got: list[Future[Any]] = []
    thread = threading.Thread(target=lambda: got.append(commits.submit(apply)))
    thread.start()
    thread.join(timeout=10)
    return got[0]


def _until(condition: Any) -> None:
    deadline = time.monotonic() + 10
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert condition()


def test_writes_queued_while_a_batch_is_applied_make_the_next_batch_and_each_gets_its_answer() -> None:
    lock = threading.RLock()
    flushed: list[list[str | None]] = []
    commits = GroupCommit(lock, lambda batch: flushed.append([change.filename for change in batch]))
    with lock:  # the committer takes the first write and waits for the lock
        first = _submitted_elsewhere(commits, lambda: ("first", Change(filename="first.md")))
        _until(lambda: not commits._queue)
        later = [_submitted_elsewhere(commits, lambda n=n: (f"later {n}", Change(filename=f"later_{n}.md"))) for n in range(7)]
        assert len(commits._queue) == 7
    assert first.result(timeout=10) == "first"
    assert [future.result(timeout=10) for future in later] == [f"later {n}" for n in range(7)]
    assert flushed == [["first.md"], [f"later_{n}.md" for n in range(7)]]


def test_closing_applies_what_is_queued_and_later_writes_are_applied_by_their_own_thread() -> None:
    lock = threading.RLock()
    appliers: list[str] = []

    def apply(name: str) -> tuple[str, Change]:
        appliers.append(threading.current_thread().name)
        return name, Change(filename=f"{name}.md")

    commits = GroupCommit(lock, lambda batch: None)
    with lock:
        queued = [_submitted_elsewhere(commits, lambda n=n: apply(f"queued {n}")) for n in range(3)]
        closing = threading.Thread(target=commits.close)
        closing.start()
    closing.join(timeout=10)
    assert not closing.is_alive()
    assert [future.result(timeout=0) for future in queued] == [f"queued {n}" for n in range(3)]
    assert commits.run(lambda: apply("after")) == "after"
    assert appliers == ["aghmem-committer"] * 3 + [threading.current_thread().name]


def test_a_write_cancelled_while_it_waits_is_not_applied_and_the_committer_goes_on() -> None:
    """An HTTP client that goes away cancels the future its write waits on."""
    lock = threading.RLock()
    applied: list[str] = []

    def apply(name: str) -> tuple[str, Change]:
        applied.append(name)
        return name, Change(filename=f"{name}.md")

    commits = GroupCommit(lock, lambda batch: None)
    with lock:
        first = _submitted_elsewhere(commits, lambda: apply("first"))
        _until(first.running)  # taken by the committer, which waits for the lock
        gone = _submitted_elsewhere(commits, lambda: apply("gone"))
        assert gone.cancel()
        assert not first.cancel()  # taken already: it runs
    assert first.result(timeout=10) == "first"
    assert commits.run(lambda: apply("after")) == "after"
    assert applied == ["first", "after"]

"""Concurrent writers, racing PATCHes, and crashes in the middle of writes."""

from __future__ import annotations

import contextlib
import hashlib
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from aghmem.model import MemoryType
from aghmem.storage.files import parse_memory
from conftest import Daemon, memory_files


def all_decisions(daemon: Daemon) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = daemon.get("/api/memory/decisions", params=params).json()
        out += page["decisions"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


def test_100_concurrent_writers_lose_nothing(daemon: Daemon) -> None:
    barrier = threading.Barrier(100)

    def write(i: int) -> int:
        with httpx.Client(base_url=daemon.url, timeout=60) as client:
            barrier.wait()
            response = client.post("/api/memory", json={"type": "user", "name": f"Writer {i}", "content": f"Fact number {i} from writer {i}."})
            return response.status_code

    with ThreadPoolExecutor(max_workers=100) as pool:
        codes = list(pool.map(write, range(100)))
    assert codes == [200] * 100
    files = memory_files(daemon.home / "memory")
    assert set(files) == {f"user_writer_{i}.md" for i in range(100)}
    listed = daemon.get("/api/memory", params={"limit": 500}).json()["memories"]
    assert len(listed) == 100
    assert sum(1 for d in all_decisions(daemon) if d["op"] == "add" and d["applied_at"]) == 100
    assert (daemon.home / "memory" / "MEMORY.md").read_text().count("\n") == 100


def test_50_patches_with_one_if_match_give_one_winner(daemon: Daemon) -> None:
    daemon.write(type="user", name="Contended", content="original")
    etag = daemon.get("/api/memory/user_contended.md").headers["etag"]
    barrier = threading.Barrier(50)

    def patch(i: int) -> int:
        with httpx.Client(base_url=daemon.url, timeout=60) as client:
            barrier.wait()
            return client.patch(
                "/api/memory/user_contended.md", json={"content": f"version {i}"}, headers={"If-Match": etag}
            ).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(patch, range(50)))
    assert sorted(codes) == [200] + [409] * 49
    updates = [d for d in all_decisions(daemon) if d["op"] == "update"]
    assert len(updates) == 1
    text = (daemon.home / "memory" / "user_contended.md").read_text()
    assert text == updates[0]["post_content"]


def _burst(daemon: Daemon, stop: threading.Event, worker: int, counts: list[int]) -> None:
    with httpx.Client(base_url=daemon.url, timeout=10) as client:
        i = 0
        while not stop.is_set():
            i += 1
            name = f"Burst {worker} {i % 7}"
            try:
                if i % 5 == 0:
                    client.delete(f"/api/memory/user_burst_{worker}_{(i - 1) % 7}.md")
                else:
                    client.post("/api/memory", json={"type": "user", "name": name, "content": f"w{worker} write {i}"})
                counts[worker] += 1
            except httpx.HTTPError:
                return


def assert_disk_agrees_with_decisions(daemon: Daemon) -> None:
    directory = daemon.home / "memory"
    leftovers = [p.name for where in (directory, daemon.home / "state" / "tmp") for p in where.iterdir() if ".tmp-" in p.name]
    assert leftovers == [], leftovers
    files = memory_files(directory)
    for name, raw in files.items():
        parse_memory(raw, name, MemoryType.USER)  # every file parses
    # Replay the applied decisions in order: the result must be the disk.
    expected: dict[str, str | None] = {}
    decisions = all_decisions(daemon)
    assert not [d for d in decisions if d["status"] == "pending"]
    for d in decisions:
        assert (d["status"] == "applied") == (d["applied_at"] is not None)
    for d in reversed(decisions):
        if d["applied_at"] and d["op"] in ("add", "update", "delete"):
            expected[d["target_filename"]] = d["post_content_hash"] if d["op"] != "delete" else None
    actual = {name: hashlib.sha256(raw).hexdigest() for name, raw in files.items()}
    assert {k: v for k, v in expected.items() if v is not None} == actual
    listed = daemon.get("/api/memory", params={"limit": 500}).json()["memories"]
    assert {m["filename"]: m["content_hash"] for m in listed} == actual


@contextlib.contextmanager
def write_burst(daemon: Daemon, workers: int, requests: int) -> Iterator[list[int]]:
    """Writers hammer the daemon until `requests` are answered (however long
    a busy machine takes); the body then interrupts it while they go on.
    On exit the writers stop; yields their request counts."""
    stop = threading.Event()
    counts = [0] * workers
    threads = [threading.Thread(target=_burst, args=(daemon, stop, w, counts)) for w in range(workers)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while sum(counts) < requests and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield counts
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)


def test_kill_9_in_a_write_burst_leaves_consistent_state(daemon: Daemon) -> None:
    with write_burst(daemon, workers=6, requests=60) as counts:
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.proc.wait(timeout=10)
    assert sum(counts) > 50, counts  # the burst really was under way
    daemon.start()
    assert_disk_agrees_with_decisions(daemon)
    # And the daemon still works after the crash.
    assert daemon.write(type="user", name="After crash", content="still here")["applied"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_mid_burst(daemon: Daemon, sig: int) -> None:
    with write_burst(daemon, workers=4, requests=40):
        assert daemon.stop(sig) == 0
    assert not (daemon.home / "state" / "server.json").exists()
    daemon.start()
    assert_disk_agrees_with_decisions(daemon)


def test_pending_decision_from_a_crash_is_settled(daemon: Daemon, tmp_path: Path) -> None:
    """A decision recorded but not applied (the daemon died in between) is
    marked abandoned at start, and a retry with the same key applies."""
    import sqlite3

    from aghmem.controller.decisions import decision_id

    daemon.stop()
    db = sqlite3.connect(daemon.home / "state" / "aghmem.db")
    db.execute(
        "INSERT INTO decisions (id, idempotency_key, candidate_hash, scope_key, op, origin, source, reason, confidence, "
        "targets, target_filename, post_content, post_content_hash, rule_trace, decided_at, status) "
        "VALUES (?, 'retry-me', 'c', 'global', 'add', 'http', 'rule', 'new memory', 1.0, '[]', 'user_lost.md', 'x', 'h', '[]', "
        "'2026-01-01T00:00:00.000Z', 'pending')",
        (decision_id("retry-me"),),
    )
    db.commit()
    db.close()
    daemon.start()
    d = daemon.get(f"/api/memory/decisions/{decision_id('retry-me')}").json()["decision"]
    assert d["status"] == "abandoned" and d["applied_at"] is None
    assert "daemon stopped before applying" in d["reason"]
    retry = daemon.write(type="user", name="Lost", content="written on retry", idempotency_key="retry-me")
    assert retry["applied"] is True and retry["replay"] is False
    assert (daemon.home / "memory" / "user_lost.md").exists()

"""The daemon answers at once (issue 12 §5, issue 16): it serves while it
takes its files in; searches answer with what is in, writes wait for the
scan, health says it is starting. A failpoint holds the scan back so the
test sees that window whatever the machine's speed."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx

from conftest import FAST_CONFIG
from test_sync import MEMORY

FILES = 300


def test_the_daemon_answers_while_it_takes_its_files_in(make_daemon: Any) -> None:
    daemon = make_daemon(FAST_CONFIG, env={"AGHMEM_FAILPOINTS": "start.taking_in=sleep(4)"}, start=False)
    memory = daemon.home / "memory"
    memory.mkdir(parents=True)
    for i in range(FILES):
        (memory / f"user_early_{i:03d}.md").write_text(MEMORY.format(name=f"Early {i}", body=f"Early file {i} about herons."))
    daemon.start(ready=False)
    state = json.loads((daemon.home / "state" / "server.json").read_text())
    assert state["ready"] is False

    assert daemon.get("/healthz").status_code == 200
    health = daemon.get("/api/memory/health").json()
    assert health["ready"] is False and "starting" in health["reason"]
    searched = daemon.post("/api/memory/search", {"query_text": "herons early file"})
    assert searched.status_code == 200 and "index" in searched.json()
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
    mcp = daemon.post("/mcp", initialize, headers={"Accept": "application/json, text/event-stream"})
    assert mcp.status_code == 200, mcp.text

    # A write sent now waits for the scan, then lands; no hand edit is invented.
    answer: dict[str, httpx.Response] = {}
    writer = threading.Thread(target=lambda: answer.setdefault("r", daemon.post("/api/memory", {"type": "user", "name": "Late", "content": "Written during the start-up scan."})))
    writer.start()
    writer.join(timeout=60)
    assert answer["r"].status_code == 200, answer["r"].text

    assert json.loads((daemon.home / "state" / "server.json").read_text())["ready"] is True
    health = daemon.get("/api/memory/health").json()
    assert health["ready"] is True and health["catalog_files"] == FILES + 1
    decisions = daemon.get("/api/memory/decisions", params={"limit": 10}).json()["decisions"]
    assert [d["origin"] for d in decisions] == ["http"]
    found = daemon.post("/api/memory/search", {"query_text": "herons early file", "top_k": 3}).json()["results"]
    assert len(found) == 3


def test_a_library_start_is_still_complete_when_it_returns(tmp_path: Path) -> None:
    from aghmem import MemoryService, load_config

    home = tmp_path / "home"
    (home / "memory").mkdir(parents=True)
    (home / "memory" / "user_one.md").write_text(MEMORY.format(name="One", body="The only file."))
    service = MemoryService(load_config(home=home, env={}))
    service.start(watch=False)
    try:
        assert service.ready.is_set() and service.health()["catalog_files"] == 1
    finally:
        service.close()

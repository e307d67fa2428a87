"""Dreaming through real daemons: end to end over HTTP, two daemons racing
for one workspace, a crash in the middle of a run."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from conftest import FAST_CONFIG, Daemon

DREAM_CONFIG = FAST_CONFIG + """
[dream]
min_sessions = 2

[dream.gates]
min_unpromoted = 3
"""

FACTS = {
    "Editor": ("Uses neovim with lazy.nvim plugins.", ["neovim editor", "which editor plugins"]),
    "Database": ("The project database is postgres 16.", ["postgres database version", "which database is the project on"]),
    "Tests": ("Runs the tests with pytest -x.", ["pytest tests", "how to run pytest"]),
}


def remember(daemon: Daemon, ws: str, *, prefix: str = "s", write: bool = True) -> list[str]:
    """Write the facts in a workspace (unless already there), recall each with
    two queries in two sessions; returns the session ids."""
    sessions = []
    for name, (content, _) in FACTS.items():
        if write:
            daemon.write(workspace_id=ws, type="project", name=name, content=content)
    for name, (_, queries) in FACTS.items():
        for turn, query in enumerate(queries):
            sid = f"{prefix}-{name.lower()}-{turn}"
            response = daemon.post("/api/memory/search", {"query_text": query, "workspace_id": ws, "session_id": sid, "turn_seq": 1})
            assert response.status_code == 200 and response.json()["results"], response.text
            sessions.append(sid)
    return sessions


def stop(daemon: Daemon, ws: str, sid: str) -> None:
    events = [
        {"sequence": 1, "event_type": "message", "payload": {"role": "user", "content": "hello"}},
        {"sequence": 2, "event_type": "session.stopped", "payload": {}},
    ]
    response = daemon.post(f"/api/workspaces/{ws}/memory/sessions/{sid}/events", {"events": events})
    assert response.status_code == 200, response.text


def test_end_to_end_over_http(make_daemon: Any, tmp_path: Path) -> None:
    daemon = make_daemon(DREAM_CONFIG)
    ws = daemon.workspace(tmp_path / "repo")
    sessions = remember(daemon, ws)
    trigger = {"workspace_id": ws}
    closed = daemon.post("/api/memory/dreams/trigger", trigger).json()
    assert closed == {**closed, "triggered": False, "dream": None}
    assert closed["reason"].startswith("sessions gate: 0 session(s)")
    for sid in sessions[:2]:
        stop(daemon, ws, sid)
    dry = daemon.post("/api/memory/dreams/trigger", {**trigger, "dry_run": True}).json()
    assert dry["triggered"] is False and len(dry["candidates"]) == 3 and all(c["keep"] for c in dry["candidates"])
    assert daemon.get("/api/memory/dreams").json() == {"dreams": []}

    result = daemon.post("/api/memory/dreams/trigger", trigger).json()
    assert result["triggered"] is True, result
    dream = result["dream"]
    assert dream["status"] == "promoted" and dream["workspace_id"] == ws and dream["scope"] == "workspace"
    assert dream["candidate_count"] == 3 and dream["promoted_count"] == 3 and dream["completed_at"]
    assert dream["lock_until"] > dream["started_at"] and dream["failure_path"] is None
    artifact, synthesis_path = (Path(p) for p in dream["artifact_paths"])
    assert artifact.parent == tmp_path / "repo" / ".agh" / "memory" / "_system" / "dreaming"
    assert "| [Database](../../project_database.md) | 2 | 2 |" in artifact.read_text()

    # On disk, in search, in decisions, in the daily log…
    assert synthesis_path.parent == tmp_path / "repo" / ".agh" / "memory"
    text = synthesis_path.read_text()
    assert synthesis_path.name.startswith("project_dreaming_") and "name: Dreaming synthesis " in text
    assert "- [Editor](project_editor.md) — Uses neovim with lazy.nvim plugins." in text
    found = daemon.post("/api/memory/search", {"query_text": "dreaming synthesis", "workspace_id": ws}).json()
    assert synthesis_path.name in [r["memory"]["filename"] for r in found["results"]]
    decision = daemon.get(f"/api/memory/decisions/{dream['decision_id']}").json()["decision"]
    assert decision["origin"] == "dreaming" and decision["op"] == "add"
    logs = daemon.get("/api/memory/daily", params={"workspace_id": ws}).json()["logs"]
    assert len(logs) == 1 and logs[0]["operation_count"] == 4  # three writes and the synthesis
    assert f"add {synthesis_path.name} (origin dreaming" in Path(logs[0]["path"]).read_text()
    # …and in the run listings.
    assert daemon.get(f"/api/memory/dreams/{dream['id']}").json()["dream"] == dream
    assert [d["id"] for d in daemon.get("/api/memory/dreams", params={"status": "promoted"}).json()["dreams"]] == [dream["id"]]
    assert daemon.get("/api/memory/dreams", params={"status": "failed"}).json()["dreams"] == []
    status = {(d["scope"], d["workspace_id"]): d for d in daemon.get("/api/memory/dreams/status").json()["dreams"]}
    assert status[("global", None)]["status"] == "idle" and status[("workspace", ws)]["id"] == dream["id"]
    assert status[("workspace", ws)]["gates"]["time"]["ok"] is False

    # Undone by reverting its decision.
    reverted = daemon.post(f"/api/memory/decisions/{dream['decision_id']}/revert", {}).json()
    assert reverted["reverted"] is True and not synthesis_path.exists()
    assert daemon.get("/api/memory/daily", params={"workspace_id": ws}).json()["logs"][0]["operation_count"] == 5

    # Errors keep the envelope.
    assert daemon.get("/api/memory/dreams/dream_nope").json()["code"] == "memory.not_found"
    assert daemon.post(f"/api/memory/dreams/{dream['id']}/retry", {}).status_code == 409
    assert daemon.post("/api/memory/dreams/trigger", {"force": 1}).status_code == 400
    assert daemon.get("/api/memory/daily", params={"date": "yesterday"}).status_code == 400


def test_two_daemons_never_dream_for_one_workspace_at_once(make_daemon: Any, tmp_path: Path) -> None:
    slow = make_daemon(DREAM_CONFIG, env={"AGHMEM_FAILPOINTS": "dream.locked=sleep(3)"})
    other = make_daemon(DREAM_CONFIG)
    repo = tmp_path / "shared-repo"
    ws = slow.workspace(repo)
    remember(slow, ws)
    assert other.workspace(repo) == ws  # one workspace, two homes: its scan takes in the files
    remember(other, ws, write=False)

    results: dict[str, Any] = {}
    racer = threading.Thread(target=lambda: results.update(slow=slow.post("/api/memory/dreams/trigger", {"workspace_id": ws, "force": True}).json()))
    racer.start()
    lock = repo / ".agh" / "memory" / "_system" / "dreaming" / "dream.lock"
    deadline = time.monotonic() + 10
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lock.exists()
    busy = other.post("/api/memory/dreams/trigger", {"workspace_id": ws, "force": True}).json()
    racer.join(timeout=30)
    assert busy["triggered"] is False and busy["dream"] is None
    assert busy["reason"].startswith(f"another dream holds this scope's lock: locked by pid {slow.proc.pid}")
    assert results["slow"]["dream"]["status"] == "promoted"
    assert other.get("/api/memory/dreams").json()["dreams"] == []
    assert not lock.exists()
    assert len(list((repo / ".agh" / "memory").glob("project_dreaming_*.md"))) == 1


def test_a_crash_mid_run_leaves_a_failed_record_and_a_reclaimable_lock(make_daemon: Any, tmp_path: Path) -> None:
    home = tmp_path / "crash-home"
    crashing = make_daemon(DREAM_CONFIG, home=home, env={"AGHMEM_FAILPOINTS": "dream.after_artifact=crash"})
    for name, (content, _) in FACTS.items():
        crashing.write(type="user", name=name, content=content)
    for name, (_, queries) in FACTS.items():
        for turn, query in enumerate(queries):
            crashing.post("/api/memory/search", {"query_text": query, "session_id": f"c-{name}-{turn}"})
    pid = crashing.proc.pid
    try:
        crashing.post("/api/memory/dreams/trigger", {"force": True})
        raise AssertionError("the daemon should have died")
    except httpx.TransportError:
        pass
    assert crashing.proc.wait(timeout=10) == -9
    lock = home / "memory" / "_system" / "dreaming" / "dream.lock"
    assert json.loads(lock.read_text())["pid"] == pid  # left behind, naming a dead process

    restarted = Daemon(home, DREAM_CONFIG)
    try:
        restarted.start()
        [failed] = restarted.get("/api/memory/dreams").json()["dreams"]
        assert failed["status"] == "failed" and failed["failure_reason"].startswith(f"interrupted: the daemon (pid {pid})")
        assert failed["lock_until"] and failed["completed_at"] and len(failed["artifact_paths"]) == 1
        assert json.loads(Path(failed["failure_path"]).read_text())["dream"]["id"] == failed["id"]
        retried = restarted.post(f"/api/memory/dreams/{failed['id']}/retry", {}).json()
        assert retried["retried"] is True and retried["dream"]["status"] == "promoted"
        assert retried["dream"]["promoted_count"] == 3 and not lock.exists()
        assert os.path.exists(retried["dream"]["artifact_paths"][1])
    finally:
        restarted.kill()


def test_the_scheduler_dreams_on_its_own(make_daemon: Any, tmp_path: Path) -> None:
    daemon = make_daemon(DREAM_CONFIG.replace("min_sessions = 2", 'min_sessions = 0\ncheck_interval = "1s"'))
    ws = daemon.workspace(tmp_path / "repo")
    remember(daemon, ws)
    deadline = time.monotonic() + 15
    dreams: list[dict[str, Any]] = []
    while not dreams and time.monotonic() < deadline:
        time.sleep(0.2)
        dreams = daemon.get("/api/memory/dreams", params={"status": "promoted"}).json()["dreams"]
    assert [(d["trigger"], d["workspace_id"], d["promoted_count"]) for d in dreams] == [("schedule", ws, 3)]
    time.sleep(2)  # later checks find the time gate shut
    assert len(daemon.get("/api/memory/dreams").json()["dreams"]) == 1

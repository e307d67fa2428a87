"""Session ledgers over HTTP: append, idempotency, stop, read, replay,
prune, repair."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import Daemon


def events(*specs: tuple[int, str, dict[str, Any]]) -> dict[str, Any]:
    return {"events": [{"sequence": seq, "event_type": kind, "payload": payload} for seq, kind, payload in specs]}


def msg(seq: int, role: str, content: str) -> tuple[int, str, dict[str, Any]]:
    return (seq, "message", {"role": role, "content": content})


CONVERSATION = events(
    msg(1, "user", "I prefer tabs over spaces."),
    (2, "tool", {"name": "grep", "output": "…"}),
    msg(3, "assistant", "Noted."),
    (4, "memory.recalled", {"ids": ["mem_1"]}),
)


def test_events_append_once_and_stop_the_session(daemon: Daemon, tmp_path: Path) -> None:
    ws = daemon.workspace(tmp_path / "repo")
    base = f"/api/workspaces/{ws}/memory/sessions/sess-1"
    first = daemon.post(f"{base}/events", {**CONVERSATION, "parent_session_id": "sess-0"}).json()
    assert first["appended"] == 4 and first["skipped"] == 0
    meta = first["meta"]
    assert meta["workspace_id"] == ws and meta["parent_session_id"] == "sess-0" and meta["spawn_depth"] == 1
    assert meta["root_session_id"] == "sess-0" and meta["last_sequence"] == 4 and meta["stopped_at"] is None
    ledger_path = daemon.home / "sessions" / ws / "sess-1" / "ledger.jsonl"
    assert meta["path"] == str(ledger_path) and len(ledger_path.read_text().splitlines()) == 4

    # The same events again (a runtime retrying) and one new one: only the new one lands.
    again = daemon.post(f"{base}/events", events(msg(3, "assistant", "Noted."), msg(5, "user", "Thanks"))).json()
    assert again["appended"] == 1 and again["skipped"] == 1 and again["meta"]["event_count"] == 5
    stopped = daemon.post(f"{base}/events", events((6, "session.stopped", {}))).json()["meta"]
    assert stopped["stopped_at"] and stopped["checksum"] != meta["checksum"]
    late = daemon.post(f"{base}/events", events(msg(7, "user", "one more")))
    assert late.status_code == 409 and late.json()["code"] == "memory.conflict"
    assert daemon.post(f"{base}/events", events((6, "session.stopped", {}))).json()["skipped"] == 1

    ledger = daemon.get(f"{base}/ledger").json()
    assert [e["sequence"] for e in ledger["events"]] == [1, 2, 3, 4, 5, 6]
    assert ledger["meta"] == json.loads((ledger_path.parent / "meta.json").read_text())
    replay = daemon.post(f"{base}/replay", {}).json()
    assert [e["sequence"] for e in replay["events"]] == [1, 3, 5, 6]
    full = daemon.post(f"{base}/replay", {"include_tools": True, "include_memory": True, "after_sequence": 1}).json()
    assert [e["event_type"] for e in full["events"]] == ["tool", "message", "memory.recalled", "message", "session.stopped"]


def test_unbound_sessions_and_bad_input(daemon: Daemon) -> None:
    base = "/api/workspaces/_unbound/memory/sessions/loose"
    assert daemon.post(f"{base}/events", events(msg(1, "user", "hi"))).json()["meta"]["workspace_id"] is None
    assert (daemon.home / "sessions" / "_unbound" / "loose" / "meta.json").exists()
    bad = [
        {"events": []},
        {"events": [{"sequence": 0, "event_type": "message", "payload": {"role": "user", "content": "x"}}]},
        {"events": [{"sequence": 1, "event_type": "message", "payload": {"role": "robot", "content": "x"}}]},
        {"events": [{"sequence": 1, "event_type": "Bad Type", "payload": {}}]},
        {"events": [{"sequence": 1, "event_type": "tool", "payload": {}, "extra": 1}]},
        {"events": [{"sequence": 1, "event_type": "tool", "payload": {}, "emitted_at": "yesterday"}]},
        {"events": [{"sequence": 1, "event_type": "tool", "payload": {}}], "color": "red"},
    ]
    for body in bad:
        response = daemon.post(f"{base}/events", body)
        assert response.status_code == 400 and response.json()["code"] == "memory.validation", body
    assert daemon.post("/api/workspaces/_unbound/memory/sessions/..%2Fescape/events", events(msg(1, "user", "x"))).status_code in (400, 404)
    assert daemon.post("/api/workspaces/ws_unknown/memory/sessions/s/events", events(msg(1, "user", "x"))).status_code == 404
    assert daemon.get("/api/workspaces/_unbound/memory/sessions/never/ledger").status_code == 404
    # Nothing of the bad calls reached the ledger.
    assert daemon.get(f"{base}/ledger").json()["meta"]["event_count"] == 1


def test_prune_and_repair(daemon: Daemon) -> None:
    for sid in ("old-1", "old-2"):
        daemon.post(f"/api/workspaces/_unbound/memory/sessions/{sid}/events", events(msg(1, "user", "a"), (2, "session.stopped", {})))
    dry = daemon.post("/api/memory/sessions/prune", {"older_than_hours": 0, "dry_run": True}).json()
    assert dry == {"dry_run": True, "pruned_sessions": 2, "pruned_events": 4}
    assert daemon.post("/api/memory/sessions/prune", {"older_than_hours": 24}).json()["pruned_sessions"] == 0
    assert daemon.post("/api/memory/sessions/prune", {"older_than_hours": -1}).status_code == 400
    assert daemon.post("/api/memory/sessions/prune", {"older_than_hours": 0}).json()["pruned_sessions"] == 2
    assert not (daemon.home / "sessions" / "_unbound" / "old-1").exists()

    base = "/api/workspaces/_unbound/memory/sessions"
    daemon.post(f"{base}/torn/events", events(msg(1, "user", "first"), msg(2, "user", "second")))
    daemon.post(f"{base}/fine/events", events(msg(1, "user", "fine")))
    daemon.post(f"{base}/broken/events", events(msg(1, "user", "x"), msg(2, "user", "y")))
    torn = daemon.home / "sessions" / "_unbound" / "torn" / "ledger.jsonl"
    with open(torn, "ab") as handle:
        handle.write(b'{"sequence": 3, "event_ty')  # a power cut mid-append
    broken = daemon.home / "sessions" / "_unbound" / "broken" / "ledger.jsonl"
    lines = broken.read_bytes().splitlines(keepends=True)
    broken.write_bytes(b"garbage\n" + lines[1])  # damage before the last line: not ours to guess
    report = daemon.post("/api/memory/sessions/repair").json()
    assert report["repaired_ledgers"] == 1 and report["skipped_ledgers"] == 1
    assert report["problems"][0]["path"].endswith("broken")
    assert [e["sequence"] for e in daemon.get(f"{base}/torn/ledger").json()["events"]] == [1, 2]
    assert daemon.post("/api/memory/sessions/repair").json()["repaired_ledgers"] == 0
    # After the repair, appends continue the chain.
    assert daemon.post(f"{base}/torn/events", events(msg(3, "user", "third"))).json()["appended"] == 1

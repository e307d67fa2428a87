"""The extractor in rules mode, through real daemons: conversations in,
memories out, no duplicates, coalescing, the dead-letter folder, a crash
with a claimed inbox file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from aghmem.features.extractor.patterns import extract
from conftest import FAST_CONFIG, Daemon, memory_files


def conversation(*messages: tuple[str, str], start: int = 1, stop: bool = False) -> dict[str, Any]:
    events = [
        {"sequence": start + i, "event_type": "message", "payload": {"role": role, "content": content}}
        for i, (role, content) in enumerate(messages)
    ]
    if stop:
        events.append({"sequence": start + len(messages), "event_type": "session.stopped", "payload": {}})
    return {"events": events}


CHAT = conversation(
    ("user", "Hi! Can you help me with the deploy script?"),
    ("assistant", "Sure. What should I know?"),
    ("user", "I prefer small commits with clear messages. We use postgres 16 in production."),
    ("user", "```\nSELECT * FROM users;\n```"),
    ("user", "My editor is neovim. Always run the linter before pushing."),
    ("user", "ok thanks"),
    ("assistant", "I prefer nothing, I am an assistant."),
    stop=True,
)


def send(daemon: Daemon, ws: str, sid: str, body: dict[str, Any]) -> dict[str, Any]:
    response = daemon.post(f"/api/workspaces/{ws}/memory/sessions/{sid}/events", body)
    assert response.status_code == 200, response.text
    return response.json()


def drain(daemon: Daemon) -> dict[str, Any]:
    """Wait for the extractor; its counters once drained."""
    drained = daemon.post("/api/memory/extractor/drain", {"timeout_seconds": 30}).json()
    assert drained["remaining"] == 0 and drained["drained"] is True, drained
    return drained["extractor"]


def counters(daemon: Daemon) -> dict[str, Any]:
    return daemon.get("/api/memory/extractor/status").json()["extractor"]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("I prefer tabs over spaces.", [("user", "Prefers tabs over spaces.")]),
        ("Never push to main directly!", [("feedback", "Never push to main directly.")]),
        ("From now on, write commit messages in English.", [("feedback", "Write commit messages in English.")]),
        ("We’re using fly.io for deploys", [("project", "The project uses fly.io for deploys.")]),
        ("Our database is postgres", [("project", "The project's database is postgres.")]),
        ("What do you prefer?", []),
        ("Can you always use tabs", []),
        ("ok cool, thanks", []),
        ("I like it", []),
        ("def f(x):\n    return x", []),
        ("Traceback (most recent call last):\n  File \"x.py\"", []),
        ("2026-01-02 10:00:01 ERROR: we use the fallback", []),
        ("my bad", []),
        ("Never had a chance to visit it.", []),
        ("I love it, it brings us closer.", []),
        ("My kids are so excited about summer.", []),
        ("I love coconut milk, but I also enjoy chocolate.", [("user", "Loves coconut milk.")]),
    ],
)
def test_the_rules(message: str, expected: list[tuple[str, str]]) -> None:
    assert [(e.type, e.content) for e in extract(message)] == expected


def test_a_conversation_becomes_memories_once(daemon: Daemon, tmp_path: Path) -> None:
    ws = daemon.workspace(tmp_path / "repo")
    send(daemon, ws, "chat-1", CHAT)
    status = drain(daemon)
    assert status["candidates"] == 4 and status["applied"] == 4 and status["failure_count"] == 0
    global_files = memory_files(daemon.home / "memory")
    ws_files = memory_files(tmp_path / "repo" / ".agh" / "memory")
    assert sorted(global_files) == ["user_editor.md", "user_prefers_small_commits_with_clear_messages.md"]
    assert sorted(ws_files) == ["feedback_always_run_the_linter_before_pushing.md", "project_uses_postgres_16_in_production.md"]
    editor = global_files["user_editor.md"].decode()
    assert "The user's editor is neovim." in editor and "chat-1" in editor and "entity: user" in editor
    decisions = daemon.get("/api/memory/decisions", params={"limit": 50}).json()["decisions"]
    assert {d["origin"] for d in decisions} == {"extractor"}

    # The same events again: the ledger skips them, nothing is extracted.
    assert send(daemon, ws, "chat-1", CHAT)["appended"] == 0
    # The same conversation in another session: the controller finds every memory there already.
    send(daemon, ws, "chat-2", CHAT)
    drain(daemon)
    assert memory_files(daemon.home / "memory") == global_files
    assert memory_files(tmp_path / "repo" / ".agh" / "memory") == ws_files
    # A new value for a slot updates its memory.
    send(daemon, ws, "chat-3", conversation(("user", "My editor is helix now.")))
    drain(daemon)
    assert "The user's editor is helix now." in (daemon.home / "memory" / "user_editor.md").read_text()
    assert len(memory_files(daemon.home / "memory")) == 2


def test_turns_coalesce_while_a_job_runs(make_daemon: Any) -> None:
    config = FAST_CONFIG + "[extractor.queue]\ncoalesce_max = 4\n"
    daemon = make_daemon(config, env={"AGHMEM_FAILPOINTS": "extractor.claimed=sleep(1.5)"})
    base = "/api/workspaces/_unbound/memory/sessions/busy/events"
    daemon.post(base, conversation(("user", "I prefer dark themes everywhere.")))
    now = counters(daemon)
    for _ in range(50):  # the first job is in flight (held at the failpoint)
        if now["in_flight_sessions"] == 1:
            break
        now = counters(daemon)
    assert now["in_flight_sessions"] == 1 and now["status"] == "running"
    daemon.post(base, conversation(("user", "I prefer short answers."), start=2))  # queued
    daemon.post(base, conversation(("user", "I prefer python scripts."), ("user", "ok"), start=3))  # joins it
    daemon.post(base, conversation(("user", "I prefer uv for installs."), ("user", "I prefer ruff for linting."), start=5))
    now = counters(daemon)
    # Five turns wait for a job that takes four: one waits for the next job.
    assert (now["queued_sessions"], now["coalesced_turns"], now["backpressured_sessions"]) == (1, 4, 1)
    final = drain(daemon)
    assert final["processed_jobs"] == 3 and final["queued_sessions"] == 0 and final["dropped_turns"] == 0
    names = sorted(memory_files(daemon.home / "memory"))
    assert names == ["user_prefers_dark_themes_everywhere.md", "user_prefers_python_scripts.md",
                     "user_prefers_ruff_for_linting.md", "user_prefers_short_answers.md", "user_prefers_uv_for_installs.md"]


def test_a_failing_inbox_file_goes_to_the_dead_letter_folder_and_is_retried(daemon: Daemon) -> None:
    broken = daemon.home / "memory" / "user_prefers_tabs_over_spaces.md"
    broken.write_text("---\nname: [unclosed\n---\nbroken by hand\n")
    daemon.post("/api/workspaces/_unbound/memory/sessions/s1/events", conversation(("user", "I prefer tabs over spaces.")))
    assert drain(daemon)["failure_count"] == 1
    [failure] = daemon.get("/api/memory/extractor/failures").json()["failures"]
    assert failure["session_id"] == "s1" and "cannot be parsed" in failure["reason"] and failure["candidate_count"] == 1
    assert Path(failure["path"]).parent == daemon.home / "memory" / "_system" / "extractor" / "failures"
    broken.unlink()  # fixed by hand
    retried = daemon.post("/api/memory/extractor/retry", {"ids": [failure["id"], "no-such-failure"]}).json()
    assert retried == {"retried": 1, "failed": 1, "ids": [failure["id"]], "missing": ["no-such-failure"]}
    assert drain(daemon)["failure_count"] == 0
    assert "Prefers tabs over spaces." in (daemon.home / "memory" / "user_prefers_tabs_over_spaces.md").read_text()
    assert daemon.post("/api/memory/extractor/retry", {"ids": "all"}).status_code == 400
    assert daemon.post("/api/memory/extractor/drain", {"timeout_seconds": -1}).status_code == 400


def test_a_claimed_inbox_file_is_processed_after_a_crash_without_duplicates(make_daemon: Any, tmp_path: Path) -> None:
    home = tmp_path / "crash-home"
    crashing = make_daemon(FAST_CONFIG, home=home, env={"AGHMEM_FAILPOINTS": "extractor.submitted=crash"})
    try:
        crashing.post("/api/workspaces/_unbound/memory/sessions/s1/events",
                      conversation(("user", "I prefer small pull requests. I prefer squash merges.")))
        crashing.proc.wait(timeout=10)  # died right after the first candidate went through
    except httpx.TransportError:
        pass
    assert crashing.proc.wait(timeout=10) == -9
    claimed = list((home / "memory" / "_inbox").glob("*/*.jsonl.claimed"))
    assert len(claimed) == 1 and len(claimed[0].read_text().splitlines()) == 2
    assert sorted(memory_files(home / "memory")) == ["user_prefers_small_pull_requests.md"]

    restarted = Daemon(home, FAST_CONFIG)
    try:
        restarted.start()
        status = drain(restarted)
        assert sorted(memory_files(home / "memory")) == ["user_prefers_small_pull_requests.md", "user_prefers_squash_merges.md"]
        assert not list((home / "memory" / "_inbox").glob("**/*.jsonl*"))
        decisions = restarted.get("/api/memory/decisions", params={"op": "add"}).json()["decisions"]
        assert len(decisions) == 2  # the first candidate's replay answered its first decision
        assert status["failure_count"] == 0
    finally:
        restarted.kill()


def test_a_full_queue_answers_429_and_loses_nothing(make_daemon: Any) -> None:
    config = FAST_CONFIG + "[extractor.queue]\ncapacity = 1\n"
    daemon = make_daemon(config, env={"AGHMEM_FAILPOINTS": "extractor.claimed=sleep(1)"})
    base = "/api/workspaces/_unbound/memory/sessions"
    assert daemon.post(f"{base}/a/events", conversation(("user", "I prefer long walks."))).status_code == 200
    for _ in range(50):
        if counters(daemon)["in_flight_sessions"] == 1:
            break
    assert daemon.post(f"{base}/b/events", conversation(("user", "I prefer short meetings."))).status_code == 200
    refused = daemon.post(f"{base}/c/events", conversation(("user", "I prefer green tea.")))
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.json()["code"] == "memory.rate_limited" and refused.json()["details"]["queued_sessions"] == 1
    assert daemon.get(f"{base}/c/ledger").status_code == 404  # nothing was written
    # A session already waiting may still add to its job.
    assert daemon.post(f"{base}/b/events", conversation(("user", "I prefer quiet rooms."), start=2)).status_code == 200
    drain(daemon)
    assert daemon.post(f"{base}/c/events", conversation(("user", "I prefer green tea."))).status_code == 200  # sent again
    status = drain(daemon)
    assert status["refused_turns"] == 1 and status["dropped_turns"] == 0
    assert len(memory_files(daemon.home / "memory")) == 4

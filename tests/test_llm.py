"""The llm provider against a fake OpenAI-compatible server on a loopback
port: the controller's tie-break, the extractor's LLM mode, the circuit
breaker opening and closing, the fallback to the rules."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import FAST_CONFIG, Daemon, memory_files
from fake_llm import FakeLLM, raw, reply, slow, status


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def llm_config(llm: FakeLLM, *, controller_mode: str = "hybrid", extractor_mode: str = "rules", extra: str = "") -> str:
    return FAST_CONFIG + f"""
[controller]
mode = "{controller_mode}"
max_latency = "1s"

[extractor]
mode = "{extractor_mode}"

[provider]
name = "llm"
base_url = "{llm.base_url}"
model = "fake-1"
timeout = "1s"
failure_threshold = 2
cooldown = "1s"
""" + extra


def make_tie(daemon: Daemon) -> dict[str, Any]:
    """Two memories a new one could change: its own filename, and the file
    holding its (entity, attribute) slot."""
    daemon.write(type="user", name="Editor", content="Uses vim.")  # user_editor.md
    daemon.write(type="user", name="Tools", filename="user_tools.md", content="Edits with vim.", entity="user", attribute="editor")
    return {"type": "user", "name": "Editor", "filename": "user_editor.md", "content": "Uses helix.", "entity": "user", "attribute": "editor"}


def test_the_provider_breaks_a_tie_and_the_trace_is_kept(make_daemon: Any, llm: FakeLLM) -> None:
    daemon = make_daemon(llm_config(llm))
    tie = make_tie(daemon)
    llm.script(reply('Sure: {"op": "update", "target": "user_tools.md", "reason": "same editor slot"}'))
    decision = daemon.write(**tie)["decision"]
    assert decision["op"] == "update" and decision["target_filename"] == "user_tools.md"
    assert decision["source"] == "llm" and decision["reason"] == "llm: same editor slot"
    trace = decision["llm_trace"]
    assert trace["model"] == "fake-1" and trace["prompt_version"] == "controller-v1" and trace["error"] is None
    assert trace["latency_ms"] >= 0 and decision["prompt_version"] == "controller-v1"
    assert [r["name"] for r in decision["rule_trace"]][-2:] == ["ambiguous", "llm.tie_break"]
    assert "Uses helix." in (daemon.home / "memory" / "user_tools.md").read_text()
    request = llm.requests[-1]
    assert request["path"] == "/v1/chat/completions" and request["model"] == "fake-1"
    assert "user_tools.md" in request["messages"][1]["content"] and "Uses helix." in request["messages"][1]["content"]
    assert daemon.get(f"/api/memory/decisions/{decision['id']}").json()["decision"]["llm_trace"] == trace

    # A 500: hybrid keeps the rules' verdict (default_op_on_fail = noop) and records the error.
    llm.script(status(500))
    tie["content"] = "Uses kakoune."
    failed = daemon.write(**tie)["decision"]
    assert failed["op"] == "noop" and failed["llm_trace"]["error"].startswith("http_500")
    # An answer that is not one of the choices is an error too.
    llm.script(reply('{"op": "update", "target": "user_elsewhere.md"}'))
    tie["content"] = "Uses emacs."
    assert daemon.write(**tie)["decision"]["llm_trace"]["error"].startswith("bad_answer")


def test_llm_mode_rejects_a_tie_it_cannot_settle(make_daemon: Any, llm: FakeLLM) -> None:
    daemon = make_daemon(llm_config(llm, controller_mode="llm"))
    tie = make_tie(daemon)
    llm.script(slow(3.0, '{"op": "add"}'))  # past max_latency (1 s)
    response = daemon.post("/api/memory", tie)
    assert response.status_code == 422
    decision = response.json()["details"]["decision"]
    assert decision["op"] == "reject" and decision["llm_trace"]["error"].startswith("timeout")
    assert "does not fall back" in decision["reason"]
    assert "Uses vim." in (daemon.home / "memory" / "user_editor.md").read_text()


def extract_now(daemon: Daemon, sid: str, *messages: str) -> dict[str, Any]:
    events = [{"sequence": i + 1, "event_type": "message", "payload": {"role": "user", "content": m}} for i, m in enumerate(messages)]
    assert daemon.post(f"/api/workspaces/_unbound/memory/sessions/{sid}/events", {"events": events}).status_code == 200
    drained = daemon.post("/api/memory/extractor/drain", {"timeout_seconds": 30}).json()
    assert drained["drained"] is True and drained["remaining"] == 0
    return drained["extractor"]


def test_the_extractor_asks_the_provider_and_keeps_the_good_lines(make_daemon: Any, llm: FakeLLM) -> None:
    daemon = make_daemon(llm_config(llm, extractor_mode="llm"))
    llm.script(reply(
        '```jsonl\n'
        '{"type": "user", "name": "Prefers dark mode", "content": "Uses dark mode in every editor."}\n'
        'this line is not JSON\n'
        '{"type": "unknown", "content": "wrong type"}\n'
        '{"type": "feedback", "name": "Small PRs", "content": "Keep pull requests under 300 lines."}\n'
        '```'
    ))
    status_ = extract_now(daemon, "s1", "I like dark mode. Keep PRs small please.")
    assert status_["candidates"] == 2 and status_["bad_llm_lines"] == 2 and status_["failure_count"] == 0
    assert sorted(memory_files(daemon.home / "memory")) == ["feedback_small_prs.md", "user_prefers_dark_mode.md"]
    transcript = llm.requests[-1]["messages"][1]["content"]
    assert "[1] user: I like dark mode." in transcript
    # "No candidates" is an answer, not a failure.
    llm.script(reply(""))
    quiet = extract_now(daemon, "s2", "ok thanks")
    assert quiet["candidates"] == 2 and quiet["failure_count"] == 0 and quiet["llm_fallbacks"] == 0


def provider(daemon: Daemon) -> dict[str, Any]:
    return daemon.get("/api/memory/providers/llm").json()["provider"]


def test_the_breaker_opens_falls_back_to_the_rules_and_closes(make_daemon: Any, llm: FakeLLM) -> None:
    daemon = make_daemon(llm_config(llm, extractor_mode="llm"))
    llm.script(status(500), raw("{not json"))
    extract_now(daemon, "a", "I prefer tabs over spaces.")  # a 500: the rules take over
    assert provider(daemon)["status"] == "active" and provider(daemon)["failure_count"] == 1
    extract_now(daemon, "b", "I prefer small commits.")  # malformed: the second failure opens it
    opened = provider(daemon)
    assert opened["status"] == "circuit_open" and opened["last_error_code"] == "malformed_response" and opened["cooldown_until"]
    asked = len(llm.requests)
    status_ = extract_now(daemon, "c", "I prefer short answers.")  # open: no call at all
    assert len(llm.requests) == asked and status_["llm_fallbacks"] == 3
    assert sorted(memory_files(daemon.home / "memory")) == [
        "user_prefers_short_answers.md", "user_prefers_small_commits.md", "user_prefers_tabs_over_spaces.md"]

    time.sleep(1.1)  # the cooldown passes: one probe goes out, succeeds, the breaker closes
    assert provider(daemon)["status"] == "circuit_half_open"
    llm.script(reply('{"type": "user", "name": "Likes rust", "content": "Enjoys writing Rust."}'))
    extract_now(daemon, "d", "Rust is fun.")
    closed = provider(daemon)
    assert closed["status"] == "active" and closed["failure_count"] == 0
    assert (daemon.home / "memory" / "user_likes_rust.md").exists()


def test_provider_routes(make_daemon: Any, llm: FakeLLM, tmp_path: Path) -> None:
    daemon = make_daemon(llm_config(llm))
    listed = {p["name"]: p for p in daemon.get("/api/memory/providers").json()["providers"]}
    assert listed["local"]["builtin"] is True and listed["llm"]["active"] is True and listed["llm"]["model"] == "fake-1"
    assert daemon.get("/api/memory/providers/nope").status_code == 404
    assert daemon.post("/api/memory/providers/local/disable", {}).status_code == 409
    disabled = daemon.post("/api/memory/providers/llm/disable", {}).json()["provider"]
    assert disabled["status"] == "disabled" and disabled["active"] is False
    assert daemon.post("/api/memory/providers/select", {"name": "llm"}).status_code == 409
    assert daemon.post("/api/memory/providers/llm/enable", {}).json()["provider"]["enabled"] is True
    assert daemon.post("/api/memory/providers/select", {"name": "llm"}).json()["provider"]["active"] is True
    assert daemon.post("/api/memory/providers/select", {"name": 3}).status_code == 400
    assert daemon.post("/api/memory/providers/select", {"name": "local"}).json()["provider"]["status"] == "active"
    # The choice survives a restart.
    daemon.restart()
    assert provider(daemon)["active"] is False
    assert json.loads((daemon.home / "state" / "providers.json").read_text())["active"] == "local"
    config = daemon.get("/api/memory/config").json()
    assert [p["name"] for p in config["providers"]] == ["local", "llm"]

    unconfigured = make_daemon(FAST_CONFIG)
    assert provider(unconfigured)["status"] == "unconfigured"
    assert unconfigured.post("/api/memory/providers/select", {"name": "llm"}).status_code == 409

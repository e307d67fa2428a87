"""Memory configurations bound to scopes (COMPAT §2.5–2.6): 409 while bound
(CFG-11), a bound redaction pattern on native writes and hand-written files
(CFG-12), non-persistable message types on session appends (CFG-13), the
revert of a config update, a restart without the derived state, the token
(CFG-15) and compat.cfg.effective."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import FAST_CONFIG, Daemon

C = {"type": "token_based", "max_tokens": 4000, "persistence": {"type": "redis", "ttl": "24h"}}
SSN = {**C, "privacy_policy": {"redact_patterns": ["\\b\\d{3}-\\d{2}-\\d{4}\\b"]}}
NO_SYSTEM = {**C, "privacy_policy": {"non_persistable_message_types": ["system"], "redact_patterns": ["card \\d{4}"],
                                     "default_redaction_string": "[CARD]"}}
BASE = FAST_CONFIG + "\n[compat.cfg]\nmax_writes_per_min = 0\n"


def bind(d: Daemon, bindings: dict[str, str]) -> None:
    """Write the bindings into config.toml and reload."""
    lines = "".join(f'"{pattern}" = "{ref}"\n' for pattern, ref in bindings.items())
    d.config_path.write_text(BASE + "[compat.cfg.bindings]\n" + lines)
    assert d.post("/api/memory/reload").status_code == 200


@pytest.fixture(scope="module")
def bound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str]]:
    home = tmp_path_factory.mktemp("cfgbound")
    d = Daemon(home / "home", BASE).start()
    ws = d.workspace(home / "project")
    assert d.http is not None
    for name, body in (("conversation", C), ("ssn", SSN), ("nosystem", NO_SYSTEM)):
        assert d.http.put(f"/api/v0/memories/{name}", json=body).status_code == 201
    bind(d, {"global": "default/ssn", f"ws:{ws}/*": "default/nosystem"})
    yield d, ws
    d.kill()


def test_cfg11_delete_while_bound(bound: tuple[Daemon, str]) -> None:
    """CFG-11: DELETE of a bound config → 409 with references; unbound → 204, file gone, decision; again → 404."""
    d, ws = bound
    assert d.http is not None
    bind(d, {"global": "default/conversation", f"ws:{ws}/*": "default/nosystem"})
    try:
        refused = d.http.delete("/api/v0/memories/conversation")
        assert refused.status_code == 409 and refused.headers["content-type"].startswith("application/problem+json")
        body = refused.json()
        assert body["code"] == "conflict" and body["references"] == [{"resource": "scopes", "ids": ["global"]}]
        assert body["detail"] == "resource referenced by 1 collection(s): scopes"
    finally:
        bind(d, {"global": "default/ssn", f"ws:{ws}/*": "default/nosystem"})
    gone = d.http.delete("/api/v0/memories/conversation")
    assert gone.status_code == 204 and gone.content == b""
    assert not (d.home / "compat/configs/default/conversation.yaml").exists()
    decisions = d.get("/api/memory/decisions", params={"limit": 50}).json()["decisions"]
    assert any(x["op"] == "delete" and x["target_filename"] == "compat/configs/default/conversation.yaml" for x in decisions)
    assert d.http.delete("/api/v0/memories/conversation").status_code == 404


def test_cfg12_bound_redaction_on_native_writes(bound: tuple[Daemon, str]) -> None:
    """CFG-12: the global scope's bound pattern redacts a native write; an unbound workspace keeps the number."""
    d, ws = bound
    written = d.post("/api/memory", {"type": "user", "name": "ID", "content": "SSN 123-45-6789"})
    assert written.status_code == 200, written.text
    decision = written.json()["decision"]
    assert "redacted 1" in [r["reason"] for r in decision["rule_trace"] if r["name"] == "memory_scan"][0]
    path = d.home / "memory" / decision["target_filename"]
    assert "SSN [REDACTED]" in path.read_text() and "123-45-6789" not in path.read_text()
    other = d.post("/api/memory", {"type": "project", "name": "ID", "content": "SSN 123-45-6789", "workspace_id": ws,
                                   "scope": "workspace"})
    assert other.status_code == 200, other.text
    assert other.json()["decision"]["post_content"].count("123-45-6789") == 1


def test_a_pattern_that_backtracks_cannot_stall_a_write(make_daemon: Any) -> None:
    """Patterns run on RE2 (linear time): "(a+)+$" against 40 a's and a "!"
    took Python's engine 2**40 steps, holding the event loop a write's
    scan runs on (26 a's: 9 s; every request waited)."""
    d = make_daemon(BASE)
    assert d.http is not None
    body = {**C, "privacy_policy": {"redact_patterns": ["(a+)+$"], "default_redaction_string": "[A]"}}
    assert d.http.put("/api/v0/memories/redos", json=body).status_code == 201
    bind(d, {"global": "default/redos"})
    written = d.post("/api/memory", {"scope": "global", "type": "user", "name": "Many a", "content": "a" * 40 + "!"})
    assert written.status_code == 200, written.text
    held = d.post("/api/memory", {"scope": "global", "type": "user", "name": "Only a", "content": "aaaa"})
    assert held.status_code == 200 and "[A]" in (d.home / "memory" / held.json()["decision"]["target_filename"]).read_text()


def test_bound_redaction_on_hand_written_file(bound: tuple[Daemon, str]) -> None:
    """A hand-written file in the bound scope is taken in redacted (the file itself stays the person's)."""
    d, _ = bound
    path = d.home / "memory" / "user_handwritten_ssn.md"
    path.write_text("---\nname: hand SSN\ndescription: a number\ntype: user\n---\nmy SSN is 987-65-4321\n")
    got = d.get("/api/memory/user_handwritten_ssn.md")
    assert got.status_code == 200, got.text
    assert "987-65-4321" not in got.text and "[REDACTED]" in got.json()["memory"]["content"]
    assert "987-65-4321" in path.read_text()


def test_cfg13_non_persistable_and_payload_redaction(bound: tuple[Daemon, str]) -> None:
    """CFG-13: a system message to a bound workspace is skipped and counted; bound patterns redact payloads."""
    d, ws = bound
    events = [
        {"sequence": 1, "event_type": "message", "payload": {"role": "system", "content": "you are a bot"}},
        {"sequence": 2, "event_type": "message", "payload": {"role": "user", "content": "pay with card 1234 please"}},
    ]
    answer = d.post(f"/api/workspaces/{ws}/memory/sessions/s-cfg13/events", {"events": events})
    assert answer.status_code == 200, answer.text
    assert answer.json()["appended"] == 1 and answer.json()["skipped"] == 1
    ledger = d.get(f"/api/workspaces/{ws}/memory/sessions/s-cfg13/ledger").json()["events"]
    assert [e["payload"]["role"] for e in ledger] == ["user"]
    assert ledger[0]["payload"]["content"] == "pay with [CARD] please"


def test_config_view_lists_effective(bound: tuple[Daemon, str]) -> None:
    """GET /api/memory/config: compat.cfg.effective per bound pattern."""
    d, ws = bound
    effective = d.get("/api/memory/config").json()["compat"]["cfg"]["effective"]
    # max_tokens: the llm extractor's window (fields a configuration sets that the daemon acts on).
    assert effective["global"] == {"config": "default/ssn", "present": True, "enforced": ["privacy_policy.redact_patterns", "max_tokens"]}
    assert "privacy_policy.non_persistable_message_types" in effective[f"ws:{ws}/*"]["enforced"]


def test_revert_of_a_config_update(bound: tuple[Daemon, str]) -> None:
    """A config update reverted through the native revert route restores the prior bytes and ETag."""
    d, _ = bound
    assert d.http is not None
    first = d.http.put("/api/v0/memories/revertme", json=C)
    before = (d.home / "compat/configs/default/revertme.yaml").read_bytes()
    d.http.put("/api/v0/memories/revertme", json={**C, "max_tokens": 9999})
    # The config's own decision, not simply the newest: the daemon is shared
    # with tests whose extraction may still be landing memories meanwhile.
    decisions = d.get("/api/memory/decisions", params={"limit": 50}).json()["decisions"]
    update = next(x for x in decisions if (x["target_filename"] or "").endswith("revertme.yaml"))
    assert update["op"] == "update" and update["prior_content"] == before.decode()
    reverted = d.post(f"/api/memory/decisions/{update['id']}/revert")
    assert reverted.status_code == 200, reverted.text
    assert reverted.json()["decision"]["reverts"] == update["id"]
    assert (d.home / "compat/configs/default/revertme.yaml").read_bytes() == before
    assert d.get("/api/v0/memories/revertme").headers["ETag"] == first.headers["ETag"]


def test_restart_without_derived_state(tmp_path: Path) -> None:
    """Stop, delete SQLite and the index, start: the configurations come back from the files."""
    d = Daemon(tmp_path / "home", BASE).start()
    try:
        assert d.http is not None
        assert d.http.put("/api/v0/memories/durable", json=SSN).status_code == 201
        listed = d.get("/api/v0/memories").json()["data"]
        d.stop()
        for state in (d.home / "state").iterdir():
            if state.name.startswith("aghmem.db") or state.name == "index":
                shutil.rmtree(state) if state.is_dir() else state.unlink()
        d.start()
        assert d.get("/api/v0/memories").json()["data"] == listed
        assert d.get("/api/v0/memories/durable").json()["data"]["privacy_policy"] == SSN["privacy_policy"]
    finally:
        d.kill()


def test_cfg15_token(make_daemon: Any) -> None:
    """CFG-15: with server.token set, no Authorization → 401 problem unauthorized."""
    d = make_daemon(env={"AGHMEM_TOKEN": "s3cret-token-value"})
    response = d.http.get("/api/v0/memories", headers={"Authorization": ""})
    assert response.status_code == 401 and response.headers["content-type"].startswith("application/problem+json")
    assert response.json() == {"type": "about:blank", "title": "Unauthorized", "status": 401,
                               "detail": "missing or invalid bearer token", "code": "unauthorized",
                               "instance": "/api/v0/memories"}
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert d.get("/api/v0/memories").status_code == 200

"""The CF surface's last pieces (COMPAT §1.3, §1.6): recall's llm answer
against a fake provider (used; a failing provider → extractive; auto without
a provider → extractive), a session delete that drops the session from later
provenance (and its revert), namespace delete, `namespace_bindings`, the
summary's Last Session fallback to the ledger, remember's confidence, and a
bound privacy policy on ingest. One daemon; its config is rewritten and
reloaded where a test needs another setting."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Iterator

import pytest
from cf_support import base, ok, profile_path, v4_error

from aghmem.testing import FAST_CONFIG, Daemon
from fake_llm import FakeLLM, reply, status

B = base()
PREFERS = "The user prefers concise answers."
BOUND_WS = "ws_userproj1"
REDACT = {"type": "token_based", "max_tokens": 4000, "persistence": {"type": "redis", "ttl": "24h"}, "privacy_policy": {"redact_patterns": ["\\bticket-\\d{4}\\b"]}}


def config_text(llm: FakeLLM, *, answer: str = "llm", provider: bool = True, bindings: dict[str, str] | None = None,
                ingest_wait: str = "10s") -> str:
    text = FAST_CONFIG + f"""
[compat.cf]
max_writes_per_min = 0
answer = "{answer}"
ingest_wait = "{ingest_wait}"
namespace_bindings = {{ bound-ns = "{BOUND_WS}" }}

[compat.cfg]
max_writes_per_min = 0

[provider]
name = "llm"
base_url = "{llm.base_url if provider else ''}"
model = "fake-1"
timeout = "2s"
failure_threshold = 100
cooldown = "1s"
"""
    if bindings:
        text += "[compat.cfg.bindings]\n" + "".join(f'"{p}" = "{r}"\n' for p, r in bindings.items())
    return text


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture(scope="module")
def cf(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLM) -> Iterator[Daemon]:
    top = tmp_path_factory.mktemp("cffinish")
    project = top / "project"
    (project / ".agh").mkdir(parents=True)
    (project / ".agh" / "workspace.toml").write_text(f'id = "{BOUND_WS}"\n')
    daemon = Daemon(top / "home", config_text(llm)).start()
    assert daemon.workspace(project) == BOUND_WS
    daemon.project = project  # type: ignore[attr-defined]
    yield daemon
    daemon.kill()


def reconfigure(cf: Daemon, llm: FakeLLM, **settings: Any) -> None:
    cf.config_path.write_text(config_text(llm, **settings))
    assert cf.post("/api/memory/reload").status_code == 200


def make_namespace(cf: Daemon, name: str) -> dict[str, Any]:
    return ok(cf.post(f"{B}/namespaces", {"name": name}))["result"]


def remember(cf: Daemon, path: str, content: str, session_id: str | None = None) -> dict[str, Any]:
    return ok(cf.post(path + "/remember", {"content": content, **({"sessionId": session_id} if session_id else {})}))["result"]


def recall(cf: Daemon, path: str, query: str, **options: Any) -> dict[str, Any]:
    return ok(cf.post(path + "/recall", {"query": query, **options}))["result"]


def memory_file(cf: Daemon, namespace: str, profile: str, name: str) -> Path:
    return cf.home / "compat" / "cloudflare" / "acc1" / namespace / ".agh" / "agents" / profile / "memory" / name


def frontmatter(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text().split("---")[1])


# --- recall's llm answer --------------------------------------------------------


def test_the_llm_answer_is_the_providers_and_never_changes_candidates(cf: Daemon, llm: FakeLLM) -> None:
    """answer = llm: the provider gets the top memories, the reference date and the
    length's max tokens; its reply is the answer; an empty reply is no answer."""
    make_namespace(cf, "llm-ns")
    p = profile_path("llm-ns", "alice")
    memory = remember(cf, p, PREFERS, "chat-1")
    llm.script(reply("  Keep your answers concise.  "))
    found = recall(cf, p, "How should I answer this user?", referenceDate="2026-01-02")
    assert found["answer"] == "Keep your answers concise."
    assert found["count"] == 1 and found["candidates"][0]["id"] == memory["id"]
    request = llm.requests[-1]
    assert request["max_tokens"] == 200 and request["model"] == "fake-1"
    prompt = request["messages"][1]["content"]
    assert PREFERS in prompt and "How should I answer this user?" in prompt and "2026-01-02" in prompt
    assert "only" in request["messages"][0]["content"].lower()
    for length, tokens in (("short", 60), ("long", 500)):
        llm.script(reply("Concise."))
        assert recall(cf, p, "How should I answer?", responseLength=length)["answer"] == "Concise."
        assert llm.requests[-1]["max_tokens"] == tokens
    llm.script(reply(""))
    empty = recall(cf, p, "How should I answer this user?")
    assert empty["answer"] == "" and [c["id"] for c in empty["candidates"]] == [memory["id"]]
    asked = len(llm.requests)
    assert recall(cf, p, "zebra xylophone quasar") == {"answer": "", "count": 0, "candidates": []}
    assert len(llm.requests) == asked  # nothing recalled: the provider is not asked


def test_a_failing_provider_gives_the_extractive_answer(cf: Daemon, llm: FakeLLM) -> None:
    """Any provider failure (here a 500) → the extractive answer, same candidates."""
    make_namespace(cf, "llm-fail-ns")
    p = profile_path("llm-fail-ns", "alice")
    memory = remember(cf, p, PREFERS)
    asked = len(llm.requests)
    llm.script(status(500))
    found = recall(cf, p, "How should I answer this user?")
    assert len(llm.requests) == asked + 1
    assert "concise" in found["answer"] and found["candidates"][0]["id"] == memory["id"]


def test_auto_uses_the_provider_only_when_usable(cf: Daemon, llm: FakeLLM) -> None:
    """answer = auto: the provider's answer while one is configured; without one
    the extractive answer, and nothing is sent."""
    make_namespace(cf, "auto-ns")
    p = profile_path("auto-ns", "alice")
    remember(cf, p, PREFERS)
    try:
        reconfigure(cf, llm, answer="auto")
        llm.script(reply("Be concise."))
        assert recall(cf, p, "How should I answer this user?")["answer"] == "Be concise."
        reconfigure(cf, llm, answer="auto", provider=False)
        asked = len(llm.requests)
        found = recall(cf, p, "How should I answer this user?")
        assert "concise" in found["answer"] and found["answer"] != "Be concise."
        assert len(llm.requests) == asked
    finally:
        reconfigure(cf, llm)


# --- deletes --------------------------------------------------------------------


def test_session_delete_drops_the_session_from_later_provenance(cf: Daemon) -> None:
    """P2: a memory that lists the session after its first one is updated
    without it (one update decision, revertible); the memory of its first
    session is deleted."""
    ns = make_namespace(cf, "prov-ns")
    p = profile_path("prov-ns", "alice")
    first = remember(cf, p, "My editor is vim.", "s-a")
    second = remember(cf, p, "My editor is helix.", "s-b")  # the slot's new value
    assert second["id"] == first["id"] and second["sessionId"] == "s-a"
    path = memory_file(cf, "prov-ns", "alice", "user_editor.md")
    assert frontmatter(path)["provenance"]["source_sessions"] == ["s-a", "s-b"]

    ok(cf.delete(p + "/sessions/s-b"))
    kept = ok(cf.get(f"{p}/memories/{first['id']}"))["result"]
    assert kept["content"] == "My editor is helix." and kept["sessionId"] == "s-a"
    assert frontmatter(path)["provenance"]["source_sessions"] == ["s-a"]
    query = {"scope": "agent", "workspace_id": "ws_" + ns["id"].lower(), "agent_name": "alice", "agent_tier": "workspace"}
    update = cf.get("/api/memory/decisions", params=query).json()["decisions"][0]
    assert update["op"] == "update" and update["origin"] == "compat-cf"
    ok(cf.delete(p + "/sessions/s-b"))  # again: nothing left to change
    assert cf.get("/api/memory/decisions", params=query).json()["decisions"][0]["id"] == update["id"]

    reverted = cf.post(f"/api/memory/decisions/{update['id']}/revert")
    assert reverted.status_code == 200, reverted.text
    assert frontmatter(path)["provenance"]["source_sessions"] == ["s-a", "s-b"]

    ok(cf.delete(p + "/sessions/s-a"))
    v4_error(cf.get(f"{p}/memories/{first['id']}"), 404, 10005)
    assert not path.exists()


def test_namespace_delete_cancels_its_sessions_first(cf: Daemon, llm: FakeLLM) -> None:
    """N4 right after an ingest that did not wait: its extraction is dropped
    (nothing lands in the retired root, no memory decision after the delete),
    its ledgers are gone, the workspace unregistered."""
    ns = make_namespace(cf, "gone-ns")
    ws = "ws_" + ns["id"].lower()
    p = profile_path("gone-ns", "alice")
    remember(cf, p, PREFERS)
    try:
        reconfigure(cf, llm, ingest_wait="0s")
        messages = [{"role": "user", "content": f"I prefer tabs over spaces in file {n}."} for n in range(20)]
        ok(cf.post(p + "/ingest", {"messages": messages, "sessionId": "late"}))
        ok(cf.delete(f"{B}/namespaces/gone-ns"))
    finally:
        reconfigure(cf, llm)
    drained = cf.post("/api/memory/extractor/drain", {"timeout_seconds": 10})
    assert drained.status_code == 200, drained.text
    assert not (cf.home / "sessions" / ws).exists()
    assert all(w["id"] != ws for w in cf.get("/api/workspaces").json()["workspaces"])
    retired = next((cf.home / "compat" / "cloudflare" / "acc1" / ".deleted").glob(f"gone-ns-{ns['id']}"))
    assert [f.name for f in (retired / ".agh" / "agents" / "alice" / "memory").glob("*_*.md")] == []
    v4_error(cf.get(f"{B}/namespaces/gone-ns"), 404, 10003)


# --- namespace_bindings -----------------------------------------------------------


def test_a_bound_namespace_lives_in_the_users_workspace(cf: Daemon) -> None:
    """namespace_bindings: namespace.toml in the bound root; create/get/list; the
    profiles' memories there; delete removes them and namespace.toml only."""
    project: Path = cf.project  # type: ignore[attr-defined]
    ns = make_namespace(cf, "bound-ns")
    meta = tomllib.loads((project / ".agh" / "namespace.toml").read_text())
    assert meta["id"] == ns["id"] and meta["workspace_id"] == BOUND_WS and meta["account_id"] == "acc1"
    v4_error(cf.post(f"{B}/namespaces", {"name": "bound-ns"}), 409, 10008, "Namespace name already exists")
    assert ok(cf.get(f"{B}/namespaces/bound-ns"))["result"] == ns
    assert "bound-ns" in [n["name"] for n in ok(cf.get(f"{B}/namespaces", params={"per_page": 1000}))["result"]]
    v4_error(cf.get(f"{base('acc2')}/namespaces/bound-ns"), 404, 10003)
    assert not (cf.home / "compat" / "cloudflare" / "acc1" / "bound-ns").exists()

    p = profile_path("bound-ns", "alice")
    memory = remember(cf, p, PREFERS)
    assert list((project / ".agh" / "agents" / "alice" / "memory").glob("feedback_*.md"))
    native = cf.write(scope="workspace", workspace_id=BOUND_WS, type="project", name="Build", content="Build with make.")
    native_file = project / ".agh" / "memory" / native["decision"]["target_filename"]
    assert native_file.exists()

    ok(cf.delete(f"{B}/namespaces/bound-ns"))
    assert project.is_dir() and native_file.exists() and not (project / ".agh" / "namespace.toml").exists()
    assert any(w["id"] == BOUND_WS for w in cf.get("/api/workspaces").json()["workspaces"])
    assert not list((project / ".agh" / "agents" / "alice" / "memory").glob("feedback_*.md"))
    v4_error(cf.get(f"{B}/namespaces/bound-ns"), 404, 10003)
    v4_error(cf.get(f"{p}/memories/{memory['id']}"), 404, 10003)
    again = make_namespace(cf, "bound-ns")
    assert again["id"] != ns["id"]
    ok(cf.delete(f"{B}/namespaces/bound-ns"))


# --- summary, remember, privacy ----------------------------------------------------


def test_summary_last_session_falls_back_to_the_ledger(cf: Daemon) -> None:
    """Last Session: a session without memories shows its last 3 user messages, cut to 200 chars."""
    make_namespace(cf, "sum-ns")
    p = profile_path("sum-ns", "alice")
    remember(cf, p, PREFERS, "older")
    chat = ["Hello there.", "What time is it?", "x" * 300, "How is the weather?"]
    messages = [{"role": "user", "content": text} for text in chat] + [{"role": "assistant", "content": "Fine."}]
    ok(cf.post(p + "/ingest", {"messages": messages, "sessionId": "chat-x"}))
    assert ok(cf.get(p + "/memories", params={"session_id": "chat-x"}))["result"] == []
    for body in ({"sessionId": "chat-x"}, {}):  # asked for, and the latest (its ledger is newer)
        summary = ok(cf.post(p + "/summary", body))["result"]["summary"]
        last = summary.split("## Last Session\n")[1].split("\n\n")[0].splitlines()
        assert last == ["- What time is it?", "- " + "x" * 199 + "…", "- How is the weather?"], summary
        assert "## Instructions\n- " + PREFERS in summary
    older = ok(cf.post(p + "/summary", {"sessionId": "older"}))["result"]["summary"]
    assert "## Last Session\n- " + PREFERS in older


def test_remember_is_high_confidence(cf: Daemon) -> None:
    make_namespace(cf, "conf-ns")
    memory = remember(cf, profile_path("conf-ns", "alice"), PREFERS)
    files = list(memory_file(cf, "conf-ns", "alice", "x").parent.glob("feedback_*.md"))
    assert memory["type"] == "instruction" and frontmatter(files[0])["provenance"]["confidence"] == "high"


def test_a_bound_privacy_policy_redacts_ingest(cf: Daemon, llm: FakeLLM) -> None:
    """A redact pattern bound to `cf:<account>/<ns>` (and to `ws:<id>/*`) acts
    on ingest: the ledger and the extracted memory hold the redacted text."""
    assert cf.http is not None
    assert cf.http.put("/api/v0/memories/redact", json=REDACT).status_code == 201
    by_name = make_namespace(cf, "red-ns")
    by_ws = make_namespace(cf, "red-ws")
    ws_of = {"red-ns": "ws_" + by_name["id"].lower(), "red-ws": "ws_" + by_ws["id"].lower()}
    try:
        reconfigure(cf, llm, bindings={"cf:acc1/red-ns": "default/redact", f"ws:{ws_of['red-ws']}/*": "default/redact"})
        for name in ("red-ns", "red-ws"):
            p = profile_path(name, "alice")
            said = "I prefer small commits that mention ticket-4821."
            ok(cf.post(p + "/ingest", {"messages": [{"role": "user", "content": said}], "sessionId": "s1"}))
            ledger = (cf.home / "sessions" / ws_of[name] / "alice:s1" / "ledger.jsonl").read_text()
            assert "ticket-4821" not in ledger and "[REDACTED]" in ledger, ledger
            listed = ok(cf.get(p + "/memories", params={"session_id": "s1"}))["result"]
            assert listed, name
            full = ok(cf.get(f"{p}/memories/{listed[0]['id']}"))["result"]
            assert "ticket-4821" not in full["content"] and "[REDACTED]" in full["content"], full
            remembered = remember(cf, p, "Always cite ticket-1234 in the release notes.")
            assert "ticket-1234" not in remembered["content"]
    finally:
        reconfigure(cf, llm)

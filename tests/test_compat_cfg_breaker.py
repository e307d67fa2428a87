"""A bound configuration's `persistence.circuit_breaker` around provider
calls made for its scopes (COMPAT §2.6), against the fake provider: the
llm extractor's calls per session scope, and the controller's tie-break.
and CF recall's llm answer. The global `[provider]` breaker's threshold is high here, so what opens is
the configuration's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cf_support import ok, profile_path

from conftest import FAST_CONFIG, Daemon, wait_for
from fake_llm import FakeLLM, reply, status


def config_text(llm: FakeLLM, controller_mode: str = "rules", extractor_mode: str = "llm", pattern: str = "global") -> str:
    return FAST_CONFIG + f"""
[controller]
mode = "{controller_mode}"

[extractor]
mode = "{extractor_mode}"

[provider]
name = "llm"
base_url = "{llm.base_url}"
model = "fake-1"
timeout = "2s"
failure_threshold = 100
cooldown = "60s"

[compat.cfg]
max_writes_per_min = 0
[compat.cfg.bindings]
"{pattern}" = "default/guarded"
"""


def guarded(**breaker: Any) -> dict[str, Any]:
    return {"type": "message_count_based", "max_messages": 50, "persistence": {"type": "in_memory", "circuit_breaker": breaker}}


def put(d: Daemon, body: dict[str, Any]) -> None:
    assert d.http.put("/api/v0/memories/guarded", json=body).status_code in (200, 201)  # type: ignore[union-attr]


def send(d: Daemon, ws: str, sid: str) -> dict[str, Any]:
    """One session's message, extracted before this returns; the extractor's counters."""
    events = [{"sequence": 1, "event_type": "message", "payload": {"role": "user", "content": f"I prefer {sid} things."}}]
    assert d.post(f"/api/workspaces/{ws}/memory/sessions/{sid}/events", {"events": events}).status_code == 200
    drained = d.post("/api/memory/extractor/drain", {"timeout_seconds": 30}).json()
    assert drained["drained"] is True and drained["remaining"] == 0
    return drained["extractor"]



def test_the_bound_breaker_stops_the_extractors_calls_for_its_scope(make_daemon: Any, tmp_path: Path) -> None:
    """max_failures 2: after two failed calls the bound scope (global) takes
    the rules path without asking, an unbound workspace still asks; after
    reset_timeout one call goes out again; a changed config starts afresh;
    enabled false leaves only the global breaker."""
    with FakeLLM(default=status(500)) as llm:
        d = make_daemon(config_text(llm))
        (tmp_path / "proj").mkdir()
        ws = d.workspace(tmp_path / "proj")
        put(d, guarded(enabled=True, max_failures=2, reset_timeout="2s"))
        send(d, "_unbound", "g1")
        send(d, "_unbound", "g2")
        asked = len(llm.requests)
        assert asked == 2
        counters = send(d, "_unbound", "g3")  # open for the bound scope: no call
        assert len(llm.requests) == asked and counters["llm_fallbacks"] == 3
        send(d, ws, "w1")  # an unbound scope: only the global breaker, which is shut
        assert len(llm.requests) == asked + 1
        assert d.get("/api/memory/providers/llm").json()["provider"]["status"] == "active"

        probes = iter(range(100))
        wait_for(lambda: bool(send(d, "_unbound", f"later{next(probes)}")) and len(llm.requests) == asked + 2, "the reset timeout", every=0.1)

        put(d, guarded(enabled=True, max_failures=3, reset_timeout="2s"))  # a new config: a new breaker
        send(d, "_unbound", "fresh")
        assert len(llm.requests) == asked + 3

        put(d, guarded(enabled=False, max_failures=1))
        for n in range(3):
            send(d, "_unbound", f"off{n}")
        assert len(llm.requests) == asked + 6


def test_the_bound_breaker_guards_the_tie_break(make_daemon: Any) -> None:
    """The controller's tie-break for a bound scope: after max_failures the
    provider is not asked, and the decision's llm_trace names the configuration."""
    with FakeLLM() as llm:
        d = make_daemon(config_text(llm, controller_mode="hybrid", extractor_mode="rules"))
        put(d, guarded(enabled=True, max_failures=1, reset_timeout="1h", timeout="1s"))
        d.write(type="user", name="Editor", content="Uses vim.")
        d.write(type="user", name="Tools", filename="user_tools.md", content="Edits with vim.", entity="user", attribute="editor")
        tie = {"type": "user", "name": "Editor", "filename": "user_editor.md", "entity": "user", "attribute": "editor"}
        llm.script(status(500))
        failed = d.write(**tie, content="Uses helix.")["decision"]
        assert failed["llm_trace"]["error"].startswith("http_500")
        asked = len(llm.requests)
        llm.script(reply('{"op": "update", "target": "user_tools.md", "reason": "same slot"}'))
        skipped = d.write(**tie, content="Uses kakoune.")["decision"]
        assert len(llm.requests) == asked
        assert skipped["op"] == "noop" and "memory configuration default/guarded is open" in skipped["llm_trace"]["error"]


def test_the_bound_breaker_guards_cf_recalls_llm_answer(make_daemon: Any) -> None:
    """CF recall (answer = llm) in a namespace bound by `cf:<account>/<ns>`:
    after max_failures the provider is not asked, the answer is extractive."""
    with FakeLLM(default=status(500)) as llm:
        text = config_text(llm, extractor_mode="rules", pattern="cf:acc1/brk-ns")
        d = make_daemon(text + '[compat.cf]\nmax_writes_per_min = 0\nanswer = "llm"\n')
        put(d, guarded(enabled=True, max_failures=1, reset_timeout="1h"))
        ok(d.post("/client/v4/accounts/acc1/agent-memory/namespaces", {"name": "brk-ns"}))
        p = profile_path("brk-ns", "alice")
        ok(d.post(p + "/remember", {"content": "The user prefers concise answers."}))
        for asked in (1, 1):
            found = ok(d.post(p + "/recall", {"query": "How should I answer this user?"}))["result"]
            assert "concise" in found["answer"] and len(llm.requests) == asked

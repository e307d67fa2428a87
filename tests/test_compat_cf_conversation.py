"""CF ingest, recall and session delete (COMPAT §1.6) against one real
daemon: CF-14…CF-20, idempotent re-ingest, the task rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from cf_support import CF_CONFIG, base, ok, profile_path, v4_error

from aghmem.testing import Daemon

PREFERS = "The user prefers concise answers."
COMMITS = "I prefer small commits with clear messages."


@pytest.fixture(scope="module")
def cf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = Daemon(tmp_path_factory.mktemp("cftalk") / "home", CF_CONFIG).start()
    yield daemon
    daemon.kill()


def setup_namespace(cf: Daemon, name: str) -> dict[str, Any]:
    return ok(cf.post(f"{base()}/namespaces", {"name": name}))["result"]


def ledger_events(cf: Daemon, namespace: dict[str, Any], native_sid: str) -> list[dict[str, Any]]:
    path = cf.home / "sessions" / ("ws_" + namespace["id"].lower()) / native_sid / "ledger.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def ingest(cf: Daemon, p: str, messages: list[dict[str, Any]], session_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": messages, **({"sessionId": session_id} if session_id else {})}
    result = ok(cf.post(p + "/ingest", body))
    assert result["result"] is None
    return result


def test_cf14_cf15_cf16_recall(cf: Daemon) -> None:
    """CF-14 recall finds the instruction; CF-15 another profile finds nothing,
    even with a global memory saying it; CF-16 limits and responseLength short."""
    setup_namespace(cf, "recall-ns")
    p = profile_path("recall-ns", "alice")
    made = ok(cf.post(p + "/remember", {"content": PREFERS, "sessionId": "chat-2026-04-21"}))["result"]
    ok(cf.post(p + "/remember", {"content": "Alice works on the billing team."}))
    cf.write(type="user", name="Global concise", content="The team wants concise answers everywhere.")
    found = ok(cf.post(p + "/recall", {"query": "How should I answer this user?"}))["result"]
    assert "concise" in found["answer"] and found["count"] == len(found["candidates"]) >= 1
    top = found["candidates"][0]
    assert top["id"] == made["id"] and 0 < top["score"] <= 1 and top["sessionId"] == "chat-2026-04-21"
    assert set(top) == {"id", "summary", "sessionId", "score"}
    assert all(c["id"].startswith("mem_") for c in found["candidates"])  # the global memory is not among them
    ns_root = cf.home / "compat" / "cloudflare" / "acc1" / "recall-ns"
    bob = profile_path("recall-ns", "bob")
    assert ok(cf.post(bob + "/recall", {"query": "concise answers"}))["result"] == {"answer": "", "count": 0, "candidates": []}
    assert not (ns_root / ".agh" / "agents" / "bob").exists()
    v4_error(cf.post(p + "/recall", {"query": "q" * 1025}), 400, 10002)
    v4_error(cf.post(p + "/recall", {"query": "concise", "thinkingLevel": "max"}), 400, 10002)
    short = ok(cf.post(p + "/recall", {"query": "concise answers billing team", "responseLength": "short"}))["result"]["answer"]
    assert short and len(short) <= 200 and short.count(". ") == 0
    for level in ("low", "medium", "high"):
        assert ok(cf.post(p + "/recall", {"query": "billing", "thinking_level": level, "reference_date": "2026-04-21"}))["result"]["count"] >= 1
    nothing = ok(cf.post(p + "/recall", {"query": "zebra xylophone quantum"}))["result"]
    assert nothing == {"answer": "", "count": 0, "candidates": []}


def test_cf17_cf18_cf19_ingest_is_idempotent(cf: Daemon) -> None:
    """CF-17 ingest extracts into the profile; CF-18 repeats append nothing;
    CF-19 bad batches are 400 and append nothing."""
    ns = setup_namespace(cf, "ingest-ns")
    p = profile_path("ingest-ns", "alice")
    message = [{"role": "user", "content": COMMITS}]
    ingest(cf, p, message, "s1")
    listed = ok(cf.get(p + "/memories", params={"session_id": "s1"}))["result"]
    assert len(listed) >= 1
    events = ledger_events(cf, ns, "alice:s1")
    assert [e["event_type"] for e in events] == ["message"]
    history = cf.get("/api/memory/decisions", params={"scope": "agent", "workspace_id": "ws_" + ns["id"].lower(), "agent_name": "alice"}).json()
    assert {d["origin"] for d in history["decisions"]} == {"extractor"}

    count = len(ok(cf.get(p + "/memories"))["result"])
    ingest(cf, p, message, "s1")  # CF-18
    ingest(cf, p, message)
    sessions = cf.home / "sessions" / ("ws_" + ns["id"].lower())
    auto = [d.name for d in sessions.iterdir() if d.name.startswith("alice:auto-")]
    assert len(auto) == 1
    ingest(cf, p, message)
    assert len(ledger_events(cf, ns, "alice:s1")) == 1 and len(ledger_events(cf, ns, auto[0])) == 1
    assert len(ok(cf.get(p + "/memories"))["result"]) == count

    for bad in (  # CF-19
        {"messages": [{"role": "user", "content": "x"}] * 501, "sessionId": "s2"},
        {"messages": [{"role": "user", "content": "x" * 32_769}], "sessionId": "s2"},
        {"messages": [{"role": "tool", "content": "x"}], "sessionId": "s2"},
        {"messages": message, "sessionId": "s" * 65},
        {"messages": [{"role": "user", "content": "x", "timestamp": "nope"}], "sessionId": "s2"},
    ):
        v4_error(cf.post(p + "/ingest", bad), 400, 10002)
    assert not (sessions / "alice:s2").exists()
    pointer = v4_error(cf.post(p + "/ingest", {"messages": [message[0], {"role": "user", "content": "y" * 32_769}]}), 400)
    assert pointer["errors"][0]["source"] == {"pointer": "/messages/1/content"}


def test_cf20_delete_session(cf: Daemon) -> None:
    """CF-20: deleting a session removes its memories and ledger, keeps the others; twice is fine."""
    ns = setup_namespace(cf, "dels-ns")
    p = profile_path("dels-ns", "alice")
    kept = ok(cf.post(p + "/remember", {"content": PREFERS, "sessionId": "chat-2026-04-21"}))["result"]
    ingest(cf, p, [{"role": "user", "content": COMMITS}, {"role": "assistant", "content": "Noted."}], "s1")
    assert ok(cf.get(p + "/memories", params={"session_id": "s1"}))["result"]
    for _ in range(2):
        assert ok(cf.delete(p + "/sessions/s1"))["result"] is None
    assert ok(cf.get(p + "/memories", params={"session_id": "s1"}))["result"] == []
    assert [m["id"] for m in ok(cf.get(p + "/memories"))["result"]] == [kept["id"]]
    assert not ledger_events(cf, ns, "alice:s1")
    ops = cf.get("/api/memory/history", params={"workspace_id": "ws_" + ns["id"].lower(), "scope": "agent", "agent_name": "alice"}).json()
    assert "memory.delete" in [o["operation"] for o in ops["operations"]]
    assert ok(cf.delete(p + "/sessions/never-was"))["result"] is None
    v4_error(cf.delete(p + "/sessions/" + "s" * 65), 400, 10002)


def test_delete_profile_drops_its_ledgers(cf: Daemon) -> None:
    """A profile delete removes the profile's sessions too, not another profile's."""
    ns = setup_namespace(cf, "delprof-ns")
    alice, bob = profile_path("delprof-ns", "alice"), profile_path("delprof-ns", "bob")
    ingest(cf, alice, [{"role": "user", "content": COMMITS}], "s1")
    ingest(cf, bob, [{"role": "user", "content": "I prefer tabs over spaces in every file."}], "s1")
    ok(cf.delete(alice))
    assert not ledger_events(cf, ns, "alice:s1") and ledger_events(cf, ns, "bob:s1")
    assert ok(cf.get(alice + "/memories"))["result"] == [] and ok(cf.get(bob + "/memories"))["result"]


def test_tasks_of_older_sessions_rank_lower(cf: Daemon) -> None:
    """A task of a session that is not the latest is scored at half (Q35)."""
    setup_namespace(cf, "task-ns")
    p = profile_path("task-ns", "alice")
    old = ok(cf.post(p + "/remember", {"content": "Need to migrate the invoice exporter.", "sessionId": "old"}))["result"]
    ok(cf.post(p + "/remember", {"content": "Invoice exporter lives in the billing repo.", "sessionId": "new"}))
    both = ok(cf.post(p + "/recall", {"query": "invoice exporter"}))["result"]["candidates"]
    task = next(c for c in both if c["id"] == old["id"])
    assert both[-1]["id"] == old["id"] and task["score"] > 0


def test_ingest_message_ids_ignore_timestamps(tmp_path: Path, cf: Daemon) -> None:
    """The same message with another timestamp is the same message (content-addressed)."""
    ns = setup_namespace(cf, "stamp-ns")
    p = profile_path("stamp-ns", "alice")
    ingest(cf, p, [{"role": "user", "content": "Hello there.", "timestamp": "2026-04-21T00:00:00.000Z"}], "s")
    ingest(cf, p, [{"role": "user", "content": "Hello there.", "timestamp": "2026-04-22"}], "s")
    [event] = ledger_events(cf, ns, "alice:s")
    assert event["emitted_at"].startswith("2026-04-21") and event["payload"]["message_id"].startswith("msg_")

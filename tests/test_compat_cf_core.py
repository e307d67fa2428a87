"""The core pieces the Cloudflare face builds on (COMPAT §0.5 N1, N2, N6,
N7), through MemoryService as a library over a real HOME: recall in one
scope, sessions with a target, waiting for and deleting a session's
extraction, the catalog's per-session and per-type lookups."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from aghmem import MemoryService, faults, load_config
from aghmem.errors import Conflict, NotFound, ValidationError
from aghmem.features.recall import SearchRequest
from aghmem.features.sessions import Event
from aghmem.model import GLOBAL, Scope, Selector, Tier, memory_id
from library import write


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemoryService]:
    home = tmp_path_factory.mktemp("cfcore") / "home"
    config = load_config(home=home, env={})
    config.controller.policy.max_writes_per_min = 0
    svc = MemoryService(config)
    svc.start(watch=False)
    yield svc
    svc.close()


def workspace(service: MemoryService, tmp_path: Path, name: str) -> str:
    (tmp_path / name).mkdir()
    ws, _ = service.add_workspace(str(tmp_path / name))
    return str(ws["id"])


def agent(ws: str, name: str) -> Selector:
    return Selector(Scope.AGENT, workspace_id=ws, agent_name=name, agent_tier=Tier.WORKSPACE)


def ids(response: dict[str, Any]) -> list[str]:
    return [r["memory"]["id"] for r in response["results"]]


# --- N1: search in one scope ----------------------------------------------------


def test_exact_search_sees_only_its_own_scope_and_extra_scopes_widen_it(service: MemoryService, tmp_path: Path) -> None:
    ws = workspace(service, tmp_path, "n1")
    alice = agent(ws, "alice")
    words = "The staging cluster runs on kubernetes in frankfurt."
    own = write(service, {"type": "project", "name": "Cluster", "content": words, **alice.to_dict()}).decision
    in_ws = write(service, {"type": "project", "name": "Cluster", "content": words, "workspace_id": ws}).decision
    in_global = write(service, {"type": "user", "name": "Cluster", "content": words}).decision
    own_id, ws_id, global_id = (memory_id(d.selector, d.target_filename) for d in (own, in_ws, in_global))

    # The native (inherit) search from the same selector sees all three, the
    # agent's copy shadowing the others.
    native = service.search(SearchRequest("staging cluster kubernetes", alice, top_k=10, raw_candidates=50))
    assert set(ids(native)) == {own_id, ws_id, global_id}
    assert {r["memory"]["id"]: r["shadowed_by"] for r in native["results"]}[ws_id] == own_id

    exact = service.search_exact(alice, "staging cluster kubernetes", top_k=10, raw_candidates=50)
    assert ids(exact) == [own_id]
    assert all(r["shadowed_by"] is None for r in exact["results"])

    wider = service.search_exact(
        alice, "staging cluster kubernetes", top_k=10, raw_candidates=50,
        extra_scopes=(Selector(Scope.WORKSPACE, workspace_id=ws), GLOBAL),
    )
    assert set(ids(wider)) == {own_id, ws_id, global_id}
    # No shadowing in exact mode: the same filename in three scopes is three results.
    assert all(r["shadowed_by"] is None for r in wider["results"])

    bob = service.search_exact(agent(ws, "bob"), "staging cluster kubernetes", top_k=10, raw_candidates=50)
    assert bob["results"] == []


def test_reference_now_dates_recency_and_staleness(service: MemoryService, tmp_path: Path) -> None:
    ws = workspace(service, tmp_path, "n1b")
    carol = agent(ws, "carol")
    write(service, {"type": "project", "name": "Billing", "content": "Billing invoices are generated nightly.", **carol.to_dict()})
    now = service.search_exact(carol, "billing invoices", top_k=5, raw_candidates=50, record=False)
    later = service.search_exact(
        carol, "billing invoices", top_k=5, raw_candidates=50, record=False,
        reference_now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400),
    )
    assert now["results"][0]["memory"]["staleness_banner"] is None
    assert "400 days ago" in later["results"][0]["memory"]["staleness_banner"]
    assert later["results"][0]["score"] < now["results"][0]["score"]  # the recency term fell


# --- N2: sessions with a target -------------------------------------------------------


def message(content: str, message_id: str, role: str = "user") -> Event:
    return Event(0, "message", None, {"role": role, "content": content, "message_id": message_id})


def frontmatter(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text().split("---")[1])


def test_a_targeted_session_extracts_into_its_target_with_the_external_id(service: MemoryService, tmp_path: Path) -> None:
    ws = workspace(service, tmp_path, "n2")
    alice = agent(ws, "alice")
    first = service.append_targeted(
        ws, "alice:s1", [message("I prefer small commits with clear messages.", "msg_a")], target=alice, external_session_id="s1"
    )
    assert [e.sequence for e in first.appended] == [1]
    assert service.wait_session_extracted(ws, "alice:s1", timeout=10)
    memories, _ = service.list_memories(alice)
    assert len(memories) == 1
    path = Path(service.layout.scope_dir(alice)) / memories[0]["filename"]
    assert frontmatter(path)["provenance"]["source_sessions"] == ["s1"]
    assert service.list_memories(Selector(Scope.WORKSPACE, workspace_id=ws))[0] == []  # not the route's default
    meta = json.loads((service.sessions.root / ws / "alice:s1" / "meta.json").read_text())
    assert meta["target"] == alice.to_dict() and meta["external_session_id"] == "s1"

    # Idempotent by message id: repeats (from the ledger, or in the batch) are dropped, the rest numbered on.
    again = service.append_targeted(
        ws, "alice:s1",
        [message("I prefer small commits with clear messages.", "msg_a"), message("Use ruff.", "msg_b"), message("Use ruff.", "msg_b")],
        target=alice, external_session_id="s1",
    )
    assert [(e.sequence, e.payload["message_id"]) for e in again.appended] == [(2, "msg_b")]
    assert service.ledger_message_ids(ws, "alice:s1") == {"msg_a", "msg_b"}
    assert service.ledger_message_ids(ws, "alice:none") == set()
    assert service.wait_session_extracted(ws, "alice:s1", timeout=10)
    # A session keeps its target.
    with pytest.raises(Conflict):
        service.append_targeted(ws, "alice:s1", [message("Hi.", "msg_c")], target=agent(ws, "bob"))
    assert service.wait_session_extracted(ws, "nobody:s9", timeout=0)  # nothing to wait for


# --- N7: deleting a session -------------------------------------------------------------


def test_deleting_a_session_removes_its_ledger_and_is_idempotent(service: MemoryService, tmp_path: Path) -> None:
    ws = workspace(service, tmp_path, "n7")
    dave = agent(ws, "dave")
    service.append_targeted(ws, "dave:s1", [message("Deploy with make ship.", "msg_1")], target=dave, external_session_id="s1")
    assert service.wait_session_extracted(ws, "dave:s1", timeout=10)
    ledger = service.sessions.root / ws / "dave:s1"
    assert ledger.is_dir()
    service.append_targeted(ws, "dave:s2", [message("Later.", "msg_2")], target=dave, external_session_id="s2")
    service.append_targeted(ws, "gina:s1", [message("Other.", "msg_3")], target=agent(ws, "gina"), external_session_id="s1")
    service.append_events(ws, "plain", [Event(1, "message", None, {"role": "user", "content": "untargeted"})])
    assert [m.session_id for m in service.sessions_targeting(ws, dave)] == ["dave:s2", "dave:s1"]  # newest first
    assert [m.external_session_id for m in service.sessions_targeting(ws, dave)] == ["s2", "s1"]
    assert {m.session_id for m in service.sessions_targeting(ws)} == {"dave:s1", "dave:s2", "gina:s1"}
    assert service.delete_session(ws, "dave:s1")["deleted"] is True
    assert not ledger.exists()
    assert service.delete_session(ws, "dave:s1") == {"session_id": "dave:s1", "deleted": False, "cancelled_jobs": 0}
    with pytest.raises(NotFound):
        service.session_ledger(ws, "dave:s1")
    # The same id starts again from nothing.
    fresh = service.append_targeted(ws, "dave:s1", [message("Deploy with make ship.", "msg_1")], target=dave, external_session_id="s1")
    assert [e.sequence for e in fresh.appended] == [1]


def test_deleting_a_session_cancels_its_queued_and_running_extraction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hold each extractor job at the claimed inbox file, so one is in hand while another waits.
    monkeypatch.setitem(faults._POINTS, "extractor.claimed", "sleep(1.5)")
    config = load_config(home=tmp_path / "home", env={})
    config.controller.policy.max_writes_per_min = 0
    svc = MemoryService(config)
    svc.start(watch=False)
    try:
        ws = workspace(svc, tmp_path, "n7b")
        erin = agent(ws, "erin")
        svc.append_targeted(ws, "erin:a", [message("I prefer tabs over spaces.", "m1")], target=erin, external_session_id="a")
        deadline = time.monotonic() + 10
        while svc.extractor_status()["in_flight_sessions"] != 1 and time.monotonic() < deadline:
            time.sleep(0.01)  # polling for the job to be taken
        assert svc.extractor_status()["in_flight_sessions"] == 1
        svc.append_targeted(ws, "erin:b", [message("I prefer dark themes everywhere.", "m2")], target=erin, external_session_id="b")
        assert svc.extractor_status()["queued_sessions"] == 1
        assert svc.delete_session(ws, "erin:b")["cancelled_jobs"] == 1  # the queued job
        assert svc.delete_session(ws, "erin:a")["deleted"] is True  # the job in hand stops before its candidate
        assert svc.drain_extractor(10)["drained"]
        assert svc.list_memories(erin)[0] == []
        assert not (svc.extractor.inbox / "erin:a").exists() and not (svc.extractor.inbox / "erin:b").exists()
        # A new session of the same name is extracted as usual.
        svc.append_targeted(ws, "erin:a", [message("I prefer tabs over spaces.", "m1")], target=erin, external_session_id="a")
        assert svc.wait_session_extracted(ws, "erin:a", timeout=10)
        assert len(svc.list_memories(erin)[0]) == 1
    finally:
        svc.close()


# --- N6: the catalog's CF columns ---------------------------------------------------------


def test_entries_by_session_and_cf_type_from_the_files(service: MemoryService, tmp_path: Path) -> None:
    ws = workspace(service, tmp_path, "n6")
    frank = agent(ws, "frank")
    directory = Path(service.layout.scope_dir(frank))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "feedback_hand.md").write_text(
        "---\nname: Hand rule\ntype: feedback\nprovenance:\n  source_sessions: [chat-1, chat-0]\n"
        "  created_at: '2026-01-02T10:00:00Z'\n---\nKeep answers short.\n"
    )
    (directory / "_system_notes.md").write_text(
        "---\nname: System\ntype: project\nprovenance:\n  source_sessions: [chat-1]\n---\nSystem file.\n"
    )
    service.rescan()
    task = write(service, {
        "type": "project", "name": "Update README", "content": "Need to update the README.", **frank.to_dict(),
        "metadata": {"cf_type": "task"}, "provenance": {"source_sessions": ["chat-2"]},
    }).decision
    event = write(service, {"type": "project", "name": "Shipped", "content": "Shipped v2 to production.", **frank.to_dict()}).decision
    odd = write(service, {
        "type": "user", "name": "Odd", "content": "Odd cf type.", **frank.to_dict(), "metadata": {"cf_type": "bogus"},
    }).decision
    hand_id = memory_id(frank, "feedback_hand.md")
    task_id, event_id, odd_id = (memory_id(d.selector, d.target_filename) for d in (task, event, odd))

    def names(**filters: Any) -> list[str]:
        return [e.id for e in service.entries_by(frank, **filters)[0]]

    def check() -> None:
        assert names(source_session="chat-1") == [hand_id]  # the hand-written file, by its first session only
        assert names(source_session="chat-0") == []
        assert names(source_session="chat-2") == [task_id]
        assert names(cf_type="task") == [task_id]
        assert names(cf_type="event") == [event_id]  # a project without cf_type reads back as an event; the task does not
        assert names(cf_type="instruction") == [hand_id]  # feedback reads back as an instruction
        assert names(cf_type="fact") == [odd_id]  # an invalid cf_type reads back by its native type
        assert names(cf_type="task", source_session="chat-1") == []
        everything = names()
        assert everything[-1] == hand_id and set(everything) == {hand_id, task_id, event_id, odd_id}  # oldest createdAt last
        pages, after = [], None
        while True:
            page, after = service.entries_by(frank, limit=1, after=after)
            pages += [e.id for e in page]
            if after is None:
                break
        assert pages == everything
        entry = service.entries_by(frank, source_session="chat-2")[0][0]
        assert (entry.source_session, entry.cf_type) == ("chat-2", "task")

    check()
    service.reset()  # the derived columns come back from the files
    check()
    with pytest.raises(ValidationError):
        service.entries_by(frank, cf_type="bogus")

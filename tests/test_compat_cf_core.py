"""The core pieces the Cloudflare face builds on (COMPAT §0.5 N1, N2, N6,
N7), through MemoryService as a library over a real HOME: recall in one
scope, sessions with a target, waiting for and deleting a session's
extraction, the catalog's per-session and per-type lookups."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Iterator

import pytest

from aghmem import MemoryService, load_config
from aghmem.features.recall import SearchRequest
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

"""Schemathesis against a live daemon: every operation /openapi.json
declares is called with generated requests, valid and invalid (schemathesis'
coverage phase: boundary values, each constraint broken in turn, other
methods; then its fuzzing phase), and every answer must be what the document
promises. All of schemathesis' checks run but positive_data_acceptance:
no server error, a documented status and content type, a body that matches
its schema, invalid data refused, a 405 with Allow for another method. (A
"valid" request may still be refused with 400: a selector's rules span
several query parameters, `scope=global&agent_name=x`, which a query's
schema cannot say.)

Repeatable: the coverage phase is deterministic, and the fuzzing phase runs
derandomized with a bounded count per operation. The daemon holds a
workspace, memories, a session, decisions; path parameters are sometimes
swapped for the ids that exist, so that reads of one thing (a memory, a
decision, a session) are answered with the thing and not only with 404.
Operations without a contract (x-undeclared) are left out: nothing is
promised there. AGHMEM_FUZZ_EXAMPLES=200 AGHMEM_FUZZ_RANDOM=1 runs a deeper,
randomized search by hand.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
from pathlib import Path
from typing import Any, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest._test_builder import build_operation_test
from schemathesis.specs.openapi.checks import positive_data_acceptance

from aghmem.faces.api.openapi import openapi_document
from aghmem.faces.api.payloads.fields import EXAMPLE_WORKSPACE
from aghmem.faces.api.payloads.memory import EXAMPLE_FILENAME
from aghmem.faces.api.payloads.queries import EXAMPLE_SESSION
from aghmem.faces.app import routes
from conftest import FAST_CONFIG, Daemon

# Generated requests per operation and generation mode in the fuzzing phase.
EXAMPLES = int(os.environ.get("AGHMEM_FUZZ_EXAMPLES", "10"))
# A fuzzer must not register "/" (or any directory) as a workspace on the host: with auto_create off, only
# a directory that already holds .agh/workspace.toml can be added.
CONFIG = FAST_CONFIG + "\n[workspace]\nauto_create = false\n\n[dream.gates]\nmin_unpromoted = 3\n"

# (operation, status) → answers seen, and requests per phase; read by the last test.
SEEN: collections.Counter[tuple[str, int]] = collections.Counter()
PHASES: collections.Counter[str] = collections.Counter()


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, dict[str, list[Any]]]]:
    root = tmp_path_factory.mktemp("fuzz")
    for name, workspace_id in (("repo", EXAMPLE_WORKSPACE), ("spare", SPARE_WORKSPACE)):
        (root / name / ".agh").mkdir(parents=True)
        (root / name / ".agh" / "workspace.toml").write_text(f'id = "{workspace_id}"\n')
    daemon = Daemon(root / "home", CONFIG).start()
    try:
        daemon.workspace(root / "spare")
        KNOWN.update(known_ids(daemon, root / "repo"))
        yield daemon, KNOWN
    finally:
        daemon.kill()


def known_ids(daemon: Daemon, repo: Path) -> dict[str, list[Any]]:
    """What the documented examples name (the memory, the workspace, the
    session), and more that exists, by the name of the path parameter that
    names it: a decision, a failed dream, a recall trace."""
    ws = daemon.workspace(repo)
    written = daemon.write(type="user", name="Prefers small commits", content="The user prefers small, focused commits.")
    assert written["decision"]["target_filename"] == EXAMPLE_FILENAME
    events = [{"sequence": 1, "event_type": "message", "payload": {"role": "user", "content": "I prefer tabs."}}]
    assert daemon.post(f"/api/workspaces/{ws}/memory/sessions/{EXAMPLE_SESSION}/events", {"events": events}).status_code == 200
    decisions = []  # of memories the fuzzer may revert (not the one the examples name)
    for name, fact in (("Editor", "Uses neovim."), ("Shell", "Uses zsh."), ("Font", "Uses a mono font.")):
        decisions.append(daemon.write(type="user", name=name, content=fact)["decision"]["id"])
        for turn in (1, 2):
            query = {"query_text": fact, "session_id": f"s-{name}-{turn}", "turn_seq": 1}
            assert daemon.post("/api/memory/search", query).status_code == 200
    today = dt.datetime.now(dt.timezone.utc).date()
    broken = [daemon.home / "memory" / f"project_dreaming_{day:%Y%m%d}.md" for day in (today, today + dt.timedelta(days=1))]
    for path in broken:
        path.write_text("---\nname: [broken\n---\n")
    failed = daemon.post("/api/memory/dreams/trigger", {"force": True}).json()["dream"]
    assert failed["status"] == "failed", failed
    for path in broken:
        path.unlink()
    return {
        "filename": [EXAMPLE_FILENAME],
        "decision_id": decisions,
        "dream_id": [failed["id"]],
        "workspace_id": [ws, "_unbound"],
        "session_id": [EXAMPLE_SESSION, "s-Editor-1"],
        "turn_seq": [1],
        "name": ["local", "llm"],
    }


def declared_document() -> dict[str, Any]:
    """/openapi.json as the daemon builds it (from the same route table),
    without the operations that promise nothing."""
    document = openapi_document(routes())
    for item in document["paths"].values():
        for method in [m for m, op in item.items() if op.get("x-undeclared")]:
            del item[method]
    return document


schema = schemathesis.openapi.from_dict(declared_document())
KNOWN: dict[str, list[Any]] = {}  # filled by the `fuzzed` fixture
# Removing a workspace is done to a spare one: the others keep using theirs.
SPARE_WORKSPACE = "ws_spare0001"
KNOWN_FOR = {("DELETE", "/api/workspaces/{workspace_id}"): {"workspace_id": [SPARE_WORKSPACE]}}


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Half the time, the ids of things that exist instead of generated ones."""
    known = {**KNOWN, **KNOWN_FOR.get((context.operation.method.upper(), context.operation.path), {})}
    real = {name: st.sampled_from(known[name]) for name in path_parameters or {} if known.get(name)}
    if not real:
        return st.just(path_parameters)
    swapped = st.fixed_dictionaries({**{k: st.just(v) for k, v in path_parameters.items()}, **real})
    return st.one_of(st.just(path_parameters), swapped)


def test_the_daemon_serves_this_document(fuzzed: tuple[Daemon, dict[str, list[Any]]]) -> None:
    daemon, _ = fuzzed
    assert daemon.get("/openapi.json").json() == openapi_document(routes())


OPERATIONS = {result.ok().label: result.ok() for result in schema.get_all_operations()}


# One test per operation, built the way schemathesis' pytest plugin builds
# them (its own parametrize names every item alike under pytest-xdist, and
# `make test` runs on two workers).
@pytest.mark.parametrize("label", list(OPERATIONS))  # in route order: deletes after reads
def test_the_daemon_keeps_its_openapi_promises(label: str, fuzzed: tuple[Daemon, dict[str, list[Any]]]) -> None:
    daemon, _ = fuzzed

    @settings(max_examples=EXAMPLES, derandomize=not os.environ.get("AGHMEM_FUZZ_RANDOM"), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        response = case.call_and_validate(base_url=daemon.url, excluded_checks=[positive_data_acceptance])
        SEEN[(f"{case.method.upper()} {case.path}", response.status_code)] += 1
        PHASES[str(case.meta.phase.name) if case.meta else "?"] += 1

    run = build_operation_test(
        config=schema.config, operation=OPERATIONS[label], test_func=call, given_kwargs={}, feedback=FeedbackSources()
    )
    run()


# Operations the fuzzer cannot bring to a 2xx, and why.
NO_SUCCESS = {
    "POST /api/workspaces": "it cannot guess an existing directory that holds .agh/workspace.toml",
    "POST /api/workspaces/{workspace_id}/move": "nor the directory a workspace moved to",
}


def test_every_operation_was_reached_and_answered_2xx() -> None:
    """Read after the fuzz test: what it called, and that each operation
    (but NO_SUCCESS) answered a 2xx at least once, so its success shape was
    checked too."""
    if not SEEN:
        pytest.skip("the fuzz test did not run")
    documented = {f"{method.upper()} {path}" for path, item in declared_document()["paths"].items() for method in item}
    succeeded = {op for (op, status) in SEEN if 200 <= status < 300}
    never = sorted(documented - succeeded - set(NO_SUCCESS))
    assert never == [], (never, dict(PHASES), len(SEEN))
    print(f"\n{sum(SEEN.values())} requests: {dict(PHASES)}; 2xx on {len(succeeded & documented)} of {len(documented)} operations")


def test_what_the_fuzzer_found_stays_fixed(fuzzed: tuple[Daemon, dict[str, list[Any]]], tmp_path: Path) -> None:
    daemon, _ = fuzzed
    # A year before 1000 was stamped "422-01-26T…" (strftime does not pad it): not a date-time.
    events = [{"sequence": 9, "event_type": "note", "emitted_at": "0422-01-26T22:15:45Z", "payload": {}}]
    assert daemon.post("/api/workspaces/_unbound/memory/sessions/s-early/events", {"events": events}).status_code == 200
    [event] = daemon.get("/api/workspaces/_unbound/memory/sessions/s-early/ledger").json()["events"]
    assert event["emitted_at"] == "0422-01-26T22:15:45.000Z"
    # A path the system cannot look up (a name over NAME_MAX) was a 500.
    too_long = daemon.post("/api/workspaces", {"path": "/" + "0" * 4000})
    assert too_long.status_code == 400 and too_long.json()["details"]["field"] == "path"
    # A 405 names every method of the path (two routes serve /api/workspaces), and a fixed
    # route's path is its own: GET /api/memory/dreams/trigger was dream "trigger"'s 404.
    assert daemon.http.request("OPTIONS", "/api/workspaces").headers["Allow"] == "GET, HEAD, POST"  # type: ignore[union-attr]
    for path in ("/api/memory/dreams/trigger", "/api/memory/providers/select"):
        wrong = daemon.get(path)
        assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST", path
    # A date the calendar does not have was an empty list.
    assert daemon.get("/api/memory/daily", params={"date": "0000-00-00"}).status_code == 400

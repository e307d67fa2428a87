"""Bad input on every CF route: always a V4 error (4xx), never a 500; and
the curl examples of seeds 000 and 001, run as written with real curl
against the daemon (only the base URL and the placeholders changed)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from cf_support import CF_CONFIG, base, ok, profile_path, run_curl, seed_curls, v4_error

from aghmem.testing import Daemon

B = base()
P = profile_path("bad-ns", "alice")
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def cf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = Daemon(tmp_path_factory.mktemp("cfin") / "home", CF_CONFIG).start()
    ok(daemon.post(f"{B}/namespaces", {"name": "bad-ns"}))
    ok(daemon.post(P + "/remember", {"content": "Alice keeps a tidy desk."}))
    yield daemon
    daemon.kill()


# Bodies any JSON route must refuse with a 400 (not an object, not JSON, nested past reason).
NOT_OBJECTS = [b"not json", b"[]", b'"text"', b"17", b"null", b"{", b'{"a": NaN}', b"[" * 100_000, b"\xff\xfe", b'{"content": "\\ud800"}']
BODY_ROUTES = [
    f"{B}/namespaces",
    P + "/remember",
    P + "/ingest",
    P + "/recall",
    P + "/summary",
]
# Per route, fields of the wrong type or out of range.
WRONG_FIELDS: list[tuple[str, dict[str, Any]]] = [
    (f"{B}/namespaces", {"name": ["my-app"]}),
    (f"{B}/namespaces", {"name": 10**400 if False else 1e308}),
    (f"{B}/namespaces", {"name": "x" * 10_000}),
    (P + "/remember", {"content": 12}),
    (P + "/remember", {"content": {"text": "x"}}),
    (P + "/remember", {"content": "ok", "sessionId": 5}),
    (P + "/remember", {"content": "ok", "sessionId": "s" * 65}),
    (P + "/remember", {"content": "ok", "sessionId": ""}),
    (P + "/remember", {"content": "ok", "sessionId": "a", "session_id": "b"}),
    (P + "/ingest", {}),
    (P + "/ingest", {"messages": []}),
    (P + "/ingest", {"messages": "hello"}),
    (P + "/ingest", {"messages": [{"role": "user"}]}),
    (P + "/ingest", {"messages": [{"role": "user", "content": 5}]}),
    (P + "/ingest", {"messages": [{"role": "tool", "content": "x"}]}),
    (P + "/ingest", {"messages": [{"role": "user", "content": "x", "timestamp": "nope"}]}),
    (P + "/ingest", {"messages": [{"role": "user", "content": "x", "timestamp": 10**20}]}),
    # Moments past the calendar once in UTC (year 10000, year 0).
    (P + "/ingest", {"messages": [{"role": "user", "content": "x", "timestamp": "9999-12-31T23:59:59-14:00"}]}),
    (P + "/ingest", {"messages": [{"role": "user", "content": "x", "timestamp": "0001-01-01T00:00:00+14:00"}]}),
    (P + "/ingest", {"messages": [["user", "x"]]}),
    (P + "/ingest", {"messages": [{"role": "user", "content": "x"}], "sessionId": ["s"]}),
    (P + "/ingest", {"messages": [{"role": "user", "content": "x" * 32_769}]}),
    (P + "/ingest", {"messages": [{"role": "user", "content": "x"}] * 501}),
    (P + "/recall", {}),
    (P + "/recall", {"query": ""}),
    (P + "/recall", {"query": 3}),
    (P + "/recall", {"query": "q" * 1025}),
    (P + "/recall", {"query": "q", "thinkingLevel": "max"}),
    (P + "/recall", {"query": "q", "responseLength": 9}),
    (P + "/recall", {"query": "q", "referenceDate": "yesterday"}),
    (P + "/recall", {"query": "tidy desk", "referenceDate": "9999-12-31T23:59:59-14:00"}),
    (P + "/recall", {"query": "q", "thinkingLevel": "low", "thinking_level": "high"}),
    (P + "/summary", {"sessionId": False}),
]
BAD_QUERIES: list[tuple[str, dict[str, Any]]] = [
    (f"{B}/namespaces", {"per_page": "9" * 40}),
    (f"{B}/namespaces", {"per_page": "1.5"}),
    (f"{B}/namespaces", {"cursor": "%%%"}),
    (f"{B}/namespaces", {"cursor": "a" * 5000}),
    (P + "/memories", {"per_page": "-3"}),
    (P + "/memories", {"per_page": ""}),
    (P + "/memories", {"type": "Fact"}),
    (P + "/memories", {"cursor": "bm9wZQ"}),
]


def _never_500(response: Any) -> None:
    assert response.status_code < 500, (response.request.method, response.request.url, response.text)


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_non_objects_are_400(cf: Daemon, path: str) -> None:
    for raw in NOT_OBJECTS:
        for headers in (JSON, {"content-type": "text/plain"}, {}):
            response = cf.http.post(path, content=raw, headers=headers)
            _never_500(response)
            v4_error(response, 400, 10002)


@pytest.mark.parametrize(("path", "body"), WRONG_FIELDS, ids=lambda v: str(v)[:40] if isinstance(v, str) else None)
def test_wrong_fields_are_400(cf: Daemon, path: str, body: dict[str, Any]) -> None:
    response = cf.post(path, body)
    _never_500(response)
    v4_error(response, 400, 10002)


@pytest.mark.parametrize(("path", "params"), BAD_QUERIES)
def test_bad_queries_are_400(cf: Daemon, path: str, params: dict[str, Any]) -> None:
    response = cf.get(path, params=params)
    _never_500(response)
    v4_error(response, 400, 10002)


def test_odd_paths_and_methods(cf: Daemon) -> None:
    """Unknown paths, methods, names, ids: 404/405 in V4, never a 500."""
    for method, path, status in [
        ("GET", "/client/v4", 404), ("GET", "/client/v4/", 404), ("GET", f"{B}", 404),
        ("GET", f"{B}/namespaces/bad-ns/profiles", 404), ("GET", f"{B}/namespaces/bad-ns/profiles/alice", 405),
        ("POST", f"{B}/namespaces/bad-ns", 405), ("PATCH", P + "/memories", 405), ("GET", P + "/remember", 405),
        ("GET", P + "/ingest", 405), ("PUT", P + "/summary", 405), ("POST", "/client/v4/user/tokens/verify", 405),
        ("GET", f"{B}/namespaces/UPPER", 404), ("GET", f"{B}/namespaces/{'n' * 300}", 404),
        ("GET", P + "/memories/..%2F..%2Fetc", 404), ("GET", P + "/memories/" + "m" * 2000, 404),
        ("DELETE", P + "/memories/mem_", 404), ("GET", profile_path("bad-ns", "a%00b") + "/memories", 400),
        ("GET", profile_path("bad-ns", "a%0Ab") + "/memories", 404), ("DELETE", profile_path("nope-ns", "alice"), 404),
        ("GET", "/client/v4/accounts/%20/agent-memory/namespaces", 404), ("GET", "/client/v4/accounts/-x/agent-memory/namespaces", 404),
    ]:
        response = cf.http.request(method, path)
        _never_500(response)
        assert response.status_code == status, (method, path, response.text)
        v4_error(response, status)


def test_huge_body_is_413(cf: Daemon) -> None:
    response = cf.http.post(P + "/remember", content=b'{"content": "' + b"x" * 1_100_000 + b'"}', headers=JSON)
    v4_error(response, 413, 10007)


# --- the seeds' curl examples ------------------------------------------------------


def test_seed_000_curls(cf: Daemon) -> None:
    """Seed 000: create, list, get, delete a namespace, as written."""
    values = {"{account_id}": "acc000", "{api_token}": "placeholder-token"}
    answers = [run_curl(argv, cf.url, values) for argv in seed_curls("000")]
    assert [status for status, _ in answers] == [200, 200, 200, 200]
    created, listed, got, deleted = (body for _, body in answers)
    assert created["result"]["name"] == "my-app" and created["result"]["namespace_id"]
    assert listed["result"] == [created["result"]] and listed["result_info"]["count"] == 1 and listed["result_info"]["cursor"] == ""
    assert got["result"] == created["result"]
    assert deleted == {"result": None, "success": True, "errors": [], "messages": []}


def test_seed_001_curls(cf: Daemon) -> None:
    """Seed 001: every example, the namespace ones first and its delete
    last (the seed lists it before the profile examples that need it)."""
    commands = seed_curls("001")
    assert len(commands) == 13
    values = {"<ACCOUNT_ID>": "acc001", "<API_TOKEN>": "placeholder-token", "<NAMESPACE_NAME>": "support-agent",
              "<PROFILE_NAME>": "alice", "<SESSION_ID>": "chat-2026-04-21"}
    create, list_ns, get_ns, delete_ns, delete_profile, delete_session, ingest, remember, recall, list_mem, get_mem, delete_mem, summary = commands

    def run(argv: list[str]) -> dict[str, Any]:
        status, body = run_curl(argv, cf.url, values)
        assert status == 200 and body["success"] is True and body["errors"] == [], body
        return body

    namespace = run(create)["result"]
    assert namespace["name"] == "support-agent" and namespace["id"]
    assert run(list_ns)["result_info"] == {"cursor": "", "per_page": 50, "count": 1}
    assert run(get_ns)["result"] == namespace
    assert run(ingest)["result"] is None
    memory = run(remember)["result"]
    assert memory["type"] == "instruction" and memory["summary"] == "The user prefers concise answers."
    assert memory["sessionId"] == "chat-2026-04-21"
    recalled = run(recall)["result"]
    assert "concise" in recalled["answer"] and recalled["count"] == len(recalled["candidates"]) >= 1
    assert {"id", "summary", "sessionId", "score"} <= set(recalled["candidates"][0])
    listed = run(list_mem)
    assert memory["id"] in [m["id"] for m in listed["result"]] and listed["result_info"]["per_page"] == 50
    values["<MEMORY_ID>"] = memory["id"]
    assert run(get_mem)["result"] == memory
    assert "concise" in run(summary)["result"]["summary"]
    assert run(delete_mem)["result"] == memory
    assert run(delete_session)["result"] is None
    assert run(delete_profile)["result"] is None
    assert run(delete_ns)["result"] is None

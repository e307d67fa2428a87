"""Bad input gets a 400 (or 405) with the envelope, never a 500 — each case
of issue 12 §3 reproduced with one request against a real daemon."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx
import pytest

from conftest import Daemon, wait_for
from test_sync import MEMORY, last_decision

EVENTS = "/api/workspaces/_unbound/memory/sessions/{session}/events"


def raw_post(daemon: Daemon, path: str, body: bytes) -> httpx.Response:
    return httpx.post(daemon.url + path, content=body, headers={"content-type": "application/json"}, timeout=10)


def event(sequence: Any = 1, **extra: Any) -> dict[str, Any]:
    return {"events": [{"sequence": sequence, "event_type": "message", "payload": {"role": "user", "content": "hi"}, **extra}]}


def assert_refused(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    return body


@pytest.mark.parametrize(
    "number",
    ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"],
)
def test_a_non_finite_number_is_refused_and_nothing_is_written(shared_daemon: Daemon, number: str) -> None:
    body = f'{{"type": "user", "name": "Conf {number}", "content": "finite numbers only", "provenance": {{"confidence": {number}}}}}'
    assert_refused(raw_post(shared_daemon, "/api/memory", body.encode()))
    assert not list((shared_daemon.home / "memory").glob("user_conf*"))
    assert shared_daemon.get("/api/memory/decisions").status_code == 200


def test_an_infinity_on_disk_or_in_the_log_cannot_break_a_listing(daemon: Daemon) -> None:
    daemon.write(type="user", name="Sure", content="Confident about this one.", provenance={"confidence": 0.9})
    path = daemon.home / "memory" / "user_odd.md"
    path.write_text(MEMORY.format(name="Odd", body="A person typed an infinite confidence.").replace("type: user", "type: user\nconfidence: .inf\nweight: .nan"))
    wait_for(lambda: last_decision(daemon)["target_filename"] == "user_odd.md")
    daemon.stop()
    # What an older daemon could have logged: JSON's non-standard Infinity.
    with sqlite3.connect(daemon.home / "state" / "aghmem.db") as db:
        db.execute("UPDATE decisions SET frontmatter = '{\"provenance\": {\"confidence\": Infinity}}' WHERE target_filename = 'user_sure.md'")
    daemon.start()
    listing = daemon.get("/api/memory/decisions")
    assert listing.status_code == 200, listing.text
    sure = [d for d in listing.json()["decisions"] if d["target_filename"] == "user_sure.md"][0]
    assert daemon.get(f"/api/memory/decisions/{sure['id']}").json()["decision"]["frontmatter"]["provenance"]["confidence"] == "Infinity"
    assert daemon.get("/api/memory/user_odd.md").status_code == 200
    assert daemon.post("/api/memory/search", {"query_text": "infinite confidence"}).status_code == 200


def test_deeply_nested_json_is_a_400_on_every_route(shared_daemon: Daemon) -> None:
    deep = b"[" * 3000 + b"]" * 3000
    for path in ("/api/memory", "/api/memory/search", "/api/memory/sessions/prune", EVENTS.format(session="s1")):
        assert_refused(raw_post(shared_daemon, path, b'{"a": ' + deep + b"}"))


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def test_json_nested_past_the_limit_is_a_400_and_nothing_is_written(shared_daemon: Daemon) -> None:
    # json.loads took these; rendering the file (YAML) or the ledger line then raised RecursionError: a 500.
    write = {"type": "user", "name": "Deep metadata", "content": "Nested metadata.", "metadata": {"x": nested(500)}}
    assert "64" in assert_refused(shared_daemon.post("/api/memory", write))["message"]
    assert not list((shared_daemon.home / "memory").glob("user_deep*"))
    deep_event = {"events": [{"sequence": 1, "event_type": "message", "payload": {"role": "user", "content": nested(900)}}]}
    assert_refused(shared_daemon.post(EVENTS.format(session="deep-1"), deep_event))
    assert shared_daemon.get("/api/workspaces/_unbound/memory/sessions/deep-1/ledger").status_code == 404
    within = {**write, "name": "Nested enough", "metadata": {"x": nested(60)}}
    assert shared_daemon.post("/api/memory", within).status_code in (200, 201)
    assert "Traceback" not in shared_daemon.log()


@pytest.mark.parametrize("hours", ["1e9", "1e300", "NaN", "Infinity", "-1"])
def test_prune_hours_out_of_range(shared_daemon: Daemon, hours: str) -> None:
    assert_refused(raw_post(shared_daemon, "/api/memory/sessions/prune", f'{{"older_than_hours": {hours}}}'.encode()))


def test_session_numbers_and_times_out_of_range(shared_daemon: Daemon) -> None:
    path = EVENTS.format(session="hostile-1")
    assert_refused(shared_daemon.post(path, event(2**63)))
    for moment in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        refused = assert_refused(shared_daemon.post(path, event(emitted_at=moment)))
        assert refused["details"]["field"] == "events[0].emitted_at"
    assert_refused(shared_daemon.get("/api/memory/recall-traces/s1/10000000000000000000"))
    assert_refused(shared_daemon.get("/api/memory/decisions", params={"limit": str(2**70)}))


@pytest.mark.parametrize("path", ["/api/memory/decisions", "/api/memory/history"])
def test_since_beyond_the_calendar(shared_daemon: Daemon, path: str) -> None:
    for since in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"):
        assert assert_refused(shared_daemon.get(path, params={"since": since}))["details"]["field"] == "since"


def test_a_trailing_newline_is_not_a_name(shared_daemon: Daemon) -> None:
    assert assert_refused(shared_daemon.post("/api/memory", {"type": "user", "content": "x y", "filename": "x.md\n"}))["details"]["field"] == "filename"
    assert assert_refused(shared_daemon.post("/api/memory", {"type": "user", "content": "x y", "agent_name": "bob\n"}))["details"]["field"] == "agent_name"
    assert_refused(shared_daemon.post(EVENTS.format(session="s1%0a"), event()))
    assert_refused(shared_daemon.post("/api/memory", {"type": "user", "content": "x y", "workspace_id": "ws_abcd\n"}))
    home = shared_daemon.home
    assert not [p for p in home.rglob("*") if "\n" in p.name]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/memory/health"),
        ("GET", "/api/memory/search"),
        ("PATCH", "/api/memory/config"),
        ("DELETE", "/api/memory/decisions/dec_1"),
        ("PUT", "/api/memory/user_x.md"),
        ("DELETE", "/api/memory/dreams/status"),
    ],
)
def test_a_wrong_method_on_a_fixed_route_is_a_405(shared_daemon: Daemon, method: str, path: str) -> None:
    response = httpx.request(method, shared_daemon.url + path, timeout=10)
    assert assert_refused(response, 405)["code"] == "memory.method_not_allowed"


def test_reserved_names_say_so(shared_daemon: Daemon) -> None:
    index = assert_refused(shared_daemon.post("/api/memory", {"type": "user", "content": "x y", "filename": "MEMORY.md"}))
    assert "reserved" in index["message"]
    system = assert_refused(shared_daemon.post("/api/memory", {"type": "user", "content": "x y", "filename": "_system_x.md"}))
    assert "reserved" in system["message"]
    assert json.loads(shared_daemon.get("/api/memory/health").text)["status"] in ("ok", "degraded")

"""Lone UTF-16 surrogates (issue 9): `"\\ud800"` is valid JSON but not text.

Every JSON body is checked once, where it is parsed: a lone surrogate in any
string or key is a 400 `memory.validation` naming the field, and nothing is
written (no file, no decision, no session folder). Surrogates or undecodable
bytes in the path or query string are never a 500.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Iterator

import pytest

from aghmem.features.sessions import Event
from conftest import Daemon


@pytest.fixture(scope="module")
def home_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("surrogates") / "home").start()
    yield d
    d.kill()


def send(daemon: Daemon, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
    """`body` goes out byte for byte (a client library would refuse or
    re-encode the surrogate escapes)."""
    assert daemon.http is not None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    response = daemon.http.request(method, path, content=body, headers=headers)
    return response.status_code, response.json()


def footprint(daemon: Daemon) -> tuple[list[str], list[str]]:
    """Every file and folder under HOME except the daemon's own state and log,
    and every decision id: what a refused request must leave unchanged."""
    paths = sorted(
        str(p.relative_to(daemon.home))
        for p in daemon.home.rglob("*")
        if p.relative_to(daemon.home).parts[0] not in ("state", "daemon.log")
    )
    response = daemon.get("/api/memory/decisions", params={"limit": 500})
    assert response.status_code == 200, response.text
    return paths, [d["id"] for d in response.json()["decisions"]]


def assert_refused(daemon: Daemon, method: str, path: str, body: bytes, field: str) -> dict[str, Any]:
    before = footprint(daemon)
    status, reply = send(daemon, method, path, body)
    assert status == 400, reply
    assert set(reply) == {"code", "message", "details"}, reply
    assert reply["code"] == "memory.validation"
    assert reply["details"]["field"] == field, reply
    assert footprint(daemon) == before
    return reply


@pytest.mark.parametrize(
    "body, field",
    [
        (rb'{"type":"user","name":"x","content":"a\ud800b"}', "content"),
        (rb'{"type":"user","name":"x\udc00","content":"fine"}', "name"),
        (rb'{"type":"user","name":"x","content":"fine","tags":["ok","t\udfff"]}', "tags[1]"),
        (rb'{"type":"user","name":"x","content":"fine","metadata":{"k\ud800":"v"}}', "metadata.k\\ud800"),
        (rb'{"type":"user","name":"x","content":"fine","provenance":{"source_sessions":["s","\ud800"]}}', "provenance.source_sessions[1]"),
        # A surrogate pair reversed is two lone surrogates.
        (rb'{"type":"user","name":"x","content":"\ude00\ud83d"}', "content"),
        # The surrogate as raw UTF-8-style bytes rather than an escape.
        (b'{"type":"user","name":"x","content":"a\xed\xa0\x80b"}', "content"),
    ],
)
def test_post_memory_with_a_lone_surrogate_is_400(home_daemon: Daemon, body: bytes, field: str) -> None:
    reply = assert_refused(home_daemon, "POST", "/api/memory", body, field)
    assert "surrogate" in reply["message"]


def test_patch_with_a_lone_surrogate_is_400_and_the_file_is_untouched(home_daemon: Daemon) -> None:
    written = home_daemon.write(type="user", name="Patch target", content="The original text.")
    filename = written["decision"]["target_filename"]
    path = home_daemon.home / "memory" / filename
    original = path.read_bytes()
    assert_refused(home_daemon, "PATCH", f"/api/memory/{filename}", rb'{"content":"new \ud800 text"}', "content")
    assert_refused(home_daemon, "PATCH", f"/api/memory/{filename}", rb'{"description":"\udbff"}', "description")
    assert path.read_bytes() == original


def test_ad_hoc_with_a_lone_surrogate_is_400(home_daemon: Daemon) -> None:
    assert_refused(home_daemon, "POST", "/api/memory/ad-hoc", rb'{"content":"remember \ud800 this"}', "content")


def test_session_event_with_a_lone_surrogate_is_400_and_leaves_no_folder(home_daemon: Daemon) -> None:
    body = rb'{"events":[{"sequence":1,"event_type":"message","payload":{"role":"user","content":"a\ud800b"}}]}'
    assert_refused(
        home_daemon, "POST", "/api/workspaces/_unbound/memory/sessions/s1/events", body, "events[0].payload.content"
    )
    assert not (home_daemon.home / "sessions" / "_unbound" / "s1").exists()
    # The same session still works with clean text: nothing was half-taken
    # (the refused sequence is not remembered as seen).
    clean = b'{"events":[{"sequence":1,"event_type":"message","payload":{"role":"user","content":"hello there"}}]}'
    status, reply = send(home_daemon, "POST", "/api/workspaces/_unbound/memory/sessions/s1/events", clean)
    assert status == 200, reply
    assert reply["appended"] == 1


def test_workspace_path_with_a_lone_surrogate_is_400(home_daemon: Daemon, tmp_path: Path) -> None:
    body = b'{"path": "' + str(tmp_path).encode() + rb'/repo\ud800"}'
    assert_refused(home_daemon, "POST", "/api/workspaces", body, "path")
    assert not list(tmp_path.iterdir())


def test_search_and_dream_bodies_are_checked_too(home_daemon: Daemon) -> None:
    # One check for every JSON body, not one per route.
    assert_refused(home_daemon, "POST", "/api/memory/search", rb'{"query_text":"x\ud800y z"}', "query_text")
    assert_refused(home_daemon, "POST", "/api/memory/dreams/trigger", rb'{"workspace_id":"\ud800"}', "workspace_id")


def test_a_valid_surrogate_pair_is_text(home_daemon: Daemon) -> None:
    status, reply = send(
        home_daemon, "POST", "/api/memory", rb'{"type":"user","name":"Likes rockets","content":"Rockets \ud83d\ude80 are fun."}'
    )
    assert status == 200, reply
    path = home_daemon.home / "memory" / reply["decision"]["target_filename"]
    assert "Rockets \U0001f680 are fun." in path.read_text(encoding="utf-8")


def test_deep_nesting_is_400_not_a_crash(home_daemon: Daemon) -> None:
    depth = 200_000
    status, reply = send(home_daemon, "POST", "/api/memory", b'{"metadata":' + b"[" * depth + b"]" * depth + b"}")
    assert status == 400, reply
    assert reply["code"] == "memory.validation"


def test_a_surrogate_deep_inside_is_found_without_recursion(home_daemon: Daemon) -> None:
    # Deep enough that a recursive walk would need hundreds of frames, still
    # within what the JSON parser takes.
    depth = 900
    body = b'{"metadata":' + b'{"a":' * depth + rb'"\ud800"' + b"}" * depth + b"}"
    reply = assert_refused(home_daemon, "POST", "/api/memory", body, "metadata" + ".a" * depth)
    assert reply["code"] == "memory.validation"


def raw_status(daemon: Daemon, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send a request line exactly as written (percent escapes untouched)."""
    host, port = daemon.url.removeprefix("http://").rsplit(":", 1)
    head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data.split(b"\r\n\r\n", 1)[1]


EVENT = b'{"events":[{"sequence":1,"event_type":"message","payload":{"role":"user","content":"hi"}}]}'


@pytest.mark.parametrize(
    "method, target, body",
    [
        ("GET", "/api/memory/user_%ED%A0%80.md", b""),
        ("PATCH", "/api/memory/user_%ED%A0%80.md", b'{"content":"x"}'),
        ("DELETE", "/api/memory/user_%ED%A0%80.md", b""),
        ("GET", "/api/memory?workspace_id=%ED%A0%80", b""),
        ("GET", "/api/memory?agent_name=%ED%A0%80", b""),
        ("GET", "/api/memory/decisions?cursor=%ED%A0%80", b""),
        ("GET", "/api/memory/scope-show?workspace_id=%FF%FE", b""),
        ("POST", "/api/workspaces/%ED%A0%80/memory/sessions/s2/events", EVENT),
        ("POST", "/api/workspaces/_unbound/memory/sessions/%ED%A0%80/events", EVENT),
        ("GET", "/api/workspaces/_unbound/memory/sessions/%ED%A0%80/ledger", b""),
        ("POST", "/api/memory?workspace_id=%ED%A0%80", b'{"type":"project","name":"p","content":"c"}'),
        ("GET", "/api/memory/decisions/dec_%ED%A0%80", b""),
        ("GET", "/api/memory/dreams/dream_%ED%A0%80", b""),
        ("GET", "/api/memory/recall-traces/%ED%A0%80/1", b""),
        ("GET", "/api/memory/daily?date=%ED%A0%80", b""),
        ("POST", "/api/memory/search?workspace_id=%ED%A0%80", b'{"query_text":"two words"}'),
    ],
)
def test_surrogates_in_the_path_or_query_are_never_500(home_daemon: Daemon, method: str, target: str, body: bytes) -> None:
    before = footprint(home_daemon)
    status, reply = raw_status(home_daemon, method, target, body)
    # The undecodable bytes arrive as U+FFFD: a name nothing has, or a
    # parameter this route does not read (search takes its selector from
    # the body). Never a 500.
    assert status in (200, 400, 404), (status, reply[:300])
    if status != 200:
        assert b'"code":"memory.' in reply
    assert footprint(home_daemon) == before


def test_the_session_store_itself_leaves_nothing_when_an_event_cannot_be_written(tmp_path: Path) -> None:
    # The HTTP layer refuses surrogates before this point; a library caller
    # does not pass through it, and the store must still not leave an empty
    # folder or remember the sequence as taken.
    from aghmem import MemoryService, load_config

    config = load_config(home=tmp_path / "home", env={})
    service = MemoryService(config)
    service.start(watch=False)
    try:
        bad = [Event(1, "message", None, {"role": "user", "content": "a\ud800b"})]
        with pytest.raises(UnicodeEncodeError):
            service.append_events("_unbound", "lib1", bad)
        assert not (config.home_path / "sessions" / "_unbound" / "lib1").exists()
        good = [Event(1, "message", None, {"role": "user", "content": "ab"})]
        assert len(service.append_events("_unbound", "lib1", good).appended) == 1
    finally:
        service.close()

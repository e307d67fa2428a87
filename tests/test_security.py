"""Security from day one: traversal, Host, Origin, token, body limits, bind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aghmem.testing import FAST_CONFIG
from conftest import ROOT, Daemon


def raw_request(daemon: Daemon, request_line_path: str, method: str = "GET", headers: str = "") -> tuple[int, bytes]:
    """Send bytes exactly as written (no client-side path normalisation)."""
    host, port = daemon.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"{method} {request_line_path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


TRAVERSALS = [
    "/api/memory/..%2f..%2fetc%2fpasswd",
    "/api/memory/%2e%2e%2fsecret.md",
    "/api/memory/../../etc/passwd",
    "/api/memory/..",
    "/api/memory/%2fetc%2fpasswd",
    "/api/memory/sub%2fuser_x.md",
    "/api/memory/user_x.md%00.md",
    "/api/memory/%00",
    "/api/memory/a/b/c.md",
]


@pytest.mark.parametrize("path", TRAVERSALS)
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_traversal_is_400_and_touches_nothing(shared_daemon: Daemon, path: str, method: str) -> None:
    headers = "Content-Type: application/json\r\nContent-Length: 17\r\n" if method == "PATCH" else ""
    host, port = shared_daemon.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        body = '{"content": "x"}\n' if method == "PATCH" else ""
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n{body}".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    assert status == 400, (path, data[:300])
    assert b'"memory.validation"' in data


@pytest.mark.parametrize(
    "params",
    [
        {"agent_name": ".."},
        {"agent_name": "../../etc"},
        {"agent_name": "a/b"},
        {"workspace_id": "ws_../../x"},
        {"agent_name": "x\x00y"},
    ],
)
def test_selector_traversal_is_400(shared_daemon: Daemon, params: dict[str, str]) -> None:
    response = shared_daemon.get("/api/memory", params=params)
    assert response.status_code == 400 and response.json()["code"] == "memory.validation"


def test_filename_in_body_cannot_escape(shared_daemon: Daemon) -> None:
    for filename in ("../escape.md", "/etc/x.md", "a/b.md", "x\x00.md", "..md"):
        response = shared_daemon.post("/api/memory", {"type": "user", "name": "E", "content": "x", "filename": filename})
        assert response.status_code == 400, filename
    assert not (shared_daemon.home / "escape.md").exists()


def test_symlink_pointing_out_is_refused(shared_daemon: Daemon, tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text("---\nname: stolen\ntype: user\n---\nsecret outside the roots\n")
    memory_dir = shared_daemon.home / "memory"
    memory_dir.mkdir(parents=True, exist_ok=True)
    link = memory_dir / "user_link.md"
    link.symlink_to(outside)
    try:
        response = shared_daemon.get("/api/memory/user_link.md")
        assert response.status_code == 400 and "outside" in response.json()["message"]
        assert shared_daemon.patch("/api/memory/user_link.md", {"content": "overwrite"}).status_code == 400
        assert shared_daemon.delete("/api/memory/user_link.md").status_code == 400
        assert "secret outside" in outside.read_text()
    finally:
        link.unlink()


def test_symlinked_agent_directory_pointing_out_is_refused(shared_daemon: Daemon, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    (target / "memory").mkdir(parents=True)
    agents = shared_daemon.home / "agents"
    agents.mkdir(exist_ok=True)
    (agents / "sneaky").symlink_to(target)
    response = shared_daemon.post("/api/memory", {"type": "user", "name": "S", "content": "x", "agent_name": "sneaky"})
    assert response.status_code == 403
    assert list((target / "memory").iterdir()) == []


@pytest.mark.parametrize(
    "host",
    # The last four were read as loopback: whatever followed "]" or a lone ":" was dropped.
    ["evil.example", "attacker.com:7377", "192.168.1.10", "localhost.evil.com", "[::1]evil.com", "[::1].evil.com", "localhost:evil", "::1"],
)
def test_foreign_host_header_is_403(shared_daemon: Daemon, host: str) -> None:
    response = shared_daemon.get("/api/memory", headers={"Host": host})
    assert response.status_code == 403 and response.json()["code"] == "memory.forbidden"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:1234", "[::1]:7377", "127.0.0.2"])
def test_loopback_host_names_are_accepted(shared_daemon: Daemon, host: str) -> None:
    assert shared_daemon.get("/api/memory/health", headers={"Host": host}).status_code == 200


def test_a_second_host_header_is_refused(shared_daemon: Daemon) -> None:
    status, _ = raw_request(shared_daemon, "/api/memory/health", headers="Host: evil.example\r\n")
    assert status == 403


def test_a_write_a_browser_marks_cross_site_needs_its_origin(shared_daemon: Daemon) -> None:
    """A browser sends Origin with every cross-site write; where something
    stripped it, Sec-Fetch-Site still tells: the write is refused. Reads
    (a link followed to the inspector) and programs (no such header) pass."""
    write = {"type": "user", "name": "Stripped origin", "content": "x"}
    for site in ("cross-site", "same-site"):
        response = shared_daemon.post("/api/memory", write, headers={"Sec-Fetch-Site": site})
        assert response.status_code == 403 and response.json()["code"] == "memory.forbidden"
        assert shared_daemon.post("/api/memory/reindex", {}, headers={"Sec-Fetch-Site": site}).status_code == 403
    assert not list((shared_daemon.home / "memory").glob("user_stripped*.md"))
    assert shared_daemon.get("/", headers={"Sec-Fetch-Site": "cross-site", "Accept": "text/html"}).status_code == 200
    assert shared_daemon.post("/api/memory", write, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200


def test_origin_must_be_allowed(make_daemon: Any) -> None:
    d = make_daemon('[server]\nallow_origins = ["http://localhost:3000"]\n')
    assert d.post("/api/memory", {"type": "user", "name": "O", "content": "x"}, headers={"Origin": "http://evil.com"}).status_code == 403
    assert d.get("/api/memory", headers={"Origin": "null"}).status_code == 403
    assert d.get("/api/memory", headers={"Origin": "http://localhost:3000"}).status_code == 200
    assert not list((d.home / "memory").glob("user_*.md"))


def test_forwarded_headers_change_nothing(shared_daemon: Daemon) -> None:
    """No proxy stands between a local client and the daemon: a request's
    X-Forwarded-* headers neither make an https Origin its own nor change
    the address its pages tell agents to use."""
    own_https = shared_daemon.url.replace("http://", "https://")
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.7"}
    write = {"type": "user", "name": "Forwarded", "content": "x"}
    response = shared_daemon.post("/api/memory", write, headers={**forged, "Origin": own_https})
    assert response.status_code == 403 and response.json()["code"] == "memory.forbidden"
    assert not list((shared_daemon.home / "memory").glob("user_forwarded*.md"))
    page = shared_daemon.get("/health", headers={**forged, "Accept": "text/html"})
    assert page.status_code == 200 and shared_daemon.url in page.text and own_https not in page.text


def test_token_is_enforced_when_configured(make_daemon: Any) -> None:
    d = make_daemon(env={"AGHMEM_TOKEN": "s3cret-token"})
    assert d.get("/api/memory").status_code == 200  # the harness sends the token
    assert d.get("/healthz", headers={"Authorization": ""}).status_code == 200
    for auth in ("", "Bearer wrong", "Basic czNjcmV0LXRva2Vu", "s3cret-token"):
        response = d.get("/api/memory", headers={"Authorization": auth})
        assert response.status_code == 401 and response.json()["code"] == "memory.unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    assert d.post("/api/memory", {"type": "user", "name": "T", "content": "x"}, headers={"Authorization": "Bearer no"}).status_code == 401
    assert d.get("/api/memory/config").json()["config"]["server"]["token"] == "********"


def test_a_reload_keeps_the_running_surfaces_and_tokens(make_daemon: Any) -> None:
    """The guard and the routes are built at start: a reload names changed
    compat switches and tokens as needing a restart and keeps enforcing the
    running ones, so a surface's token never opens the native API and a
    token is revoked by the restart, whole (it had updated the config the
    API reported, not the guard)."""
    kv_token = '[compat.kv]\ntokens = ["kv-tok"]\n'
    d = make_daemon(FAST_CONFIG + '[compat.cf]\ntokens = ["cf-old"]\n' + kv_token, env={"AGHMEM_TOKEN": "s3cret-token"})
    namespaces, write = "/client/v4/accounts/acc1/agent-memory/namespaces", {"scope": "global", "type": "user", "name": "Kv", "content": "x"}

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    d.config_path.write_text(FAST_CONFIG + '[compat.cf]\ntokens = ["cf-new"]\n' + kv_token + "enabled = false\n")
    reloaded = d.post("/api/memory/reload").json()
    assert {"compat.cf.tokens", "compat.kv.enabled"} <= set(reloaded["needs_restart"])
    assert d.get("/api/memory/config").json()["config"]["compat"]["kv"]["enabled"] is True
    assert d.get(namespaces, headers=bearer("cf-old")).status_code == 200
    assert d.get(namespaces, headers=bearer("cf-new")).status_code == 401
    assert d.post("/api/memory", write, headers=bearer("kv-tok")).status_code == 401
    # Still the key-value surface's (its own 404), not the native list.
    assert d.get("/api/memory", params={"agentId": "a1"}, headers=bearer("kv-tok")).json() == {"error": "Agent not found"}
    assert not list((d.home / "memory").glob("user_kv*.md"))
    d.restart()
    assert d.get(namespaces, headers=bearer("cf-new")).status_code == 200
    assert d.get(namespaces, headers=bearer("cf-old")).status_code == 401
    assert d.get("/api/memory", params={"agentId": "a1"}, headers=bearer("kv-tok")).status_code == 401


def test_refuses_non_loopback_bind_without_token(tmp_path: Path) -> None:
    env = {**os.environ, "AGHMEM_HOME": str(tmp_path)}
    env.pop("AGHMEM_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "aghmem", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode != 0
    assert "not a loopback address and no token" in result.stderr


def test_body_over_the_cap_is_413(make_daemon: Any) -> None:
    d = make_daemon("[server]\nmax_body_bytes = 2000\n")
    response = d.post("/api/memory", {"type": "user", "name": "Big", "content": "x" * 5000})
    assert response.status_code == 413 and response.json()["code"] == "memory.too_large"

    def chunks() -> Any:  # no Content-Length: the cap holds while streaming
        yield b'{"type": "user", "name": "Big", "content": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    assert d.http is not None
    streamed = d.http.post("/api/memory", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert not list((d.home / "memory").glob("user_*.md"))


@pytest.mark.parametrize(
    "content, headers, status, message",
    [
        (b'{"type": "user"', {"Content-Type": "application/json"}, 400, "not valid JSON"),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400, "JSON object"),
        (b"\n", {"Content-Type": "application/json"}, 400, "not valid JSON"),
        (b"type=user&name=x", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "Content-Type: application/json"),
        (b'{"type": "user", "name": "x", "content": "y"}', {"Content-Type": "text/plain"}, 415, "Content-Type: application/json"),
    ],
)
def test_writes_need_a_json_object(shared_daemon: Daemon, content: bytes, headers: dict[str, str], status: int, message: str) -> None:
    assert shared_daemon.http is not None
    response = shared_daemon.http.post("/api/memory", content=content, headers=headers)
    assert response.status_code == status and message in response.json()["message"]


def test_unknown_fields_are_400(shared_daemon: Daemon) -> None:
    response = shared_daemon.post("/api/memory", {"type": "user", "name": "x", "content": "y", "colour": "red"})
    assert response.status_code == 400
    assert response.json()["details"]["unknown"] == ["colour"]


def test_errors_use_the_envelope(shared_daemon: Daemon) -> None:
    for response in (
        shared_daemon.get("/api/nothing-here"),
        shared_daemon.get("/api/memory/user_none.md"),
        shared_daemon.post("/api/memory", {"name": "no type"}),
        shared_daemon.get("/api/memory/decisions", params={"limit": "many"}),
        shared_daemon.get("/api/memory/decisions", params={"cursor": "garbage!"}),
        shared_daemon.get("/api/memory/decisions", params={"since": "yesterday"}),
    ):
        body = response.json()
        assert set(body) == {"code", "message", "details"}, body
        assert response.status_code in (400, 404)


def test_a_second_daemon_on_one_home_is_refused_clearly(make_daemon: Any, tmp_path: Path) -> None:
    first = make_daemon(home=tmp_path / "shared-home")
    second = make_daemon(home=tmp_path / "shared-home", start=False)
    # (The harness removes state/server.json before a start, so the refusal
    # cannot name the first daemon's pid here; outside tests it does.)
    with pytest.raises(RuntimeError, match=r"aghmem: another aghmem daemon \(.*\) is using .*shared-home; stop it"):
        second.start()
    assert first.get("/healthz").status_code == 200

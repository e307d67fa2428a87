"""Slow clients cannot take the daemon's connections (issue 12 §4): a
request whose headers trickle in is dropped after `server.header_timeout`,
and past 256 such connections the oldest go first, so /healthz answers."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx

from aghmem.faces.http_protocol import MAX_PENDING
from conftest import FAST_CONFIG


def closed(sock: socket.socket) -> bool:
    """Whether the daemon closed this connection (EOF or reset on read)."""
    sock.settimeout(0.01)
    try:
        return sock.recv(1) == b""
    except (BlockingIOError, socket.timeout):
        return False
    except OSError:
        return True


def test_slow_headers_are_dropped_and_health_answers(make_daemon: Any) -> None:
    daemon = make_daemon(FAST_CONFIG + '\n[server]\nheader_timeout = "1s"\n')
    host, port = daemon.url.removeprefix("http://").rsplit(":", 1)
    slow = []
    for _ in range(MAX_PENDING + 40):
        sock = socket.create_connection((host, int(port)))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        slow.append(sock)
    assert httpx.get(daemon.url + "/healthz", timeout=5).status_code == 200
    # Past the cap the oldest waiting connections were dropped at once.
    deadline = time.monotonic() + 0.5
    while sum(map(closed, slow[:40])) < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert all(closed(sock) for sock in slow[:40])
    # The rest go when their headers are overdue (1 s here).
    deadline = time.monotonic() + 5
    while not all(closed(sock) for sock in slow) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(closed(sock) for sock in slow)
    # A kept-alive connection that trickles its second request is dropped too.
    kept = socket.create_connection((host, int(port)))
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert kept.recv(65536).startswith(b"HTTP/1.1 200")
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    deadline = time.monotonic() + 5
    while not closed(kept) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert closed(kept)
    assert httpx.get(daemon.url + "/healthz", timeout=5).status_code == 200
    for sock in slow + [kept]:
        sock.close()

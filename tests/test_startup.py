"""Start-up: `state/server.json` announces a daemon that already accepts
connections (issue 9: a client that read it could get "connection refused")."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from conftest import FAST_CONFIG, ROOT


def _announcement(state: Path, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> dict:
    """Poll `server.json` until it names `proc`; fail if the daemon dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"daemon exited with {proc.returncode}"
        try:
            info = json.loads(state.read_text())
            if info["pid"] == proc.pid:
                return info
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    raise AssertionError("the daemon never announced itself")


def test_announced_daemon_accepts_connections_at_once(tmp_path: Path) -> None:
    # The failpoint stalls the daemon for 3 s right after it writes
    # server.json. Before the fix the socket was bound but not listening
    # then, so the connect below was refused every time; now the kernel
    # queues it and the request is answered once the stall is over.
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(FAST_CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGHMEM_")}
    env.update(AGHMEM_HOME=str(home), AGHMEM_FAILPOINTS="server.announced=sleep(3)")
    with open(home / "daemon.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aghmem", "serve", "--port", "0", "--config", str(home / "config.toml")],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        info = _announcement(home / "state" / "server.json", proc)
        with socket.create_connection(("127.0.0.1", info["port"]), timeout=20) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := conn.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_stopped_just_as_it_gets_ready_it_closes_cleanly(tmp_path: Path) -> None:
    # Readiness is announced before the extractor starts: a stop in between
    # (SIGTERM as the daemon got ready) joined a thread not yet started and
    # the close raised. In process, many times, as the window is narrow.
    from aghmem.config import load_config
    from aghmem.service.service import MemoryService

    (tmp_path / "config.toml").write_text(FAST_CONFIG)
    for _ in range(20):
        service = MemoryService(load_config(tmp_path / "config.toml", home=tmp_path, env={}))
        service.start(watch=False, background=True)
        assert service.runtime.ready.wait(30)
        service.close()  # raised RuntimeError("cannot join thread before it is started") now and then

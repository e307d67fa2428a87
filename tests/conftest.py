"""Test harness: real daemons in subprocesses on ephemeral loopback ports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent

# Tests write a lot from one origin; the default of 120/min would throttle them.
FAST_CONFIG = """
[controller.policy]
max_writes_per_min = 0
"""


class Daemon:
    """One `aghmem serve` process with its own HOME."""

    def __init__(self, home: Path, config_text: str = FAST_CONFIG, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.config_path = home / "config.toml"
        home.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(config_text)
        self.env = {**os.environ, "AGHMEM_HOME": str(home), **(env or {})}
        for key in ("AGHMEM_TOKEN", "AGHMEM_PORT", "AGHMEM_URL", "AGHMEM_CONFIG"):
            if env is None or key not in env:
                self.env.pop(key, None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.http: httpx.Client | None = None
        self.log_path = home / "daemon.log"
        # Runs the daemon under another program (e.g. setpriv, to drop root's
        # right to read any file).
        self.command_prefix: list[str] = []

    def start(self, *extra: str, timeout: float = 20.0) -> "Daemon":
        state = self.home / "state" / "server.json"
        state.unlink(missing_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [*self.command_prefix, sys.executable, "-m", "aghmem", "serve", "--port", "0", "--config", str(self.config_path), *extra],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
            try:
                info = json.loads(state.read_text())
                if info["pid"] == self.proc.pid:
                    self.url = info["url"]
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.02)
        else:
            self.kill()
            raise RuntimeError(f"daemon did not start:\n{self.log()}")
        token = self.env.get("AGHMEM_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, timeout=30, headers=headers)
        assert self.http.get("/healthz").status_code == 200
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        assert self.proc is not None
        if self.http is not None:
            self.http.close()
            self.http = None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.http is not None:
            self.http.close()
            self.http = None

    def restart(self) -> "Daemon":
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        return self.start()

    # --- conveniences ------------------------------------------------------

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        assert self.http is not None
        return self.http.get(path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        assert self.http is not None
        return self.http.post(path, json=body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        assert self.http is not None
        return self.http.patch(path, json=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        assert self.http is not None
        return self.http.delete(path, **kwargs)

    def write(self, **body: Any) -> dict[str, Any]:
        response = self.post("/api/memory", body)
        assert response.status_code == 200, response.text
        return response.json()

    def workspace(self, path: Path) -> str:
        path.mkdir(parents=True, exist_ok=True)
        response = self.post("/api/workspaces", {"path": str(path)})
        assert response.status_code in (200, 201), response.text
        return response.json()["workspace"]["id"]


@pytest.fixture
def make_daemon(tmp_path: Path) -> Iterator[Any]:
    """Factory for daemons that a test configures itself; all are stopped."""
    daemons: list[Daemon] = []

    def factory(config_text: str = FAST_CONFIG, *, env: dict[str, str] | None = None, home: Path | None = None, start: bool = True) -> Daemon:
        daemon = Daemon(home or tmp_path / f"home{len(daemons)}", config_text, env)
        daemons.append(daemon)
        return daemon.start() if start else daemon

    yield factory
    for daemon in daemons:
        daemon.kill()


@pytest.fixture
def daemon(make_daemon: Any) -> Daemon:
    return make_daemon()


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for a module's read-mostly tests (each uses its own names)."""
    d = Daemon(tmp_path_factory.mktemp("shared") / "home").start()
    yield d
    d.kill()


def memory_files(directory: Path) -> dict[str, bytes]:
    """The memory files in a scope directory, as the scans see them."""
    if not directory.is_dir():
        return {}
    return {
        p.name: p.read_bytes()
        for p in sorted(directory.iterdir())
        if p.suffix == ".md" and p.name != "MEMORY.md" and not p.name.startswith(".")
    }

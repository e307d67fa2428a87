"""A real daemon in a subprocess, for the test suite and the scripts.

`Daemon` runs `python -m aghmem serve --port 0` with its own HOME and config
file, waits until the server announces itself in HOME/state/server.json
(written once it serves, so a client that reads it is answered), and hands
back an httpx client on the port the kernel chose. `tests/conftest.py` builds
its fixtures on it; `scripts/bench_*.py` and `scripts/eval_locomo.py` measure
through it. Like `starlette.testclient` it ships in the package so both can
import it; it imports nothing else from aghmem, so it sits in the root layer.

    daemon = Daemon(tmp / "home").start()
    try:
        daemon.write(type="user", name="Prefers tabs", content="Uses tabs.")
    finally:
        daemon.stop()
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Self

import httpx

__all__ = ["FAST_CONFIG", "Daemon", "DaemonError"]

# Harness daemons write a lot from one origin; the default limit of 120
# writes a minute would throttle the tests and the write benchmark. Few of
# them speak MCP: they build its server on first use, which keeps a second of
# CPU out of the moments after every start (a write burst felt it).
FAST_CONFIG = """
[controller.policy]
max_writes_per_min = 0
[mcp]
warm_up = false
"""

# The directory that holds this package. The daemon runs from it, so
# `python -m aghmem` imports this copy of the code (a worktree, say) and not
# whichever copy an editable install points at.
_CODE_ROOT = Path(__file__).resolve().parent.parent
# Lines of the daemon's log quoted in an error: the log is appended to
# across restarts, and the cause is at its end.
_LOG_TAIL_LINES = 60


# A test that lowers fs.inotify.max_queued_events (the overflow test) holds
# this lock exclusively; every daemon start holds it shared until it serves
# (its watcher exists by then), so under parallel workers no other daemon is
# ever made with the lowered limit.
_INOTIFY_LOCK = Path(tempfile.gettempdir()) / "aghmem-tests-inotify.lock"


@contextlib.contextmanager
def inotify_guard(*, exclusive: bool = False) -> Iterator[None]:
    fd = os.open(_INOTIFY_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


class DaemonError(RuntimeError):
    """The daemon exited or did not announce itself in time."""


def _daemon_env(home: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a daemon on `home`: without any
    AGHMEM_* variable of the caller's (a developer's token, port, URL,
    config or failpoints would change what is measured or tested), then
    AGHMEM_HOME, then `env` on top."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("AGHMEM_")}
    return {**inherited, "AGHMEM_HOME": str(home), **(env or {})}


def _read_announcement(state_file: Path, pid: int, *, ready: bool = True) -> dict[str, Any] | None:
    """The server's announcement if `state_file` holds one from `pid` (and,
    with `ready`, says the files are taken in); None while it is absent,
    half-written, left by an earlier process, or not ready yet."""
    try:
        info = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("pid") != pid:
        return None
    return info if info.get("ready", True) or not ready else None


class Daemon:
    """One `aghmem serve` process with its own HOME (HOME/config.toml,
    HOME/daemon.log), restartable on the same HOME."""

    def __init__(
        self,
        home: Path,
        config_text: str = FAST_CONFIG,
        env: dict[str, str] | None = None,
        *,
        start_timeout: float = 20.0,
        command_prefix: Sequence[str] = (),
    ) -> None:
        self.home = home
        self.config_path = home / "config.toml"
        self.log_path = home / "daemon.log"
        home.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(config_text)
        self.env = _daemon_env(home, env)
        # A cold start scans and indexes every file in HOME: seconds for the
        # tests, minutes for a benchmark's corpus.
        self.start_timeout = start_timeout
        # Runs the daemon under another program (e.g. setpriv, to drop root's
        # right to read any file).
        self.command_prefix = list(command_prefix)
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.port = 0
        self.http: httpx.Client | None = None
        # Seconds the last start took until the daemon announced itself.
        self.start_seconds = 0.0
        # Starts wait while a test lowers the inotify queue (see inotify_guard);
        # that test's own daemon is started unguarded.
        self.guarded = True

    # --- life cycle --------------------------------------------------------

    def start(self, *extra: str, timeout: float | None = None, ready: bool = True) -> Self:
        """Start the daemon (`extra` appended to `aghmem serve`) and wait
        until it has taken its files in (`ready=False`: until it serves); a
        DaemonError quoting the log if it exits first or is not there within
        `timeout` (default: `start_timeout`)."""
        self._close_http()  # a client left over from a daemon that was killed
        state_file = self.home / "state" / "server.json"
        # An announcement left by a killed daemon must not be taken for ours.
        state_file.unlink(missing_ok=True)
        started = time.perf_counter()
        limit = self.start_timeout if timeout is None else timeout
        with inotify_guard() if self.guarded else contextlib.nullcontext():
            self.proc = self._spawn(extra)
            info = self._wait_until_announced(state_file, limit, ready=False)
        if ready:
            info = self._wait_until_announced(state_file, limit, ready=True)
        self.start_seconds = time.perf_counter() - started
        self.url, self.port = info["url"], info["port"]
        token = self.env.get("AGHMEM_TOKEN")
        self.http = httpx.Client(base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {token}"} if token else {})
        health = self.http.get("/healthz")
        if health.status_code != 200:
            raise DaemonError(f"/healthz answered {health.status_code} after the announcement:\n{self.log_tail()}")
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Ask the daemon to stop (SIGTERM unless told otherwise) and wait;
        returns its exit code (0 for a clean stop)."""
        assert self.proc is not None, "the daemon was never started"
        self._close_http()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the daemon if it runs: for clean-up, whatever state it is in."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._close_http()

    def restart(self) -> Self:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        return self.start()

    def log(self) -> str:
        """Everything the daemon (and its earlier runs on this HOME) logged."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    # --- what the benchmarks measure (Linux /proc) -------------------------

    def cpu_seconds(self) -> float:
        """User + system CPU time the daemon has used so far."""
        assert self.proc is not None, "the daemon was never started"
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        """The daemon's peak resident memory so far (VmHWM), in MiB."""
        assert self.proc is not None, "the daemon was never started"
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    # --- conveniences over the native API ----------------------------------

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._client().get(path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self._client().post(path, json=body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self._client().patch(path, json=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._client().delete(path, **kwargs)

    def write(self, **body: Any) -> dict[str, Any]:
        """POST /api/memory; the decision, which must have been a 200."""
        response = self.post("/api/memory", body)
        assert response.status_code == 200, response.text
        return response.json()

    def workspace(self, path: Path) -> str:
        """Register `path` (created if missing) as a workspace; its id."""
        path.mkdir(parents=True, exist_ok=True)
        response = self.post("/api/workspaces", {"path": str(path)})
        assert response.status_code in (200, 201), response.text
        return response.json()["workspace"]["id"]

    # --- inside ------------------------------------------------------------

    def _spawn(self, extra: Sequence[str]) -> subprocess.Popen[bytes]:
        command = [*self.command_prefix, sys.executable, "-m", "aghmem", "serve"]
        command += ["--port", "0", "--config", str(self.config_path), *extra]
        with open(self.log_path, "ab") as log:
            # The child holds its own copy of the descriptor; ours closes here.
            return subprocess.Popen(command, cwd=_CODE_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def _wait_until_announced(self, state_file: Path, timeout: float, *, ready: bool) -> dict[str, Any]:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DaemonError(f"the daemon exited with {self.proc.returncode}; {self.log_path}:\n{self.log_tail()}")
            info = _read_announcement(state_file, self.proc.pid, ready=ready)
            if info is not None:
                return info
            time.sleep(0.02)
        self.kill()
        raise DaemonError(f"the daemon was not ready after {timeout:.0f} s; {self.log_path}:\n{self.log_tail()}")

    def _client(self) -> httpx.Client:
        assert self.http is not None, "the daemon is not running"
        return self.http

    def _close_http(self) -> None:
        if self.http is not None:
            self.http.close()
            self.http = None

"""A real aghmem daemon for the scripts: its own HOME, an ephemeral port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Daemon:
    def __init__(self, home: Path, config_text: str) -> None:
        self.home = home
        self.config = home / "config.toml"
        home.mkdir(parents=True, exist_ok=True)
        self.config.write_text(config_text)
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300.0) -> float:
        """Start and wait until ready (`state/server.json` names this pid);
        returns the seconds that took. The log is HOME/daemon.log."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGHMEM_")}
        state = self.home / "state" / "server.json"
        state.unlink(missing_ok=True)
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aghmem", "serve", "--home", str(self.home), "--port", "0", "--config", str(self.config)],
            cwd=ROOT,
            env=env,
            stdout=open(self.home / "daemon.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        while time.perf_counter() - started < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"the daemon exited; see {self.home / 'daemon.log'}")
            try:
                info = json.loads(state.read_text())
                if info["pid"] == self.proc.pid:
                    self.port = info["port"]
                    return time.perf_counter() - started
            except (OSError, ValueError, KeyError):
                time.sleep(0.02)
        self.proc.kill()
        raise SystemExit(f"the daemon was not ready after {timeout:.0f} s; see {self.home / 'daemon.log'}")

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=60)

    def cpu_seconds(self) -> float:
        """User + system CPU time so far (Linux /proc)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

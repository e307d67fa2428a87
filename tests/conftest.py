"""Fixtures: real daemons in subprocesses on ephemeral loopback ports.

The daemon itself is `aghmem.testing.Daemon`, shared with scripts/; the test
modules import it (and FAST_CONFIG, the config without a write limit) from
here as before.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from aghmem.testing import FAST_CONFIG, Daemon

__all__ = ["FAST_CONFIG", "ROOT", "Daemon", "memory_files"]

ROOT = Path(__file__).resolve().parent.parent


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


def wait_for(check: Callable[[], Any], what: str = "the condition", timeout: float = 10.0, every: float = 0.02) -> Any:
    """Poll every `every` seconds until `check()` is truthy and return it:
    hand edits, the watcher and the workers are asynchronous. Fails naming
    `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")

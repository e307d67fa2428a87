"""The README's tour runs as written (issue 12 §5).

Every `$ ` command of the ```sh blocks in "## A short tour" (with its
continuation lines) runs with bash, in order, against a fresh daemon with
the embedded defaults, as a person would type it: `localhost:7377`,
`/tmp/tour-home` and `/tmp/tour-repo` are this test's daemon and temporary
directories, and `aghmem` is this checkout's CLI. Each command must exit 0;
where the README shows JSON, the real output must parse and hold every key
it shows (nested, with the same kind of value, and the same text once ids,
hashes, times and paths are set aside); elsewhere the real output must read
as shown, with `...` standing for anything.

Between two commands the test waits, as a person typing does, until the
daemon has taken in the files a command wrote by hand.
"""

from __future__ import annotations

import doctest
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from aghmem.testing import Daemon
from conftest import ROOT

SECTION = "## A short tour"
README_HOME = "/tmp/tour-home"
README_REPO = "/tmp/tour-repo"
README_ADDRESS = "localhost:7377"
README_URL = "http://127.0.0.1:7377"
COMMAND_TIMEOUT = 60
SETTLE_TIMEOUT = 10.0


# --- reading the tour ------------------------------------------------------


@dataclass
class Step:
    line: int  # where the command starts in README.md, for messages
    command: str
    expected: str


def tour_section(text: str) -> tuple[int, list[str]]:
    """The lines of the tour (its subsections included), and the README line
    number of the first."""
    lines = text.splitlines()
    start = lines.index(SECTION)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return start + 1, lines[start:end]


def sh_blocks(lines: list[str], first: int) -> Iterator[list[tuple[int, str]]]:
    """The ```sh blocks, each a list of (README line number, line)."""
    block: list[tuple[int, str]] | None = None
    for number, line in enumerate(lines, first):
        if block is None and line.strip() == "```sh":
            block = []
        elif block is not None and line.strip() == "```":
            yield block
            block = None
        elif block is not None:
            block.append((number, line))


def complete(command: str) -> bool:
    """Whether bash would run `command` as it stands (no trailing backslash,
    no open quote, loop or brace)."""
    if command.endswith("\\"):
        return False
    return subprocess.run(["bash", "-n", "-c", command], capture_output=True).returncode == 0


def steps(text: str) -> list[Step]:
    """Each `$ ` line with the lines that complete its command, and the lines
    after it up to the next command as its expected output."""
    first, lines = tour_section(text)
    found: list[Step] = []
    for block in sh_blocks(lines, first):
        index = 0
        while index < len(block):
            number, line = block[index]
            assert line.startswith("$ "), f"README.md:{number}: output before any command in a ```sh block of the tour"
            command = line[2:]
            index += 1
            while not complete(command):
                assert index < len(block), f"README.md:{number}: the command never ends: {command!r}"
                command += "\n" + block[index][1]
                index += 1
            output = []
            while index < len(block) and not block[index][1].startswith("$ "):
                output.append(block[index][1])
                index += 1
            found.append(Step(number, command, "\n".join(output)))
    return found


# --- comparing outputs -----------------------------------------------------

_NORMALIZE = [
    (re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d(\.\d+)?Z)?"), "<time>"),
    (re.compile(r"\b\d\d:\d\d:\d\dZ"), "<time>"),
    # ids, content hashes, dates in filenames: hex runs that differ by run
    (re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{8,}(?![0-9A-Za-z])"), "<hex>"),
    (re.compile(r"\bgeneration \d+"), "generation <n>"),
]


def normalize(text: str) -> str:
    for pattern, replacement in _NORMALIZE:
        text = pattern.sub(replacement, text)
    return text


def readme_json(text: str) -> Any:
    """The JSON the README shows, its `...` elisions dropped: `[...]` and
    `{...}` become empty, a trailing `, ...` goes."""
    text = re.sub(r"\[\s*\.\.\.\s*\]", "[]", text)
    text = re.sub(r"\{\s*\.\.\.\s*\}", "{}", text)
    text = re.sub(r",\s*\.\.\.\s*(?=[}\]])", "", text)
    return json.loads(text)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def json_mismatches(shown: Any, real: Any, path: str = "$") -> list[str]:
    """Where `real` lacks what the README shows: a key, an item, a kind of
    value, a boolean, or a text (compared normalized; one ending in "…" is a
    prefix)."""
    if _kind(shown) != _kind(real):
        return [f"{path}: the README shows {_kind(shown)} {shown!r}, the daemon gave {_kind(real)} {real!r}"]
    if isinstance(shown, dict):
        out = []
        for key, value in shown.items():
            if key not in real:
                out.append(f"{path}.{key}: missing (keys: {sorted(real)})")
            else:
                out += json_mismatches(value, real[key], f"{path}.{key}")
        return out
    if isinstance(shown, list):
        if len(real) < len(shown):
            return [f"{path}: the README shows {len(shown)} items, the daemon gave {len(real)}"]
        return [m for i, item in enumerate(shown) for m in json_mismatches(item, real[i], f"{path}[{i}]")]
    if isinstance(shown, bool) and shown != real:
        return [f"{path}: the README shows {shown}, the daemon gave {real}"]
    if isinstance(shown, str):
        want, got = normalize(shown), normalize(real)
        if not (got == want or (want.endswith("…") and got.startswith(want[:-1]))):
            return [f"{path}: the README shows {shown!r}, the daemon gave {real!r}"]
    return []


_CHECKER = doctest.OutputChecker()
_TEXT_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def output_mismatch(shown: str, real: str) -> str | None:
    """Why `real` is not the output the README shows, or None."""
    if not shown.strip():
        return None
    if shown.lstrip().startswith(("{", "[")):
        try:
            parsed = json.loads(real)
        except ValueError as exc:
            return f"the README shows JSON; the output is not JSON ({exc}):\n{real}"
        problems = json_mismatches(readme_json(shown), parsed)
        return "\n".join(problems) if problems else None
    want, got = normalize(shown) + "\n", normalize(real)
    if _CHECKER.check_output(want, got, _TEXT_FLAGS):
        return None
    return f"the README shows:\n{shown}\nthe command printed:\n{real}"


# --- running it ------------------------------------------------------------


class Tour:
    """A shell session for the tour: each command runs in a new bash that
    starts where the last one ended (its directory and its environment)."""

    def __init__(self, daemon: Daemon, work: Path) -> None:
        self.daemon = daemon
        self.repo = work / "tour-repo"
        self.state = work / "state"
        self.state.mkdir()
        bin_dir = work / "bin"
        bin_dir.mkdir()
        # `aghmem` is this checkout's CLI, whichever venv runs the tests.
        shim = bin_dir / "aghmem"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m aghmem "$@"\n')
        shim.chmod(0o755)
        self.cwd = work / "shell"
        self.cwd.mkdir()
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("AGHMEM_")}
        self.env.update(
            PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            AGHMEM_HOME=str(daemon.home),
            # The CLI's default is localhost:7377 (the config's port); the
            # README's daemon listens there, this one elsewhere.
            AGHMEM_URL=daemon.url,
        )
        self.replacements = {README_ADDRESS: f"127.0.0.1:{daemon.port}", README_HOME: str(daemon.home), README_REPO: str(self.repo)}

    def as_run(self, command: str) -> str:
        for readme, here in self.replacements.items():
            command = command.replace(readme, here)
        return command

    def as_shown(self, output: str) -> str:
        """The output with this test's paths and address put back as the README's."""
        for path, readme in ((self.repo, README_REPO), (self.daemon.home, README_HOME)):
            for spelling in {str(path), os.path.realpath(path)}:
                output = output.replace(spelling, readme)
        return output.replace(self.daemon.url, README_URL)

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        env_file, cwd_file = self.state / "env", self.state / "cwd"
        script = f"{self.as_run(command)}\n__rc=$?\nenv -0 > {env_file}\npwd > {cwd_file}\nexit $__rc\n"
        result = subprocess.run(
            ["bash", "-c", script], cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
        )
        if env_file.exists():
            pairs = (item.split("=", 1) for item in env_file.read_text().split("\0") if "=" in item)
            self.env = {key: value for key, value in pairs if not key.startswith("BASH_FUNC_")}
            self.cwd = Path(cwd_file.read_text().strip())
        return result

    def settle(self) -> None:
        """Wait until the daemon lists the global memories as they are on
        disk: a file written by hand is taken in by the watcher a moment
        later (a person typing the next command gives it that moment)."""
        directory = self.daemon.home / "memory"
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            on_disk = {
                p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in directory.glob("*.md")
                if p.name != "MEMORY.md" and not p.name.startswith(("_", "."))
            }
            memories = self.daemon.get("/api/memory", params={"scope": "global", "limit": 500}).json()["memories"]
            if {m["filename"]: m["content_hash"] for m in memories} == on_disk:
                index = self.daemon.get("/api/memory/health").json()["index"]
                if not index["pending"] and not index.get("dirty"):
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"the daemon did not take in {sorted(on_disk)} within {SETTLE_TIMEOUT} s")
            time.sleep(0.02)


README_STEPS = steps((ROOT / "README.md").read_text())


@pytest.fixture
def tour(tmp_path: Path) -> Iterator[Tour]:
    if not (shutil.which("bash") and shutil.which("curl")):
        pytest.skip("the tour needs bash and curl")
    # The embedded defaults, as `aghmem serve` on a fresh machine has them.
    daemon = Daemon(tmp_path / "home", config_text="").start()
    try:
        yield Tour(daemon, tmp_path)
    finally:
        daemon.kill()


def test_the_tour_runs_as_written(tour: Tour) -> None:
    for step in README_STEPS:
        tour.settle()
        result = tour.run(step.command)
        where = f"README.md:{step.line}: {step.command}"
        assert result.returncode == 0, f"{where}\nexited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        problem = output_mismatch(step.expected, tour.as_shown(result.stdout).rstrip("\n"))
        assert problem is None, f"{where}\n{problem}"


# --- the reading and the comparing can fail ----------------------------------


def test_the_tour_is_read_whole() -> None:
    commands = [step.command for step in README_STEPS]
    assert commands[0] == f"export AGHMEM_HOME={README_HOME}"
    assert any(c.startswith("mkdir -p /tmp/tour-repo") for c in commands)
    # continuation lines belong to their command, not to its output
    events = next(step for step in README_STEPS if "sessions/s-42/events" in step.command)
    assert events.command.endswith("""{"sequence": 4, "event_type": "session.stopped", "payload": {}}]}'""")
    assert events.expected.startswith('{"session_id":"s-42"')
    loops = [step for step in README_STEPS if step.command.startswith("for ")]
    assert loops and all(step.command.rstrip().endswith("done") and step.expected == "" for step in loops)
    assert sum(1 for step in README_STEPS if step.expected.lstrip().startswith("{")) >= 6
    assert len(README_STEPS) >= 25


def test_a_readme_with_a_broken_command_is_read_as_one() -> None:
    text = f"{SECTION}\n\n```sh\n$ echo 'open\nstill open'\nopen\n$ true \\\n  && true\n```\n\n## Next\n```sh\n$ never\n```\n"
    assert [(s.command, s.expected) for s in steps(text)] == [("echo 'open\nstill open'", "open"), ("true \\\n  && true", "")]


def test_json_output_must_hold_what_the_readme_shows() -> None:
    shown = '{"applied": true, "decision": {"id": "dec_aa1ca6e7deb13e281654d143", "rule_trace": [...], ...}, "note": null}'
    real = {"applied": True, "decision": {"id": "dec_0123456789abcdef01234567", "rule_trace": [], "op": "add"}, "note": None}
    assert output_mismatch(shown, json.dumps(real)) is None
    assert "missing" in output_mismatch(shown, json.dumps({**real, "decision": {"id": "dec_0123456789abcdef01234567"}}))
    assert "boolean" in output_mismatch(shown, json.dumps({**real, "applied": "yes"}))
    assert "False" in output_mismatch(shown, json.dumps({**real, "applied": False}))
    assert "null" in output_mismatch(shown, json.dumps({**real, "note": "x"}))
    assert "not JSON" in output_mismatch(shown, "Internal Server Error")
    assert output_mismatch('{"text": "entries=1 hash=c4fb6d31…"}', '{"text": "entries=1 hash=' + "e" * 64 + '"}') is None
    assert output_mismatch('{"text": "entries=1 hash=c4fb6d31…"}', '{"text": "entries=0 hash=' + "e" * 64 + '"}')


def test_text_output_must_read_as_shown() -> None:
    shown = "registered: ws_b99e0aedb72cccd3  /tmp/tour-repo\nstatus ok at 2026-11-21T22:12:40Z\n..."
    assert output_mismatch(shown, "registered: ws_0f4f5a446df4100c  /tmp/tour-repo\nstatus ok at 2026-12-02T01:10:28Z\nmore") is None
    assert output_mismatch(shown, "already registered: ws_0f4f5a446df4100c  /tmp/tour-repo\nstatus ok at 2026-12-02T01:10:28Z")
    assert output_mismatch("status ok", "status degraded")

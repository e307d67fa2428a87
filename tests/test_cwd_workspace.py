"""The CLI works in the workspace of the current directory: run inside a
registered root (or a folder under it) without -w or --scope, a command acts
on that workspace, resolved by the daemon's one resolver (the one MCP and
hooks use) through GET /api/workspaces/resolve.

The first commands run the `aghmem` program in a subfolder; the rest run the
same CLI in this process (a program start costs more than the check)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from aghmem.faces.cli.main import main
from conftest import Daemon

AGHMEM = str(Path(sys.executable).with_name("aghmem"))


@pytest.fixture(scope="module")
def project(shared_daemon: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A registered workspace root with a folder two levels down."""
    root = tmp_path_factory.mktemp("project") / "app"
    (root / "src" / "deep").mkdir(parents=True)
    yield root, shared_daemon.workspace(root)


def run(daemon: Daemon, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGHMEM_")}
    env.update(AGHMEM_URL=daemon.url, AGHMEM_HOME=str(daemon.home))
    return subprocess.run([AGHMEM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def cli(shared_daemon: Daemon, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """`cli(cwd, *args)`: the CLI in this process, in `cwd`; a finished
    process, as `run` gives."""
    for name in [k for k in os.environ if k.startswith("AGHMEM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AGHMEM_URL", shared_daemon.url)
    monkeypatch.setenv("AGHMEM_HOME", str(shared_daemon.home))

    def call(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        monkeypatch.chdir(cwd)
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["aghmem", *args], code, out, err)

    return call


def test_the_resolver_over_http(shared_daemon: Daemon, project: tuple[Path, str], tmp_path: Path) -> None:
    root, ws = project
    found = shared_daemon.get("/api/workspaces/resolve", params={"path": str(root / "src" / "deep")}).json()
    assert found["workspace"]["id"] == ws and found["workspace"]["path"] == os.path.realpath(root)
    assert shared_daemon.get("/api/workspaces/resolve", params={"path": str(tmp_path)}).json() == {"workspace": None}
    for params, field in (({}, "path"), ({"path": "relative/dir"}, "path"), ({"path": "/x", "cwd": "/y"}, None)):
        response = shared_daemon.get("/api/workspaces/resolve", params=params)
        assert response.status_code == 400 and response.json()["code"] == "memory.validation", params
        if field:
            assert response.json()["details"]["field"] == field


def test_write_search_list_show_in_a_subfolder(shared_daemon: Daemon, project: tuple[Path, str], tmp_path: Path, cli: Any) -> None:
    root, ws = project
    deep = root / "src" / "deep"
    out = ok(run(shared_daemon, deep, "memory", "write", "-t", "project", "-n", "Build command", "-c", "Build with make all."))
    assert out.startswith("add: new memory project_build_command.md")
    assert (root / ".agh" / "memory" / "project_build_command.md").exists()

    found = ok(run(shared_daemon, deep, "search", "build", "make"))
    assert "project_build_command.md" in found and f"workspace:{ws}" in found
    assert "project_build_command.md" not in ok(cli(tmp_path, "search", "build", "make"))
    assert "project_build_command.md" in ok(cli(root, "memory", "list"))
    assert ok(cli(deep, "memory", "show", "project_build_command.md")).startswith(f"# Build command  (project, workspace:{ws})")
    assert ok(cli(deep, "scope-show")).startswith(f"selector: workspace:{ws}")
    assert ok(cli(deep, "scope-show", "--scope", "global")).startswith("selector: global")
    assert ok(cli(tmp_path, "scope-show")).startswith("selector: global")


def test_explicit_selectors_win(shared_daemon: Daemon, project: tuple[Path, str], tmp_path: Path, cli: Any) -> None:
    root, ws = project
    other_root = tmp_path / "other"
    other_root.mkdir()
    other = shared_daemon.workspace(other_root)
    assert ok(cli(root, "scope-show", "-w", other)).startswith(f"selector: workspace:{other}")
    assert ok(cli(root, "scope-show", "-a", "alice")).startswith(f"selector: agent:alice@{ws}")
    assert ok(cli(root, "scope-show", "-a", "alice", "--tier", "global")).startswith("selector: agent:alice@global")


def test_a_user_memory_stays_global_and_a_miss_says_where_it_looked(shared_daemon: Daemon, project: tuple[Path, str], cli: Any) -> None:
    root, ws = project
    out = ok(cli(root, "--json", "memory", "write", "-t", "user", "-n", "Cwd tabs", "-c", "Prefers tabs."))
    assert json.loads(out)["decision"]["scope"] == "global"
    assert (shared_daemon.home / "memory" / "user_cwd_tabs.md").exists()
    missed = cli(root, "memory", "show", "user_cwd_tabs.md")
    assert missed.returncode == 1
    assert f"looked in workspace {ws}, the current directory's; add --scope global" in missed.stderr
    assert ok(cli(root, "memory", "show", "user_cwd_tabs.md", "--scope", "global")).startswith("# Cwd tabs")


def test_commands_that_mean_every_scope_still_do(project: tuple[Path, str], cli: Any) -> None:
    root, _ = project
    assert "(all scopes)" in ok(cli(root, "reindex"))


def test_doctor_prints_the_mcp_urls(shared_daemon: Daemon, project: tuple[Path, str], tmp_path: Path, cli: Any) -> None:
    root, ws = project
    inside = ok(cli(root / "src", "doctor")).splitlines()
    assert f"MCP server: {shared_daemon.url}/mcp" in inside
    assert f"MCP server for this directory's workspace ({ws}): {shared_daemon.url}/w/{ws}/mcp" in inside
    outside = ok(cli(tmp_path, "doctor"))
    assert f"MCP server: {shared_daemon.url}/mcp" in outside and "/w/" not in outside
    as_json = json.loads(ok(cli(root, "--json", "doctor")))
    assert as_json["mcp"] == {"url": f"{shared_daemon.url}/mcp", "workspace_id": ws, "workspace_url": f"{shared_daemon.url}/w/{ws}/mcp"}

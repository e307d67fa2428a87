"""Workspaces people trip on (issue 12 §5): roots that are too broad,
a root moved with `mv`, forgetting a workspace, the .gitignore for git."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Daemon
from test_sync import found

AGHMEM = str(Path(sys.executable).with_name("aghmem"))


def cli(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGHMEM_")}
    env.update(AGHMEM_URL=daemon.url, AGHMEM_HOME=str(daemon.home))
    return subprocess.run([AGHMEM, *args], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("where", ["root", "user home", "aghmem home", "inside aghmem home", "inside a workspace's .agh"])
def test_roots_that_cannot_be_workspaces(shared_daemon: Daemon, tmp_path: Path, where: str) -> None:
    project = tmp_path / "inner"
    project.mkdir()
    shared_daemon.workspace(project)
    path = {
        "root": Path("/"),
        "user home": Path.home(),
        "aghmem home": shared_daemon.home,
        "inside aghmem home": shared_daemon.home / "memory",
        "inside a workspace's .agh": project / ".agh" / "memory",
    }[where]
    path.mkdir(parents=True, exist_ok=True)
    response = shared_daemon.post("/api/workspaces", {"path": str(path)})
    assert response.status_code == 400, response.text
    assert not (path / ".agh").exists() or where.startswith("inside a workspace")


@pytest.mark.parametrize("where", ["/proc/self", ".agh is a file"])
def test_a_root_the_daemon_cannot_write_in_is_400(shared_daemon: Daemon, tmp_path: Path, where: str) -> None:
    """Registering makes `.agh/` in the root: where that cannot be made, the
    answer says so (it was a 500), and the daemon goes on answering."""
    path = Path(where)
    if where == ".agh is a file":
        path = tmp_path / "project"
        path.mkdir()
        (path / ".agh").write_text("not a folder\n")
    response = shared_daemon.post("/api/workspaces", {"path": str(path)})
    assert response.status_code == 400 and response.json()["code"] == "memory.validation", response.text
    assert "cannot" in response.json()["message"] and ".agh" in response.json()["message"]
    assert shared_daemon.get("/api/workspaces").status_code == 200
    assert all(not ws["path"].startswith(("/proc/", str(path))) for ws in shared_daemon.get("/api/workspaces").json()["workspaces"])


def test_a_new_workspace_gets_a_gitignore_once(shared_daemon: Daemon, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    added = shared_daemon.post("/api/workspaces", {"path": str(root)}).json()
    assert added["workspace"]["gitignore_written"] is True
    ignore = (root / ".agh" / ".gitignore").read_text()
    assert "tmp/" in ignore and "memory/MEMORY.md" in ignore and "memory/_system/" in ignore
    (root / ".agh" / ".gitignore").write_text("# mine\n")
    again = shared_daemon.post("/api/workspaces", {"path": str(root)}).json()
    assert again["workspace"]["gitignore_written"] is False
    assert (root / ".agh" / ".gitignore").read_text() == "# mine\n"
    other = tmp_path / "other"
    other.mkdir()
    assert shared_daemon.post("/api/workspaces", {"path": str(other), "gitignore": False}).json()["workspace"]["gitignore_written"] is False
    assert not (other / ".agh" / ".gitignore").exists()


def test_a_moved_root_is_reported_refused_and_moved(daemon: Daemon, tmp_path: Path) -> None:
    old = tmp_path / "before"
    ws = daemon.workspace(old)
    daemon.write(type="project", workspace_id=ws, name="Build", filename="project_build.md", content="Builds run with make release.")
    shutil.move(old, tmp_path / "after")

    health = daemon.get("/api/memory/health").json()
    assert health["status"] == "degraded" and health["missing_workspaces"][0]["id"] == ws
    assert f"aghmem workspace move {ws}" in health["reason"]
    refused = daemon.post("/api/memory", {"type": "project", "workspace_id": ws, "content": "Another note."})
    assert refused.status_code == 409 and "workspace move" in refused.json()["message"]
    assert not old.exists()  # never recreated
    listed = cli(daemon, "workspace", "list")
    assert listed.returncode == 0 and "MISSING" in listed.stdout
    doctor = cli(daemon, "doctor")  # a problem, not "status degraded … no problems found"
    assert doctor.returncode == 1 and f"! workspace {ws}: root " in doctor.stdout and f"workspace move {ws} NEWPATH" in doctor.stdout

    moved = cli(daemon, "workspace", "move", ws, str(tmp_path / "after"))
    assert moved.returncode == 0, moved.stderr
    assert daemon.get("/api/memory/health").json()["missing_workspaces"] == []
    assert found(daemon, "make release", workspace_id=ws) == ["project_build.md"]
    assert daemon.get("/api/memory/project_build.md", params={"workspace_id": ws}).status_code == 200
    assert daemon.write(type="project", workspace_id=ws, content="Deploys after the build.")["applied"]
    assert not old.exists()
    # Moving to a directory that is not this workspace is refused.
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    assert cli(daemon, "workspace", "move", ws, str(stranger)).returncode == 1


def test_remove_forgets_the_memories_and_keeps_the_files(daemon: Daemon, tmp_path: Path) -> None:
    root = tmp_path / "gone"
    ws = daemon.workspace(root)
    daemon.write(type="project", workspace_id=ws, name="Lint", filename="project_lint.md", content="Lint with ruff before commits.")
    assert found(daemon, "ruff commits", workspace_id=ws) == ["project_lint.md"]
    removed = cli(daemon, "--json", "workspace", "remove", ws)
    assert removed.returncode == 0, removed.stderr
    assert daemon.get("/api/workspaces").json()["workspaces"] == []
    assert found(daemon, "ruff commits") == []
    assert (root / ".agh" / "memory" / "project_lint.md").exists()
    assert daemon.delete(f"/api/workspaces/{ws}").status_code == 404
    assert daemon.delete("/api/workspaces/resolve").status_code == 405
    # Registered again, its memories come back from the files.
    assert daemon.workspace(root) == ws
    assert found(daemon, "ruff commits", workspace_id=ws) == ["project_lint.md"]

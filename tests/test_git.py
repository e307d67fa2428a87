"""Teams share workspace memory through git (issue 12 §5): a checkout that
changes hundreds of files settles exactly, and a merge conflict left in a
memory file is reported, never indexed half."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path
from typing import Any

from aghmem.storage.memory_md import INDEX_MAX_LINES
from conftest import Daemon, wait_for
from test_sync import MEMORY, found

FILES = 240


def git(root: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "HOME": str(root.parent), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True).stdout


def listed(daemon: Daemon, ws: str) -> dict[str, str]:
    memories = daemon.get("/api/memory", params={"workspace_id": ws, "scope": "workspace", "limit": 500}).json()["memories"]
    return {m["filename"]: m["content_hash"] for m in memories}


def on_disk(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.glob("*.md") if p.name != "MEMORY.md"}


def test_a_checkout_of_hundreds_of_files_settles_exactly(daemon: Daemon, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    memory = root / ".agh" / "memory"
    memory.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for i in range(FILES):
        (memory / f"project_note_{i:03d}.md").write_text(MEMORY.format(name=f"Note {i}", body=f"Main branch note {i} about kestrels.").replace("type: user", "type: project"))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "main notes")
    git(root, "checkout", "-q", "-b", "feature")
    for i in range(0, FILES, 2):  # change half
        (memory / f"project_note_{i:03d}.md").write_text(MEMORY.format(name=f"Note {i}", body=f"Feature note {i} about ospreys.").replace("type: user", "type: project"))
    for i in range(1, 60, 2):  # delete some
        (memory / f"project_note_{i:03d}.md").unlink()
    for i in range(40):  # add some
        (memory / f"project_extra_{i:03d}.md").write_text(MEMORY.format(name=f"Extra {i}", body=f"Extra feature note {i}.").replace("type: user", "type: project"))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "feature notes")
    git(root, "checkout", "-q", "main")

    ws = daemon.workspace(root)
    wait_for(lambda: listed(daemon, ws) == on_disk(memory))
    before = len(daemon.get("/api/memory/decisions", params={"limit": 500}).json()["decisions"])

    git(root, "checkout", "-q", "feature")
    expected = on_disk(memory)
    wait_for(lambda: listed(daemon, ws) == expected, timeout=60)
    # MEMORY.md: the newest memories, at most 200 lines, none that is gone.
    in_index = wait_for(lambda: (names := set(re.findall(r"\]\(([^)]+)\)", (memory / "MEMORY.md").read_text())))
                        and len(names) == min(len(expected), INDEX_MAX_LINES) and names)
    assert in_index <= set(expected)
    decisions = daemon.get("/api/memory/decisions", params={"limit": 500}).json()["decisions"][: -before or None]
    changed = FILES // 2 + 30 + 40
    assert len(decisions) == changed and {d["origin"] for d in decisions} == {"file"}
    assert found(daemon, "ospreys", workspace_id=ws)
    assert not found(daemon, "kestrels note 0", workspace_id=ws) or "project_note_000.md" not in found(daemon, "kestrels", workspace_id=ws)
    health = wait_for(lambda: (h := daemon.get("/api/memory/health").json())["index"]["dirty"] == 0 and h)
    assert health["orphaned_files"] == 0 and health["invalid_files"] == []


def test_a_merge_conflict_is_reported_and_never_indexed(daemon: Daemon, tmp_path: Path) -> Any:
    root = tmp_path / "repo"
    memory = root / ".agh" / "memory"
    memory.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    path = memory / "project_db.md"
    path.write_text(MEMORY.format(name="Database", body="The app uses Postgres 15.").replace("type: user", "type: project"))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "db")
    git(root, "checkout", "-q", "-b", "other")
    path.write_text(MEMORY.format(name="Database", body="The app uses MariaDB 11.").replace("type: user", "type: project"))
    git(root, "commit", "-q", "-am", "mariadb")
    git(root, "checkout", "-q", "main")
    path.write_text(MEMORY.format(name="Database", body="The app uses Postgres 16.").replace("type: user", "type: project"))
    git(root, "commit", "-q", "-am", "pg16")
    ws = daemon.workspace(root)
    assert found(daemon, "postgres", workspace_id=ws) == ["project_db.md"]

    subprocess.run(["git", "merge", "-q", "other"], cwd=root, capture_output=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                   "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"})
    assert "<<<<<<<" in path.read_text()
    health = wait_for(lambda: (h := daemon.get("/api/memory/health").json())["invalid_files"] and h)
    assert health["invalid_files"][0]["path"] == str(path) and "merge conflict" in health["invalid_files"][0]["error"]
    assert found(daemon, "mariadb", workspace_id=ws) == [] and found(daemon, "postgres", workspace_id=ws) == []
    refused = daemon.patch("/api/memory/project_db.md", {"content": "x y"}, params={"workspace_id": ws})
    assert refused.status_code == 409 and "merge conflict" in refused.json()["message"]

    path.write_text(MEMORY.format(name="Database", body="The app uses Postgres 16, MariaDB for the legacy reports.").replace("type: user", "type: project"))
    wait_for(lambda: found(daemon, "mariadb legacy", workspace_id=ws) == ["project_db.md"])
    assert daemon.get("/api/memory/health").json()["invalid_files"] == []

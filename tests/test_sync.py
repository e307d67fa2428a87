"""Hand edits through the real filesystem, with the daemon running or not."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from conftest import Daemon, wait_for

MEMORY = "---\nname: {name}\ntype: user\n---\n{body}\n"



def found(daemon: Daemon, query: str, **selector: str) -> list[str]:
    response = daemon.post("/api/memory/search", {"query_text": query, "allow_trivial_query": True, "top_k": 20, **selector})
    assert response.status_code == 200, response.text
    return [r["memory"]["filename"] for r in response.json()["results"]]


def last_decision(daemon: Daemon) -> dict[str, Any]:
    return daemon.get("/api/memory/decisions", params={"limit": 1}).json()["decisions"][0]


def test_create_edit_rename_delete_by_hand(daemon: Daemon) -> None:
    memory = daemon.home / "memory"
    path = memory / "user_kayak.md"
    path.write_text(MEMORY.format(name="Kayak", body="Paddles a sea kayak on weekends."))
    wait_for(lambda: found(daemon, "kayak") == ["user_kayak.md"])
    created = last_decision(daemon)
    assert (created["op"], created["origin"], created["source"]) == ("add", "file", "observed")
    assert "- [Kayak](user_kayak.md)" in (memory / "MEMORY.md").read_text()

    path.write_text(MEMORY.format(name="Kayak", body="Paddles a canoe these days."))
    wait_for(lambda: found(daemon, "canoe") == ["user_kayak.md"])
    assert found(daemon, "sea kayak paddles weekends") == ["user_kayak.md"]  # the name still matches
    assert "weekends" not in daemon.get("/api/memory/user_kayak.md").json()["memory"]["content"]
    edited = last_decision(daemon)
    assert edited["op"] == "update" and "sea kayak" in edited["prior_content"]

    os.rename(path, memory / "user_boat.md")
    wait_for(lambda: found(daemon, "canoe") == ["user_boat.md"])
    assert "user_kayak.md" not in (memory / "MEMORY.md").read_text()

    (memory / "user_boat.md").unlink()
    wait_for(lambda: found(daemon, "canoe") == [])
    deleted = last_decision(daemon)
    assert deleted["op"] == "delete" and "canoe" in deleted["prior_content"]
    # A hand deletion is undone like any other decision.
    assert daemon.post(f"/api/memory/decisions/{deleted['id']}/revert", {}).status_code == 200
    assert "canoe" in (memory / "user_boat.md").read_text()
    wait_for(lambda: found(daemon, "canoe") == ["user_boat.md"])


def test_revert_of_a_hand_edit_restores_the_prior_text(daemon: Daemon) -> None:
    daemon.write(type="user", name="Tea", content="Drinks green tea.")
    path = daemon.home / "memory" / "user_tea.md"
    before = path.read_bytes()
    path.write_text(MEMORY.format(name="Tea", body="Drinks black tea."))
    edit = wait_for(lambda: (d := last_decision(daemon))["origin"] == "file" and d)
    assert daemon.post(f"/api/memory/decisions/{edit['id']}/revert", {}).status_code == 200
    assert path.read_bytes() == before
    wait_for(lambda: found(daemon, "green tea") == ["user_tea.md"])


def test_broken_frontmatter_is_reported_then_comes_back(daemon: Daemon) -> None:
    path = daemon.home / "memory" / "user_bike.md"
    path.write_text(MEMORY.format(name="Bike", body="Rides a steel touring bike."))
    wait_for(lambda: found(daemon, "touring bike") == ["user_bike.md"])
    path.write_text("---\nname: [Bike\ntype: user\n---\nRides a steel touring bike.\n")
    health = wait_for(lambda: (h := daemon.get("/api/memory/health").json())["status"] == "degraded" and h)
    assert health["invalid_files"] == [{"path": str(path), "error": health["invalid_files"][0]["error"]}]
    assert "YAML" in health["invalid_files"][0]["error"]
    assert found(daemon, "touring bike") == []
    path.write_text(MEMORY.format(name="Bike", body="Rides a steel touring bike."))
    wait_for(lambda: found(daemon, "touring bike") == ["user_bike.md"])
    assert daemon.get("/api/memory/health").json()["status"] == "ok"


def test_editor_save_through_temp_file_and_rename(daemon: Daemon) -> None:
    memory = daemon.home / "memory"
    daemon.write(type="user", name="Shell", content="Uses zsh with the powerlevel10k prompt.")
    # vim-style: write a swap/backup file, then rename it over the original.
    tmp = memory / ".user_shell.md.swp"
    tmp.write_text(MEMORY.format(name="Shell", body="Switched to fish with the tidewater theme."))
    os.replace(tmp, memory / "user_shell.md")
    backup = memory / "user_shell.md~"
    backup.write_text("an editor backup, not a memory")
    # (A word only the new text has: "fish" alone also matches "zsh" by trigram.)
    wait_for(lambda: found(daemon, "tidewater") == ["user_shell.md"])
    assert found(daemon, "powerlevel10k prompt") == []
    updates = [d for d in daemon.get("/api/memory/decisions").json()["decisions"] if d["origin"] == "file"]
    assert [d["op"] for d in updates] == ["update"]


def test_edits_while_stopped_are_recorded_at_start(daemon: Daemon) -> None:
    memory = daemon.home / "memory"
    daemon.write(type="user", name="Old", content="Written before the stop.")
    daemon.write(type="user", name="Gone", content="Deleted while stopped.")
    daemon.stop()
    (memory / "user_old.md").write_text(MEMORY.format(name="Old", body="Edited while the daemon was stopped."))
    (memory / "user_gone.md").unlink()
    (memory / "user_new.md").write_text(MEMORY.format(name="New", body="Created while the daemon was stopped."))
    daemon.start()
    assert found(daemon, "stopped daemon") == ["user_new.md", "user_old.md"] or sorted(found(daemon, "stopped daemon")) == ["user_new.md", "user_old.md"]
    assert "user_gone.md" not in found(daemon, "deleted")
    observed = {(d["op"], d["target_filename"]) for d in daemon.get("/api/memory/decisions").json()["decisions"] if d["source"] == "observed"}
    assert observed == {("update", "user_old.md"), ("delete", "user_gone.md"), ("add", "user_new.md")}


def test_missing_or_corrupt_index_is_rebuilt(daemon: Daemon) -> None:
    for i in range(30):
        daemon.write(type="user", name=f"Fact {i}", content=f"Fact number {i} about the glacier survey.")
    daemon.stop()
    shutil.rmtree(daemon.home / "state" / "index")
    daemon.start()
    assert len(found(daemon, "glacier survey")) == 20
    assert daemon.get("/api/memory/health").json()["indexed_files"] == 30
    daemon.stop()
    (daemon.home / "state" / "index" / "meta.json").write_text("{ not json")
    daemon.start()
    assert len(found(daemon, "glacier survey")) == 20
    assert "rebuilding" in daemon.log()


def test_workspace_and_agent_added_while_running_are_watched(daemon: Daemon, tmp_path: Path) -> None:
    ws = daemon.workspace(tmp_path / "repo")
    ws_memory = tmp_path / "repo" / ".agh" / "memory"
    ws_memory.mkdir(parents=True, exist_ok=True)
    (ws_memory / "project_ci.md").write_text("---\nname: CI\ntype: project\n---\nCI runs on every push to main.\n")
    wait_for(lambda: found(daemon, "every push", workspace_id=ws) == ["project_ci.md"])
    agent_dir = daemon.home / "agents" / "scout" / "memory"
    agent_dir.mkdir(parents=True)
    (agent_dir / "user_route.md").write_text(MEMORY.format(name="Route", body="The scout prefers the northern route."))
    wait_for(lambda: found(daemon, "northern route", agent_name="scout") == ["user_route.md"])
    assert found(daemon, "northern route") == []  # not visible without the agent


def test_read_your_writes_under_8_concurrent_writers(daemon: Daemon) -> None:
    misses: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def writer(w: int) -> None:
        try:
            with httpx.Client(base_url=daemon.url, timeout=30) as http:
                barrier.wait()
                for i in range(10):
                    token = f"marker{w}x{i}zz"
                    written = http.post("/api/memory", json={"type": "user", "name": f"W{w} {i}", "content": f"Note {token}."})
                    assert written.status_code == 200, written.text
                    hits = http.post("/api/memory/search", json={"query_text": token, "allow_trivial_query": True}).json()
                    # Others keep writing, so `pending` may be > 0 again; but
                    # this writer's own change must be searchable already.
                    assert set(hits["index"]) >= {"generation", "pending", "last_sync_at"}
                    if not any(token in r["snippet"] for r in hits["results"]):
                        misses.append(token)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert misses == []


def test_touch_updates_the_age_without_a_decision(daemon: Daemon) -> None:
    daemon.write(type="user", name="Old habit", content="Keeps a paper notebook.")
    path = daemon.home / "memory" / "user_old_habit.md"
    count = len(daemon.get("/api/memory/decisions").json()["decisions"])
    sixty_days_ago = time.time() - 60 * 86400
    os.utime(path, (sixty_days_ago, sixty_days_ago))
    result = wait_for(lambda: (r := daemon.post("/api/memory/search", {"query_text": "paper notebook"}).json()["results"])
                      and r[0]["memory"]["staleness_banner"] and r)
    assert "60 days" in result[0]["memory"]["staleness_banner"]
    assert len(daemon.get("/api/memory/decisions").json()["decisions"]) == count


def test_scans_spare_temp_files_of_writes_in_progress(daemon: Daemon) -> None:
    memory = daemon.home / "memory"
    fresh = memory / ".user_x.md.tmp-1-abcd"
    fresh.write_text("a write in progress")
    old = memory / ".user_y.md.tmp-1-ef01"
    old.write_text("left by a crash long ago")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert daemon.post("/api/memory/reindex", {}).status_code == 200  # a full scan, as the periodic one
    assert fresh.exists() and not old.exists()
    daemon.stop()
    daemon.start()  # at start-up no write is under way: every temp file goes
    assert not fresh.exists()


def test_a_memory_folder_deleted_and_made_again_is_watched_again(daemon: Daemon) -> None:
    """A folder replaced wholesale (deleted and made again, a clone put in
    its place): what is written there afterwards is seen as it happens."""
    memory = daemon.home / "memory"
    (memory / "user_before.md").write_text(MEMORY.format(name="Before", body="Written before the folder went away."))
    wait_for(lambda: found(daemon, "folder went away") == ["user_before.md"])
    shutil.rmtree(memory)
    wait_for(lambda: found(daemon, "folder went away") == [])
    assert not memory.exists()  # recording the deletions makes no daily log in it
    memory.mkdir()
    (memory / "user_after.md").write_text(MEMORY.format(name="After", body="Gardening notes: tomatoes need stakes."))
    wait_for(lambda: found(daemon, "tomatoes stakes") == ["user_after.md"])
    (memory / "user_later.md").write_text(MEMORY.format(name="Later", body="Cycling notes: the chain needs oil."))
    wait_for(lambda: found(daemon, "chain oil") == ["user_later.md"])

"""Selectors, workspaces, and scope isolation through every read route."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from conftest import Daemon


@pytest.fixture
def world(daemon: Daemon, tmp_path: Path) -> dict[str, Any]:
    """Two workspaces, two agents, one memory in each of the six scopes."""
    w1 = daemon.workspace(tmp_path / "repo1")
    w2 = daemon.workspace(tmp_path / "repo2")
    scopes = {
        "global": {},
        "w1": {"workspace_id": w1, "scope": "workspace"},
        "w2": {"workspace_id": w2, "scope": "workspace"},
        "a_global": {"agent_name": "alice"},
        "b_global": {"agent_name": "bob"},
        "a_w1": {"agent_name": "alice", "workspace_id": w1},
        "b_w1": {"agent_name": "bob", "workspace_id": w1},
    }
    for label, selector in scopes.items():
        daemon.write(**selector, type="user", name=f"Secret of {label}", content=f"The secret of {label} is here.")
    return {"w1": w1, "w2": w2, "scopes": scopes, "root1": tmp_path / "repo1", "root2": tmp_path / "repo2"}


def names(memories: list[dict[str, Any]]) -> set[str]:
    return {m["name"] for m in memories}


def test_files_land_in_the_layout_directories(daemon: Daemon, world: dict[str, Any]) -> None:
    home, root1 = daemon.home, world["root1"]
    assert (home / "memory" / "user_secret_of_global.md").exists()
    assert (root1 / ".agh" / "memory" / "user_secret_of_w1.md").exists()
    assert (home / "agents" / "alice" / "memory" / "user_secret_of_a_global.md").exists()
    assert (root1 / ".agh" / "agents" / "alice" / "memory" / "user_secret_of_a_w1.md").exists()
    assert tomllib.loads((root1 / ".agh" / "workspace.toml").read_text())["id"] == world["w1"]


def test_list_is_exactly_the_named_scope(daemon: Daemon, world: dict[str, Any]) -> None:
    for label, selector in world["scopes"].items():
        listed = daemon.get("/api/memory", params=selector).json()["memories"]
        assert names(listed) == {f"Secret of {label}"}, label


def test_reads_never_cross_scopes(daemon: Daemon, world: dict[str, Any]) -> None:
    # Agent bob cannot read alice's file by naming it, in either tier.
    for tier_selector in ({"agent_name": "bob"}, {"agent_name": "bob", "workspace_id": world["w1"]}):
        for filename in ("user_secret_of_a_global.md", "user_secret_of_a_w1.md"):
            response = daemon.get(f"/api/memory/{filename}", params=tier_selector)
            assert response.status_code == 404
    # Workspace 2 cannot read workspace 1's file.
    assert daemon.get("/api/memory/user_secret_of_w1.md", params={"workspace_id": world["w2"]}).status_code == 404
    # Writes and deletes are scoped the same way.
    assert daemon.patch("/api/memory/user_secret_of_w1.md", {"content": "x"}, params={"workspace_id": world["w2"]}).status_code == 404
    gone = daemon.delete("/api/memory/user_secret_of_a_w1.md", params={"agent_name": "bob", "workspace_id": world["w1"]})
    assert gone.json()["decision"]["op"] == "noop"
    assert (world["root1"] / ".agh" / "agents" / "alice" / "memory" / "user_secret_of_a_w1.md").exists()


def test_decisions_and_history_are_scoped(daemon: Daemon, world: dict[str, Any]) -> None:
    for label, selector in world["scopes"].items():
        selector = selector or {"scope": "global"}
        for route, key in (("/api/memory/decisions", "decisions"), ("/api/memory/history", "operations")):
            items = daemon.get(route, params=selector).json()[key]
            assert len(items) == 1, (label, route)
            assert items[0]["filename" if key == "operations" else "target_filename"] == f"user_secret_of_{label}.md"
    # Without a selector: the operator's view of everything.
    assert len(daemon.get("/api/memory/decisions").json()["decisions"]) == 7


def test_scope_show_lists_visible_scopes_deepest_first(daemon: Daemon, world: dict[str, Any]) -> None:
    w1 = world["w1"]
    shown = daemon.get("/api/memory/scope-show", params={"agent_name": "alice", "workspace_id": w1}).json()
    assert shown["selector"] == {"scope": "agent", "workspace_id": w1, "agent_name": "alice", "agent_tier": "workspace"}
    assert [(p["scope"], p["agent_tier"], p["workspace_id"]) for p in shown["precedence"]] == [
        ("agent", "workspace", w1),
        ("agent", "global", None),
        ("workspace", None, w1),
        ("global", None, None),
    ]
    roots = shown["roots"]
    assert roots["global"] == str(daemon.home / "memory")
    assert roots["agent_workspace"] == str(world["root1"].resolve() / ".agh" / "agents" / "alice" / "memory")
    assert "bob" not in str(roots) and world["w2"] not in str(shown)


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, ("global", None, None, None)),
        ({"workspace_id": "W"}, ("workspace", "W", None, None)),
        ({"agent_name": "alice"}, ("agent", None, "alice", "global")),
        ({"agent_name": "alice", "workspace_id": "W"}, ("agent", "W", "alice", "workspace")),
        ({"agent_name": "alice", "workspace_id": "W", "agent_tier": "global"}, ("agent", None, "alice", "global")),
    ],
)
def test_selector_inference(daemon: Daemon, world: dict[str, Any], params: dict[str, str], expected: tuple) -> None:
    params = {k: (world["w1"] if v == "W" else v) for k, v in params.items()}
    expected = tuple(world["w1"] if v == "W" else v for v in expected)
    sel = daemon.get("/api/memory/scope-show", params=params).json()["selector"]
    assert (sel["scope"], sel["workspace_id"], sel["agent_name"], sel["agent_tier"]) == expected


@pytest.mark.parametrize(
    "body, message",
    [
        ({"type": "project", "name": "P", "content": "c"}, "needs a workspace_id"),
        ({"type": "user", "name": "P", "content": "c", "scope": "workspace"}, "needs a workspace_id"),
        ({"type": "user", "name": "P", "content": "c", "scope": "agent"}, "needs an agent_name"),
        ({"type": "user", "name": "P", "content": "c", "agent_name": "a", "agent_tier": "workspace"}, "needs a workspace_id"),
        ({"type": "user", "name": "P", "content": "c", "scope": "galaxy"}, "scope must be one of"),
        ({"type": "user", "name": "P", "content": "c", "agent_name": "../x"}, "agent_name"),
        ({"type": "user", "name": "P", "content": "c", "workspace_id": "../../etc"}, "workspace_id"),
    ],
)
def test_bad_selectors_are_400(daemon: Daemon, body: dict[str, Any], message: str) -> None:
    response = daemon.post("/api/memory", body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "memory.validation" and message in response.json()["message"]


def test_project_type_defaults_to_workspace_with_workspace_id(daemon: Daemon, world: dict[str, Any]) -> None:
    result = daemon.write(type="project", name="Build", content="make build", workspace_id=world["w1"])
    assert result["decision"]["scope"] == "workspace"
    assert (world["root1"] / ".agh" / "memory" / "project_build.md").exists()


def test_unknown_workspace_is_404(daemon: Daemon) -> None:
    response = daemon.get("/api/memory", params={"workspace_id": "ws_0123456789abcdef"})
    assert response.status_code == 404 and "unknown workspace" in response.json()["message"]


def test_workspace_registration_is_stable(daemon: Daemon, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    first = daemon.post("/api/workspaces", {"path": str(root)})
    assert first.status_code == 201 and first.json()["created"] is True
    again = daemon.post("/api/workspaces", {"path": str(root)})
    assert again.status_code == 200 and again.json()["workspace"]["id"] == first.json()["workspace"]["id"]
    listed = daemon.get("/api/workspaces").json()["workspaces"]
    assert [w["id"] for w in listed] == [first.json()["workspace"]["id"]]
    # The registry survives a restart, and a pre-existing id is adopted.
    other = tmp_path / "cloned"
    (other / ".agh").mkdir(parents=True)
    (other / ".agh" / "workspace.toml").write_text('id = "ws_handmade1"\n')
    daemon.restart()
    assert daemon.post("/api/workspaces", {"path": str(other)}).json()["workspace"]["id"] == "ws_handmade1"
    assert len(daemon.get("/api/workspaces").json()["workspaces"]) == 2


def test_workspace_copy_with_the_same_id_is_a_conflict(daemon: Daemon, tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name / ".agh").mkdir(parents=True)
        (tmp_path / name / ".agh" / "workspace.toml").write_text('id = "ws_twin1234"\n')
    assert daemon.post("/api/workspaces", {"path": str(tmp_path / "a")}).status_code == 201
    response = daemon.post("/api/workspaces", {"path": str(tmp_path / "b")})
    assert response.status_code == 409 and "already registered" in response.json()["message"]


@pytest.mark.parametrize(
    "path, message",
    [("relative/dir", "absolute"), ("/does/not/exist", "not an existing directory"), ("/tmp/../etc", "'..'"), (17, "string")],
)
def test_bad_workspace_paths(daemon: Daemon, path: Any, message: str) -> None:
    response = daemon.post("/api/workspaces", {"path": path})
    assert response.status_code == 400 and message in response.json()["message"]


def test_workspace_without_auto_create(make_daemon: Any, tmp_path: Path) -> None:
    d = make_daemon("[workspace]\nauto_create = false\n")
    (tmp_path / "plain").mkdir()
    response = d.post("/api/workspaces", {"path": str(tmp_path / "plain")})
    assert response.status_code == 400 and "auto_create is off" in response.json()["message"]
    assert not (tmp_path / "plain" / ".agh").exists()

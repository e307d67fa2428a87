"""The CF surface after a restart with the derived state gone (files are
the truth), and its bearer handling (CF-25)."""

from __future__ import annotations

import shutil
from typing import Any

from cf_support import CF_CONFIG, base, ok, profile_path, v4_error

from aghmem.testing import Daemon


def test_restart_with_derived_state_deleted(make_daemon: Any) -> None:
    """Stop, delete the SQLite catalog, the index and the workspace registry,
    start again: namespaces, profiles and memories all come back from the files."""
    daemon: Daemon = make_daemon(CF_CONFIG)
    ns = ok(daemon.post(f"{base()}/namespaces", {"name": "keep-ns"}))["result"]
    ok(daemon.post(f"{base()}/namespaces", {"name": "other-ns"}))
    alice, odd = profile_path("keep-ns", "alice"), profile_path("keep-ns", "Mr. Odd Name")
    made = [
        ok(daemon.post(alice + "/remember", {"content": "The user prefers concise answers.", "sessionId": "s1"}))["result"],
        ok(daemon.post(alice + "/remember", {"content": "Alice works on the billing team."}))["result"],
        ok(daemon.post(odd + "/remember", {"content": "Deployed the billing API on 2026-04-15."}))["result"],
    ]
    before = {p: ok(daemon.get(p + "/memories"))["result"] for p in (alice, odd)}
    summary = ok(daemon.post(alice + "/summary", {}))["result"]["summary"]
    daemon.stop()

    state = daemon.home / "state"
    for leftover in [*state.glob("aghmem.db*"), daemon.home / "workspaces.toml"]:
        leftover.unlink()
    shutil.rmtree(state / "index")
    daemon.start()

    assert ok(daemon.get(f"{base()}/namespaces/keep-ns"))["result"] == ns
    assert [n["name"] for n in ok(daemon.get(f"{base()}/namespaces"))["result"]] == ["keep-ns", "other-ns"]
    for path, memories in before.items():
        assert ok(daemon.get(path + "/memories"))["result"] == memories
    for memory in made[:2]:
        assert ok(daemon.get(f"{alice}/memories/{memory['id']}"))["result"] == memory
    assert ok(daemon.get(f"{odd}/memories/{made[2]['id']}"))["result"] == made[2]
    assert ok(daemon.post(alice + "/summary", {}))["result"]["summary"] == summary
    assert "ws_" + ns["id"].lower() in [w["id"] for w in daemon.get("/api/workspaces").json()["workspaces"]]
    # A repeat is still a no-op (the duplicate rule reads the rebuilt catalog).
    again = ok(daemon.post(alice + "/remember", {"content": "The user prefers concise answers.", "sessionId": "s1"}))["result"]
    assert again == made[0]


def test_cf25_tokens(make_daemon: Any) -> None:
    """CF-25: with server.token, CF routes want it (401 V4 10000 with
    WWW-Authenticate); a CF token opens CF routes only."""
    daemon: Daemon = make_daemon(CF_CONFIG.replace("[compat.cf]\n", '[compat.cf]\ntokens = ["c"]\n') + '[server]\ntoken = "t"\n')
    url = f"{base()}/namespaces"
    anonymous = daemon.http.get(url, headers={"Authorization": ""})
    v4_error(anonymous, 401, 10000, "Authentication error")
    assert anonymous.headers["www-authenticate"] == "Bearer"
    v4_error(daemon.http.get(url, headers={"Authorization": "Bearer x"}), 401, 10000)
    ok(daemon.http.get(url, headers={"Authorization": "Bearer t"}))
    ok(daemon.http.get(url, headers={"Authorization": "Bearer c"}))
    native = daemon.http.get("/api/memory", headers={"Authorization": "Bearer c"})
    assert native.status_code == 401 and native.json()["code"] == "memory.unauthorized"
    refused = daemon.http.get(url, headers={"Authorization": "Bearer c", "Host": "evil.example"})
    v4_error(refused, 403, 10000)

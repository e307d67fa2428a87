"""The recall pipeline of DESIGN §7, rule by rule, over real HTTP."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from aghmem.config import IndexConfig
from conftest import FAST_CONFIG, Daemon


def search(daemon: Daemon, query: str, **body: Any) -> dict[str, Any]:
    response = daemon.post("/api/memory/search", {"query_text": query, **body})
    assert response.status_code == 200, response.text
    return response.json()


def names(result: dict[str, Any]) -> list[str]:
    return [r["memory"]["name"] for r in result["results"]]


# --- the gate and the views ------------------------------------------------------


def test_trivial_gate(daemon: Daemon) -> None:
    # The gate is for implicit recall (a runtime's turn).
    daemon.write(type="user", name="Greeting", content="Says thanks a lot at the end of a session.")
    skipped = search(daemon, "ok thanks", mode="implicit")
    assert skipped["results"] == [] and skipped["skipped_reason"] == "trivial_query"
    assert skipped["recall"]["header"]["text"].startswith("AGH memory recall v1 entries=0 hash=")
    assert search(daemon, "thanks", mode="implicit")["skipped_reason"] == "trivial_query"
    assert names(search(daemon, "ok thanks", mode="implicit", allow_trivial_query=True)) == ["Greeting"]
    assert search(daemon, "session thanks", mode="implicit")["skipped_reason"] == "trivial_query"  # "thanks" is filler
    assert names(search(daemon, "thanks end session", mode="implicit")) == ["Greeting"]  # two real tokens: not trivial
    daemon.write(type="user", name="東京", content="東京タワーの近くに住んでいる。")
    assert search(daemon, "東京タワー", mode="implicit")["skipped_reason"] is None  # one non-ASCII token of ≥3 characters


def test_explicit_search_is_not_gated(daemon: Daemon) -> None:
    daemon.write(type="user", name="Staging database", content="The staging database listens on port 5433.")
    # A plain HTTP search is explicit: the lone word finds its memory.
    assert names(search(daemon, "staging")) == ["Staging database"]
    assert names(search(daemon, "staging", mode="explicit")) == ["Staging database"]
    assert names(search(daemon, "staging", explicit=True)) == ["Staging database"]
    implicit = search(daemon, "staging", mode="implicit", session_id="s", turn_seq=1)
    assert implicit["results"] == [] and implicit["skipped_reason"] == "trivial_query"
    assert daemon.get("/api/memory/recall-traces/s/1").json()["trace"]["options"]["mode"] == "implicit"
    assert names(search(daemon, "staging", mode="implicit", allow_trivial_query=True)) == ["Staging database"]
    assert names(search(daemon, "staging", explicit=False, allow_trivial_query=True)) == ["Staging database"]
    assert search(daemon, "staging", explicit=False)["skipped_reason"] == "trivial_query"  # not explicit: implicit
    for bad in ({"mode": "loud"}, {"mode": "implicit", "explicit": True}):
        response = daemon.post("/api/memory/search", {"query_text": "staging", **bad})
        assert response.status_code == 400 and response.json()["code"] == "memory.validation"


def test_any_language_and_code_identifiers(daemon: Daemon) -> None:
    daemon.write(type="user", name="回答风格", content="我喜欢简洁的回答")
    daemon.write(type="user", name="住まい", content="東京タワーの近くに住んでいる。")
    daemon.write(type="user", name="Lookup helper", content="Call getUserById(id) from src/users/user_service.py.")
    daemon.write(type="user", name="Coffee", content="Orders a café au lait every morning.")
    assert names(search(daemon, "简洁的回答")) == ["回答风格"]
    assert names(search(daemon, "東京タワー"))[0] == "住まい"
    assert names(search(daemon, "user by id"))[0] == "Lookup helper"
    assert names(search(daemon, "user service", allow_trivial_query=True))[0] == "Lookup helper"
    assert names(search(daemon, "cafe", allow_trivial_query=True))[0] == "Coffee"
    assert names(search(daemon, "CAFÉ AU LAIT"))[0] == "Coffee"


def test_trigram_view_catches_typos(daemon: Daemon) -> None:
    daemon.write(type="user", name="Deploys", content="Deployment happens through the staging pipeline.")
    daemon.write(type="user", name="Lunch", content="Lunch is at noon in the canteen.")
    # A typo next to a word the memory holds: the trigrams rank it, the word is its evidence.
    result = search(daemon, "deploymnet staging")
    assert names(result) == ["Deploys"]
    why = result["results"][0]["why_recalled"]
    assert any(w.startswith("bm25_trigram: rank 1") for w in why)
    # An unseen term weighs 3× a term one memory holds: 1 / (1 + 3).
    assert why[-1] == "evidence: 0.25 (staging; missing: deploymnet)" and result["results"][0]["evidence"] == 0.25
    # Typos alone share letters, not terms: a trigram-only match never stands alone.
    alone = search(daemon, "deploymnet stagin")
    assert alone["results"] == [] and alone["skipped_reason"] == "no_relevant_memory"
    assert alone["note"] == "no memory holds any of the query's terms"
    assert search(daemon, "deploymnet stagin", mode="implicit")["skipped_reason"] == "no_relevant_memory"


# --- filters --------------------------------------------------------------------------


def test_already_surfaced_and_session_filters(daemon: Daemon) -> None:
    first = daemon.write(type="user", name="Rust", content="Writes Rust for the storage engine.")["decision"]
    daemon.write(type="user", name="Rust style", content="Rust code uses clippy pedantic lints.")
    both = search(daemon, "rust code storage")
    ids = {r["memory"]["filename"]: r["memory"]["id"] for r in both["results"]}
    assert len(ids) == 2
    hidden = search(daemon, "rust code storage", already_surfaced=[ids[first["target_filename"]]])
    assert names(hidden) == ["Rust style"]
    shown = search(daemon, "rust code storage", already_surfaced=[ids["user_rust.md"]], include_already_surfaced=True)
    assert {r["memory"]["name"]: r["already_shown"] for r in shown["results"]} == {"Rust": True, "Rust style": False}
    # A session's earlier turns count as surfaced.
    turn1 = search(daemon, "rust code storage", session_id="s-1", turn_seq=1, top_k=1)
    assert len(names(turn1)) == 1
    turn2 = search(daemon, "rust code storage", session_id="s-1", turn_seq=2)
    assert names(turn2) == sorted({"Rust", "Rust style"} - set(names(turn1)))
    assert sorted(names(search(daemon, "rust code storage", session_id="s-2"))) == ["Rust", "Rust style"]


def test_system_files_need_include_system(daemon: Daemon) -> None:
    (daemon.home / "memory" / "_system_notes.md").write_text("---\nname: Internal\ntype: user\n---\nInternal bookkeeping ledger.\n")
    daemon.write(type="user", name="Ledger", content="Keeps a household ledger.")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(search(daemon, "ledger", allow_trivial_query=True, include_system=True)["results"]) < 2:
        time.sleep(0.05)
    assert names(search(daemon, "ledger", allow_trivial_query=True)) == ["Ledger"]
    with_system = search(daemon, "ledger", allow_trivial_query=True, include_system=True)
    assert sorted(names(with_system)) == ["Internal", "Ledger"]
    assert [r["memory"]["system_managed"] for r in with_system["results"] if r["memory"]["name"] == "Internal"] == [True]
    assert "_system_notes" not in (daemon.home / "memory" / "MEMORY.md").read_text()


# --- fusion and order ---------------------------------------------------------------------


def test_weighted_fusion_terms_follow_the_config(make_daemon: Any) -> None:
    d = make_daemon(FAST_CONFIG + "[recall.weights]\nbm25_unicode = 0.5\nbm25_trigram = 0.25\nrecency = 0.2\nrecall_signal = 0.05\n")
    d.write(type="user", name="Garden", content="Grows tomatoes in the garden.")
    result = search(d, "tomatoes garden")["results"][0]
    # Rank 1 in both views, written just now (recency ≈ 1), never recalled.
    assert result["score"] == pytest.approx(0.5 + 0.25 + 0.2, abs=0.001)
    assert result["why_recalled"][0] == "bm25_unicode: rank 1 (+0.500)"
    assert result["why_recalled"][1] == "bm25_trigram: rank 1 (+0.250)"
    assert result["why_recalled"][2].startswith("recency: 1.00 (+0.200)")


def test_rrf_fusion(make_daemon: Any) -> None:
    d = make_daemon(FAST_CONFIG + '[recall]\nfusion = "rrf"\n')
    d.write(type="user", name="Garden", content="Grows tomatoes in the garden.")
    result = search(d, "tomatoes garden")["results"][0]
    assert result["score"] == pytest.approx(2 / 61)
    assert result["why_recalled"][0].startswith("bm25_unicode: rank 1 (rrf +0.0164)")


def test_ties_break_by_depth_then_mtime_then_id(make_daemon: Any, tmp_path: Path) -> None:
    # All weights 0: every candidate scores 0, so the order is the tie-break.
    d = make_daemon(
        FAST_CONFIG + "[recall.weights]\nbm25_unicode = 0.0\nbm25_trigram = 0.0\nrecency = 0.0\nrecall_signal = 0.0\n",
        start=False,
    )
    root = tmp_path / "repo"
    (root / ".agh" / "memory").mkdir(parents=True)
    (root / ".agh" / "workspace.toml").write_text('id = "ws_ties1234"\n')
    (d.home / "memory").mkdir(parents=True)
    (d.home / "workspaces.toml").write_text(f'[[workspace]]\nid = "ws_ties1234"\npath = "{root.resolve()}"\nadded_at = ""\n')
    now = time.time()
    files = {
        d.home / "memory" / "user_old.md": now - 3000,
        d.home / "memory" / "user_new.md": now - 1000,
        d.home / "memory" / "user_same_a.md": now - 2000,
        d.home / "memory" / "user_same_b.md": now - 2000,
        root / ".agh" / "memory" / "project_oldest.md": now - 9000,
    }
    for path, moment in files.items():
        path.write_text(f"---\nname: {path.stem}\ntype: user\n---\nA fact about the kiln schedule.\n")
        os_utime(path, moment)
    d.start()
    result = search(d, "kiln schedule", workspace_id="ws_ties1234", top_k=10)
    assert {r["score"] for r in result["results"]} == {0.0}
    ids = {r["memory"]["filename"]: r["memory"]["id"] for r in result["results"]}
    same = sorted(["user_same_a.md", "user_same_b.md"], key=lambda f: ids[f])
    # Deeper scope first (workspace), then newer, then id.
    assert [r["memory"]["filename"] for r in result["results"]] == ["project_oldest.md", "user_new.md", *same, "user_old.md"]


# --- visibility and shadowing -------------------------------------------------------------


@pytest.fixture
def depths(daemon: Daemon, tmp_path: Path) -> dict[str, Any]:
    w1 = daemon.workspace(tmp_path / "w1")
    w2 = daemon.workspace(tmp_path / "w2")
    text = "The release checklist lives in docs/release.md."
    made = {
        "global": daemon.write(type="user", name="Release", content=text + " (global)"),
        "workspace": daemon.write(type="user", name="Release", content=text + " (workspace)", workspace_id=w1),
        "agent_global": daemon.write(type="user", name="Release", content=text + " (agent global)", agent_name="alice"),
        "agent_workspace": daemon.write(type="user", name="Release", content=text + " (agent workspace)", agent_name="alice", workspace_id=w1),
        "other_agent": daemon.write(type="user", name="Release", content=text + " (bob)", agent_name="bob", workspace_id=w1),
        "other_workspace": daemon.write(type="user", name="Release", content=text + " (w2)", workspace_id=w2),
    }
    return {"w1": w1, "w2": w2, "made": made}


def test_visibility_and_shadowing_across_four_depths(daemon: Daemon, depths: dict[str, Any]) -> None:
    result = search(daemon, "release checklist", agent_name="alice", workspace_id=depths["w1"])
    by_scope = {(r["memory"]["scope"], r["memory"]["agent_tier"]): r for r in result["results"]}
    assert set(by_scope) == {("global", None), ("workspace", None), ("agent", "global"), ("agent", "workspace")}
    winner = by_scope[("agent", "workspace")]
    assert winner["shadowed_by"] is None
    for key in (("global", None), ("workspace", None), ("agent", "global")):
        assert by_scope[key]["shadowed_by"] == winner["memory"]["id"]
    # Blocks hold only the winner; bob's and w2's memories are nowhere.
    blocks = result["recall"]["blocks"]
    assert [(b["scope"], b["agent_tier"]) for b in blocks] == [("agent", "workspace")]
    assert "(bob)" not in str(result) and "(w2)" not in str(result)


def test_workspace_reader_sees_workspace_over_global(daemon: Daemon, depths: dict[str, Any]) -> None:
    result = search(daemon, "release checklist", workspace_id=depths["w1"])
    by_scope = {r["memory"]["scope"]: r for r in result["results"]}
    assert set(by_scope) == {"workspace", "global"}
    assert by_scope["workspace"]["shadowed_by"] is None
    assert by_scope["global"]["shadowed_by"] == by_scope["workspace"]["memory"]["id"]
    assert [b["scope"] for b in result["recall"]["blocks"]] == ["workspace"]
    other = search(daemon, "release checklist", workspace_id=depths["w2"])
    assert [r["snippet"].endswith("(w2)") for r in other["results"] if r["shadowed_by"] is None] == [True]


# --- the package -----------------------------------------------------------------------------


def test_package_header_blocks_and_stable_hash(daemon: Daemon, tmp_path: Path) -> None:
    ws = daemon.workspace(tmp_path / "repo")
    daemon.write(type="user", name="Editor", content="Edits code in Helix with the default keymap.")
    daemon.write(type="project", name="Helix config", content="The repo ships a Helix config in .helix/.", workspace_id=ws)
    first = search(daemon, "helix editor config", workspace_id=ws)
    again = search(daemon, "helix editor config", workspace_id=ws)
    header = first["recall"]["header"]
    entries = [e for b in first["recall"]["blocks"] for e in b["entries"]]
    assert header["text"] == f"AGH memory recall v1 entries={len(entries)} hash={header['content_hash']}"
    assert len(entries) == 2 and again["recall"]["header"] == header
    assert [b["scope"] for b in first["recall"]["blocks"]] == ["global", "workspace"]
    expected = hashlib.sha256(
        "\n".join(f"{e['id']}:{r['memory']['content_hash']}" for e, r in zip(entries, sorted(first["results"], key=lambda r: r["memory"]["scope"] != "global"))).encode()
    ).hexdigest()
    assert header["content_hash"] == expected or len(header["content_hash"]) == 64
    entry = entries[0]
    assert set(entry) >= {"id", "filename", "title", "type", "body", "mod_time", "age_days", "staleness_banner", "why_recalled", "workspace_id"}
    assert entry["body"] == "Edits code in Helix with the default keymap."
    daemon.patch("/api/memory/user_editor.md", {"content": "Edits code in Helix with a custom keymap."})
    changed = search(daemon, "helix editor config", workspace_id=ws)
    assert changed["recall"]["header"]["content_hash"] != header["content_hash"]
    assert set(first["index"]) >= {"generation", "pending", "last_sync_at"}


def test_staleness_banner_after_configured_days(make_daemon: Any) -> None:
    d = make_daemon(FAST_CONFIG + "[recall.freshness]\nbanner_after_days = 10\n", start=False)
    memory = d.home / "memory"
    memory.mkdir(parents=True)
    for name, days in (("Fresh", 1), ("Stale", 45)):
        path = memory / f"user_{name.lower()}.md"
        path.write_text(f"---\nname: {name}\ntype: user\n---\nThe {name.lower()} fact about the build cache.\n")
        moment = time.time() - days * 86400
        os_utime(path, moment)
    d.start()
    result = search(d, "build cache fact")
    banners = {r["memory"]["name"]: r["memory"]["staleness_banner"] for r in result["results"]}
    assert banners["Fresh"] is None and "45 days" in banners["Stale"]
    entries = {e["title"]: e for b in result["recall"]["blocks"] for e in b["entries"]}
    assert entries["Stale"]["age_days"] >= 45 and entries["Stale"]["staleness_banner"]
    assert names(result) == ["Fresh", "Stale"]  # recency breaks the near tie


def os_utime(path: Path, moment: float) -> None:
    import os

    os.utime(path, (moment, moment))


# --- signals and traces --------------------------------------------------------------------------


def test_signals_and_recall_traces(daemon: Daemon) -> None:
    daemon.write(type="user", name="Pager", content="Uses less as the pager.")
    for turn, query in enumerate(["pager less", "pager choice", "terminal pager"], 1):
        search(daemon, query, session_id=f"sess-{turn}", turn_seq=turn)
    trace = daemon.get("/api/memory/recall-traces/sess-2/2").json()["trace"]
    assert trace["query"]["query_text"] == "pager choice" and trace["turn_seq"] == 2
    assert trace["options"]["top_k"] == 5 and trace["recall"]["blocks"][0]["entries"][0]["title"] == "Pager"
    summary = daemon.get("/api/memory/user_pager.md").json()["memory"]["summary"]
    assert summary["recall_count"] == 3 and summary["last_recalled_at"]
    assert daemon.get("/api/memory/recall-traces/sess-2/9").status_code == 404
    assert daemon.get("/api/memory/recall-traces/sess-2/x").status_code == 400


def test_skipped_search_still_leaves_a_trace(daemon: Daemon) -> None:
    search(daemon, "ok", mode="implicit", session_id="s", turn_seq=1)
    trace = daemon.get("/api/memory/recall-traces/s/1").json()["trace"]
    assert trace["skipped_reason"] == "trivial_query"


# --- limits and maintenance ------------------------------------------------------------------------


def test_top_k_limits(daemon: Daemon) -> None:
    for i in range(25):
        daemon.write(type="user", name=f"Note {i}", content=f"Observation {i} about the tidal pools.")
    assert len(search(daemon, "tidal pools")["results"]) == 5
    assert len(search(daemon, "tidal pools", top_k=20)["results"]) == 20
    # Implicit recall (a runtime's turn) takes at most 20; someone searching, up to 50.
    assert daemon.post("/api/memory/search", {"query_text": "tidal pools", "top_k": 21, "mode": "implicit"}).status_code == 400
    assert len(search(daemon, "tidal pools", top_k=25)["results"]) == 25
    assert len(search(daemon, "tidal pools", top_k=25, explicit=True)["results"]) == 25
    assert daemon.post("/api/memory/search", {"query_text": "tidal pools", "top_k": 51}).status_code == 400
    assert daemon.post("/api/memory/search", {"query_text": "tidal", "colour": 1}).status_code == 400
    assert daemon.post("/api/memory/search", {"query_text": " "}).status_code == 400


def test_reset_reindex_reload(daemon: Daemon) -> None:
    daemon.write(type="user", name="Alpha", content="Alpha fact about the orchard.")
    daemon.write(type="user", name="Beta", content="Beta fact about the orchard.")
    files = sorted(p.read_bytes() for p in (daemon.home / "memory").glob("user_*.md"))
    decisions = daemon.get("/api/memory/decisions").json()["decisions"]
    assert daemon.post("/api/memory/reset", {"confirm": True}).status_code == 400
    assert daemon.post("/api/memory/reset", {"confirm": True, "derived_only": False}).status_code == 400
    reset = daemon.post("/api/memory/reset", {"confirm": True, "derived_only": True})
    assert reset.status_code == 200 and reset.json()["derived_only"] is True and reset.json()["deleted_rows"] >= 2
    assert sorted(p.read_bytes() for p in (daemon.home / "memory").glob("user_*.md")) == files
    assert daemon.get("/api/memory/decisions").json()["decisions"] == decisions
    assert sorted(names(search(daemon, "orchard fact"))) == ["Alpha", "Beta"]
    reindexed = daemon.post("/api/memory/reindex", {}).json()
    assert reindexed["indexed_files"] == 2 and reindexed["completed_at"]
    # Reload takes the config file again; what was read once at start-up
    # keeps its running value and is named as needing a restart.
    daemon.config_path.write_text(FAST_CONFIG + "[recall]\ntop_k = 1\n[index]\ndebounce = \"2s\"\n")
    reloaded = daemon.post("/api/memory/reload").json()
    assert set(reloaded) == {"generation", "reloaded_at", "needs_restart"}
    assert reloaded["needs_restart"] == ["index.debounce"]
    assert len(search(daemon, "orchard fact")["results"]) == 1
    config = daemon.get("/api/memory/config").json()
    assert config["config"]["index"]["debounce"] == IndexConfig().debounce and config["config"]["recall"]["top_k"] == 1
    assert "index.debounce" in config["locked_paths"] and "index.debounce" not in config["mutable_paths"]



def test_a_reset_is_not_news_to_the_watcher(make_daemon: Any, tmp_path: Path) -> None:
    """A reset empties the catalog and scans again; a file event the watcher
    still has in hand (the daemon's own writes, a moment ago) must meet the
    rebuilt catalog, not the empty one: else the file is recorded again as
    "created on disk". 1,500 files make the scan long enough for the
    watcher to look at the last writes while it runs."""
    home = tmp_path / "home"
    (home / "memory").mkdir(parents=True)
    for i in range(1500):
        (home / "memory" / f"user_bulk_{i}.md").write_text(f"---\ntype: user\nname: Bulk {i}\n---\nBulk fact {i}.\n")
    daemon = make_daemon(home=home)
    for i in range(5):
        daemon.write(type="user", name=f"Reset race {i}", content=f"Fact {i} about the reset race.")
    before = {d["id"] for d in daemon.get("/api/memory/decisions", params={"limit": 200}).json()["decisions"]}
    assert daemon.post("/api/memory/reset", {"confirm": True, "derived_only": True}).status_code == 200
    # The watcher's queue is drained once a hand edit made after the reset is seen.
    (home / "memory" / "user_reset_marker.md").write_text("---\ntype: user\nname: Reset marker\n---\nA zebrafinch marks the end.\n")
    deadline = time.monotonic() + 15
    while not search(daemon, "zebrafinch")["results"]:
        assert time.monotonic() < deadline, "the marker never became searchable"
        time.sleep(0.05)
    after = daemon.get("/api/memory/decisions", params={"limit": 200}).json()["decisions"]
    assert [d["target_filename"] for d in after if d["id"] not in before] == ["user_reset_marker.md"]

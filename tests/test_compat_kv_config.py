"""Key-value memory (seed 003) under other settings, each its own daemon:
tokens (KV-13), auto_create_agents off, redaction, the rate limit taking a
bulk whole, the surface turned off, a restart with the derived state
deleted; and the blob sweep (in-process, on a clock)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import httpx

from aghmem import MemoryService, load_config
from conftest import FAST_CONFIG

KV = "\n[compat.kv]\nmax_writes_per_min = 0\n"


def test_kv13_tokens(make_daemon: Any) -> None:
    """KV-13: with server.token set, no auth → 401 {"error":"Unauthorized"}; a KV token opens only KV."""
    config = '[server]\ntoken = "s3cret"\n' + FAST_CONFIG + '\n[compat.kv]\nmax_writes_per_min = 0\ntokens = ["kvtok"]\n'
    daemon = make_daemon(config)
    bare = httpx.Client(base_url=daemon.url)
    with_kv = httpx.Client(base_url=daemon.url, headers={"Authorization": "Bearer kvtok"})
    with_server = httpx.Client(base_url=daemon.url, headers={"Authorization": "Bearer s3cret"})
    try:
        for answer in (
            bare.get("/api/memory", params={"agentId": "x"}),
            bare.get("/compat/kv/api/memory"),
            bare.post("/compat/kv/api/memory", json={"agentId": "x", "key": "k", "memory": 1}),
        ):
            assert answer.status_code == 401 and answer.json() == {"error": "Unauthorized"}
            assert answer.headers["WWW-Authenticate"] == "Bearer"
        # POST /api/memory with no credential at all: the guard cannot tell the branch
        # before the body is read, and refuses in the native envelope (docs/compat-kv.md).
        for body in ({"type": "user", "content": "c"}, {"agentId": "x", "key": "k", "memory": 1}):
            native = bare.post("/api/memory", json=body)
            assert native.status_code == 401 and native.json()["code"] == "memory.unauthorized"
        assert with_kv.post("/api/memory", json={"agentId": "x", "key": "k", "memory": 1}).status_code == 200
        assert with_kv.get("/api/memory", params={"agentId": "x"}).json()["memory"] == {"k": 1}
        refused = with_kv.post("/api/memory", json={"type": "user", "content": "c"})
        assert refused.status_code == 401 and refused.json()["code"] == "memory.unauthorized"
        assert with_kv.get("/api/memory").status_code == 401  # the native list
        assert with_server.post("/api/memory", json={"agentId": "y", "key": "k", "memory": 2}).status_code == 200
        assert with_server.post("/api/memory", json={"type": "user", "content": "c"}).status_code == 200
    finally:
        for client in (bare, with_kv, with_server):
            client.close()


def test_auto_create_off_needs_an_existing_agent(make_daemon: Any) -> None:
    """auto_create_agents = false: POST to an agent that does not exist → 404, nothing written."""
    daemon = make_daemon(FAST_CONFIG + "\n[compat.kv]\nmax_writes_per_min = 0\nauto_create_agents = false\n")
    answer = daemon.post("/api/memory", {"agentId": "newbie", "key": "k", "memory": 1})
    assert answer.status_code == 404 and answer.json() == {"error": "Agent not found"}
    assert not (daemon.home / "agents" / "newbie").exists()
    native = daemon.post("/api/memory", {"type": "reference", "content": "A native note.", "agent_name": "known"})
    assert native.status_code == 200
    assert daemon.post("/api/memory", {"agentId": "known", "key": "k", "memory": 1}).status_code == 200
    assert daemon.get("/api/memory", params={"agentId": "known"}).json()["memory"] == {"k": 1}


def test_redaction_changes_the_stored_value(make_daemon: Any) -> None:
    """Q33: with redact_patterns set, secrets in values (inline or blob) are redacted; the JSON stays JSON."""
    config = FAST_CONFIG + '\n[privacy_policy]\nredact_patterns = ["project-[0-9]+"]\ndefault_redaction_string = "[X]"\n' + KV
    daemon = make_daemon(config)
    token = "ghp_" + "A" * 36
    value = {"code": "project-42", "token": token, "list": ["project-7", 1]}
    assert daemon.post("/api/memory", {"agentId": "r", "key": "small", "memory": value}).status_code == 200
    big = {"pad": "p" * 30_000, "tail": f"token {token} and project-9"}
    assert daemon.post("/api/memory", {"agentId": "r", "key": "big", "memory": big}).status_code == 200
    memory = daemon.get("/api/memory", params={"agentId": "r"}).json()["memory"]
    assert memory["small"] == {"code": "[X]", "token": "[X]", "list": ["[X]", 1]}
    assert memory["big"] == {"pad": "p" * 30_000, "tail": "token [X] and [X]"}
    stored = "".join(p.read_text() for p in (daemon.home / "kv" / "blobs").rglob("*.json"))
    assert token not in stored and "project-9" not in stored


def test_a_bound_configurations_patterns_redact_values_and_keep_the_json(make_daemon: Any) -> None:
    """A redact pattern bound to the agent's scope (COMPAT §2.6) acts on the
    value's strings, as the global ones do: the card still holds JSON."""
    config = FAST_CONFIG + KV + '[compat.cfg.bindings]\n"agent:bound" = "default/kvpolicy"\n'
    daemon = make_daemon(config)
    policy = {"type": "buffer", "persistence": {"type": "in_memory"},
              "privacy_policy": {"redact_patterns": ["project-[0-9]+"], "default_redaction_string": "[P]"}}
    assert daemon.http.put("/api/v0/memories/kvpolicy", json=policy).status_code == 201
    value = {"code": "project-42", "note": "see project-7"}
    big = {"pad": "p" * 30_000, "tail": "project-9"}  # a blob: the value itself is not in the card
    for agent in ("bound", "free"):
        assert daemon.post("/api/memory", {"agentId": agent, "memory": {"k": value, "big": big}}).status_code == 200
    bound = daemon.get("/api/memory", params={"agentId": "bound"}).json()["memory"]
    assert bound == {"k": {"code": "[P]", "note": "see [P]"}, "big": {"pad": "p" * 30_000, "tail": "[P]"}}
    assert daemon.get("/api/memory", params={"agentId": "free"}).json()["memory"] == {"k": value, "big": big}
    assert daemon.get("/api/memory/health").json()["kv_problems"] == []  # no card left without JSON


def test_the_rate_limit_takes_a_bulk_whole(make_daemon: Any) -> None:
    """Each key is a write; a bulk the limit cannot take is 429 with nothing written."""
    daemon = make_daemon(FAST_CONFIG + "\n[compat.kv]\nmax_writes_per_min = 5\n")
    refused = daemon.post("/api/memory", {"agentId": "rl", "memory": {f"k{i}": i for i in range(6)}})
    assert refused.status_code == 429 and set(refused.json()) == {"error"} and int(refused.headers["Retry-After"]) >= 1
    assert not (daemon.home / "agents" / "rl").exists()
    assert daemon.post("/api/memory", {"agentId": "rl", "memory": {f"k{i}": i for i in range(5)}}).status_code == 200
    again = daemon.post("/api/memory", {"agentId": "rl", "key": "one_more", "memory": 1})
    assert again.status_code == 429 and "Retry-After" in again.headers


def test_the_surface_turned_off(make_daemon: Any) -> None:
    """compat.kv.enabled = false: /api/memory is native only, the alias is gone."""
    daemon = make_daemon(FAST_CONFIG + "\n[compat.kv]\nenabled = false\n")
    listed = daemon.get("/api/memory", params={"agentId": "x"})
    assert listed.status_code == 200 and "memories" in listed.json()
    posted = daemon.post("/api/memory", {"agentId": "x", "key": "k", "memory": 1})
    assert posted.status_code == 400 and posted.json()["code"] == "memory.validation"
    assert daemon.get("/compat/kv/api/memory").status_code == 404


def test_restart_with_the_derived_state_deleted(make_daemon: Any) -> None:
    """Stop, delete SQLite and the index, start: every key comes back from the cards and blobs."""
    daemon = make_daemon(FAST_CONFIG + KV)
    values = {"inline": {"theme": "dark"}, "blob": ["row %d" % i for i in range(3000)], "zero": 0, "empty": ""}
    assert daemon.post("/api/memory", {"agentId": "keeper", "memory": values}).status_code == 200
    assert daemon.post("/api/memory", {"agentId": "other", "key": "k", "memory": "v"}).status_code == 200
    before = daemon.get("/compat/kv/api/memory").json()
    daemon.stop()
    shutil.rmtree(daemon.home / "state")
    daemon.start()
    assert daemon.get("/api/memory", params={"agentId": "keeper"}).json()["memory"] == values
    assert daemon.get("/compat/kv/api/memory").json() == before
    found = daemon.post("/api/memory/search", {"query_text": "theme dark", "agent_name": "keeper", "allow_trivial_query": True}).json()
    assert "inline" in [r["memory"]["name"] for r in found["results"]]
    # and writing goes on: an update of a key is still an update
    assert daemon.post("/api/memory", {"agentId": "keeper", "key": "inline", "memory": {"theme": "light"}}).status_code == 200
    ops = [d["op"] for d in daemon.get("/api/memory/decisions", params={"agent_name": "keeper"}).json()["decisions"]]
    assert ops[0] == "update"


def test_the_blob_sweep(tmp_path: Path) -> None:
    """Blobs no card and no recent decision names are deleted after blob_grace_days; the current one stays."""
    now = [dt.datetime.now(dt.timezone.utc)]
    config = load_config(home=tmp_path / "home", env={})
    config.compat.kv.max_writes_per_min = 0
    service = MemoryService(config, clock=lambda: now[0])
    service.start(watch=False)
    try:
        first, second = "a" * 20_000, "b" * 20_000
        service.kv_write({"agentId": "sweeper", "key": "k", "memory": first})
        service.kv_write({"agentId": "sweeper", "key": "k", "memory": second})
        orphan = service.config.home_path / "kv" / "blobs" / "00" / ("00" * 32 + ".json")
        orphan.parent.mkdir(parents=True)
        orphan.write_text('"left by a write that never applied"')
        root = service.config.home_path / "kv" / "blobs"

        def digest(value: str) -> str:
            return hashlib.sha256(json.dumps(value).encode()).hexdigest()

        assert service.sweep_kv_blobs() == 0  # all within the grace period
        now[0] += dt.timedelta(days=config.compat.kv.blob_grace_days + 1)
        assert service.sweep_kv_blobs() == 2
        assert {p.stem for p in root.rglob("*.json")} == {digest(second)}
        assert service.kv_read("sweeper")["memory"]["k"] == second
    finally:
        service.close()


def test_reads_come_from_the_catalog(tmp_path: Path) -> None:
    """A GET (one agent, or all) and the health's KV check read the catalog,
    not the card files: a card rewritten on disk while nothing watches still
    reads as it was taken in, until a scan takes the new text in; a blob
    card reads its blob, and health names it once the blob is gone."""
    config = load_config(home=tmp_path / "home", env={})
    config.compat.kv.max_writes_per_min = 0
    service = MemoryService(config)
    service.start(watch=False)
    try:
        big = "y" * 20_000
        service.kv_write({"agentId": "reader", "memory": {"k": {"v": 1}, "big": big}})
        directory = config.home_path / "agents" / "reader" / "memory"
        [card] = directory.glob("reference_kv_k_*.md")
        card.write_text(card.read_text().replace('{"v":1}', '{"v":22}'))
        assert service.kv_read("reader")["memory"] == {"k": {"v": 1}, "big": big}
        assert service.kv_read("all")["memory"]["k"] == {"v": 1}
        service.runtime.rescan()
        assert service.kv_read("reader")["memory"]["k"] == {"v": 22}
        assert service.kv_problems() == []
        digest = hashlib.sha256(json.dumps(big).encode()).hexdigest()
        (config.home_path / "kv" / "blobs" / digest[:2] / f"{digest}.json").unlink()
        assert service.kv_problems() == [f'kv key "big" of agent reader: kv blob {digest} is missing']
        assert service.kv_read("reader")["memory"]["big"].startswith('"' + "y" * 100)  # the preview, as text
    finally:
        service.close()

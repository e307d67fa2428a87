"""A cold start takes files in through helper processes exactly as here (issue 16).

The first scan of a scope reads, parses, scans and analyses its files in
bulk: in helper processes when there are many, and the index gets each
document as it is taken in instead of a rebuild from the catalog afterwards.
Whatever the path, the catalog, the refusals and the index must come out
the same: compared here between helpers (forced, tiny tasks, so answers must
be put back in order across scopes), this process, and a rebuild from the
catalog.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from aghmem import processes
from aghmem.config import load_config
from aghmem.features import bulk_intake, indexing, sync
from aghmem.service.service import MemoryService
from aghmem.storage import analysis
from aghmem.storage.catalog import Catalog
from aghmem.storage.schema import DEFERRED_INDEXES

WORDS = "deploy rollback latency budget tabs editor postgres replica cafe strasse final launch review".split()
SCOPES = ["memory", "agents/bob/memory", "agents/eve/memory", "agents/empty/memory"]
QUERIES = ["deploy", "rollback latency", "cafe", "postgres replica", "launch review", "editor tabs"]


class Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())


def write_tree(home: Path) -> None:
    for number, where in enumerate(SCOPES):
        (home / where).mkdir(parents=True)
        if "empty" in where:
            continue
        for i in range(23 + number):
            words = " ".join(WORDS[(i * k + number) % len(WORDS)] for k in range(1, 4 + i % 7))
            front = f'name: "{words.split()[0]} {i}"\ndescription: "about {words}"\ntype: user\n'
            if i % 5 == 0:  # YAML's own path too
                front += "provenance:\n  created_at: 2026-04-21T00:00:00Z\n  confidence: 0.8\n"
            (home / where / f"user_m{i}.md").write_text(f"---\n{front}---\n{words.capitalize()}.\n")
        (home / where / "user_secret.md").write_text("---\nname: key\n---\nAKIAIOSFODNN7EXAMPLE\n")
        (home / where / "user_broken.md").write_text("---\nname: [unclosed\n---\nbody\n")
        (home / where / "user_empty.md").write_text("")
    (home / "config.toml").write_text("")


def started(home: Path) -> MemoryService:
    service = MemoryService(load_config(home / "config.toml", home=home, env={}))
    service.start(watch=False)
    return service


def snapshot(service: MemoryService, home: Path) -> dict[str, Any]:
    db = sqlite3.connect(home / "state" / "aghmem.db")
    try:
        entries = db.execute("SELECT * FROM entries ORDER BY id").fetchall()
        texts = db.execute("SELECT * FROM texts ORDER BY id").fetchall()
        refused = db.execute("SELECT scope_key, filename, kind, rule, error FROM invalid_files ORDER BY 1, 2").fetchall()
        scanned = db.execute("SELECT scope_key FROM scanned_scopes ORDER BY 1").fetchall()
        dirty = db.execute("SELECT COUNT(*) FROM index_dirty").fetchone()[0]
    finally:
        db.close()
    index = service.runtime.indexing.index
    keys = sorted({row[0] for row in entries})
    hits = {}
    for text in QUERIES:
        terms = analysis.query_terms(text)
        for field, values in {"words": terms, "stems": analysis.stems(terms), "grams": analysis.trigrams(terms)}.items():
            hits[(text, field)] = [(h.id, round(h.score, 5)) for h in index.search({field: values}, keys, 200)]  # in order: ties too
    return {
        "entries": entries, "texts": texts, "refused": refused, "scanned": scanned, "dirty": dirty,
        "docs": index.num_docs(), "hits": hits,
    }


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("bulk")
    write_tree(root / "source")
    found: dict[str, dict[str, Any]] = {}
    warnings = Warnings()
    logging.getLogger("aghmem.processes").addHandler(warnings)
    with pytest.MonkeyPatch.context() as patch:
        for way in ("helpers", "here"):
            home = root / way
            shutil.copytree(root / "source", home)
            if way == "helpers":
                patch.setattr(bulk_intake, "POOL_MIN_FILES", 1)
                patch.setattr(bulk_intake, "TASK_FILES", 7)
                patch.setattr(processes, "cores", lambda: 2)
            else:
                patch.setattr(bulk_intake, "POOL_MIN_FILES", 10**9)
            service = started(home)
            try:
                found[way] = snapshot(service, home)
            finally:
                service.close()
            assert not warnings.seen, warnings.seen  # the helpers did the work
        # The same catalog, its index rebuilt from it (the path before issue 16).
        shutil.rmtree(home / "state" / "index")
        service = started(home)
        try:
            assert service.runtime.indexing.last_reindex is not None  # it was a rebuild
            found["rebuilt"] = snapshot(service, home)
        finally:
            service.close()
    logging.getLogger("aghmem.processes").removeHandler(warnings)
    return found


def test_helpers_and_this_process_take_in_the_same(homes: dict[str, dict[str, Any]]) -> None:
    helpers, here = homes["helpers"], homes["here"]
    assert len(here["entries"]) == 23 + 24 + 25 and len(here["refused"]) == 9
    for part in ("entries", "texts", "refused", "scanned", "docs", "hits"):
        assert helpers[part] == here[part], part
    assert [row[0] for row in here["scanned"]] == ["agent:bob", "agent:empty", "agent:eve", "global"]
    assert {row[3] for row in here["refused"]} == {"empty", "parse", "memory_scan.secret"}


def test_the_index_a_cold_start_builds_is_the_one_a_rebuild_builds(homes: dict[str, dict[str, Any]]) -> None:
    cold, rebuilt = homes["here"], homes["rebuilt"]
    assert cold["docs"] == rebuilt["docs"] == len(cold["entries"])
    assert cold["hits"] == rebuilt["hits"]
    assert all(cold["hits"][(text, "words")] for text in QUERIES)  # each query finds something
    assert cold["dirty"] == 0  # every document taken in was committed and its dirty row cleared


def test_until_the_cold_build_is_done_health_says_how_far_and_searches_see_what_is_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The start-up scan is held after its first batch of 10 files of 30.
    home = tmp_path / "home"
    (home / "memory").mkdir(parents=True)
    for i in range(30):
        (home / "memory" / f"user_heron_{i}.md").write_text(f"---\nname: Heron {i}\ntype: user\n---\nHerons at dawn, {i}.\n")
    (home / "config.toml").write_text("")
    monkeypatch.setattr(sync, "WRITE_BATCH", 10)
    monkeypatch.setattr(bulk_intake, "TASK_FILES", 10)
    monkeypatch.setattr(indexing, "BUILD_COMMIT_DELAY", 0.2)
    held, release = threading.Event(), threading.Event()
    service = MemoryService(load_config(home / "config.toml", home=home, env={}))
    report = service.runtime._scan_progress

    def report_then_hold(done: int, total: int) -> None:
        report(done, total)
        if done and not held.is_set():
            held.set()
            release.wait(30)

    service.runtime._scan_progress = report_then_hold  # type: ignore[method-assign]
    service.start(watch=False, background=True)
    try:
        assert held.wait(30)
        health = service.health()
        assert health["ready"] is False and health["job"] == {"job": "take_in", "done": 10, "total": 30}
        assert "(10 of 30)" in health["reason"]
        index = service.runtime.indexing.index
        assert index.status()["building"] is True and not index.needs_rebuild
        deadline = time.monotonic() + 10  # the first batch, committed by the index's own pace
        while index.num_docs() < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert index.num_docs() == 10
        # The catalog's order-free indexes wait for the end of the load; what
        # would use them scans meanwhile.
        assert not deferred_present(service), "dropped for the first load"
        newest = service.catalog.list_entries("global", limit=5)[0]
        assert len(newest) == 5 and [e.mtime_ns for e in newest] == sorted((e.mtime_ns for e in newest), reverse=True)
        release.set()
        assert service.ready.wait(30)
        health = service.health()
        assert health["job"] is None and health["indexed_files"] == health["catalog_files"] == 30
        assert health["index"]["building"] is False
        assert deferred_present(service) == set(DEFERRED_INDEXES), "built once, at the end"
    finally:
        release.set()
        service.close()


def deferred_present(service: MemoryService) -> set[str]:
    names = {row[0] for row in service.catalog.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    return names & set(DEFERRED_INDEXES)


def test_indexes_a_crash_left_dropped_are_built_at_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "aghmem.db"
    Catalog(path).close()
    with sqlite3.connect(path) as db:  # as a crash mid-load leaves it
        for name in DEFERRED_INDEXES:
            db.execute(f"DROP INDEX {name}")
    catalog = Catalog(path)
    try:
        names = {row[0] for row in catalog.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert set(DEFERRED_INDEXES) <= names
    finally:
        catalog.close()

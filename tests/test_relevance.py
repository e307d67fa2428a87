"""Recall that stays silent when nothing fits: the relevance floor, signals
only from real hits, long queries, the package budget (issue 9). Real
daemons over loopback, real files."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from conftest import FAST_CONFIG, Daemon

MEMORIES = [
    ("Staging database", "The staging database listens on port 5433."),
    ("School play", "The staging of the school play is in May."),
    ("Editor", "Edits code in Helix with the default keymap."),
    ("Lunch", "Lunch is at noon in the canteen, known for its soup."),
    ("Deploys", "Deploys go to fly.io on every merge to main."),
]


def search(daemon: Daemon, query: str, **body: Any) -> dict[str, Any]:
    response = daemon.post("/api/memory/search", {"query_text": query, **body})
    assert response.status_code == 200, response.text
    return response.json()


def names(result: dict[str, Any]) -> list[str]:
    return [r["memory"]["name"] for r in result["results"]]


def summary(daemon: Daemon, filename: str) -> dict[str, Any]:
    return daemon.get(f"/api/memory/{filename}").json()["memory"]["summary"]


@pytest.fixture
def store(daemon: Daemon) -> Daemon:
    for name, content in MEMORIES:
        daemon.write(type="user", name=name, content=content)
    return daemon


def test_unrelated_queries_get_an_empty_package_with_the_reason(store: Daemon) -> None:
    for query in ("kubernetes helm chart", "zzqqxx unknown"):
        result = search(store, query)
        assert result["results"] == [] and result["skipped_reason"] == "no_relevant_memory", query
        assert result["recall"]["blocks"] == [] and "entries=0" in result["recall"]["header"]["text"]
        assert result["note"]
    # Implicit recall (a runtime's turn) is floored the same way.
    implicit = search(store, "kubernetes helm chart", mode="implicit")
    assert implicit["skipped_reason"] == "no_relevant_memory"


def test_a_related_query_finds_its_memory_and_says_why(store: Daemon) -> None:
    result = search(store, "staging port helm")
    assert names(result) == ["Staging database", "School play"]
    # The best must hold min_evidence (0.17) for any answer; then a memory
    # holding less ("School play" holds only "staging") may stand beside it
    # if it holds min_evidence_each (0.05)...
    wider = search(store, "staging port helm kubernetes")["results"]
    assert [r["memory"]["name"] for r in wider] == ["Staging database", "School play"]
    assert 0.05 <= wider[1]["evidence"] < 0.17 <= wider[0]["evidence"]
    # ...but alone, that weak a match is no answer at all.
    assert search(store, "staging helm kubernetes")["skipped_reason"] == "no_relevant_memory"
    top = result["results"][0]
    assert top["why_recalled"][-1].startswith("evidence: ")
    assert top["why_recalled"][-1].endswith("(staging, port; missing: helm)")
    assert 0.17 <= top["evidence"] < 1
    entry = result["recall"]["blocks"][0]["entries"][0]
    assert entry["why_recalled"] == top["why_recalled"] and entry["truncated"] is False
    assert result["skipped_reason"] is None and result["note"] is None
    # Every term held: full evidence.
    assert search(store, "staging database port")["results"][0]["evidence"] == 1.0


def test_a_trigram_only_match_does_not_pass(store: Daemon) -> None:
    # "deplyos" and "stagign" share trigrams with memories, no terms.
    result = search(store, "deplyos stagign")
    assert result["results"] == [] and result["skipped_reason"] == "no_relevant_memory"
    assert result["note"] == "no memory holds any of the query's terms"


def test_the_floor_can_be_turned_off(make_daemon: Any) -> None:
    d = make_daemon(FAST_CONFIG + "[recall]\nmin_evidence = 0\n")
    for name, content in MEMORIES:
        d.write(type="user", name=name, content=content)
    result = search(d, "zzqqxx unknown")  # "unknown" shares trigrams with "known"
    assert "Lunch" in names(result) and result["skipped_reason"] is None
    assert all(r["evidence"] is None for r in result["results"])
    assert not any(w.startswith("evidence") for w in result["results"][0]["why_recalled"])


def test_a_floor_out_of_range_stops_the_daemon(make_daemon: Any) -> None:
    with pytest.raises(RuntimeError, match="min_evidence"):
        make_daemon(FAST_CONFIG + "[recall]\nmin_evidence = 1.5\n")


# --- signals ------------------------------------------------------------------------


@pytest.mark.parametrize("floor", ["on", "off"])
def test_signals_only_from_results_past_the_floor(make_daemon: Any, floor: str) -> None:
    # "on": one floor for every result (School play holds only "staging",
    # below it); "off": no floor at all.
    config = FAST_CONFIG + ("[recall]\nmin_evidence = 0\n" if floor == "off" else "[recall]\nmin_evidence_each = 0.13\n")
    d = make_daemon(config)
    for name, content in MEMORIES[:2]:
        d.write(type="user", name=name, content=content)
    result = search(d, "staging database port", session_id="s-1", turn_seq=1)
    trace = d.get("/api/memory/recall-traces/s-1/1").json()["trace"]  # signals are written by then
    assert summary(d, "user_staging_database.md")["recall_count"] == 1
    padding = summary(d, "user_school_play.md")
    if floor == "off":
        # What the floor prevents: a memory holding one common word was
        # recalled, counted, and remembered as surfaced.
        assert names(result) == ["Staging database", "School play"]
        assert padding["recall_count"] == 1
    else:
        assert names(result) == ["Staging database"]
        assert padding["recall_count"] == 0 and not padding["last_recalled_at"]
        assert [e["title"] for b in trace["recall"]["blocks"] for e in b["entries"]] == ["Staging database"]


def test_an_empty_package_records_no_signal_but_leaves_a_trace(store: Daemon) -> None:
    search(store, "kubernetes helm chart", session_id="s-2", turn_seq=4)
    trace = store.get("/api/memory/recall-traces/s-2/4").json()["trace"]
    assert trace["skipped_reason"] == "no_relevant_memory"
    assert all(summary(store, f"user_{n}.md")["recall_count"] == 0 for n in ("staging_database", "school_play", "lunch"))


# --- long queries ----------------------------------------------------------------------


def test_a_long_query_is_truncated_not_refused(store: Daemon) -> None:
    # A runtime sends a whole message: ~6,000 characters of words the store knows.
    filler = "we had lunch at noon in the canteen and the soup was fine " * 100
    result = search(store, "staging database port " + filler, session_id="s-3", turn_seq=1)
    assert result["query_truncated"] is True
    assert "Staging database" in names(result)
    trace = store.get("/api/memory/recall-traces/s-3/1").json()["trace"]
    kept = trace["query"]["query_text"]
    assert 3900 < len(kept) <= 4000 and kept.startswith("staging database port we had lunch")
    assert kept.split()[-1] in filler.split()  # cut between words, not inside one
    # What lies past the limit is not searched.
    tail = search(store, filler + " helix keymap")
    assert tail["query_truncated"] is True and "Editor" not in names(tail)
    assert search(store, "helix keymap")["query_truncated"] is False


# --- the package budget -----------------------------------------------------------------------


def test_the_package_is_cut_to_its_byte_budget(make_daemon: Any) -> None:
    d = make_daemon(FAST_CONFIG + "[recall]\nmax_package_bytes = 4000\n")
    body = "The glacier survey notes cover moraine depth and ice flow. " * 25  # entries of ~1,650 bytes of text
    for i in range(4):
        d.write(type="user", name=f"Survey {i}", content=f"{body}Part {i}.")
    result = search(d, "glacier survey moraine", session_id="s-4", turn_seq=1)
    assert len(result["results"]) == 4  # results are all there, with snippets
    recall = result["recall"]
    entries = [e for b in recall["blocks"] for e in b["entries"]]
    # Two whole entries, the third cut to the room left, the fourth omitted.
    assert [e["truncated"] for e in entries] == [False, False, True]
    assert entries[2]["body"].endswith("…") and len(entries[2]["body"]) < len(entries[0]["body"])
    assert recall["truncated"] is True and len(recall["omitted"]) == 1
    assert recall["bytes"] <= recall["max_bytes"] == 4000
    ranked = [r["memory"] for r in result["results"]]
    assert [e["id"] for e in entries] == [m["id"] for m in ranked[:3]]
    assert recall["omitted"] == [{"id": ranked[3]["id"], "filename": ranked[3]["filename"]}]
    # The header counts and hashes what is in the blocks.
    hashed = [f"{m['id']}:{m['content_hash']}" for m in ranked[:2]]
    hashed.append(f"{ranked[2]['id']}:{ranked[2]['content_hash']}:cut{len(entries[2]['body'].encode())}")
    content_hash = hashlib.sha256("\n".join(hashed).encode()).hexdigest()
    assert recall["header"] == {"text": f"AGH memory recall v1 entries=3 hash={content_hash}", "content_hash": content_hash}
    # What was not handed over is not a recall either. (Signals are written
    # behind the search; reading the turn's trace waits for them.)
    assert d.get("/api/memory/recall-traces/s-4/1").status_code == 200
    assert summary(d, ranked[3]["filename"])["recall_count"] == 0
    assert summary(d, ranked[2]["filename"])["recall_count"] == 1


def test_a_package_within_budget_is_whole(store: Daemon) -> None:
    recall = search(store, "staging database port")["recall"]
    assert recall["truncated"] is False and recall["omitted"] == [] and 0 < recall["bytes"] <= recall["max_bytes"] == 16384

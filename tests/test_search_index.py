"""The Tantivy index on its own: a rebuild replaces everything, whatever
was staged before it (issue 12 §4: a reindex left duplicate documents)."""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from aghmem import processes
from aghmem.storage import analysis, index_fields
from aghmem.storage.tantivy_index import FEED_DOCS, IndexDoc, SearchIndex

_STAMPS = itertools.count()


@contextlib.contextmanager
def opened(path: Path) -> Iterator[SearchIndex]:
    """An index at `path` whose committer waits a minute (nothing commits
    by itself: a search or a flush does), closed after."""
    index = SearchIndex(path, stamp=lambda: next(_STAMPS), commit_delay=60)
    try:
        yield index
    finally:
        index.close()


def test_a_rebuild_over_a_staged_change_leaves_no_duplicate(tmp_path: Path) -> None:
    with opened(tmp_path / "index") as index:
        docs = [IndexDoc(f"global:{n}.md", "global", f"{n}.md", 1, f"{n} text") for n in ("alpha", "beta")]
        index.rebuild(docs, len(docs))
        index.stage(upserts=[docs[0]])  # a hand edit, staged, not yet committed
        index.rebuild(docs, len(docs))
        index.flush()
        assert index.num_docs() == 2
        hits = index.search({"words": ["alpha"]}, ["global"], 10)
        assert [hit.id for hit in hits] == ["global:alpha.md"]


def test_staging_does_not_wait_for_a_commit_under_way(tmp_path: Path) -> None:
    # Issue 16: a commit holds the writer ~20-40 ms; a write's staging used
    # to wait for it, and with it every write of a group commit.
    with opened(tmp_path / "index") as index:
        docs = [IndexDoc(f"global:{n}.md", "global", f"{n}.md", 1, f"{n} text") for n in ("alpha", "beta")]
        index.rebuild(docs[:1], 1)
        with index._lock:  # as a commit does, for its whole run
            staging = threading.Thread(target=index.stage, kwargs={"upserts": docs[1:], "deletes": ["global:alpha.md"]})
            staging.start()
            staging.join(timeout=30)
            assert not staging.is_alive() and index.pending == 2
        # A search after the staging sees it, as after any change.
        assert [hit.id for hit in index.search({"words": ["beta"]}, ["global"], 10)] == ["global:beta.md"]
        assert index.search({"words": ["alpha"]}, ["global"], 10) == [] and index.pending == 0


def test_a_big_staging_goes_to_the_writer_before_its_commit_and_commits_once(tmp_path: Path) -> None:
    # Issue 16: a cold start stages thousands of documents between commits
    # seconds apart; they go to the writer as they come (it indexes them on
    # its own thread), not all at the commit. Uncommitted there, they are
    # still pending: a search commits them first, and a later version of a
    # document replaces the one already handed over.
    with opened(tmp_path / "index") as index:
        many = FEED_DOCS + 10
        docs = [IndexDoc(f"global:{n}.md", "global", f"{n}.md", 1, f"note {n} common") for n in range(many)]
        index.stage(upserts=docs)
        assert index._ops == [] and index.pending == many and not index.fresh
        index.stage(upserts=[IndexDoc("global:7.md", "global", "7.md", 2, "note 7 rewritten")])
        assert len(index.search({"words": ["common"]}, ["global"], many + 10)) == many - 1
        assert [(h.id, h.mtime_ns) for h in index.search({"words": ["rewritten"]}, ["global"], 10)] == [("global:7.md", 2)]
        assert index.num_docs() == many and index.pending == 0
        with index._lock:  # a commit under way: staging neither waits nor hands over
            index.stage(upserts=docs)
            assert len(index._ops) == many
        index.flush()
        assert index.num_docs() == many and index.search({"words": ["rewritten"]}, ["global"], 10) == []


def test_searches_share_a_snapshot_until_a_change_is_committed(tmp_path: Path) -> None:
    # Issue 16: the snapshot (and what it has read: document frequencies,
    # hits' stored fields) is kept between searches, so it must never
    # outlive a commit: a search after a change sees the change.
    with opened(tmp_path / "index") as index:
        index.rebuild([IndexDoc("global:a.md", "global", "a.md", 1, "alpha text")], 1)
        first = index.snapshot()
        assert index.snapshot() is first
        assert [h.id for h in index.search({"words": ["alpha"]}, ["global"], 10)] == ["global:a.md"]
        assert index.search({"words": ["beta"]}, ["global"], 10) == []
        index.stage(upserts=[IndexDoc("global:b.md", "global", "b.md", 2, "beta alpha")])
        hits = index.search({"words": ["beta"]}, ["global"], 10)  # commits what is staged first
        assert [(h.id, h.filename, h.mtime_ns) for h in hits] == [("global:b.md", "b.md", 2)]
        assert index.snapshot() is not first
        assert {h.id for h in index.search({"words": ["alpha"]}, ["global"], 10)} == {"global:a.md", "global:b.md"}
        index.stage(deletes=["global:a.md"])
        assert [h.id for h in index.search({"words": ["alpha"]}, ["global"], 10)] == ["global:b.md"]


def test_hits_carry_the_fields_of_the_version_found_across_commits_and_restarts(tmp_path: Path) -> None:
    # Hits' fields are kept by document version number for the life of the
    # index object (snapshot.HitFields), not per snapshot: an updated memory
    # must come back with its new fields, and after a restart numbers must
    # go on from the highest in the index, never meaning two versions.

    def found(index: SearchIndex, word: str) -> list[tuple[str, str, int]]:
        return [(h.id, h.filename, h.mtime_ns) for h in index.search({"words": [word]}, ["global"], 10)]

    with opened(tmp_path / "index") as index:
        index.rebuild([IndexDoc("global:a.md", "global", "a.md", 1, "alpha text")], 1)
        assert found(index, "alpha") == [("global:a.md", "a.md", 1)]
        index.stage(upserts=[IndexDoc("global:a.md", "global", "a.md", 2, "alpha text again")])
        assert found(index, "alpha") == [("global:a.md", "a.md", 2)]
    with opened(tmp_path / "index") as reopened:
        assert reopened.hit_fields.get(1) is None  # nothing known yet: read from the store
        assert found(reopened, "alpha") == [("global:a.md", "a.md", 2)]
        # Versions 0 and 1 were indexed (1 is alive): numbering goes on at 2.
        assert reopened.hit_fields.number(("y", "global", "y.md", 0)) == 2
        reopened.stage(upserts=[IndexDoc("global:b.md", "global", "b.md", 3, "beta alpha")])
        assert found(reopened, "beta") == [("global:b.md", "b.md", 3)]
        assert sorted(found(reopened, "alpha")) == [("global:a.md", "a.md", 2), ("global:b.md", "b.md", 3)]


def test_an_index_of_an_older_schema_is_rebuilt_not_read(tmp_path: Path) -> None:
    # An upgrade that changes the schema (5 added the `ord` fast field hits
    # are read by) must not read the old index: it starts empty and says it
    # needs the rebuild the daemon then runs from the catalog.
    with opened(tmp_path / "index") as index:
        index.rebuild([IndexDoc("global:a.md", "global", "a.md", 1, "alpha text")], 1)
    (tmp_path / "index" / "aghmem.json").write_text('{"schema_version": 4}')
    with opened(tmp_path / "index") as reopened:
        assert reopened.needs_rebuild and reopened.num_docs() == 0
        reopened.rebuild([IndexDoc("global:a.md", "global", "a.md", 1, "alpha text")], 1)
        assert [h.id for h in reopened.search({"words": ["alpha"]}, ["global"], 10)] == ["global:a.md"]


# Texts that exercise every branch of the analysis: identifiers, paths,
# accents, CJK runs, long tokens, stop words, a ligature NFKD spells with
# spaces (U+FDFA), emoji.
TRICKY = [
    "Deploys go through getUserById in src/api/user_util.py; HTTPServer2 restarts.",
    "Café Straße naïve résumé façade — the über-fast déjà vu",
    "数据库迁移 uses 東京 and 한국어 text mixed with ASCII words",
    "a" * 60 + " short and the of it is " + "b" * 41,
    "ligature \ufdfa and ﬁnal ﬂow, emoji 🚀 launches, snake_case_name CONSTANT_VALUE",
    "",
]


def corpus(n: int) -> list[IndexDoc]:
    words = "deploy deploys tabs spaces release rollback database schema migration cache latency token".split()
    docs = []
    for i in range(n):
        text = f"{TRICKY[i % len(TRICKY)]} {' '.join(words[(i * k) % len(words)] for k in range(1, 1 + i % 9))}"
        scope = ("global", "ws:ws_a", "agent:bob")[i % 3]
        docs.append(IndexDoc(f"{scope}:m{i:04d}.md", scope, f"m{i:04d}.md", i, text))
    return docs


def test_a_rebuild_in_worker_processes_holds_what_one_here_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 16: a big rebuild analyses in worker processes; the index must
    # hold the same terms in the same order (BM25 ties break by address).
    docs = corpus(700)
    with opened(tmp_path / "here") as here, opened(tmp_path / "pooled") as pooled:
        here.rebuild(docs, len(docs))
        # Small chunks over two workers, whatever this machine's cores: many
        # answers to put back in order.
        monkeypatch.setattr(index_fields, "POOL_MIN_DOCS", 1)
        monkeypatch.setattr(index_fields, "CHUNK_DOCS", 23)
        monkeypatch.setattr(index_fields, "workers", lambda: 2)
        progress: list[int] = []
        with caplog.at_level(logging.WARNING, logger="aghmem.processes"):
            assert pooled.rebuild(docs, len(docs), lambda done, total: progress.append(done)) == len(docs)
        assert "working here" not in caplog.text  # the workers did the work
        assert progress == [*range(1000, len(docs), 1000), len(docs)]
        assert pooled.num_docs() == here.num_docs() == len(docs)
        queries = ["deploy", "user", "getuserbyid", "cafe", "strasse", "数据", "東京", "rollback latency", "final", "launch"]
        for text in queries:
            found = 0
            terms = analysis.query_terms(text)
            views = {"words": terms, "stems": analysis.stems(terms), "grams": analysis.trigrams(terms)}
            for field, values in views.items():
                want = [(h.id, h.score, h.address) for h in here.search({field: values}, ["global", "ws:ws_a", "agent:bob"], 50)]
                got = [(h.id, h.score, h.address) for h in pooled.search({field: values}, ["global", "ws:ws_a", "agent:bob"], 50)]
                assert got == want, (text, field)
                found += len(want)
                scopes = None if field in index_fields.STATS_VIEWS else ["global", "ws:ws_a", "agent:bob"]
                assert SearchIndex.doc_freqs(pooled.snapshot(), field, values, scopes) == SearchIndex.doc_freqs(
                    here.snapshot(), field, values, scopes
                )
            assert found, text  # every query finds something in some view


def test_a_worker_that_died_leaves_its_chunks_to_this_process() -> None:
    helper = processes._Helper.start()
    assert helper.process is not None
    helper.process.kill()
    helper.process.wait()
    chunk = [("global", "deploy tabs")]
    helper.send((index_fields.fields_of, chunk))
    assert helper.receive() == (False, None)  # the caller analyses the chunk itself
    assert processes._answer([helper], index_fields.fields_of, 0, chunk) == [index_fields.fields("global", "deploy tabs")]


def test_a_helper_goes_on_with_its_tasks_while_its_answers_wait_to_be_taken(tmp_path: Path) -> None:
    # Issue 16: a cold start's answers are ~1 MB; a helper used to block
    # writing one into a full pipe (64 KB) until this process, busy writing
    # the catalog, took it. Now they are read as they come: the third task
    # starts though the two before it, 2 MB each, were not taken yet.
    helper = processes._Helper.start()
    try:
        marker = tmp_path / "third task ran"
        for message in ((bytes, 2_000_000), (bytes, 2_000_000), (os.mkdir, str(marker))):
            helper.send(message)  # type: ignore[arg-type]
        deadline = time.monotonic() + 10
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.exists()
        assert [helper.receive() for _ in range(3)] == [(True, bytes(2_000_000))] * 2 + [(True, None)]
    finally:
        helper.stop()


def test_a_helper_that_answers_garbage_is_taken_for_gone() -> None:
    # Its reader puts a "gone" mark, so the caller never waits for an answer
    # that cannot come, and does the task itself.
    helper = processes._Helper.start()
    try:
        helper.send((functools.partial(os.write, 1), b"not a pickle"))  # type: ignore[arg-type]  # straight into the answers' pipe
        assert helper.receive() == (False, None)
        assert helper.process is None and helper.receive() == (False, None)
    finally:
        helper.stop()


def _old_word_terms(text: str, keep_stopwords: bool) -> list[str]:
    # The per-term loop word_terms replaced: its output is the reference.
    out = []
    for chunk in analysis._CHUNK_RE.findall(text):
        for term in analysis._chunk_terms(chunk):
            if len(term) <= analysis.MAX_TOKEN and (keep_stopwords or term not in analysis.STOPWORDS):
                out.append(term)
    return out


@pytest.mark.parametrize("text", TRICKY + [" ".join(TRICKY)])
def test_the_cached_analysis_gives_the_terms_the_loop_gave(text: str) -> None:
    for keep in (False, True):
        assert analysis.word_terms(text, keep_stopwords=keep) == _old_word_terms(text, keep)
    words = analysis.word_terms(text)
    # Stems per term, cached: what the analyzer gives for the joined terms.
    assert analysis.stems(words) == (analysis._STEMMER.analyze(" ".join(words)) if words else [])


def test_trigrams_are_weighed_by_the_scopes_searched_words_by_all(tmp_path: Path) -> None:
    # Schema 6: trigrams are not in `stats` (a quarter of a cold start's
    # indexing); their document frequencies are those of the scopes a
    # search can see, words' and stems' those of the whole index.
    with opened(tmp_path / "index") as index:
        docs = [IndexDoc(f"global:{n}.md", "global", f"{n}.md", 1, "kelp forest") for n in range(3)]
        docs += [IndexDoc("ws:w1:a.md", "ws:w1", "a.md", 1, "kelp"), IndexDoc("ws:w1:b.md", "ws:w1", "b.md", 1, "reef")]
        index.rebuild(docs, len(docs))
        snap = index.snapshot()
        def weighed(field: str, terms: list[str], scopes: tuple[str, ...]) -> tuple[int, list[tuple[int, str]]]:
            docs, entries = index._weighed(snap, field, terms, scopes)
            return docs, [(df, term) for df, term, _ in entries]

        assert weighed("words", ["kelp", "reef"], ("ws:w1",)) == (5, [(1, "reef"), (4, "kelp")])
        assert weighed("grams", ["^ke", "ree"], ("ws:w1",)) == (2, [(1, "^ke"), (1, "ree")])
        assert weighed("grams", ["^ke", "ree"], ("global", "ws:w1")) == (5, [(1, "ree"), (4, "^ke")])
        assert snap.doc_freq("stats", "grams:^ke") == 0 and snap.doc_freq("stats", "words:kelp") == 4
        with pytest.raises(ValueError, match="no frequencies across scopes"):
            index.doc_freqs(snap, "grams", ["^ke"], None)
        # The same trigram weighs differently for the two searches, each clause built once for its own.
        assert [h.id for h in index.search({"grams": ["^ke", "kel"]}, ["ws:w1"], 10)] == ["ws:w1:a.md"]
        assert len(index.search({"grams": ["^ke", "kel"]}, ["global", "ws:w1"], 10)) == 4
        assert {k[2] for k in snap.clauses if k[0] == "grams"} == {("ws:w1",), ("global", "ws:w1")}

"""The Tantivy index: one document per memory, three lexical views.

Writes are staged into the one IndexWriter and committed by a background
thread shortly after (many changes per commit); a search that finds staged
changes commits them first, so a search after a write always sees it
without every write paying for a commit. A missing, corrupt or outdated
index is rebuilt from the catalog, never a crash.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import tantivy

from . import index_fields
from .files import utc_now
from .index_fields import STATS_VIEWS, VIEWS, scoped
from .snapshot import Clause, Hit, HitFields, Snapshot

log = logging.getLogger("aghmem.index")

# 2: terms carry their scope (`scope|term`), see `scoped`.
# 3: the `stats` field (unscoped terms, for document frequencies).
# 4: scope, filename and mtime stored, so ranking needs no catalog rows.
# 5: `ord`, a fast field numbering document versions (snapshot.HitFields).
# 6: no trigrams in `stats` (index_fields.STATS_VIEWS).
SCHEMA_VERSION = 6
WRITER_HEAP = 64_000_000
# Staged documents handed to the writer between commits once this many wait:
# it indexes them on its own thread while more are read, instead of all at
# the commit (a cold start's commits are seconds apart).
FEED_DOCS = 500


@dataclass(frozen=True)
class IndexDoc:
    id: str
    scope_key: str
    filename: str
    mtime_ns: int
    text: str


# A term mask is a sum of distinct powers of two carried in Tantivy's f32
# score: exact up to 2**23, so at most 24 terms per query.
MASK_TERMS = 24


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("scope", stored=True, tokenizer_name="raw")
    builder.add_text_field("filename", stored=True, tokenizer_name="raw")
    builder.add_integer_field("mtime", stored=True)
    builder.add_integer_field("ord", fast=True)
    for view in VIEWS:
        builder.add_text_field(view, tokenizer_name="aghmem_ws", index_option="freq")
    # Every word and stem once per document, unscoped, as `view:term`: only
    # read for document frequencies across all scopes (so docs-only, no term
    # counts).
    builder.add_text_field("stats", tokenizer_name="aghmem_ws", index_option="basic")
    return builder.build()


def _analyzer() -> tantivy.TextAnalyzer:
    # Terms arrive analysed (aghmem.analysis); the index only splits them.
    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()


def _highest_ord(index: tantivy.Index) -> int:
    """The highest document version number in the index (-1: none)."""
    answer = index.searcher().aggregate(tantivy.Query.all_query(), {"top": {"max": {"field": "ord"}}})
    value = answer["top"]["value"]
    return -1 if value is None else int(value)


def idf(docs: int, doc_freq: int) -> float:
    """BM25's idf, as Tantivy computes it."""
    return math.log(1 + (docs - doc_freq + 0.5) / (doc_freq + 0.5))


class SearchIndex:
    def __init__(
        self,
        path: Path,
        *,
        stamp: Callable[[], int],
        commit_delay: float = 0.05,
        on_commit: Callable[[list[tuple[str, int]]], None] | None = None,
    ) -> None:
        self.path = path
        self.stamp = stamp
        self.commit_delay = commit_delay
        self.on_commit = on_commit
        self.schema = _schema()
        self.needs_rebuild = False
        self.building = False  # a rebuild holds the writer: searches read the last commit
        self._index = self._open()
        self.hit_fields = HitFields(_highest_ord(self._index) + 1)
        self._writer = self._index.writer(heap_size=WRITER_HEAP, num_threads=1)
        self._lock = threading.Lock()  # the writer, and what it holds uncommitted
        # Staged changes wait here, under a lock of their own, until a commit
        # takes them to the writer: staging never waits for a commit under way
        # (~20-40 ms, which held up a group of writes behind it).
        self._ops_lock = threading.Lock()
        self._wake = threading.Condition(self._ops_lock)
        self._ops: list[tuple[str, tantivy.Document | None, int]] = []  # (id, document or None: deleted, stamp)
        self._staged: list[tuple[str, int]] = []  # in the writer, not yet committed: (id, stamp when staged)
        self._closing = False
        self._reloads = 0
        self._snapshot: tuple[int, Snapshot] | None = None
        # Tantivy's commit opstamp: grows with every commit, across restarts.
        self.generation: int = self._writer.commit_opstamp
        self.last_sync_at: str | None = utc_now()
        self._committer = threading.Thread(target=self._commit_loop, name="aghmem-index-commit", daemon=True)
        self._committer.start()

    # --- opening -----------------------------------------------------------

    def _open(self) -> tantivy.Index:
        marker = self.path / "aghmem.json"
        try:
            if json.loads(marker.read_text())["schema_version"] != SCHEMA_VERSION:
                raise ValueError("schema version changed")
            index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
            index.register_tokenizer("aghmem_ws", _analyzer())
            _ = index.searcher().num_docs  # touches the segments: a corrupt index fails here
            return index
        except FileNotFoundError:
            log.info("no search index at %s: building it", self.path)
        except Exception as exc:  # noqa: BLE001 - any damage means: rebuild
            log.warning("search index at %s is unusable (%s): rebuilding it", self.path, exc)
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)
        index = tantivy.Index(self.schema, path=str(self.path))
        index.register_tokenizer("aghmem_ws", _analyzer())
        marker.write_text(json.dumps({"schema_version": SCHEMA_VERSION}))
        self.needs_rebuild = True
        return index

    # --- writing -----------------------------------------------------------

    def _document(self, doc: IndexDoc, terms: index_fields.Fields | None = None) -> tantivy.Document:
        words, stems, grams, stats = terms or index_fields.fields(doc.scope_key, doc.text)
        ord_ = self.hit_fields.number((doc.id, doc.scope_key, doc.filename, doc.mtime_ns))
        return tantivy.Document(
            id=doc.id, scope=doc.scope_key, filename=doc.filename, mtime=doc.mtime_ns, ord=ord_,
            words=words, stems=stems, grams=grams, stats=stats,
        )

    def stage(
        self, upserts: Sequence[IndexDoc] = (), deletes: Sequence[str] = (), analysed: Sequence[index_fields.Fields] = ()
    ) -> None:
        """Queue changes; the committer (or the next search) commits them.
        `analysed`: the upserts' fields when the caller has them already."""
        terms = analysed or [None] * len(upserts)
        documents = [self._document(doc, fields) for doc, fields in zip(upserts, terms)]  # analysis outside the lock
        with self._ops_lock:
            self._ops.extend((doc.id, document, self.stamp()) for doc, document in zip(upserts, documents))
            self._ops.extend((memory_id, None, self.stamp()) for memory_id in deletes)
            self._wake.notify()
            feed = len(self._ops) >= FEED_DOCS
        if feed and self._lock.acquire(blocking=False):  # never wait for a commit under way
            try:
                self._take_ops()
            finally:
                self._lock.release()

    def set_commit_delay(self, seconds: float) -> None:
        with self._ops_lock:
            self.commit_delay = seconds
            self._wake.notify()

    @property
    def pending(self) -> int:
        return len(self._ops) + len(self._staged)

    @property
    def fresh(self) -> bool:
        """A snapshot now needs no commit first (nothing staged, or a
        rebuild under way, whose snapshot is what was committed before)."""
        return self.building or not (self._ops or self._staged)

    def _take_ops(self) -> None:
        """Hand what is staged to the writer (its lock held). `_staged` grows
        before `_ops` empties: a search that reads the two without a lock
        always sees one of them non-empty while a commit is due."""
        with self._ops_lock:
            ops = self._ops
            self._staged.extend((memory_id, stamp) for memory_id, _, stamp in ops)
            self._ops = []
        for memory_id, document, _ in ops:
            self._writer.delete_documents_by_term("id", memory_id)
            if document is not None:
                self._writer.add_document(document)

    def flush(self) -> None:
        """Commit what is staged now (no-op when nothing is)."""
        with self._lock:
            self._commit_locked()

    def _commit_locked(self) -> None:
        self._take_ops()
        if not self._staged:
            return
        # `_staged` empties only once the commit is visible: a search that
        # reads it without the lock must not skip a commit still under way.
        committed = list(self._staged)
        self.generation = self._writer.commit()
        self._index.reload()
        self._reloads += 1  # the cached snapshot is older than the index now
        # The next search's snapshot, made here rather than by that search:
        # a searcher over a reloaded index costs ~0.6 ms at 20k memories.
        self._snapshot = (self._reloads, Snapshot(self._index.searcher(), self.hit_fields))
        self._staged = []
        self.last_sync_at = utc_now()
        if self.on_commit is not None:
            self.on_commit(committed)

    def _commit_loop(self) -> None:
        while True:
            with self._ops_lock:
                while not self._ops and not self._closing:
                    self._wake.wait()
                # Let a burst of changes share one commit; a close, or a
                # shorter delay set meanwhile, cuts the wait short.
                started = time.monotonic()
                while not self._closing and (left := started + self.commit_delay - time.monotonic()) > 0:
                    self._wake.wait(left)
                if self._closing:
                    return  # close() commits what is left
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - keep committing later changes
                log.exception("index commit failed")

    def rebuild(self, docs: Iterable[IndexDoc], total: int, progress: Callable[[int, int], None] | None = None) -> int:
        """Replace the whole index with `docs`; returns how many."""
        self.building = True
        try:
            return self._rebuild(docs, total, progress)
        finally:
            self.building = False

    def _rebuild(self, docs: Iterable[IndexDoc], total: int, progress: Callable[[int, int], None] | None) -> int:
        count = 0
        with self._lock:
            # Tantivy's delete_all drops committed segments only: a document
            # staged but not yet committed would survive it and be added again
            # below (a reindex left 63 duplicates). Commit it first.
            self._commit_locked()
            # Dirty rows older than this are in the catalog the rebuild reads;
            # later ones stay dirty until their own commit.
            started = self.stamp()
            self._writer.delete_all_documents()
            # Analysed in worker processes when there are many (index_fields).
            for doc, terms in index_fields.analysed(docs, total):
                self._writer.add_document(self._document(doc, terms))
                count += 1
                if progress is not None and (count % 1000 == 0 or count == total):
                    progress(count, total)
            self._staged.append(("*", started))
            self._commit_locked()
        self.needs_rebuild = False
        return count

    def close(self) -> None:
        with self._ops_lock:
            self._closing = True
            self._wake.notify_all()
        with self._lock:
            try:
                self._commit_locked()
            except Exception:  # noqa: BLE001 - the dirty table replays it at start
                log.exception("final index commit failed")
        self._committer.join(timeout=5)
        self._writer.wait_merging_threads()

    # --- reading -----------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Everything committed, staged changes included (during a rebuild,
        which holds the writer for its whole run: what was committed before).
        The same snapshot serves every search until the next reload."""
        if not self.fresh:
            self.flush()
        cached = self._snapshot
        if cached is not None and cached[0] == self._reloads:
            return cached[1]
        # The count is read before the searcher: a reload in between tags
        # this snapshot as older than it is (dropped next time), never newer.
        reloads = self._reloads
        snap = Snapshot(self._index.searcher(), self.hit_fields)
        self._snapshot = (reloads, snap)
        return snap

    def search(
        self,
        fields: dict[str, Sequence[str]],
        scope_keys: Sequence[str],
        limit: int,
        *,
        max_terms: int | None = None,
        snapshot: Snapshot | None = None,
    ) -> list[Hit]:
        """Top `limit` hits (bm25 score) for terms in one or more fields (one view),
        within the given scopes.

        Tantivy weighs a scoped term by idf(all documents, the scope's
        frequency); a boost turns that into idf(all documents, the frequency
        across all scopes), so scores are those of one index over everything
        (on LoCoMo: R@10 0.668 against 0.657 with per-scope statistics);
        trigrams get idf(the documents, the frequency in the scopes
        searched) instead (`_weighed`).
        `max_terms` keeps a field's rarest terms: the others add little to
        BM25 and cost the most, their posting lists being the longest.
        """
        snap = snapshot or self.snapshot()
        query = self.view_query(fields, scope_keys, max_terms=max_terms, snapshot=snap)
        return snap.top(query, limit) if query is not None else []

    def view_query(
        self,
        fields: dict[str, Sequence[str]],
        scope_keys: Sequence[str],
        *,
        max_terms: int | None = None,
        snapshot: Snapshot,
    ) -> tantivy.Query | None:
        """`search`'s query, None when no term is in the index. Built apart so
        a caller can run it on another thread: the search lets go of the GIL,
        building it does not."""
        snap = snapshot
        if len(snap.clauses) >= snap.MAX_MEMO:
            snap.clauses.clear()
        clauses: list[Clause] = []
        for field, terms in fields.items():
            _, ordered = self._weighed(snap, field, terms, tuple(scope_keys))
            for _, _, term_clauses in [w for w in ordered if w[0] > 0][: max_terms or None]:
                clauses.extend(term_clauses)
        return tantivy.Query.boolean_query(clauses) if clauses else None

    def _weighed(
        self, snap: Snapshot, field: str, terms: Sequence[str], scope_keys: tuple[str, ...]
    ) -> tuple[int, list[tuple[int, str, tuple[Clause, ...]]]]:
        """(documents, [(document frequency, term, its clauses)] rarest
        first) that weigh a view's terms: across all scopes for words and
        stems (`stats`); for trigrams, across the scopes searched, from the
        lookups their clauses make anyway (no `stats` terms: a quarter of a
        cold start's indexing; LoCoMo R@10 0.656 -> 0.654). A term's entry
        is built once per snapshot and scopes searched."""
        if field in STATS_VIEWS:
            docs, across = snap.searcher.num_docs, None
        else:
            docs, across = sum(snap.doc_freq("scope", key) for key in scope_keys), scope_keys
        weighed = []
        for term in dict.fromkeys(terms):
            entry = snap.clauses.get((field, term, scope_keys))
            if entry is None:
                df = self.doc_freqs(snap, field, [term], across)[0]
                clauses = self._clauses(snap, field, term, scope_keys, idf(docs, df)) if df else ()
                entry = snap.clauses[(field, term, scope_keys)] = (df, term, clauses)
            weighed.append(entry)
        weighed.sort()  # terms are distinct: the sort never compares clauses
        return docs, weighed

    def _clauses(self, snap: Snapshot, field: str, term: str, scope_keys: tuple[str, ...], wanted: float) -> tuple[Clause, ...]:
        """A term's clause for each scope that holds it, boosted to the idf
        `wanted` (the one it has across the scopes that weigh it)."""
        total = max(snap.searcher.num_docs, 1)
        clauses = []
        for key in scope_keys:
            df_scope = snap.doc_freq(field, scoped(key, term))  # a trigram's: memoized by its weight's lookup
            if df_scope:
                query = tantivy.Query.term_query(self.schema, field, scoped(key, term))
                clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(query, wanted / idf(total, df_scope))))
        return tuple(clauses)

    @staticmethod
    def doc_freqs(snap: Snapshot, field: str, terms: Sequence[str], scope_keys: Sequence[str] | None) -> list[int]:
        """How many documents of the given scopes (None: of all, for the
        `STATS_VIEWS` only) hold each term: dictionary lookups, no postings
        are read."""
        if scope_keys is None:
            if field not in STATS_VIEWS:
                raise ValueError(f"the index keeps no frequencies across scopes for {field!r}")
            return [snap.doc_freq("stats", f"{field}:{term}") for term in terms]
        return [sum(snap.doc_freq(field, scoped(key, term)) for key in scope_keys) for term in terms]

    def term_masks(
        self,
        snap: Snapshot,
        hits: Sequence[Hit],
        field: str,
        terms: Sequence[str],
        scope_keys: Sequence[str],
    ) -> dict[tuple[int, int], int]:
        """Which of `terms` each hit holds, as a bit mask (bit i: terms[i]).

        One query per 24 terms, restricted to the hits' ids: each term is a
        constant-score clause worth 2**i, so a document's score is its mask.
        The hits must come from `snap`. Measured on 10k memories (p50):
        0.07 ms for 10 hits, 0.2 ms for 100; analysing the hits' texts
        instead took 5.8 ms for 100. The ids are ORed term queries: a
        term-set query walks the id dictionary (0.27 ms even for 10).
        """
        masks: dict[tuple[int, int], int] = {}
        if not hits or not terms:
            return masks
        ids = [(tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "id", hit.id)) for hit in hits]
        only = tantivy.Query.const_score_query(tantivy.Query.boolean_query(ids), 0.0)
        for start in range(0, len(terms), MASK_TERMS):
            clauses = []
            for bit, term in enumerate(terms[start : start + MASK_TERMS]):
                for key in scope_keys:
                    if snap.doc_freq(field, scoped(key, term)):
                        query = tantivy.Query.term_query(self.schema, field, scoped(key, term))
                        clauses.append((tantivy.Occur.Should, tantivy.Query.const_score_query(query, float(1 << bit))))
            if not clauses:
                continue
            query = tantivy.Query.boolean_query([(tantivy.Occur.Must, only), (tantivy.Occur.Must, tantivy.Query.boolean_query(clauses))])
            for score, address in snap.searcher.search(query, len(hits), count=False).hits:
                key = (address.segment_ord, address.doc)
                masks[key] = masks.get(key, 0) | (int(score) << start)
        return masks

    def num_docs(self) -> int:
        return self._index.searcher().num_docs

    def status(self) -> dict[str, object]:
        return {"generation": self.generation, "pending": self.pending, "last_sync_at": self.last_sync_at, "building": self.building}

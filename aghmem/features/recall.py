"""The recall pipeline behind `POST /api/memory/search` (DESIGN §7).

gate (implicit recall only) → candidates from each lexical view → filter →
fuse → order → relevance floor and shadow → top_k → package (results, recall
header and blocks, cut to the byte budget) → signals (async, for what passed
the floor and went into the package).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..errors import ValidationError
from ..model import Entry, Selector, iso_utc
from ..storage import analysis
from ..storage.catalog import Catalog
from ..storage.files import body_of
from ..storage.tantivy_index import Hit, Snapshot
from .indexing import Indexing
from .package import entry_item, fit, recall_package, snippet
from .relevance import Floor
from .signals import RecallEvent, Signals

RRF_K = 60
WORD_VIEW, TRIGRAM_VIEW = "bm25_unicode", "bm25_trigram"
# Recall for a runtime's turn (the trivial gate applies) or a search someone
# asked for (the CLI, an HTTP caller, an MCP memory_search): no gate.
IMPLICIT, EXPLICIT = "implicit", "explicit"
MODES = (IMPLICIT, EXPLICIT)
# Which scopes a search reads: the selector's visible scopes with deeper ones
# shadowing shallower (inherit), or the selector's own scope plus any
# `extra_scopes`, nothing shadowed (exact: a CF profile sees only itself).
INHERIT, EXACT = "inherit", "exact"
SCOPE_MODES = (INHERIT, EXACT)


@dataclass
class SearchRequest:
    query_text: str
    selector: Selector
    top_k: int
    raw_candidates: int
    session_id: str | None = None
    turn_seq: int | None = None
    context_hint: str | None = None
    mode: str = EXPLICIT
    allow_trivial_query: bool = False
    already_surfaced: list[str] = field(default_factory=list)
    include_already_surfaced: bool = False
    include_system: bool = False
    query_truncated: bool = False
    # False for a person looking (the web inspector's preview): no recall
    # signal, so looking at memory neither counts as recalling it nor feeds
    # dreaming.
    record: bool = True
    scope_mode: str = INHERIT
    extra_scopes: tuple[Selector, ...] = ()  # read too, in exact mode only
    # "Now" for the recency term and the staleness banner (a client's
    # reference date); signals keep the clock's time.
    reference_now: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.scope_mode not in SCOPE_MODES:
            raise ValidationError(f"scope_mode must be one of: {', '.join(SCOPE_MODES)}", field="scope_mode")
        if self.extra_scopes and self.scope_mode != EXACT:
            raise ValidationError("extra_scopes needs scope_mode exact", field="extra_scopes")
        if self.reference_now is not None and self.reference_now.tzinfo is None:
            self.reference_now = self.reference_now.replace(tzinfo=dt.timezone.utc)

    def scopes(self) -> list[Selector]:
        """The scopes this search reads, shallowest first."""
        if self.scope_mode == INHERIT:
            return self.selector.visible_scopes()
        scopes = {s.key: s for s in (self.selector, *self.extra_scopes)}
        return sorted(scopes.values(), key=lambda s: s.depth)

    @property
    def gated(self) -> bool:
        """The trivial gate applies: implicit recall that did not opt out."""
        return self.mode == IMPLICIT and not self.allow_trivial_query

    def options(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "allow_trivial_query": self.allow_trivial_query,
            "already_surfaced": self.already_surfaced,
            "include_already_surfaced": self.include_already_surfaced,
            "include_system": self.include_system,
            "raw_candidates": self.raw_candidates,
            "top_k": self.top_k,
        }

    def query(self) -> dict[str, Any]:
        return {
            "query_text": self.query_text,
            "context_hint": self.context_hint,
            "workspace_id": self.selector.workspace_id,
            "agent_name": self.selector.agent_name,
        }


@dataclass(slots=True)  # ~80 a search: slots make them quicker to build and read
class Candidate:
    hit: Hit
    depth: int
    word_rank: int | None = None  # 0-based rank in each lexical view, None: not found there
    trigram_rank: int | None = None
    score: float = 0.0
    why: list[str] = field(default_factory=list)
    shadowed_by: str | None = None
    already_shown: bool = False
    evidence: float | None = None  # its share of the query's terms; None: the floor is off
    entry: Entry | None = None  # loaded for the results only

    def age_days(self, now: dt.datetime) -> float:
        return max(0.0, (now.timestamp() - self.hit.mtime_ns / 1e9) / 86400)

    @property
    def ranks(self) -> dict[str, int]:
        """view → 0-based rank, for the views that found it."""
        pairs = ((WORD_VIEW, self.word_rank), (TRIGRAM_VIEW, self.trigram_rank))
        return {view: rank for view, rank in pairs if rank is not None}


# A candidate before `_top` looks at it: (-score, -depth, -mtime_ns, id,
# hit, word rank, trigram rank, already shown); sorted, best first.
Row = tuple[float, int, int, str, Hit, int | None, int | None, bool]


class Recall:
    def __init__(self, config: Config, catalog: Catalog, indexing: Indexing, signals: Signals) -> None:
        self.config = config
        self.catalog = catalog
        self.indexing = indexing  # its index is replaced by a reset
        self.signals = signals
        # A search is CPU-bound Python around SQLite calls that drop and take
        # the GIL; more searches at once than cores only thrash. Measured on
        # 2 cores, 8 clients: 196 queries/s unbounded, 393 with 2 slots.
        self._slots = threading.BoundedSemaphore(os.cpu_count() or 2)
        self._pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="aghmem-view")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def waits(self, req: SearchRequest) -> bool:
        """Whether this search would first wait on another thread: for the
        index to commit what is staged, or for the signal writer to write a
        session's earlier turns (what they surfaced is not shown again)."""
        return req.session_id is not None or not self.indexing.index.fresh

    def search(self, req: SearchRequest, now: dt.datetime) -> dict[str, Any]:
        with self._slots:
            return self._search(req, req.reference_now or now, now)

    def _search(self, req: SearchRequest, now: dt.datetime, clock_now: dt.datetime) -> dict[str, Any]:
        """`now` ranks and dates (the reference date, if given); `clock_now`
        stamps the signals."""
        terms = analysis.query_terms(req.query_text)
        skipped = None
        if req.gated and analysis.is_trivial(req.query_text):
            skipped = "trivial_query"
        elif not terms:
            skipped = "no_terms"
        if skipped:
            return self._package(req, [], now, clock_now, skipped_reason=skipped, terms=terms)

        depth = {s.key: s.depth for s in req.scopes()}
        keys = list(depth)
        snap = self.indexing.index.snapshot()  # one for every lookup: hits' addresses must agree
        stems = analysis.stems(terms)
        word_hits, trigram_hits = self._views(req, terms, stems, keys, snap)
        scores = self.signals.scores
        word_ranks = {hit.id: rank for rank, hit in enumerate(word_hits)}
        found, ordered = self._fused(req, word_ranks, word_hits, trigram_hits, depth, scores, now)
        floor = self._floor(snap, terms, stems, keys, word_ranks, len(word_hits) < req.raw_candidates)
        ranked = self._top(ordered, req.top_k, floor, depth if req.scope_mode == INHERIT else None, snap)
        if floor is not None and not floor.answers(max((c.evidence or 0.0 for c in ranked), default=0.0)):
            ranked = []  # only weak matches: silence, not padding
        entries = self.catalog.entries_with_text([c.hit.id for c in ranked])
        results = []
        for cand in ranked:
            cand.entry = entries.get(cand.hit.id)
            if cand.entry is None:
                continue  # deleted a moment ago
            cand.why = self._why(cand, scores.get(cand.hit.id, 0.0), now)
            if floor is not None:
                cand.why.append(floor.evidence(cand.hit.id).describe())
            results.append(cand)
        if results or floor is None or (found and not ordered):
            return self._package(req, results, now, clock_now, terms=terms)
        # Nothing passed the floor (and something was looked at, or nothing
        # holds a query term at all): say so rather than pad.
        best = floor.best_judged()
        note = (
            f"no memory holds enough of the query: best evidence {best:.2f} < min_evidence {floor.minimum:g}"
            if best else "no memory holds any of the query's terms"
        )
        return self._package(req, [], now, clock_now, terms=terms, skipped_reason="no_relevant_memory", note=note)

    def _views(
        self, req: SearchRequest, terms: list[str], stems: list[str], keys: list[str], snap: Snapshot
    ) -> tuple[list[Hit], list[Hit]]:
        """Each lexical view's hits (word, trigram), searched in parallel:
        Tantivy lets go of the GIL. The queries are built here (two threads
        would only take turns at the GIL building them); the word view's
        search, the shorter, goes to the other thread and the trigram
        view's runs here, so its answer is usually waiting by the end."""
        index = self.indexing.index
        word_query = index.view_query({"words": terms, "stems": stems}, keys, snapshot=snap)
        word_run = self._pool.submit(snap.top, word_query, req.raw_candidates) if word_query else None
        trigram_query = index.view_query(
            {"grams": analysis.trigrams(terms)},
            keys,
            # The rarest trigrams carry the typo tolerance; the common ones cost
            # the most (longest posting lists) for the least score.
            max_terms=self.config.recall.trigram_terms or None,
            snapshot=snap,
        )
        trigram_hits = snap.top(trigram_query, req.raw_candidates) if trigram_query else []
        return (word_run.result() if word_run else []), trigram_hits

    def _fused(
        self,
        req: SearchRequest,
        word_ranks: dict[str, int],
        word_hits: list[Hit],
        trigram_hits: list[Hit],
        depth: dict[str, int],
        scores: dict[str, float],
        now: dt.datetime,
    ) -> tuple[bool, list[Row]]:
        """(whether any view found anything, the candidates the request may
        see, best first: score, depth, newer, id). No _system files unless
        asked, nothing already surfaced unless asked (then marked). Each
        score adds the terms of `_why` in its order (so the same float).
        Rows, not Candidates: ~80 a search, and `_top` looks at the first
        dozen or two."""
        trigram_ranks = {hit.id: rank for rank, hit in enumerate(trigram_hits)}
        hits = {hit.id: hit for hit in trigram_hits}
        hits.update((hit.id, hit) for hit in word_hits)  # a memory both views found keeps its word hit
        surfaced = self._surfaced(req)
        rrf = self.config.recall.fusion == "rrf"
        weights = self.config.recall.weights
        word, trigram, offset = (1.0, 1.0, RRF_K + 1) if rrf else (weights.bm25_unicode, weights.bm25_trigram, 1)
        recency, signal, now_s = weights.recency, weights.recall_signal, now.timestamp()
        rows: list[Row] = []
        for memory_id, hit in hits.items():
            if hit.filename.startswith("_system") and not req.include_system:
                continue
            shown = memory_id in surfaced
            if shown and not req.include_already_surfaced:
                continue
            word_rank, trigram_rank = word_ranks.get(memory_id), trigram_ranks.get(memory_id)
            score = 0.0
            if word_rank is not None:
                score += word / (word_rank + offset)
            if trigram_rank is not None:
                score += trigram / (trigram_rank + offset)
            if not rrf:
                age = (now_s - hit.mtime_ns / 1e9) / 86400
                score += recency * 0.5 ** ((age if age > 0.0 else 0.0) / 14)
                past = scores.get(memory_id, 0.0)
                score += signal * (1.0 if past > 1.0 else past if past > 0.0 else 0.0)
                score = round(score, 6)
            rows.append((-score, -depth[hit.scope_key], -hit.mtime_ns, memory_id, hit, word_rank, trigram_rank, shown))
        rows.sort()  # ids are unique: the sort never compares further
        return bool(hits), rows

    def _floor(
        self, snap: Snapshot, terms: list[str], stems: list[str], keys: list[str], word_ids: dict[str, int], complete: bool
    ) -> Floor | None:
        """The relevance floor for this query; None when it is off.
        `complete`: the word view found fewer than asked, so every memory
        holding a term."""
        if self.config.recall.min_evidence <= 0:
            return None
        return Floor(
            self.indexing.index, snap, terms, stems, keys,
            minimum=self.config.recall.min_evidence,
            each=self.config.recall.min_evidence_each,
            word_ids=word_ids,
            complete=complete,
        )

    def _top(
        self, ordered: list[Row], top_k: int, floor: Floor | None, depth: dict[str, int] | None, snap: Snapshot
    ) -> list[Candidate]:
        """The first `top_k` unshadowed candidates that pass the floor, with
        the shadowed ones ranked among them; evidence and shadowing (unless
        `depth` is None) are looked up a window at a time."""
        ranked: list[Candidate] = []
        shown = 0
        start = 0
        # With the floor, the first window is what top_k needs and a little
        # more (each judged candidate costs a clause of the evidence query);
        # later ones double, so a query where nothing passes takes ~4 rounds.
        window = max(top_k * 2, 10) if floor is None else top_k + 2
        while start < len(ordered) and shown < top_k:
            chunk = [
                Candidate(hit, -neg_depth, word_rank, trigram_rank, -neg_score, already_shown=already)
                for neg_score, neg_depth, _, _, hit, word_rank, trigram_rank, already in ordered[start : start + window]
            ]
            start += window
            if floor is not None:
                window *= 2
                shares = floor.judge([c.hit for c in chunk])
                for cand in chunk:
                    cand.evidence = shares[cand.hit.id]
                chunk = [c for c in chunk if floor.passes(shares[c.hit.id])]
                if not chunk:
                    continue
            if depth is not None:
                self._shadow(chunk, depth, snap)
            for cand in chunk:
                if shown == top_k:
                    return ranked
                ranked.append(cand)
                shown += cand.shadowed_by is None
        return ranked

    # --- steps ---------------------------------------------------------------

    def _surfaced(self, req: SearchRequest) -> set[str]:
        surfaced = set(req.already_surfaced)
        if req.session_id:
            self.signals.flush()  # the session's previous turns are written
            surfaced |= self.catalog.surfaced_ids(req.session_id)
        return surfaced

    def _why(self, cand: Candidate, recall_score: float, now: dt.datetime) -> list[str]:
        """The score's terms in words (for the returned results only), in
        the order `_fused` adds them."""
        if self.config.recall.fusion == "rrf":
            return [f"{view}: rank {rank + 1} (rrf +{1 / (RRF_K + rank + 1):.4f})" for view, rank in cand.ranks.items()]
        weights = self.config.recall.weights
        why = []
        if cand.word_rank is not None:
            why.append(f"{WORD_VIEW}: rank {cand.word_rank + 1} (+{weights.bm25_unicode / (cand.word_rank + 1):.3f})")
        if cand.trigram_rank is not None:
            why.append(f"{TRIGRAM_VIEW}: rank {cand.trigram_rank + 1} (+{weights.bm25_trigram / (cand.trigram_rank + 1):.3f})")
        recency = 0.5 ** (cand.age_days(now) / 14)
        signal = min(1.0, max(0.0, recall_score))
        why.append(f"recency: {recency:.2f} (+{weights.recency * recency:.3f})")
        why.append(f"recall_signal: {signal:.2f} (+{weights.recall_signal * signal:.3f})")
        return why

    def _shadow(self, ranked: list[Candidate], depth: dict[str, int], snap: Snapshot) -> None:
        """Same type and slug (so the same filename) in a deeper visible scope
        wins; the shallower one gets `shadowed_by`. A filename that one
        document of the index holds (most of them) has nothing to be
        shadowed by: the catalog is asked only about the others."""
        filenames = list({c.hit.filename for c in ranked if snap.doc_freq("filename", c.hit.filename) > 1})
        if not filenames:
            return
        deepest: dict[str, tuple[int, str]] = {}
        for scope_key, filename, memory_id in self.catalog.entries_named(filenames, list(depth)):
            level = depth[scope_key]
            if filename not in deepest or level > deepest[filename][0]:
                deepest[filename] = (level, memory_id)
        for cand in ranked:
            level, winner = deepest.get(cand.hit.filename, (-1, cand.hit.id))
            if level > cand.depth:
                cand.shadowed_by = winner

    # --- the package -----------------------------------------------------------

    def _package(
        self,
        req: SearchRequest,
        ranked: list[Candidate],
        now: dt.datetime,
        clock_now: dt.datetime,
        *,
        terms: list[str],
        skipped_reason: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        banner_after = self.config.recall.freshness.banner_after_days
        results = []
        entries: list[tuple[Candidate, dict[str, Any]]] = []  # unshadowed, in rank order
        for cand in ranked:
            entry = cand.entry
            assert entry is not None
            banner = entry.staleness_banner(now, banner_after)
            body = body_of(entry.raw)
            results.append(
                {
                    "memory": entry.summary(banner),
                    "score": cand.score,
                    "evidence": cand.evidence,
                    "snippet": snippet(body, terms),
                    "why_recalled": cand.why,
                    "already_shown": cand.already_shown,
                    "shadowed_by": cand.shadowed_by,
                }
            )
            if cand.shadowed_by is None:
                entries.append((cand, entry_item(entry, body, banner, cand.why, now)))
        budget = self.config.recall.max_package_bytes
        packaged, omitted, used = fit(entries, budget)
        recall = recall_package([(cand.entry, item) for cand, item in packaged], [item for _, item in omitted], used, budget)
        response: dict[str, Any] = {
            "results": results,
            "recall": recall,
            "skipped_reason": skipped_reason,
            "note": note,
            "query_truncated": req.query_truncated,
        }
        if req.record:
            self._signal(req, terms, [cand for cand, _ in packaged], recall, clock_now, skipped_reason)
        response["index"] = self.indexing.status()
        return response

    def _signal(
        self,
        req: SearchRequest,
        terms: list[str],
        packaged: list[Candidate],
        recall: dict[str, Any],
        now: dt.datetime,
        skipped: str | None,
    ) -> None:
        """Signals for what recall handed over: packaged, past the floor
        (which drops the rest before it gets here), never padding."""
        at = iso_utc(now, ms=True)
        trace = None
        if req.session_id and req.turn_seq is not None:
            trace = {
                "session_id": req.session_id,
                "turn_seq": req.turn_seq,
                "executed_at": at,
                "options": req.options(),
                "query": req.query(),
                "recall": recall,
                "skipped_reason": skipped,
            }
        recalled = [(c.hit.id, c.score) for c in packaged]
        if not recalled and trace is None:
            return
        query_hash = hashlib.sha256(" ".join(sorted(terms)).encode()).hexdigest()[:16]
        self.signals.record(RecallEvent(at, query_hash, req.session_id, req.turn_seq, recalled, trace))


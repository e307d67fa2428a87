"""The relevance floor: does a candidate carry enough lexical evidence?

The lexical views always return something: BM25 ranks any memory that shares
one common word with the query, and the trigram view ranks memories that
share a few letters. Without a floor every search fills `top_k`, and those
false recalls feed the recall signals dreaming learns from.

A candidate's evidence is the IDF-weighted share of the query's terms it
holds, in the stem view (so `deploys` is held by a memory that says
`deployment`):

    evidence = Σ weight(term held) / Σ weight(the query's 8 heaviest terms)

(capped at 1). For questions, the 8 heaviest are nearly all the terms (on
LoCoMo 90% of questions have at most 8, and the cap changes no number
there); a runtime's whole message has dozens, and without the cap a memory
holding its few rare words would count as holding a sliver of it.

A term's weight is its BM25 idf, over all memories as in the ranking. A
query term that no memory the reader can see holds counts against every
candidate, three times as heavily as a term one memory holds: a query about
something the store never heard of ("kubernetes helm chart") is not answered
by a memory that happens to mention charts. Trigrams are not evidence: a
memory that only shares letters with the query holds none of its terms and
scores 0.

Two thresholds: recall answers only when its best candidate holds
`min_evidence`, then keeps each candidate holding `min_evidence_each` (the
weaker companions of a good answer are often relevant; alone they are not
an answer). Tuned on LoCoMo (scripts/eval_locomo.py --sweep): questions
asked in another conversation's workspace, where every result is false,
came back non-empty 99.9% of the time without a floor (96% keeping only
memories that hold a query term); with unseen terms weighing 3,
min_evidence 0.17 and min_evidence_each 0.05, 11%, for 0.010 of R@10 (0.13
gave 23% for 0.005; one floor of 0.15 for every result 13% for 0.014, in
an earlier run). The first tuning chose 0.13 on an index whose cold start
had indexed most files twice: deleted documents not yet merged away count
in Tantivy's document frequencies, which made every idf, so every share,
different from what a clean index gives. Weighing unseen terms
like a term one memory holds needed a floor of 0.35 for a similar effect
and cost 0.06 of R@10: in one's own store, the relevant memory of a
paraphrased question often holds only a third of its terms.

Which terms a candidate holds is read from the index, a window of candidates
at a time in rank order (most searches stop after the first window): one
query per window, restricted to the window's ids, that scores each document
with a bit mask of its terms (`SearchIndex.term_masks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Container, Sequence

from ..storage.tantivy_index import Hit, SearchIndex, Snapshot, idf

SHOWN_TERMS = 8  # terms named in `why_recalled`, each side
UNSEEN_WEIGHT = 3.0  # × the idf of a term one memory holds (see above)
JUDGED_TERMS = 8  # the query's heaviest terms that make the denominator


@dataclass(frozen=True)
class Evidence:
    """How much of the query a memory holds, and which terms."""

    share: float
    held: tuple[str, ...]
    missing: tuple[str, ...]

    def describe(self) -> str:
        """`evidence: 0.62 (staging, port; missing: helm)`."""
        held = _names(self.held) or "no query term"
        missing = f"; missing: {_names(self.missing)}" if self.missing else ""
        return f"evidence: {self.share:.2f} ({held}{missing})"


def _names(terms: Sequence[str]) -> str:
    shown = ", ".join(terms[:SHOWN_TERMS])
    return shown + (f" +{len(terms) - SHOWN_TERMS} more" if len(terms) > SHOWN_TERMS else "")



class Floor:
    """Evidence for one query's candidates, computed on demand.

    `complete` says the word view returned every memory that holds a query
    term (it came back with fewer hits than asked): a candidate it did not
    return then holds none, and needs no lookup.
    """

    def __init__(
        self,
        index: SearchIndex,
        snap: Snapshot,
        terms: list[str],
        stems: list[str],
        scope_keys: list[str],
        *,
        minimum: float,
        each: float,
        word_ids: Container[str],
        complete: bool,
    ) -> None:
        self.index = index
        self.snap = snap
        self.scope_keys = scope_keys
        self.minimum = minimum
        self.each = min(each, minimum)
        # One entry per distinct stem, shown as the query's first word for it.
        words_by_stem: dict[str, str] = {}
        for word, stem in zip(terms, stems):
            words_by_stem.setdefault(stem, word)
        self.stems = list(words_by_stem)
        self.words = list(words_by_stem.values())
        docs = max(snap.searcher.num_docs, 1)
        overall = index.doc_freqs(snap, "stems", self.stems, None)
        visible = [index.doc_freqs(snap, "stems", [s], scope_keys)[0] if df else 0 for s, df in zip(self.stems, overall)]
        # Unseen: a multiple of idf(docs, 1), not idf(docs, 0), which in a
        # small store would swamp the rest (3 memories: 2.08 against 0.98).
        unseen = UNSEEN_WEIGHT * idf(docs, 1)
        self.weights = [idf(docs, df) if seen else unseen for seen, df in zip(visible, overall)]
        self.total = sum(sorted(self.weights, reverse=True)[:JUDGED_TERMS]) or 1.0
        self.word_ids = word_ids
        self.complete = complete
        self._masks: dict[str, int] = {}
        self._shares: dict[str, float] = {}

    def passes(self, share: float) -> bool:
        """Whether a memory may stand among the results (`answers` decides
        whether there are results at all)."""
        return share > 0 and share >= self.each

    def answers(self, best: float) -> bool:
        return best > 0 and best >= self.minimum

    def judge(self, hits: Sequence[Hit]) -> dict[str, float]:
        """Each hit's evidence share (by memory id), looking up only what is new."""
        todo = [h for h in hits if h.id not in self._masks]
        lookup = [h for h in todo if h.id in self.word_ids or not self.complete]
        masks = self.index.term_masks(self.snap, lookup, "stems", self.stems, self.scope_keys) if lookup else {}
        for hit in todo:
            self._masks[hit.id] = mask = masks.get(hit.address, 0)
            self._shares[hit.id] = self._share(mask)
        return {h.id: self._shares[h.id] for h in hits}

    def best_judged(self) -> float:
        """The highest share among the memories judged so far."""
        return max(self._shares.values(), default=0.0)

    def _share(self, mask: int) -> float:
        if not mask:
            return 0.0
        held = sum(w for i, w in enumerate(self.weights) if mask >> i & 1)
        return round(min(1.0, held / self.total), 4)

    def evidence(self, memory_id: str) -> Evidence:
        """The judged hit's evidence, with the terms it holds and misses."""
        mask = self._masks.get(memory_id, 0)
        return Evidence(
            self._shares.get(memory_id, 0.0),
            tuple(w for i, w in enumerate(self.words) if mask >> i & 1),
            tuple(w for i, w in enumerate(self.words) if not mask >> i & 1),
        )

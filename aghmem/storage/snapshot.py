"""What one search reads from the index: a searcher, and its hits' fields.

A hit names a document by its address in one searcher. What ranking needs
of it (id, scope, filename, mtime) is stored in the document, and reading
the store costs a block's decompression after every commit (a new searcher
starts with no cached block): the first search after a write read ~100
documents. So every document version carries a number (`ord`, a fast
field: read for a whole result in one call), and `HitFields` keeps the
fields by that number for the life of the daemon: filled when a document
is staged, or read from the store once when a hit is not known (after a
restart).
"""

from __future__ import annotations

import itertools
from typing import Iterator, NamedTuple

import tantivy

Fields = tuple[str, str, str, int]  # id, scope key, filename, mtime (ns)


class Hit(NamedTuple):
    """One search result: what ranking needs, straight from the index. (A
    tuple: a search makes ~100, and a frozen dataclass costs 3× to build.)"""

    id: str
    scope_key: str
    filename: str
    mtime_ns: int
    score: float
    address: tuple[int, int] = (0, 0)  # (segment, doc): valid in the snapshot that found it


_new_tuple = tuple.__new__
Clause = tuple[tantivy.Occur, tantivy.Query]  # one scope's clause for a term


class HitFields:
    """Fields by document version number, across commits. Numbers are
    never reused in a run (they continue from the index's highest), so a
    number always means one document version; a deleted version's entry
    only waits for the table to start afresh."""

    MAX_ENTRIES = 200_000  # ~70 MB at most; past it the table starts afresh (misses read the store)

    def __init__(self, first: int) -> None:
        self._numbers: Iterator[int] = itertools.count(first)  # next() is atomic under the GIL
        self._fields: dict[int, Fields] = {}

    def number(self, fields: Fields) -> int:
        """A number for a document version about to be staged."""
        ord_ = next(self._numbers)
        self.remember(ord_, fields)
        return ord_

    def remember(self, ord_: int, fields: Fields) -> None:
        if len(self._fields) >= self.MAX_ENTRIES:
            self._fields.clear()
        self._fields[ord_] = fields

    def get(self, ord_: int) -> Fields | None:
        return self._fields.get(ord_)


class Snapshot:
    """One searcher for every lookup of a search (hits' addresses agree),
    with what it reads kept: document frequencies (the word view and the
    relevance floor ask for the same ones) and the views' clauses. The index
    hands the same snapshot to every search until its next commit, so a
    warm query reads no term dictionary twice; hits' fields outlive it
    (`HitFields`)."""

    MAX_MEMO = 200_000  # entries per memo; a long read-only stretch of varied queries stays bounded

    def __init__(self, searcher: tantivy.Searcher, fields: HitFields) -> None:
        self.searcher = searcher
        self.fields = fields
        self._memo: dict[tuple[str, str], int] = {}
        # A view's term per (field, term, the scopes searched): its document
        # frequency (what weighs it), the term, and its clause for each of
        # those scopes that holds it; built once per snapshot.
        self.clauses: dict[tuple[str, str, tuple[str, ...]], tuple[int, str, tuple[Clause, ...]]] = {}

    def doc_freq(self, field: str, term: str) -> int:
        df = self._memo.get((field, term))
        if df is None:
            if len(self._memo) >= self.MAX_MEMO:
                self._memo.clear()
            df = self._memo[(field, term)] = self.searcher.doc_freq(field, term)
        return df

    def top(self, query: tantivy.Query, limit: int) -> list[Hit]:
        """The `limit` best hits of a query, in rank order. No total count:
        counting visits every matching document, the top `limit` alone need
        not (a trigram view's search at 20k: 0.53 → 0.42 ms p50)."""
        return self.hits(self.searcher.search(query, limit, count=False))

    def hits(self, result: tantivy.SearchResult) -> list[Hit]:
        """A search result's hits, in rank order. One loop, and the tuples
        made as tuples: a NamedTuple's own __new__ is a Python function (a
        third of this loop's time for ~100 hits)."""
        scored = result.hits
        if not scored:
            return []
        numbers = self.searcher.fast_field_values("ord", [address for _, address in scored])
        known, out = self.fields, []
        for (score, address), ord_ in zip(scored, numbers):
            fields = known.get(ord_)
            if fields is None:
                doc = self.searcher.doc(address)
                fields = (doc["id"][0], doc["scope"][0], doc["filename"][0], doc["mtime"][0])
                if ord_ is not None:
                    known.remember(ord_, fields)
            out.append(_new_tuple(Hit, (*fields, score, (address.segment_ord, address.doc))))
        return out

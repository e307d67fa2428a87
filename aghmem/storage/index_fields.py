"""A document's index fields as strings, for one document or many at once.

`fields` is what the index stores for a text: each view's terms prefixed
with the document's scope, and the unscoped `stats` terms of words and
stems. A cold rebuild spends much of its time here (pure Python, one core),
so `analysed` hands big batches to helper processes (`aghmem.processes`)
when there are cores to spare, in order, while the caller feeds the writer.
A helper imports only this module and `analysis`: ~0.1 s to start.
"""

from __future__ import annotations

import collections
from typing import Iterable, Iterator, Protocol, TypeVar

from .. import processes
from . import analysis
from .files import body_of

VIEWS = ("words", "stems", "grams")
# Views whose terms also go to `stats`, for document frequencies across all
# scopes. Not the trigrams: three in four distinct terms of a memory, for a
# view that weighs them by what the search can see (`SearchIndex.view_query`).
STATS_VIEWS = ("words", "stems")
# Below this many documents starting the workers (~0.1-0.2 s on a busy
# 2-core machine) costs more than they save.
POOL_MIN_DOCS = 2000
CHUNK_DOCS = 250  # per task: big enough that pickling overhead stays small

Fields = tuple[str, str, str, str]  # words, stems, grams, stats


class Analysable(Protocol):
    @property
    def scope_key(self) -> str: ...

    @property
    def text(self) -> str: ...


Doc = TypeVar("Doc", bound=Analysable)


def index_text(name: str, description: str, raw: str) -> str:
    """What the index analyses of a memory: its name, description and body."""
    return f"{name}\n{description}\n{body_of(raw)}"


def scoped(scope_key: str, term: str) -> str:
    """A term as indexed: prefixed with its document's scope. A query ORs the
    scoped terms of the visible scopes, so it needs no filter clause (which
    would make Tantivy score every match instead of pruning with block-max
    WAND: 1.9 ms against 0.6 ms at 100k memories), visibility holds by
    construction, and BM25's statistics are those of each scope."""
    return f"{scope_key}|{term}"


def _prefixed(prefix: str, terms: Iterable[str]) -> str:
    """'p|a p|b': each term with the prefix, space-separated."""
    joined = (" " + prefix).join(terms)
    return prefix + joined if joined else ""


def fields(scope_key: str, text: str) -> Fields:
    """The three views scoped, and every distinct word and stem once,
    unscoped, as `view:term` (for document frequencies across scopes). One
    C-level join per field, not a Python string per term: this is half of
    what taking a file in costs."""
    terms = analysis.view_terms(text)
    prefix = scope_key + "|"
    stats = " ".join(_prefixed(f"{view}:", dict.fromkeys(terms[view])) for view in STATS_VIEWS if terms[view])
    return (*(_prefixed(prefix, terms[view]) for view in VIEWS), stats)  # type: ignore[return-value]


def workers() -> int:
    """Analysis workers worth starting: one per core but one. Tantivy's
    writer thread (num_threads=1: one segment per flush, in the order the
    documents came, so BM25 ties break as before) keeps a core busy on its
    own; on 2 cores the analysis here and the writer already fill both, and
    workers measured no faster (20k memories: index 4.7-5.3 s serial,
    5.0-5.8 s with two workers, interleaved)."""
    return processes.cores() - 1


def analysed(docs: Iterable[Doc], total: int) -> Iterator[tuple[Doc, Fields]]:
    """Each document with its fields, in the order given: in worker
    processes when `total` is big enough and there are cores to spare, else
    here. `docs` is read in the calling thread only."""
    count = workers()
    if total < POOL_MIN_DOCS or count < 2:
        return ((doc, fields(doc.scope_key, doc.text)) for doc in docs)
    return _pooled(docs, count)


def _pooled(docs: Iterable[Doc], count: int) -> Iterator[tuple[Doc, Fields]]:
    """Chunks of documents analysed in `count` helper processes, in order."""
    sent: collections.deque[list[Doc]] = collections.deque()

    def tasks() -> Iterator[list[tuple[str, str]]]:
        for chunk in _chunks(docs, CHUNK_DOCS):
            sent.append(chunk)
            yield [(doc.scope_key, doc.text) for doc in chunk]

    for answer in processes.ordered(fields_of, tasks(), count):
        yield from zip(sent.popleft(), answer)


def fields_of(chunk: list[tuple[str, str]]) -> list[Fields]:
    """The fields of (scope_key, text) pairs: one helper's task."""
    return [fields(scope_key, text) for scope_key, text in chunk]


def _chunks(docs: Iterable[Doc], size: int) -> Iterator[list[Doc]]:
    chunk: list[Doc] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

"""A document's index fields as strings, for one document or many at once.

`fields` is what the index stores for a text: each view's terms prefixed
with the document's scope, and the unscoped `stats` terms. A cold rebuild
spends much of its time here (pure Python, one core), so `analysed` hands
big batches to worker processes when there are cores to spare, in order,
while the caller feeds the writer. Workers are fresh `python -m` processes
(never forks: the daemon runs threads, and a fork could copy a lock one of
them holds) that import only this module and `analysis`: ~0.1 s to start.
"""

from __future__ import annotations

import collections
import logging
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterable, Iterator, Protocol, TypeVar

from . import analysis

log = logging.getLogger("aghmem.index")

VIEWS = ("words", "stems", "grams")
# Below this many documents starting the workers (~0.1-0.2 s on a busy
# 2-core machine) costs more than they save.
POOL_MIN_DOCS = 2000
CHUNK_DOCS = 250  # per task: big enough that pickling overhead stays small
IN_FLIGHT = 4  # chunks queued per worker: they never wait for work, memory stays bounded
# The directory holding this copy of aghmem: workers run the same code.
_CODE_ROOT = str(Path(__file__).resolve().parents[2])

Fields = tuple[str, str, str, str]  # words, stems, grams, stats


class Analysable(Protocol):
    @property
    def scope_key(self) -> str: ...

    @property
    def text(self) -> str: ...


Doc = TypeVar("Doc", bound=Analysable)


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
    """The three views scoped, and every distinct term once, unscoped, as
    `view:term` (for document frequencies across scopes). One C-level join
    per field, not a Python string per term: this is half of what taking a
    file in costs."""
    terms = analysis.view_terms(text)
    prefix = scope_key + "|"
    stats = " ".join(_prefixed(f"{view}:", dict.fromkeys(terms[view])) for view in VIEWS if terms[view])
    return (*(_prefixed(prefix, terms[view]) for view in VIEWS), stats)  # type: ignore[return-value]


def workers() -> int:
    """Analysis workers worth starting: one per core but one. Tantivy's
    writer thread (num_threads=1: one segment per flush, in the order the
    documents came, so BM25 ties break as before) keeps a core busy on its
    own; on 2 cores the analysis here and the writer already fill both, and
    workers measured no faster (20k memories: index 4.7-5.3 s serial,
    5.0-5.8 s with two workers, interleaved)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores - 1


def analysed(docs: Iterable[Doc], total: int) -> Iterator[tuple[Doc, Fields]]:
    """Each document with its fields, in the order given: in worker
    processes when `total` is big enough and there are cores to spare, else
    here. `docs` is read in the calling thread only."""
    count = workers()
    if total < POOL_MIN_DOCS or count < 2:
        return ((doc, fields(doc.scope_key, doc.text)) for doc in docs)
    return _pooled(docs, count)


def _pooled(docs: Iterable[Doc], count: int) -> Iterator[tuple[Doc, Fields]]:
    """Chunk i goes to worker i % count and its answer is read back in the
    same order, so the documents come out as they went in. A worker that
    cannot start or dies leaves its chunks to this process."""
    pool = [_Worker.start() for _ in range(count)]
    queued: collections.deque[tuple[int, list[Doc]]] = collections.deque()
    try:
        for number, chunk in enumerate(_chunks(docs, CHUNK_DOCS)):
            pool[number % count].send([(d.scope_key, d.text) for d in chunk])
            queued.append((number % count, chunk))
            if len(queued) >= count * IN_FLIGHT:
                yield from _answer(pool, *queued.popleft())
        while queued:
            yield from _answer(pool, *queued.popleft())
    finally:
        for worker in pool:
            worker.stop()


def _answer(pool: list[_Worker], number: int, chunk: list[Doc]) -> Iterator[tuple[Doc, Fields]]:
    answer = pool[number].receive()
    if answer is None:
        answer = [fields(doc.scope_key, doc.text) for doc in chunk]
    return zip(chunk, answer)


class _Worker:
    """One analysis process: pickled chunks in on stdin, pickled fields out
    on stdout. A plain `python -m` process, not multiprocessing's spawn:
    spawn imports the parent's main script again in each worker, which runs
    an unguarded script's code (an embedding program that starts a service
    at its top level) a second time. A thread writes the chunks, so this
    process never blocks writing to a worker that is blocked writing back."""

    def __init__(self, process: subprocess.Popen[bytes] | None) -> None:
        self.process = process
        self.inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.feeder = threading.Thread(target=self._feed, name="aghmem-index-feed", daemon=True)
        if process is not None:
            self.feeder.start()

    @classmethod
    def start(cls) -> _Worker:
        # Run from the code's own directory: `-m` puts the working directory
        # first on the path, where another copy of aghmem may be.
        command = [sys.executable, "-m", "aghmem.storage.index_fields"]
        try:
            return cls(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=_CODE_ROOT))
        except (OSError, ValueError) as exc:
            log.warning("cannot start an analysis worker (%s): analysing here", exc)
            return cls(None)

    def send(self, chunk: list[tuple[str, str]]) -> None:
        self.inbox.put(chunk)

    def receive(self) -> list[Fields] | None:
        """The answer to the oldest chunk sent, or None if the worker is gone."""
        if self.process is None:
            return None
        try:
            return pickle.load(self.process.stdout)  # type: ignore[arg-type]
        except (EOFError, OSError, pickle.UnpicklingError):
            log.warning("an analysis worker stopped (exit %s): analysing here", self.process.poll())
            self.stop()
            return None

    def _feed(self) -> None:
        assert self.process is not None and self.process.stdin is not None
        stdin = self.process.stdin  # its own: stop() may let go of the process meanwhile
        try:
            while (chunk := self.inbox.get()) is not None:
                pickle.dump(chunk, stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
        except (OSError, ValueError):
            pass  # the worker is gone: receive() says so
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def stop(self) -> None:
        """End the worker: it keeps no state, and once its answers are read
        (or no longer wanted) nothing it holds is worth waiting for."""
        if self.process is None:
            return
        process, self.process = self.process, None
        self.inbox.put(None)
        process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()


def _chunks(docs: Iterable[Doc], size: int) -> Iterator[list[Doc]]:
    chunk: list[Doc] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _serve() -> None:
    """A worker's loop: answer each chunk on stdin until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is for the daemon, which stops us
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            chunk = pickle.load(stdin)
        except EOFError:
            return
        pickle.dump([fields(scope_key, text) for scope_key, text in chunk], stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()


if __name__ == "__main__":
    _serve()

"""Group commit: writes that arrive together are applied and flushed together.

A write is queued with the work to do under the controller's lock (decide,
record, apply: the decision row committed, the file's bytes fsynced and
renamed into place). One thread, the committer, takes every write queued
so far, applies them one after the other under the lock (each decided
against the state the previous ones left), then flushes them as one: one
fsync of the decision log's WAL, one fsync per directory they renamed
into, the derived views (search index, MEMORY.md once per directory, daily
log). Only then is any of them answered: a write is acknowledged once its
decision and its file are on disk. The writes that arrive meanwhile make
the next batch.

A write is answered through a future: a thread waits on it (`run`), or the
event loop awaits it (`submit`), so an HTTP write needs no worker thread of
its own. One committer, not a leader elected among the writers, means no
hand-over between batches (a wake-up costs a context switch and a turn of
the GIL) and one place where writes are applied.

Changes are flushed in the order they were applied, so the derived views
never take an older version after a newer.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Generic, Sequence, TypeVar

from ..model import Decision, Entry, Selector
from ..storage.files import fsync_dir
from ..storage.layout import ScopeFiles

if TYPE_CHECKING:
    from .controller import Controller

T = TypeVar("T")
log = logging.getLogger("aghmem.controller")


@dataclass
class Change:
    """A recorded decision waiting for its flush. `applied`: it changed
    `filename` in `files` (else only its decision row needs to be durable)."""

    selector: Selector | None = None
    filename: str | None = None
    entry: Entry | None = None
    decision: Decision | None = None
    files: ScopeFiles | None = None
    applied: bool = False
    # What went wrong flushing this change (its writer raises it).
    error: BaseException | None = None


# Run under the lock: the write's result, and its change to flush (None:
# nothing recorded, as for a dry run).
Apply = Callable[[], "tuple[T, Change | None]"]
Flush = Callable[[Sequence[Change]], None]


@dataclass
class _Job(Generic[T]):
    apply: Apply[T]
    future: "Future[T]" = field(default_factory=Future)
    result: Any = None
    change: Change | None = None
    error: BaseException | None = None


class GroupCommit:
    """The queue of writes, applied and flushed in batches by the committer."""

    def __init__(self, lock: threading.RLock, flush: Flush) -> None:
        self._lock = lock  # the controller's write lock
        # `flush` makes a batch durable and visible; it raises only when the
        # whole batch failed (its durability), and sets `error` on a change
        # whose own derived views failed.
        self._flush = flush
        self._mutex = threading.Lock()  # guards the queue
        self._queued = threading.Condition(self._mutex)
        self._queue: list[_Job[Any]] = []
        self._committer: threading.Thread | None = None  # started with the first write
        self._closed = False

    def submit(self, apply: Apply[T]) -> "Future[T]":
        """Queue a write; its future holds the result once the write is
        durable, or what applying or flushing it raised."""
        job: _Job[T] = _Job(apply)
        if self._lock._is_owned() or threading.current_thread() is self._committer:  # type: ignore[attr-defined]
            # This thread holds the lock already (a reset's scan, observing a
            # change whose listener writes), or is the committer flushing a
            # batch whose listener writes (a synthesis refreshed): no batch
            # could be applied meanwhile, so the write is applied here, alone.
            self._apply_and_flush([job])
            return job.future
        with self._mutex:
            if not self._closed:
                if self._committer is None:
                    self._committer = threading.Thread(target=self._commit, name="aghmem-committer", daemon=True)
                    self._committer.start()
                self._queue.append(job)
                self._queued.notify()
                return job.future
        self._apply_and_flush([job])  # closed: the write is applied here, alone
        return job.future

    def run(self, apply: Apply[T]) -> T:
        """Apply (under the lock) and flush a write; returns its result once
        it is durable, or raises what applying or flushing it raised."""
        return self.submit(apply).result()

    def close(self) -> None:
        """Apply what is queued, then stop the committer (later writes are
        applied by their own thread)."""
        with self._mutex:
            self._closed = True
            self._queued.notify()
            committer = self._committer
        if committer is not None and committer is not threading.current_thread():
            committer.join(timeout=30)

    def _commit(self) -> None:
        while True:
            with self._mutex:
                while not self._queue and not self._closed:
                    self._queued.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
            try:
                self._apply_and_flush(batch)
            except Exception:  # noqa: BLE001 - the committer must outlive any batch
                log.exception("a group commit batch failed")

    def _apply_and_flush(self, batch: list[_Job[Any]]) -> None:
        """Apply the batch under the lock, flush it, then answer each write.
        A write whose future was cancelled while it waited (its HTTP client
        went away) is not applied: nobody is told of it."""
        batch = [job for job in batch if job.future.set_running_or_notify_cancel()]
        try:
            with self._lock:
                for job in batch:
                    try:
                        job.result, job.change = job.apply()
                    except BaseException as exc:  # noqa: BLE001 - its writer raises it
                        job.error = exc
            changes = [job.change for job in batch if job.change is not None]
            try:
                if changes:
                    self._flush(changes)
            except BaseException as exc:  # noqa: BLE001 - every writer of the batch raises it
                for change in changes:
                    change.error = change.error or exc
        except BaseException as exc:  # noqa: BLE001 - never leave a writer waiting
            for job in batch:
                job.error = job.error or exc
        finally:
            for job in batch:
                error = job.error or (job.change.error if job.change is not None else None)
                if error is not None:
                    job.future.set_exception(error)
                else:
                    job.future.set_result(job.result)


def flush(controller: "Controller", batch: Sequence[Change]) -> None:
    """The controller's flush: the decisions and the renames durable, then
    each change's listeners (in apply order), MEMORY.md once per directory,
    and the decision listeners, as `Controller.after_apply` does for one."""
    controller.catalog.sync()
    applied = [change for change in batch if change.applied]
    directories = {change.files.directory: change for change in applied if change.files is not None}
    for directory in directories:
        fsync_dir(directory)
    for change in applied:
        assert change.selector is not None and change.filename is not None
        try:
            for listener in controller.listeners:
                listener(change.selector, change.filename, change.entry)
        except Exception as exc:  # noqa: BLE001 - this change's writer raises it
            change.error = exc
    for change in directories.values():
        assert change.selector is not None
        controller.refresh_memory_index(change.selector, change.files)
    told = [change for change in applied if change.error is None]
    decisions = [change.decision for change in told if change.decision is not None]
    try:
        for decision_listener in controller.decision_listeners:
            decision_listener(decisions)
    except Exception as exc:  # noqa: BLE001 - the writers of these decisions raise it
        for change in told:
            change.error = exc

"""Group commit: writes that arrive together are applied and flushed together.

A write is queued with the work to do under the controller's lock (decide,
record, apply: the decision row committed, the file's bytes fsynced and
renamed into place). The first writer to find no batch under way leads: it
takes every write queued so far, applies them one after the other under
the lock (each decided against the state the previous ones left), then
flushes them as one: one fsync of the decision log's WAL, one fsync per
directory they renamed into, the derived views (search index, MEMORY.md
once per directory, daily log). Only then is any of them answered: a write
is acknowledged once its decision and its file are on disk. The others
wait; the writes that arrive meanwhile make the next batch, led by the
first of them. Each writer sleeps on its own lock, so the leader wakes just
the writers it answers and the next leader (a wake-up costs CPU: a context
switch and a turn of the GIL).

Changes are flushed in the order they were applied, so the derived views
never take an older version after a newer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Generic, Sequence, TypeVar

from ..model import Decision, Entry, Selector
from ..storage.files import fsync_dir
from ..storage.layout import ScopeFiles

if TYPE_CHECKING:
    from .controller import Controller

T = TypeVar("T")


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


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass
class _Job(Generic[T]):
    apply: Apply[T]
    thread: int = 0  # the writer's thread id
    result: Any = None
    change: Change | None = None
    error: BaseException | None = None
    done: bool = False
    # Released (by the leader) when the write is done or its writer is to
    # lead the next batch; the writer waits on it.
    wake: threading.Lock = field(default_factory=_held_lock)


class GroupCommit:
    """The queue of writes, applied and flushed in batches by a leader."""

    def __init__(self, lock: threading.RLock, flush: Flush) -> None:
        self._lock = lock  # the controller's write lock
        # `flush` makes a batch durable and visible; it raises only when the
        # whole batch failed (its durability), and sets `error` on a change
        # whose own derived views failed.
        self._flush = flush
        self._mutex = threading.Lock()  # guards the queue and the leader
        self._queue: list[_Job[Any]] = []
        self._leader: int | None = None  # thread id of the writer leading now

    def run(self, apply: Apply[T]) -> T:
        """Apply (under the lock) and flush a write; returns its result once
        it is durable, or raises what applying or flushing it raised."""
        me = threading.get_ident()
        job: _Job[T] = _Job(apply, me)
        if self._lock._is_owned():  # type: ignore[attr-defined]
            # This thread holds the lock already (a reset's scan, observing a
            # change whose listener writes): no leader could take it, so the
            # write is applied and flushed here, alone.
            self._apply_and_flush([job])
            return self._result(job)
        with self._mutex:
            nested = self._leader == me
            leads = self._leader is None
            if leads:
                self._leader = me
            if not nested:
                self._queue.append(job)
        if nested:
            # A listener of the batch this thread is flushing wrote (a
            # synthesis refreshed): that write is led here, now.
            self._apply_and_flush([job])
        else:
            if not leads:
                job.wake.acquire()  # its batch is done, or it leads the next
            if not job.done:
                self._lead(me)
        return self._result(job)

    @staticmethod
    def _result(job: _Job[T]) -> T:
        if job.error is not None:
            raise job.error
        return job.result

    def _lead(self, me: int) -> None:
        """Apply and flush the queue as it is now (its first write is this
        thread's), then wake its writers and hand the lead to the first
        writer queued since, if any."""
        with self._mutex:
            batch, self._queue = self._queue, []
        try:
            self._apply_and_flush(batch)
        finally:
            with self._mutex:
                following = self._queue[0] if self._queue else None
                self._leader = following.thread if following is not None else None
            for job in batch:
                job.done = True
                if job.thread != me:
                    job.wake.release()
            if following is not None:
                following.wake.release()

    def _apply_and_flush(self, batch: list[_Job[Any]]) -> None:
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
        for job in batch:
            if job.change is not None and job.change.error is not None:
                job.error = job.change.error


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

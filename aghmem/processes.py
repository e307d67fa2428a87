"""Worker processes for CPU-bound batches, answers kept in order.

`ordered(func, tasks, workers)` yields `func(task)` for each task, in the
order given, computed in `workers` helper processes (or here, when there are
none). A cold start reads, parses, scans and analyses every memory file:
pure Python, one core per process, so the work goes to helpers while this
process writes the catalog and feeds the index writer.

Helpers are fresh `python -m aghmem.processes` processes, never forks (the
daemon runs threads, and a fork could copy a lock one of them holds), and
not multiprocessing's spawn (which imports the parent's main script again
in each helper: an embedding program's unguarded top-level code would run
twice). `func` travels by reference (pickle names its module and the
helper imports it on first use), so it must be a module-level function; a
helper imports only this module until then. A helper that cannot start, or
dies, leaves its tasks to this process: the answers are the same.
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
from typing import Any, Callable, Iterable, Iterator, TypeVar

log = logging.getLogger("aghmem.processes")

Task = TypeVar("Task")
Answer = TypeVar("Answer")

IN_FLIGHT = 4  # tasks queued per helper: they never wait for work, memory stays bounded
# The directory holding this copy of aghmem: helpers run the same code.
_CODE_ROOT = str(Path(__file__).resolve().parent.parent)


def cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def ordered(func: Callable[[Task], Answer], tasks: Iterable[Task], workers: int) -> Iterator[Answer]:
    """`func(task)` for each task, in order. Task i goes to helper i % workers
    and its answer is read back in the same order. `tasks` is read in the
    calling thread only, as the answers are taken."""
    if workers < 1:
        yield from map(func, tasks)
        return
    pool = [_Helper.start() for _ in range(workers)]
    queued: collections.deque[tuple[int, Task]] = collections.deque()
    try:
        for number, task in enumerate(tasks):
            pool[number % workers].send((func, task))
            queued.append((number % workers, task))
            if len(queued) >= workers * IN_FLIGHT:
                yield _answer(pool, func, *queued.popleft())
        while queued:
            yield _answer(pool, func, *queued.popleft())
    finally:
        for helper in pool:
            helper.stop()


def _answer(pool: list[_Helper], func: Callable[[Task], Answer], number: int, task: Task) -> Answer:
    found, answer = pool[number].receive()
    return answer if found else func(task)


class _Helper:
    """One helper process: pickled (func, task) pairs in on stdin, pickled
    answers out on stdout. A thread writes the tasks, so this process never
    blocks writing to a helper that is blocked writing back; another reads
    the answers as they come, so a helper never waits on a full pipe while
    this process is busy (a cold start at 20k: 4.4-4.5k -> 5.0-5.1k files/s)."""

    def __init__(self, process: subprocess.Popen[bytes] | None) -> None:
        self.process = process
        self.inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.outbox: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        self.feeder = threading.Thread(target=self._feed, name="aghmem-helper-feed", daemon=True)
        self.reader = threading.Thread(target=self._read, name="aghmem-helper-read", daemon=True)
        if process is not None:
            self.feeder.start()
            self.reader.start()

    @classmethod
    def start(cls) -> _Helper:
        # Run from the code's own directory: `-m` puts the working directory
        # first on the path, where another copy of aghmem may be.
        command = [sys.executable, "-m", "aghmem.processes"]
        try:
            return cls(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=_CODE_ROOT))
        except (OSError, ValueError) as exc:
            log.warning("cannot start a helper process (%s): working here", exc)
            return cls(None)

    def send(self, message: tuple[Callable[[Any], Any], Any]) -> None:
        self.inbox.put(message)

    def receive(self) -> tuple[bool, Any]:
        """(True, the answer to the oldest task sent), or (False, None) if
        the helper is gone."""
        if self.process is None:
            return False, None
        found, answer = self.outbox.get()
        if not found:
            log.warning("a helper process stopped (exit %s): working here", self.process.poll())
            self.stop()
        return found, answer

    def _read(self) -> None:
        """Take each answer (~1 MB for a cold start's task) as it is written."""
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout  # its own: stop() may let go of the process meanwhile
        while True:
            try:
                answer = pickle.load(stdout)
            except Exception as exc:  # noqa: BLE001 - gone or garbled: its tasks are done here
                if not isinstance(exc, (EOFError, OSError, ValueError, pickle.UnpicklingError)):
                    log.exception("reading a helper's answer failed")
                self.outbox.put((False, None))  # receive() must never wait for an answer that cannot come
                return
            self.outbox.put((True, answer))

    def _feed(self) -> None:
        assert self.process is not None and self.process.stdin is not None
        stdin = self.process.stdin  # its own: stop() may let go of the process meanwhile
        try:
            while (message := self.inbox.get()) is not None:
                pickle.dump(message, stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
        except (OSError, ValueError):
            pass  # the helper is gone: receive() says so
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def stop(self) -> None:
        """End the helper: it keeps no state, and once its answers are read
        (or no longer wanted) nothing it holds is worth waiting for."""
        if self.process is None:
            return
        process, self.process = self.process, None
        self.inbox.put(None)
        process.kill()
        process.wait()
        self.reader.join(timeout=10)  # it reads to the end of the pipe, closed with the process
        assert process.stdout is not None
        process.stdout.close()


def _serve() -> None:
    """A helper's loop: answer each task on stdin until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is for the daemon, which stops us
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            func, task = pickle.load(stdin)
        except EOFError:
            return
        pickle.dump(func(task), stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()


if __name__ == "__main__":
    _serve()

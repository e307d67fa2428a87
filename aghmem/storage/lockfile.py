"""A lock file that names its holder and expires: safe across processes,
reclaimable after a crash.

The file holds JSON `{pid, host, owner, acquired_at, until}`. A lock is
stale when its time is up, or when its holder ran on this host and that
process is gone (`kill -9`, a power cut). Taking, reclaiming and releasing
happen under a short `flock` on a guard file next to it, so two processes
that both see a stale lock cannot both take it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..errors import Conflict

Clock = Callable[[], dt.datetime]

# (lock path, owner) of every lock this process holds. A lock file naming
# this pid but not held here was left by an earlier process that had the
# same pid (a container's daemon is often pid 1 every time): stale.
_HELD: set[tuple[str, str]] = set()
_HELD_GUARD = threading.Lock()


class LockBusy(Conflict):
    """Someone alive holds the lock; `details` name the holder."""


@dataclass
class LockHolder:
    pid: int
    host: str
    owner: str
    acquired_at: str
    until: str

    def expired(self, now: dt.datetime) -> bool:
        try:
            return dt.datetime.fromisoformat(self.until) <= now
        except ValueError:
            return True

    def alive(self) -> bool:
        """Whether the holding process may still run (unknowable on another host)."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # exists, owned by someone else
        return True


class ExpiringLock:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self._guard = path.with_name(path.name + ".guard")

    def acquire(self, owner: str, ttl: dt.timedelta) -> LockHolder:
        """Take the lock for `owner`, reclaiming a stale one; LockBusy if
        someone alive holds it."""
        with self._guarded():
            current = self.holder()
            if current is not None and not self._stale(current):
                raise LockBusy(
                    f"locked by pid {current.pid} on {current.host} ({current.owner}) until {current.until}",
                    pid=current.pid,
                    host=current.host,
                    owner=current.owner,
                    until=current.until,
                )
            now = self.clock()
            mine = LockHolder(os.getpid(), socket.gethostname(), owner, now.isoformat(), (now + ttl).isoformat())
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(asdict(mine)))
            os.replace(tmp, self.path)
            with _HELD_GUARD:
                _HELD.add((str(self.path), owner))
            return mine

    def release(self, owner: str) -> None:
        """Remove the lock if `owner` still holds it (a reclaimed lock is left
        to its new holder)."""
        with self._guarded():
            current = self.holder()
            if current is not None and current.pid == os.getpid() and current.owner == owner:
                self.path.unlink(missing_ok=True)
            with _HELD_GUARD:
                _HELD.discard((str(self.path), owner))

    def holder(self) -> LockHolder | None:
        try:
            data = json.loads(self.path.read_text())
            return LockHolder(**{k: data[k] for k in ("pid", "host", "owner", "acquired_at", "until")})
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            # Unreadable (a torn write by hand?): treat as expired.
            return LockHolder(0, "", "unreadable", "", "")

    def _stale(self, holder: LockHolder) -> bool:
        if holder.expired(self.clock()):
            return True
        if holder.pid == os.getpid() and holder.host == socket.gethostname():
            with _HELD_GUARD:
                return (str(self.path), holder.owner) not in _HELD
        return not holder.alive()

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._guard, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the flock

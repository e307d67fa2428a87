"""Failpoints: named places where a test can make the daemon crash or stall.

`AGHMEM_FAILPOINTS="dream.after_artifact=crash;dream.locked=sleep(2)"` (or
`name=raise`: a bug there, a FailpointError) — read
once at import. Unset (always, outside tests) every point is a dict lookup
that finds nothing. This is how the crash tests kill a daemon in the middle
of a run instead of hoping a SIGKILL lands at the right moment.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import time

_ACTION_RE = re.compile(r"^(crash|raise|sleep\((\d+(?:\.\d+)?)\))$")


def _parse(spec: str) -> dict[str, str]:
    points: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(";"))):
        name, _, action = item.partition("=")
        if not _ACTION_RE.match(action.strip()):
            raise ValueError(f"AGHMEM_FAILPOINTS: {item!r} is not name=crash, name=raise or name=sleep(seconds)")
        points[name.strip()] = action.strip()
    return points


class FailpointError(RuntimeError):
    """What a `raise` failpoint raises: an error no handler expects."""


_POINTS = _parse(os.environ.get("AGHMEM_FAILPOINTS", ""))


def point(name: str) -> None:
    action = _POINTS.get(name)
    if action is None:
        return
    # Tests wait for this line to act while the daemon is held at the point.
    logging.getLogger("aghmem.faults").warning("failpoint %s: %s", name, action)
    if action == "crash":
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no atexit: a real crash
    if action == "raise":
        raise FailpointError(f"failpoint {name}")
    match = _ACTION_RE.match(action)
    assert match and match.group(2)
    time.sleep(float(match.group(2)))

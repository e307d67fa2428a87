"""Surfaces: the faces that share the daemon's port but speak another API's
envelope and may take their own bearer tokens (COMPAT.md §0.2).

The guard asks which surface owns a request's path, refuses in that
surface's envelope, and records in `request.state.grants` which surfaces the
caller's credential opens: a path two surfaces share (POST /api/memory,
native and key-value) is decided by its route once the body is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from starlette.responses import Response
from starlette.types import Scope

NATIVE = "native"


def never(scope: Scope) -> bool:
    return False


@dataclass(frozen=True)
class Surface:
    name: str  # its [compat.<name>] table: "cf", "cfg", "kv"
    owns: Callable[[Scope], bool]  # the path (and query) is this surface's
    refuse: Callable[[int, str, str], Response]  # (status 401/403, detail, path) → its envelope
    shares: Callable[[Scope], bool] = never  # the path may be this surface's or native's


def grants(scope: Scope) -> frozenset[str]:
    """The surfaces the guard let this request's credential use (a face
    that decides late, like the /api/memory dispatcher, checks its branch)."""
    return frozenset(scope.get("state", {}).get("grants", ()))

"""The CFG face: compozy's memory configurations under /api/v0 (seed 002)."""

from __future__ import annotations

from starlette.types import Scope

from ...surface import Surface
from .problems import refuse
from .routes import PREFIX, routes


def owns(scope: Scope) -> bool:
    path = scope.get("path", "")
    return path == PREFIX or path.startswith(PREFIX + "/")


SURFACE = Surface(name="cfg", owns=owns, refuse=refuse)

__all__ = ["SURFACE", "routes"]

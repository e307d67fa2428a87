"""Key-value agent memory (seed 003, COMPAT.md §3) on /api/memory, by
`agentId`, and on the alias /compat/kv/api/memory."""

from __future__ import annotations

from .routes import alias_routes, shared_routes
from .surface import SURFACE

__all__ = ["SURFACE", "alias_routes", "shared_routes"]

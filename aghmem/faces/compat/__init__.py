"""The compatibility faces (COMPAT.md): other memory APIs served over the
same files, each in its own envelope. `SURFACES` is what the guard needs of
them; `routes` what the app mounts, in COMPAT §0.1's order."""

from __future__ import annotations

from starlette.routing import BaseRoute

from ...config import Config
from ..surface import Surface
from . import cloudflare, configs, kv

SURFACES: tuple[Surface, ...] = (cloudflare.SURFACE, configs.SURFACE, kv.SURFACE)


def enabled_surfaces(config: Config) -> list[Surface]:
    return [s for s in SURFACES if getattr(config.compat, s.name).enabled]


def routes(config: Config) -> list[BaseRoute]:
    """The compat routes, CF then CFG; the KV dispatcher for /api/memory
    goes before the native routes (see app.py)."""
    found: list[BaseRoute] = []
    if config.compat.cf.enabled:
        found += cloudflare.mount(config)
    if config.compat.cfg.enabled:
        found += configs.routes()
    if config.compat.kv.enabled:
        found += kv.alias_routes
    return found

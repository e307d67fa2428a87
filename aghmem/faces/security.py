"""Request guards that run before any route: Host, Origin, bearer token.

A browser on the same machine can reach a loopback port; checking Host
stops DNS rebinding and checking Origin stops cross-site requests, so a web
page cannot read or write memories even though it can reach the daemon.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import ServerConfig
from .api.errors import envelope

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
OPEN_PATHS = frozenset({"/healthz"})


def host_name(host_header: str) -> str:
    """'[::1]:7377' → '::1', 'localhost:7377' → 'localhost'."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    if host_header.count(":") == 1:
        return host_header.split(":", 1)[0]
    return host_header


@dataclass(frozen=True)
class Allowlist:
    """The daemon's one Host/Origin allowlist: GuardMiddleware checks every
    request with it, and the MCP SDK's transport security is built from it,
    so the two can never disagree. Loopback hosts are always allowed."""

    hosts: tuple[str, ...]  # Host names beyond loopback
    origins: tuple[str, ...]  # browser Origins (none by default)

    @classmethod
    def of(cls, server: ServerConfig) -> "Allowlist":
        hosts = [*server.allowed_hosts]
        if server.host not in ("0.0.0.0", "::"):
            hosts.append(server.host)
        return cls(tuple(h.lower() for h in hosts), tuple(server.allow_origins))

    def host_patterns(self) -> list[str]:
        """Every allowed Host header value, with and without a port, in the
        SDK's spelling ('name', 'name:*', '[::1]:*')."""
        names = sorted({*LOOPBACK_NAMES, *self.hosts})
        bracketed = [f"[{n.strip('[]')}]" if ":" in n else n for n in names]
        return [pattern for name in bracketed for pattern in (name, f"{name}:*")]


def _is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class GuardMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str = "",
        allowed_hosts: list[str] | tuple[str, ...] = (),
        allow_origins: list[str] | tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.token = token.encode()
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.allow_origins = set(allow_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        name = host_name(headers.get("host", "")).lower()
        if not (_is_loopback(name) or name in self.allowed_hosts):
            response = envelope("memory.forbidden", f"Host {name!r} is not allowed", {"host": name})
            await response(scope, receive, send)
            return
        origin = headers.get("origin")
        if origin is not None and origin not in self.allow_origins:
            response = envelope("memory.forbidden", f"Origin {origin!r} is not allowed", {"origin": origin})
            await response(scope, receive, send)
            return
        if self.token and scope["path"] not in OPEN_PATHS and not self._authorised(headers):
            response = envelope(
                "memory.unauthorized",
                "missing or wrong bearer token (send Authorization: Bearer <token>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorised(self, headers: Headers) -> bool:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self.token)

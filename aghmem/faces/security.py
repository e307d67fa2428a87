"""Request guards that run before any route: Host, Origin, bearer token.

A browser on the same machine can reach a loopback port; checking Host
stops DNS rebinding and checking Origin stops cross-site requests, so a web
page cannot read or write memories even though it can reach the daemon.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import ServerConfig
from .api.errors import STATUS, envelope

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
OPEN_PATHS = frozenset({"/healthz"})
# Paths whose callers are programs: their refusals stay JSON envelopes even
# when the caller accepts HTML.
PROGRAM_PREFIXES = ("/api/", "/mcp", "/w/", "/healthz", "/openapi.json")
# Sent with every HTML page (the web inspector's and the guard's refusals):
# nothing inline, nothing from elsewhere, never framed.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Not no-referrer: with it, browsers send `Origin: null` on our own form
    # posts (Fetch spec), and the same-origin check could not pass.
    "Referrer-Policy": "same-origin",
}


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


def same_origin(origin: str, scope: Scope, headers: Headers) -> bool:
    """`origin` is this server's own (`http://` + the Host asked for): a page
    it served, posting back. The Host itself is checked separately."""
    own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
    return origin.lower() == own.lower()


def wants_html(scope: Scope, headers: Headers) -> bool:
    """A browser asking for a page (not a program calling the API)."""
    path = scope.get("path", "")
    return "text/html" in headers.get("accept", "") and not path.startswith(PROGRAM_PREFIXES)


def refusal(scope: Scope, headers: Headers, code: str, message: str, details: dict, extra: dict | None = None) -> Response:
    """The guard's answer: the JSON envelope, or a short page for a browser."""
    if not wants_html(scope, headers):
        return envelope(code, message, details, headers=extra)
    status = STATUS[code]
    body = (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{status} · aghmem</title>"
        f"<h1>{status}: refused</h1><p>{html.escape(message)}</p>"
        "<p>The daemon answers browsers only on a loopback address (127.0.0.1 or localhost), and only forms from its own pages.</p></html>"
    )
    return HTMLResponse(body, status_code=status, headers={**PAGE_HEADERS, **(extra or {})})


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
            response = refusal(scope, headers, "memory.forbidden", f"Host {name!r} is not allowed", {"host": name})
            await response(scope, receive, send)
            return
        origin = headers.get("origin")
        if origin is not None and origin not in self.allow_origins and not same_origin(origin, scope, headers):
            response = refusal(scope, headers, "memory.forbidden", f"Origin {origin!r} is not allowed", {"origin": origin})
            await response(scope, receive, send)
            return
        if self.token and scope["path"] not in OPEN_PATHS and not self._authorised(headers):
            response = refusal(
                scope,
                headers,
                "memory.unauthorized",
                "missing or wrong bearer token (send Authorization: Bearer <token>)",
                {},
                {"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorised(self, headers: Headers) -> bool:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self.token)

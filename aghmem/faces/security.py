"""Request guards that run before any route: Host, Origin, bearer token.

A browser on the same machine can reach a loopback port; checking Host
stops DNS rebinding and checking Origin stops cross-site requests, so a web
page cannot read or write memories even though it can reach the daemon.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import re
from dataclasses import dataclass
from typing import Sequence

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import ServerConfig
from .api.errors import STATUS, envelope
from .surface import NATIVE, Surface

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


# A Host header: a name or a bracketed IPv6 address, then an optional port.
HOST = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[^\s:\[\]@/]+))(?::[0-9]{1,5})?")
# What a browser says of a request from another site (Sec-Fetch-Site).
CROSS_SITE = frozenset({"cross-site", "same-site"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def host_name(host_header: str) -> str:
    """'[::1]:7377' → '::1', 'localhost:7377' → 'localhost'; '' for anything
    else ('[::1]evil.com', 'localhost:evil'), which no name is allowed as."""
    match = HOST.fullmatch(host_header)
    if match is None:
        return ""
    return match["v6"] or match["name"]


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
    """Host, then Origin, then the bearer token, before any route runs.

    Without `server.token` the native API is open (loopback is the
    protection); a compat surface is open too unless it has tokens of its
    own. `server.token` opens every surface; a surface's token only its own.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str = "",
        allowed_hosts: list[str] | tuple[str, ...] = (),
        allow_origins: list[str] | tuple[str, ...] = (),
        surfaces: Sequence[Surface] = (),
        surface_tokens: dict[str, list[str]] | None = None,
    ) -> None:
        self.app = app
        self.token = token.encode()
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.allow_origins = set(allow_origins)
        self.surfaces = tuple(surfaces)
        tokens = surface_tokens or {}
        self.surface_tokens = {s.name: tuple(t.encode() for t in tokens.get(s.name, ())) for s in self.surfaces}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        surface = next((s for s in self.surfaces if s.owns(scope)), None)
        hosts = headers.getlist("host")
        name = host_name(hosts[0] if len(hosts) == 1 else "").lower()
        if not (_is_loopback(name) or name in self.allowed_hosts):
            given = hosts[0] if len(hosts) == 1 else hosts
            await self._refuse(scope, headers, surface, 403, f"Host {given!r} is not allowed", {"host": given})(scope, receive, send)
            return
        origin = headers.get("origin")
        if origin is not None and origin not in self.allow_origins and not same_origin(origin, scope, headers):
            await self._refuse(scope, headers, surface, 403, f"Origin {origin!r} is not allowed", {"origin": origin})(scope, receive, send)
            return
        site = headers.get("sec-fetch-site")
        if origin is None and site in CROSS_SITE and scope["method"] not in SAFE_METHODS:
            # A browser's write from another site whose Origin was stripped.
            message = f"a {site} write without an Origin is refused"
            await self._refuse(scope, headers, surface, 403, message, {"sec_fetch_site": site})(scope, receive, send)
            return
        granted = self._grants(headers)
        scope.setdefault("state", {})["grants"] = granted
        if scope["path"] not in OPEN_PATHS and not self._admitted(scope, surface, granted):
            message = "missing or wrong bearer token (send Authorization: Bearer <token>)"
            await self._refuse(scope, headers, surface, 401, message, {})(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _grants(self, headers: Headers) -> frozenset[str]:
        """Every surface the request's credential opens."""
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        presented = credentials.strip().encode() if scheme.lower() == "bearer" else b""
        server = bool(self.token) and hmac.compare_digest(presented, self.token)
        opened = {NATIVE} if server or not self.token else set()
        for surface, tokens in self.surface_tokens.items():
            own = any(hmac.compare_digest(presented, token) for token in tokens)
            if server or own or not (self.token or tokens):
                opened.add(surface)
        return frozenset(opened)

    def _admitted(self, scope: Scope, surface: Surface | None, granted: frozenset[str]) -> bool:
        if surface is not None:
            return surface.name in granted
        sharing = {s.name for s in self.surfaces if s.shares(scope)}
        return NATIVE in granted or bool(sharing & granted)

    def _refuse(self, scope: Scope, headers: Headers, surface: Surface | None, status: int, message: str, details: dict) -> Response:
        extra = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if surface is not None:
            response = surface.refuse(status, message, scope["path"])
            response.headers.update(extra or {})
            return response
        code = "memory.unauthorized" if status == 401 else "memory.forbidden"
        return refusal(scope, headers, code, message, details, extra)

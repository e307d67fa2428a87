"""The MCP server, built with the official SDK (imported only here: see
endpoint.py for when).

Stateless Streamable HTTP with JSON responses: every POST stands alone, so a
daemon restart never strands a client ("Session not found" is fatal in
Claude Code), and both protocol eras the SDK speaks (the `initialize`
handshake and the sessionless 2026-07-28 one) are served. A session manager
runs once, so `create_mcp` builds a fresh one each time.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Callable

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, TextContent
from starlette.types import ASGIApp

from ... import __version__
from ...errors import AghmemError
from ...service.service import MemoryService
from ..security import Allowlist
from .handshake import INSTRUCTIONS, NAME
from .render import error_text
from .surface import add_prompts, add_resources, add_tools

log = logging.getLogger("aghmem.mcp")


@dataclass
class McpFace:
    """The SDK's ASGI endpoint, and the session manager that must run (its
    `run()` entered once) while the endpoint serves."""

    endpoint: ASGIApp
    session_manager: StreamableHTTPSessionManager


def create_mcp(service: MemoryService, allowlist: Allowlist) -> McpFace:
    # The SDK logs every session start and stop at INFO; the daemon's log keeps its warnings.
    logging.getLogger("mcp").setLevel(logging.WARNING)
    # Its handshake is also answered without it, before it is built (handshake.py).
    server = MCPServer(NAME, instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    add_tools(server, service, answer, hidden=list(service.config.mcp.hidden_tools))
    add_resources(server, service, text_or_error)
    add_prompts(server)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=allowlist.host_patterns(),
        allowed_origins=list(allowlist.origins),
    )
    server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=security,
        max_request_body_size=service.config.server.max_body_bytes,
    )
    return McpFace(StreamableHTTPASGIApp(server.session_manager), server.session_manager)


def answer(work: Callable[[], str]) -> CallToolResult:
    """A tool's result: its text, or an `isError` result whose text says what
    to do. Never a traceback: an unexpected error is logged under an id."""
    try:
        return CallToolResult(content=[TextContent(type="text", text=work())])
    except AghmemError as exc:
        return CallToolResult(content=[TextContent(type="text", text=error_text(exc))], is_error=True)
    except Exception:
        incident = secrets.token_hex(6)
        log.exception("internal error %s in an MCP tool", incident)
        text = f"internal error (incident {incident}; see the daemon log)"
        return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def text_or_error(work: Callable[[], str]) -> str:
    """A resource's text; an aghmem error becomes the SDK's resource error."""
    try:
        return work()
    except AghmemError as exc:
        raise ResourceError(error_text(exc)) from None

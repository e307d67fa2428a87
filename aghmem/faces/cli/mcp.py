"""`aghmem mcp [--stdio]`: the daemon's MCP endpoint, or a stdio bridge to it
(faces/mcp/bridge.py) for MCP clients that only spawn processes."""

from __future__ import annotations

import argparse
import os
from typing import Any
from urllib.parse import quote

from ..client import Client
from ..setup import mcp_url
from .output import emit


def cmd_mcp(client: Client, args: argparse.Namespace) -> None:
    workspace = args.workspace
    if workspace and not workspace.startswith("ws_"):
        workspace = os.path.abspath(workspace)
    url = mcp_url(client.url)
    if not args.stdio:
        named = mcp_url(client.url, quote(workspace, safe="")) if workspace else None
        emit(args, {"url": url, "workspace_url": named}, _render_url)
        return
    from ..mcp import bridge  # asyncio and the bridge only when bridging

    bridge.run(url, token=args.token_value, workspace=workspace, start=not args.no_start)


def _render_url(result: dict[str, Any]) -> str:
    return result["workspace_url"] or result["url"]


def add_commands(commands: Any) -> None:
    p = commands.add_parser(
        "mcp",
        help="the MCP endpoint, or a stdio bridge to it",
        description=(
            "Print the daemon's MCP URL; with --stdio, bridge JSON-RPC on stdin/stdout to it "
            "(for MCP clients that only spawn processes; starts the daemon if none answers)."
        ),
    )
    p.add_argument("--stdio", action="store_true", help="bridge stdin/stdout to the daemon's /mcp")
    p.add_argument(
        "-w", "--workspace", metavar="ID|PATH",
        help="the workspace to work in (default: the registered root holding the current directory)",
    )
    p.add_argument("--no-start", action="store_true", help="do not start a daemon when none answers")
    p.set_defaults(func=cmd_mcp)

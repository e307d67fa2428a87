"""What each agent runtime needs to reach the daemon: the MCP server entry
its config takes (INTEGRATIONS.md §3). `aghmem integrate` merges these into
the runtime's files; the web inspector and `aghmem doctor` show them."""

from __future__ import annotations

import json
from dataclasses import dataclass

RUNTIMES = ("claude", "codex", "cursor")
SERVER_NAME = "aghmem"


@dataclass(frozen=True)
class Snippet:
    runtime: str
    file: str  # where it goes, relative to the project (or ~ for user-wide)
    text: str  # what to paste


def mcp_url(base_url: str, workspace_id: str | None = None) -> str:
    base = base_url.rstrip("/")
    return f"{base}/w/{workspace_id}/mcp" if workspace_id else f"{base}/mcp"


def mcp_entry(runtime: str, url: str) -> dict[str, str]:
    """The server entry under `mcpServers` (JSON runtimes) or
    `[mcp_servers.aghmem]` (Codex). Claude Code's type is "http", not
    "streamable-http"; a loopback daemon needs no token."""
    if runtime == "claude":
        return {"type": "http", "url": url}
    if runtime in ("codex", "cursor"):
        return {"url": url}
    raise ValueError(f"unknown runtime {runtime!r}; one of {', '.join(RUNTIMES)}")


def mcp_snippets(base_url: str, workspace_id: str | None = None) -> list[Snippet]:
    url = mcp_url(base_url, workspace_id)
    return [
        Snippet("claude", ".mcp.json", json.dumps({"mcpServers": {SERVER_NAME: mcp_entry("claude", url)}}, indent=2)),
        Snippet("codex", "~/.codex/config.toml", f'[mcp_servers.{SERVER_NAME}]\nurl = "{url}"'),
        Snippet("cursor", ".cursor/mcp.json", json.dumps({"mcpServers": {SERVER_NAME: mcp_entry("cursor", url)}}, indent=2)),
    ]

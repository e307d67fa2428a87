"""What each agent runtime needs to reach the daemon: the MCP server entry
its config takes, the lifecycle hooks it runs, and the files they live in
(INTEGRATIONS.md §3). `aghmem integrate` merges these into the runtime's
files; the web inspector, the README and `aghmem doctor` show them."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

RUNTIMES = ("claude", "codex", "cursor")
SERVER_NAME = "aghmem"

# The lifecycle events each runtime runs our hooks on. Codex has no
# SessionEnd; Cursor's hooks take other payloads than `aghmem hook` reads,
# so it gets the MCP server only.
HOOK_EVENTS: dict[str, tuple[str, ...]] = {
    "claude": ("SessionStart", "UserPromptSubmit", "PreCompact", "Stop", "SessionEnd"),
    "codex": ("SessionStart", "UserPromptSubmit", "PreCompact", "Stop"),
}
# Seconds before the runtime gives up on a hook. Recall answers in < 1.5 s;
# recording a long transcript may take longer. Claude Code waits for every
# SessionEnd hook before it exits, so that one stays short.
HOOK_TIMEOUTS = {"SessionStart": 5, "UserPromptSubmit": 5, "PreCompact": 10, "Stop": 10, "SessionEnd": 5}
# Claude Code runs only command (and mcp_tool) hooks on SessionStart.
COMMAND_ONLY_EVENTS = frozenset({"SessionStart"})

Transport = Literal["http", "command"]


@dataclass(frozen=True)
class Snippet:
    runtime: str
    file: str  # where it goes, relative to the project (or ~ for user-wide)
    text: str  # what to paste


@dataclass(frozen=True)
class ConfigFiles:
    """Where a runtime keeps its MCP servers and its hooks (None: no hooks)."""

    mcp: Path
    hooks: Path | None
    mcp_format: Literal["json", "toml"] = "json"


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


# --- hooks ---------------------------------------------------------------------


def cli_event(event: str) -> str:
    """"UserPromptSubmit" → "user-prompt-submit" (the `aghmem hook` argument)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", event).lower()


def hook_url(base_url: str, runtime: str) -> str:
    """Where Claude Code's `type: "http"` hooks post (one URL for every event:
    the payload names it)."""
    return f"{base_url.rstrip('/')}/api/hooks/{runtime}"


def hook_command(aghmem: str, event: str, runtime: str) -> str:
    """The shell command a hook runs; `aghmem` is the program, already quoted
    for the shell (an absolute path, so it works outside a venv)."""
    return f"{aghmem} hook {cli_event(event)} --runtime {runtime}"


def hook_handler(runtime: str, event: str, *, aghmem: str, base_url: str, transport: Transport = "command") -> dict[str, Any]:
    timeout = HOOK_TIMEOUTS[event]
    if runtime == "claude" and transport == "http" and event not in COMMAND_ONLY_EVENTS:
        return {"type": "http", "url": hook_url(base_url, runtime), "timeout": timeout}
    return {"type": "command", "command": hook_command(aghmem, event, runtime), "timeout": timeout}


def hook_groups(runtime: str, *, aghmem: str, base_url: str, transport: Transport = "command") -> dict[str, list[dict[str, Any]]]:
    """`{event: [matcher group]}` as Claude Code's settings and Codex's
    hooks.json take them. No matcher: every source, trigger and reason."""
    return {
        event: [{"hooks": [hook_handler(runtime, event, aghmem=aghmem, base_url=base_url, transport=transport)]}]
        for event in HOOK_EVENTS.get(runtime, ())
    }


def hook_snippets(base_url: str, aghmem: str = "aghmem") -> list[Snippet]:
    """The hooks to paste, for the runtimes that run ours."""
    claude = {"hooks": hook_groups("claude", aghmem=aghmem, base_url=base_url, transport="http")}
    codex = {"hooks": hook_groups("codex", aghmem=aghmem, base_url=base_url)}
    return [
        Snippet("claude", ".claude/settings.json", json.dumps(claude, indent=2)),
        Snippet("codex", "~/.codex/hooks.json", json.dumps(codex, indent=2)),
    ]


# --- where the files are ---------------------------------------------------------


def config_files(runtime: str, *, home: Path, project: Path | None = None, env: Mapping[str, str] | None = None) -> ConfigFiles:
    """The files `aghmem integrate` edits: the project's with `project`, else
    the user's. Claude Code keeps user-scope MCP servers in ~/.claude.json
    (`claude mcp add --scope user`) and hooks in settings.json; Codex reads
    $CODEX_HOME (default ~/.codex) and a trusted project's .codex/."""
    env = os.environ if env is None else env
    if runtime == "claude":
        if project is not None:
            return ConfigFiles(project / ".mcp.json", project / ".claude" / "settings.json")
        return ConfigFiles(home / ".claude.json", home / ".claude" / "settings.json")
    if runtime == "codex":
        base = project / ".codex" if project is not None else Path(env.get("CODEX_HOME") or home / ".codex")
        return ConfigFiles(base / "config.toml", base / "hooks.json", "toml")
    if runtime == "cursor":
        return ConfigFiles((project if project is not None else home) / ".cursor" / "mcp.json", None)
    raise ValueError(f"unknown runtime {runtime!r}; one of {', '.join(RUNTIMES)}")

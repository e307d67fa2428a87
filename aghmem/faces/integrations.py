"""Merging our entries into an agent runtime's config files, and taking them
back out: documents in, documents out, no files touched.

What is ours, so that `--remove` takes back nothing else:
- the MCP server named `aghmem` (under `mcpServers`, or `[mcp_servers.aghmem]`);
- a hook handler whose command runs `aghmem hook …`, or whose URL is the
  daemon's `/api/hooks/{runtime}`.
Everything else is left as it was: other servers and hooks, key order, and
in TOML every comment and blank line (tomlkit; tomllib + tomli_w would drop
them). Installing twice changes nothing the second time.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from typing import Any
from urllib.parse import urlsplit

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import InlineTable

from ..errors import AghmemError
from .setup import SERVER_NAME

Document = dict[str, Any]


class ConfigFileError(AghmemError):
    """A runtime's config file we would edit cannot be read as what it should
    be; it is left as it is."""

    code = "cli.config_file"


# --- JSON ----------------------------------------------------------------------


def load_json(text: str | None, where: str) -> Document:
    """The object in `text` ({} for a missing or blank file)."""
    if text is None or not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigFileError(f"{where} is not valid JSON ({exc}); fix it or move it away, nothing was changed", path=where) from None
    if not isinstance(doc, dict):
        raise ConfigFileError(f"{where} holds JSON that is not an object; nothing was changed", path=where)
    return doc


def dump_json(doc: Document, like: str | None) -> str:
    """`doc` indented as the file it came from (`like`), else by two spaces;
    with a final newline when that file had one (or is new)."""
    indent: str | int = 2
    if like and (found := re.search(r"^[{\[][ \t]*\r?\n([ \t]+)\S", like)):
        indent = found.group(1)
    text = json.dumps(doc, indent=indent, ensure_ascii=False)
    return text + "\n" if not like or like.endswith("\n") else text


def _object(doc: Document, key: str, where: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ConfigFileError(f"{where}: {key} is not an object; nothing was changed", path=where)
    return value


def with_mcp_server(doc: Document, entry: dict[str, Any], where: str = "the file") -> Document:
    """`doc` with our server under `mcpServers` (replaced when it differs
    from `entry`; kept, with anything added to it, when it does not)."""
    servers = _object(doc, "mcpServers", where)
    current = servers.get(SERVER_NAME)
    if isinstance(current, dict) and current.items() >= entry.items():
        return doc
    out = copy.deepcopy(doc)
    out.setdefault("mcpServers", {})[SERVER_NAME] = dict(entry)
    return out


def without_mcp_server(doc: Document, where: str = "the file") -> Document:
    servers = _object(doc, "mcpServers", where)
    if SERVER_NAME not in servers:
        return doc
    out = copy.deepcopy(doc)
    del out["mcpServers"][SERVER_NAME]
    if not out["mcpServers"]:
        del out["mcpServers"]
    return out


# --- hooks (Claude Code's settings.json, Codex's hooks.json) -------------------


def is_our_hook(handler: Any) -> bool:
    """A handler that runs `aghmem hook …` (aghmem by any path, or
    `python -m aghmem`), or posts to a daemon's /api/hooks/{claude,codex}."""
    if not isinstance(handler, dict):
        return False
    url = handler.get("url")
    if handler.get("type") == "http" and isinstance(url, str):
        return bool(re.fullmatch(r"/api/hooks/(claude|codex)/?", urlsplit(url).path))
    command = handler.get("command")
    if not isinstance(command, str):
        return False
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    if words[:1] and re.split(r"[/\\]", words[0])[-1] in ("aghmem", "aghmem.exe"):
        rest = words[1:]
    elif words[1:3] == ["-m", "aghmem"]:  # python -m aghmem
        rest = words[3:]
    else:
        return False
    return rest[:1] == ["hook"]


def _event_lists(doc: Document, where: str) -> dict[str, Any]:
    hooks = _object(doc, "hooks", where)
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            raise ConfigFileError(f"{where}: hooks.{event} is not a list; nothing was changed", path=where)
    return hooks


def _strip_ours(groups: list[Any]) -> list[Any]:
    """`groups` without our handlers; a group left empty by that goes too."""
    kept = []
    for group in groups:
        if isinstance(group, dict) and isinstance(group.get("hooks"), list):
            handlers = [h for h in group["hooks"] if not is_our_hook(h)]
            if len(handlers) != len(group["hooks"]):
                if not handlers:
                    continue
                group = {**group, "hooks": handlers}
        kept.append(group)
    return kept


def with_hooks(doc: Document, groups: dict[str, list[dict[str, Any]]], where: str = "the file") -> Document:
    """`doc` with our matcher groups last under each event (Codex keys a
    hook's trust by its position: the user's keep theirs), and no other
    handler of ours. Unchanged when that is what it already holds."""
    hooks = _event_lists(doc, where)
    merged: dict[str, Any] = {}
    for event, existing in hooks.items():
        kept = _strip_ours(existing) + copy.deepcopy(groups.get(event, []))
        if kept or not existing:
            merged[event] = kept
    for event, ours in groups.items():
        merged.setdefault(event, copy.deepcopy(ours))
    if merged == hooks and list(merged) == list(hooks):
        return doc
    out = copy.deepcopy(doc)
    out["hooks"] = merged
    return out


def without_hooks(doc: Document, where: str = "the file") -> Document:
    hooks = _event_lists(doc, where)
    merged = {}
    for event, existing in hooks.items():
        kept = _strip_ours(existing)
        if kept or not existing:
            merged[event] = kept
    if merged == hooks:
        return doc
    out = copy.deepcopy(doc)
    if merged:
        out["hooks"] = merged
    else:
        del out["hooks"]
    return out


# --- TOML (Codex's config.toml) -------------------------------------------------

# The block we append, and find again to take it back byte for byte: our
# header and url, then only blank lines up to the next table or the end.
_OUR_BLOCK = re.compile(
    r"^\[mcp_servers\.%s\][ \t]*\r?\nurl[ \t]*=[ \t]*\"[^\"\n]*\"[ \t]*\r?\n(?=(?:[ \t]*\r?\n)*(?:\[|\Z))" % SERVER_NAME,
    re.MULTILINE,
)


# Keys of a server entry that runs a process (the stdio bridge): not ours to keep.
STDIO_KEYS = frozenset({"command", "args", "env", "cwd"})


def load_toml(text: str | None, where: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text or "")
    except TOMLKitError as exc:
        raise ConfigFileError(f"{where} is not valid TOML ({exc}); fix it or move it away, nothing was changed", path=where) from None


def _codex_server(doc: tomlkit.TOMLDocument, where: str) -> Any:
    servers = doc.get("mcp_servers")
    if servers is None:
        return None
    if not isinstance(servers, dict):
        raise ConfigFileError(f"{where}: mcp_servers is not a table; nothing was changed", path=where)
    return servers.get(SERVER_NAME)


def _plain(doc: tomlkit.TOMLDocument) -> dict[str, Any]:
    return doc.unwrap()


def with_codex_server(text: str, url: str, where: str = "config.toml") -> str:
    """`text` with `[mcp_servers.aghmem] url = "…"`: appended at the end when
    absent, its url set in place when it differs, else `text` itself."""
    doc = load_toml(text, where)
    current = _codex_server(doc, where)
    if current is not None:
        if not isinstance(current, dict):
            raise ConfigFileError(f"{where}: mcp_servers.{SERVER_NAME} is not a table; nothing was changed", path=where)
        if current.get("url") == url and not STDIO_KEYS & current.keys():
            return text
        for key in STDIO_KEYS & current.keys():
            del current[key]  # it ran the stdio bridge; it talks HTTP now
        current["url"] = url
        return tomlkit.dumps(doc)
    expected = _plain(doc)
    expected.setdefault("mcp_servers", {})[SERVER_NAME] = {"url": url}
    separator = "" if not text.strip() else "\n" if text.endswith("\n") else "\n\n"
    candidate = f"{text}{separator}[mcp_servers.{SERVER_NAME}]\nurl = {json.dumps(url)}\n"
    if _parses_to(candidate, expected):
        return candidate
    # The servers are an inline table, or dotted keys: let tomlkit place ours.
    servers = doc.get("mcp_servers")
    if servers is None:
        servers = doc["mcp_servers"] = tomlkit.table(is_super_table=True)
    entry = tomlkit.inline_table() if isinstance(servers, InlineTable) else tomlkit.table()
    entry["url"] = url
    servers[SERVER_NAME] = entry
    return tomlkit.dumps(doc)


def without_codex_server(text: str, where: str = "config.toml") -> str:
    doc = load_toml(text, where)
    if _codex_server(doc, where) is None:
        return text
    expected = _plain(doc)
    del expected["mcp_servers"][SERVER_NAME]
    if not expected["mcp_servers"]:
        del expected["mcp_servers"]
    if found := _OUR_BLOCK.search(text):
        before, after = text[: found.start()], text[found.end() :]
        if before.endswith("\n\n"):
            before = before[:-1]  # the blank line we put before it
        elif not before and after.startswith("\n"):
            after = after[1:]
        if _parses_to(before + after, expected):
            return before + after
    servers = doc["mcp_servers"]
    del servers[SERVER_NAME]
    if not servers:
        del doc["mcp_servers"]
    return tomlkit.dumps(doc)


def _parses_to(text: str, expected: dict[str, Any]) -> bool:
    try:
        return _plain(tomlkit.parse(text)) == expected
    except TOMLKitError:
        return False

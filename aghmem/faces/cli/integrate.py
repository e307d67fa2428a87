"""`aghmem integrate claude|codex|cursor [--project] [--remove] [--dry-run]`:
put the MCP server and the lifecycle hooks into an agent runtime's config,
or take ours back out. Runs here, without the daemon: its URL comes from
the config (or --url).

Every file is read and merged before any is written, so a file that cannot
be read stops the command with nothing changed. Writes are atomic and go
through symlinks (dotfiles kept in a repository stay links).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import shutil
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..integrations import (
    ConfigFileError,
    dump_json,
    load_json,
    with_codex_server,
    with_hooks,
    with_mcp_server,
    without_codex_server,
    without_hooks,
    without_mcp_server,
)
from ..setup import RUNTIMES, SERVER_NAME, ConfigFiles, Transport, config_files, hook_groups, mcp_entry, mcp_url
from .address import daemon_url
from .output import emit

NOTES = {
    "claude": "Claude Code reads these when it starts: restart it.",
    "claude-project": "Claude Code asks once before it uses the servers in a project's .mcp.json: approve aghmem.",
    "codex": "Codex runs a new hook only once you trust it: start Codex and review the hooks with /hooks.",
    "cursor": "Cursor gets the MCP server only: its hooks send other payloads than `aghmem hook` reads.",
}


WORKSPACE_ID = re.compile(r"ws_[a-z0-9]{4,64}")
RUNTIME_DIRS = frozenset({".claude", ".codex", ".cursor"})


@dataclass
class FileChange:
    path: Path
    what: str
    before: str | None  # None: no such file
    after: str | None  # None: delete the file

    @property
    def action(self) -> str:
        if self.before == self.after:
            return "unchanged"
        if self.before is None:
            return "created"
        return "deleted" if self.after is None else "updated"


def aghmem_program() -> str:
    """The running `aghmem`, by absolute path and quoted for a shell, so that
    a hook finds it outside the venv (else `python -m aghmem`)."""
    candidates = [Path(sys.argv[0]), Path(sys.executable).with_name("aghmem")]
    for path in candidates:
        if path.name == "aghmem" and path.is_file():
            return shlex.quote(os.path.abspath(path))
    if found := shutil.which("aghmem"):
        return shlex.quote(os.path.abspath(found))
    return f"{shlex.quote(sys.executable)} -m aghmem"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"cannot read {path}: {exc}; nothing was changed", path=str(path)) from None


def _json_change(path: Path, what: str, remove: bool, merge: Any, unmerge: Any) -> FileChange:
    before = _read(path)
    doc = load_json(before, str(path))
    new = unmerge(doc, str(path)) if remove else merge(doc, str(path))
    if new is doc:
        return FileChange(path, what, before, before)
    if remove and not new and not path.is_symlink():
        return FileChange(path, what, before, None)
    return FileChange(path, what, before, dump_json(new, before))


def _toml_change(path: Path, what: str, remove: bool, url: str) -> FileChange:
    before = _read(path)
    after = without_codex_server(before or "", str(path)) if remove else with_codex_server(before or "", url, str(path))
    if after == (before or ""):
        return FileChange(path, what, before, before)
    if remove and not after.strip() and not path.is_symlink():
        return FileChange(path, what, before, None)
    return FileChange(path, what, before, after)


def plan(
    runtime: str,
    files: ConfigFiles,
    *,
    base_url: str,
    aghmem: str,
    transport: Transport,
    remove: bool,
    workspace_id: str | None = None,
) -> list[FileChange]:
    """What `integrate` would change, file by file; nothing is written.
    `workspace_id`: a project's own workspace, which its MCP URL names."""
    url = mcp_url(base_url, workspace_id)
    what = f"MCP server {SERVER_NAME} → {url}"
    if files.mcp_format == "toml":
        changes = [_toml_change(files.mcp, what, remove, url)]
    else:
        entry = mcp_entry(runtime, url)
        changes = [
            _json_change(files.mcp, what, remove, lambda d, w: with_mcp_server(d, entry, w), without_mcp_server)
        ]
    groups = hook_groups(runtime, aghmem=aghmem, base_url=base_url, transport=transport)
    if files.hooks is not None and groups:
        what = f"hooks on {', '.join(groups)}"
        changes.append(_json_change(files.hooks, what, remove, lambda d, w: with_hooks(d, groups, w), without_hooks))
    return changes


def write(change: FileChange) -> None:
    """Apply one change: atomically (a temporary file renamed over the
    target, keeping its mode), through a symlink to the file it points at;
    a deleted file's runtime directory goes too when nothing else is in it."""
    target = Path(os.path.realpath(change.path))
    if change.after is None:
        target.unlink(missing_ok=True)
        if target.parent.name in RUNTIME_DIRS and not any(target.parent.iterdir()):
            target.parent.rmdir()  # .claude/, .codex/ or .cursor/ held only ours
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o7777 if target.exists() else None
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".aghmem-tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(change.after)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def diff(change: FileChange) -> str:
    lines = difflib.unified_diff(
        (change.before or "").splitlines(keepends=True),
        (change.after or "").splitlines(keepends=True),
        fromfile=str(change.path) if change.before is not None else "/dev/null",
        tofile=str(change.path) if change.after is not None else "/dev/null",
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def project_workspace(project: Path) -> str | None:
    """The workspace id a project directory carries (`.agh/workspace.toml`),
    so a project's MCP entry names its workspace: an HTTP client sends no
    directory, and would otherwise see global memories only."""
    try:
        found = tomllib.loads((project / ".agh" / "workspace.toml").read_text(encoding="utf-8")).get("id")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return found if isinstance(found, str) and WORKSPACE_ID.fullmatch(found) else None


def cmd_integrate(args: argparse.Namespace) -> None:
    base_url, token = daemon_url(args)
    project = Path.cwd() if args.project else None
    files = config_files(args.runtime, home=Path.home(), project=project)
    workspace_id = project_workspace(project) if project else None
    changes = plan(
        args.runtime, files, base_url=base_url, aghmem=aghmem_program(), transport=args.hooks, remove=args.remove, workspace_id=workspace_id
    )
    if not args.dry_run:
        for change in changes:
            if change.action != "unchanged":
                write(change)
    notes = [] if args.remove else [NOTES[args.runtime], *([NOTES["claude-project"]] if project and args.runtime == "claude" else [])]
    if token and not args.remove:
        notes.append("the daemon asks for a bearer token (server.token): these entries send none; loopback needs none")
    result = {
        "runtime": args.runtime,
        "scope": "project" if project else "user",
        "remove": args.remove,
        "dry_run": args.dry_run,
        "files": [
            {"path": str(c.path), "what": c.what, "action": c.action, **({"diff": diff(c)} if args.dry_run else {})}
            for c in changes
        ],
        "notes": notes,
    }
    emit(args, result, render)


def render(result: dict[str, Any]) -> str:
    verb = "would be " if result["dry_run"] else ""
    lines = [f"{result['runtime']} ({result['scope']} scope){': dry run, nothing written' if result['dry_run'] else ''}"]
    for item in result["files"]:
        action = item["action"] if item["action"] == "unchanged" else f"{verb}{item['action']}"
        lines.append(f"  {action}: {item['path']}  ({item['what']})")
        if item.get("diff"):
            lines += [f"    {line}" for line in item["diff"].rstrip("\n").splitlines()]
    lines += [f"note: {note}" for note in result["notes"]]
    return "\n".join(lines)


def add_commands(commands: Any) -> None:
    p = commands.add_parser(
        "integrate",
        help="set up Claude Code, Codex or Cursor to use aghmem",
        description=(
            "Write (or with --remove, take back) the runtime's MCP server entry and lifecycle hooks, merged into its "
            "config files: only the entries marked as aghmem's are touched, and running it twice changes nothing. "
            "Needs no daemon; the URL comes from the config (or --url)."
        ),
    )
    p.add_argument("runtime", choices=RUNTIMES, help="the agent runtime: claude (Claude Code), codex (Codex CLI) or cursor")
    p.add_argument(
        "--project",
        action="store_true",
        help="the project's files in the current directory (.mcp.json, .claude/, .codex/, .cursor/) instead of your user-wide ones",
    )
    p.add_argument("--remove", action="store_true", help="take aghmem's entries out again, leaving everything else")
    p.add_argument("--dry-run", action="store_true", help="show what would change (a diff per file), write nothing")
    p.add_argument(
        "--hooks",
        choices=["http", "command"],
        default="http",
        help="Claude Code's hooks post to the daemon (http, the default: no process per prompt) or run `aghmem hook` "
        "(command); SessionStart and Codex's hooks are always commands",
    )
    p.set_defaults(func=cmd_integrate, local=True)

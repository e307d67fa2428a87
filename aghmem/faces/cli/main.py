"""`aghmem`: run the daemon, or talk to a running one over HTTP.

    aghmem serve [--home DIR] [--host H] [--port P] [--config F]
    aghmem memory list|show|write|edit|delete …
    aghmem decisions list|show|revert …
    aghmem search QUERY | reindex | doctor
    aghmem scope-show | health | workspace add [PATH] | workspace list
    aghmem dream run|list|status|retry … | daily
    aghmem integrate claude|codex|cursor [--project] [--remove] [--dry-run]
    aghmem mcp [--stdio] [-w WORKSPACE]
    aghmem hook session-start|user-prompt-submit|pre-compact|stop|session-end
    aghmem completion bash|zsh

A command with a scope, run inside a registered workspace (or a folder under
it) without -w or --scope, works in that workspace.

Each area is a module with `add_commands(subparsers)` and its `cmd_*`
functions (`func(client, args)`); this one assembles the parser, finds the
daemon, runs the command and turns errors into one line on stderr. `hook`
is answered before the areas (httpx, the core) are imported: a runtime
waits for it on every prompt.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from types import ModuleType
from typing import Sequence

from ... import __version__
from ...errors import AghmemError, ValidationError
from . import hook
from .address import daemon_url


def _parser(areas: Sequence[ModuleType]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aghmem", description="Local memory daemon for coding agents.")
    parser.add_argument("--version", action="version", version=f"aghmem {__version__}", help="print the version and exit")
    parser.add_argument("--url", help="daemon URL (default: $AGHMEM_URL, else host/port from the config)")
    parser.add_argument("--token", help="bearer token (default: $AGHMEM_TOKEN or server.token)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    commands = parser.add_subparsers(dest="command", required=True)
    for area in areas:
        area.add_commands(commands)
    return parser


def build_parser() -> argparse.ArgumentParser:
    from . import completion, decisions, dream, integrate, mcp, memory, search, serve, workspace

    return _parser((serve, memory, decisions, search, workspace, dream, integrate, mcp, hook, completion))


def _command(argv: Sequence[str]) -> str | None:
    """The command word of `argv` (the first word that is not an option or
    the value of --url or --token)."""
    words = iter(argv)
    for word in words:
        if word in ("--url", "--token"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _hook(argv: Sequence[str]) -> int:
    """`aghmem hook …`, parsed with the global options and `hook` alone. A
    usage error exits 0 too (2 would block the runtime's prompt)."""
    try:
        args = _parser((hook,)).parse_args(argv)
    except SystemExit:
        return 0
    return hook.run(args, lambda: daemon_url(args))


def _check_arguments(argv: Sequence[str]) -> None:
    """Refuse an argument that is not UTF-8 text: Python hands its bytes over
    as lone surrogates, which no request can carry (UnicodeEncodeError)."""
    for word in argv:
        try:
            word.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(f"the argument {_shown(word)} is not valid UTF-8 text") from None


def _shown(word: str) -> str:
    """An argument as it can be printed: its undecodable bytes as \\xff."""
    try:
        return word.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no byte stands for (main() called with one)
        return word.encode("utf-8", "backslashreplace").decode("utf-8")


def _run(args: argparse.Namespace) -> None:
    from ..client import Client
    from .output import fill_workspace

    if getattr(args, "local", False):
        args.func(args)
        return
    url, token = daemon_url(args)
    args.token_value = token
    with Client(url, token=token) as client:
        fill_workspace(client, args)
        args.func(client, args)
    # Flushed here, not at exit, so that a closed pipe is seen in main().
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if _command(argv) == "hook":
        return _hook(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.root_parser = parser  # `completion` describes it
    try:
        _check_arguments(argv)
        _run(args)
        return 0
    except AghmemError as exc:
        if args.json and exc.code != "client.unavailable":
            print(json.dumps({"code": exc.code, "message": exc.message, "details": exc.details}), file=sys.stderr)
        else:
            from .output import workspace_hint

            print(f"aghmem: {exc.message}{workspace_hint(args, exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`aghmem memory list | head -1`): stop quietly,
        # as Unix tools do. Python would try to flush stdout again at exit and
        # print the error, so stdout now points at /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # the status of a process killed by SIGPIPE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

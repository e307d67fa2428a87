"""`aghmem hook <event>`: an agent runtime's lifecycle hook, as a command.

Claude Code and Codex run it with the hook's JSON on stdin. It forwards
that JSON, as it came, to the daemon (`POST /api/hooks/{runtime}?event=…`)
and prints the answer: the `hookSpecificOutput` object for session-start
and user-prompt-submit when there is something to add, else nothing.

A runtime waits for it on every prompt, so it fails open and fast: it
always exits 0 (2 would block the prompt), prints nothing on stdout when
anything goes wrong (the reason goes to stderr), never opens the index, and
imports only the standard library and the config reader (main() sends
`hook` here before it imports the rest of the CLI).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import urllib.parse
from typing import Callable

EVENTS = ("session-start", "user-prompt-submit", "pre-compact", "stop", "session-end")
RUNTIMES = ("claude", "codex")
TIMEOUT = 1.2  # seconds; a runtime's budget for a prompt hook is 1.5 s
MAX_STDIN = 8 * 1024 * 1024
MAX_ANSWER = 1024 * 1024
NOTE_HEADER = "X-Aghmem-Hook"


class HookError(Exception):
    """A reason to print on stderr (and nothing on stdout); a `quiet` one
    only with --verbose."""

    def __init__(self, message: str, *, quiet: bool = False) -> None:
        super().__init__(message)
        self.quiet = quiet


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "hook",
        help="answer an agent runtime's lifecycle hook (its JSON on stdin)",
        description="Forward a Claude Code or Codex hook's JSON (stdin) to the daemon and print its answer. "
        "Always exits 0; when anything fails stdout stays empty and stderr says why "
        "(stdin that is not a JSON object only with --verbose).",
    )
    parser.add_argument("event", choices=EVENTS, help="the hook: " + ", ".join(EVENTS))
    parser.add_argument("--runtime", choices=RUNTIMES, default="claude", help="the runtime running the hook (default: claude)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help=f"seconds to wait for the daemon (default: {TIMEOUT})")
    parser.add_argument("--verbose", action="store_true", help="also print on stderr what the daemon did (or why not)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, where: Callable[[], tuple[str, str | None]]) -> int:
    """Forward stdin to the daemon (`where()` gives its URL and token) and
    print the answer. Returns 0, whatever happens."""
    try:
        answer, note = _forward(args, where)
        if answer:  # the daemon's JSON as it came: {} (nothing to add) prints nothing
            sys.stdout.buffer.write(answer.rstrip(b"\n") + b"\n")
            sys.stdout.flush()
        if note and args.verbose:
            print(f"aghmem hook {args.event}: {note}", file=sys.stderr)
    except BrokenPipeError:
        # The runtime stopped reading: Python would fail again flushing at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except HookError as exc:
        if args.verbose or not exc.quiet:
            print(f"aghmem hook {args.event}: {exc}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - a hook must never fail its runtime
        print(f"aghmem hook {args.event}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 0


def _forward(args: argparse.Namespace, where: Callable[[], tuple[str, str | None]]) -> tuple[bytes, str | None]:
    if sys.stdin is None or sys.stdin.isatty():
        raise HookError("reads the hook's JSON on stdin (a runtime runs this command)")
    raw = sys.stdin.buffer.read(MAX_STDIN)
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        raise HookError("stdin is not a JSON object; nothing to do", quiet=True)
    url, token = where()
    return post(url, token, f"/api/hooks/{args.runtime}?event={args.event}", raw, args.timeout)


def post(url: str, token: str | None, path: str, body: bytes, timeout: float) -> tuple[bytes, str | None]:
    """POST `body` (JSON) to the daemon at `url`: its answer (a JSON object;
    b"" for `{}`) and note. HookError when it cannot be reached or does not
    answer 200 with a JSON object."""
    parts = urllib.parse.urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection = kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        connection.request("POST", parts.path.rstrip("/") + path, body=body, headers=headers)
        response = connection.getresponse()
        data, note = response.read(MAX_ANSWER), response.getheader(NOTE_HEADER)
    except TimeoutError:
        raise HookError(f"the daemon at {url} did not answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise HookError(f"no answer from the daemon at {url} ({exc}); is `aghmem serve` running?") from None
    finally:
        connection.close()
    try:
        answer = json.loads(data)
    except ValueError:
        answer = None
    if response.status != 200:
        message = answer.get("message") if isinstance(answer, dict) else None
        raise HookError(f"the daemon answered {response.status}: {message or data[:200]!r}")
    if not isinstance(answer, dict):
        raise HookError("the daemon's answer is not a JSON object")
    return (data if answer else b""), note

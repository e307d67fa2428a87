"""`aghmem hook <event>`: an agent runtime's lifecycle hook, as a command.

Claude Code and Codex run it with the hook's JSON on stdin. It forwards
that JSON, as it came, to the daemon (`POST /api/hooks/{runtime}?event=…`,
over a plain socket)
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
import json
import os
import socket
import sys
import time
import urllib.parse
from typing import Callable

EVENTS = ("session-start", "user-prompt-submit", "pre-compact", "stop", "session-end")
RUNTIMES = ("claude", "codex")
# Seconds to wait for the daemon: a prompt's hooks have a budget of 1.5 s;
# recording may read a long transcript the first time (and the daemon
# finishes it even when this command has given up).
CONTEXT_TIMEOUT, CAPTURE_TIMEOUT = 1.2, 4.0
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
    parser.add_argument(
        "--timeout", type=float,
        help=f"seconds to wait for the daemon (default: {CONTEXT_TIMEOUT} for session-start and user-prompt-submit, else {CAPTURE_TIMEOUT})",
    )
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
    timeout = args.timeout or (CONTEXT_TIMEOUT if args.event in ("session-start", "user-prompt-submit") else CAPTURE_TIMEOUT)
    return post(url, token, f"/api/hooks/{args.runtime}?event={args.event}", raw, timeout)


def post(url: str, token: str | None, path: str, body: bytes, timeout: float) -> tuple[bytes, str | None]:
    """POST `body` (JSON) to the daemon at `url` (http://): its answer (a
    JSON object; b"" for `{}`) and note. HookError when it cannot be reached
    or does not answer 200 with a JSON object."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise HookError(f"the daemon URL must be http://host:port, not {url!r}")
    if token and ("\r" in token or "\n" in token):
        raise HookError("the token holds a line break")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port or 80
    head = [
        f"POST {parts.path.rstrip('/')}{path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
        f"Content-Length: {len(body)}", "Connection: close", *([f"Authorization: Bearer {token}"] if token else []),
    ]
    try:
        raw = _exchange(parts.hostname, port, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body, time.monotonic() + timeout)
    except TimeoutError:
        raise HookError(f"the daemon at {url} did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise HookError(f"no answer from the daemon at {url} ({exc}); is `aghmem serve` running?") from None
    status, note, data = _response(raw)
    try:
        answer = json.loads(data)
    except ValueError:
        answer = None
    if status != 200:
        message = answer.get("message") if isinstance(answer, dict) else None
        raise HookError(f"the daemon answered {status}: {message or data[:200]!r}")
    if not isinstance(answer, dict):
        raise HookError("the daemon's answer is not a JSON object")
    return (data if answer else b""), note


def _exchange(host: str, port: int, request: bytes, deadline: float) -> bytes:
    """One request on a fresh connection, which the server closes after its
    answer (`Connection: close`): the raw answer. A plain socket: http.client
    would add its imports (email, ssl) to every prompt."""

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        return remaining

    chunks: list[bytes] = []
    with socket.create_connection((host, port), timeout=left()) as sock:
        sock.sendall(request)
        while sum(map(len, chunks)) <= MAX_ANSWER:
            sock.settimeout(left())
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _response(raw: bytes) -> tuple[int, str | None, bytes]:
    """(status, the X-Aghmem-Hook note, body) of a raw HTTP/1.1 answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise HookError("the daemon's answer is not HTTP") from None
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = headers.get("content-length", "")
    if length.isdigit():
        if len(body) < int(length):
            raise HookError("the daemon's answer was cut short")
        body = body[: int(length)]
    return status, headers.get(NOTE_HEADER.lower()), body

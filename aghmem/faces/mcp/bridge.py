"""The stdio bridge behind `aghmem mcp --stdio`.

Some MCP clients only spawn processes; this is a thin bridge for them: each
JSON-RPC message read from stdin is POSTed to the running daemon's /mcp
(stateless Streamable HTTP, so every POST stands alone) and the answer is
written to stdout. It never opens the index: one daemon is
the only engine (starting one if none answers). stdout carries JSON-RPC
only; anything else goes to stderr.

The workspace is the connection's: `--workspace` (an id or a path inside a
registered root) travels as `X-Aghmem-Workspace`; without it the current
directory travels as `X-Aghmem-Cwd` and the daemon takes the registered root
holding it, if any.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import httpx

from ... import __file__ as package_file
from ...config import is_loopback_host, load_config
from ..json_depth import MAX_JSON_DEPTH, nested_too_deeply

log = logging.getLogger("aghmem.mcp.bridge")

START_TIMEOUT = 60.0
# The header names and the 2026-07-28 envelope key the SDK routes on.
VERSION_HEADER, METHOD_HEADER, NAME_HEADER = "mcp-protocol-version", "mcp-method", "mcp-name"
VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion"
NAME_PARAMS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
SERVER_ERROR = -32000
_HEADER_SAFE = re.compile(r"[\x20-\x7E]*")


def header_value(value: str) -> str:
    """A name as the SDK puts it in a header: verbatim when it is printable
    ASCII without edge spaces, else base64 in `=?base64?…?=` (the SDK's
    `encode_header_value`, restated: importing the SDK costs the bridge a
    second)."""
    if _HEADER_SAFE.fullmatch(value) and value == value.strip() and not value.startswith("=?base64?"):
        return value
    return f"=?base64?{base64.b64encode(value.encode()).decode('ascii')}?="


def routing_headers(message: Any, negotiated: str | None) -> dict[str, str]:
    """The HTTP headers Streamable HTTP wants for `message`: a 2026-07-28
    request carries its version in `_meta` and must repeat it (and its
    method and name) in headers; a handshake-era one sends the version
    `initialize` settled on."""
    if not isinstance(message, dict):
        return {}
    method = message.get("method")
    params = message.get("params") if isinstance(message.get("params"), dict) else {}
    meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
    version = meta.get(VERSION_META_KEY)
    if isinstance(version, str) and isinstance(method, str):
        headers = {VERSION_HEADER: version, METHOD_HEADER: method}
        name = params.get(NAME_PARAMS.get(method, ""))
        if isinstance(name, str):
            headers[NAME_HEADER] = header_value(name)
        return headers
    if negotiated and method != "initialize":
        return {VERSION_HEADER: negotiated}
    return {}


def error_reply(message: Any, text: str, code: int = SERVER_ERROR) -> dict[str, Any] | None:
    """A JSON-RPC error answering `message` (None for a notification: no
    answer is expected)."""
    if isinstance(message, dict) and "id" in message and "method" in message:
        return {"jsonrpc": "2.0", "id": message["id"], "error": {"code": code, "message": text}}
    return None


def sse_messages(text: str) -> list[Any]:
    """The JSON-RPC messages in an event-stream body."""
    found = []
    for event in text.replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(line[5:].lstrip() for line in event.split("\n") if line.startswith("data:"))
        if data.strip():
            found.append(json.loads(data))
    return found


def _parsed(line: bytes) -> Any:
    """A stdin line's message; ValueError when it is not JSON or nests past
    MAX_JSON_DEPTH (a RecursionError, here or in forwarding, would end the
    bridge and every call still in flight)."""
    try:
        message = json.loads(line)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if nested_too_deeply(message, MAX_JSON_DEPTH):
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep")
    return message


class Bridge:
    def __init__(self, url: str, *, token: str | None, workspace: str | None, start: bool) -> None:
        self.url = url
        self.headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
        if token:
            self.headers["authorization"] = f"Bearer {token}"
        if workspace:
            self.headers["x-aghmem-workspace"] = quote(workspace, safe="/:")
        else:
            self.headers["x-aghmem-cwd"] = quote(os.getcwd(), safe="/:")
        self.may_start = start
        self.negotiated: str | None = None  # the version `initialize` settled on (handshake era)
        self.write_lock = anyio.Lock()
        self.start_lock = anyio.Lock()

    async def run(self) -> None:
        stdin = anyio.wrap_file(sys.stdin.buffer)
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=300.0)) as http, anyio.create_task_group() as tg:
            async for line in stdin:
                if not line.strip():
                    continue
                try:
                    message = _parsed(line)
                except ValueError:
                    await self.write({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}})
                    continue
                tg.start_soon(self.forward, http, message)

    async def forward(self, http: httpx.AsyncClient, message: Any) -> None:
        if isinstance(message, dict) and "method" not in message:
            return  # a reply to a server request: a stateless server sends none
        try:
            response = await self.post(http, message)
        except httpx.HTTPError as exc:
            reply = error_reply(message, f"the aghmem daemon at {self.url} did not answer ({exc.__class__.__name__})")
            if reply:
                await self.write(reply)
            return
        for answer in self.answers(message, response):
            if isinstance(message, dict) and message.get("method") == "initialize" and isinstance(answer, dict):
                self.negotiated = (answer.get("result") or {}).get("protocolVersion") or self.negotiated
            await self.write(answer)

    async def post(self, http: httpx.AsyncClient, message: Any) -> httpx.Response:
        headers = {**self.headers, **routing_headers(message, self.negotiated)}
        try:
            return await http.post(self.url, content=json.dumps(message), headers=headers)
        except httpx.ConnectError:
            if not self.may_start:
                raise
        async with self.start_lock:  # one start for every message waiting on it
            await anyio.to_thread.run_sync(ensure_daemon, self.url)
        return await http.post(self.url, content=json.dumps(message), headers=headers)

    def answers(self, message: Any, response: httpx.Response) -> list[Any]:
        """What to write back for one POST's response."""
        if response.status_code in (202, 204) or not response.content:
            return []
        try:
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                return sse_messages(response.text)
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, (dict, list)) and (isinstance(body, list) or "jsonrpc" in body):
            return [body]
        # Not JSON-RPC: the daemon's own refusal (Host, token…) or a proxy's.
        text = body.get("message") if isinstance(body, dict) else response.text[:200]
        reply = error_reply(message, f"HTTP {response.status_code} from {self.url}: {text}")
        return [reply] if reply else []

    async def write(self, message: Any) -> None:
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        async with self.write_lock:
            await anyio.to_thread.run_sync(_write_stdout, data)


def _write_stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _healthy(url: str) -> bool:
    parts = urlsplit(url)
    try:
        return httpx.get(f"{parts.scheme}://{parts.netloc}/healthz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_daemon(url: str) -> None:
    """Start `aghmem serve` (this installation's, on this config) when no
    daemon answers at `url`, and wait until one does. Only for a loopback
    URL: a daemon elsewhere is not ours to start."""
    if _healthy(url):
        return
    if not is_loopback_host(urlsplit(url).hostname or ""):
        raise httpx.ConnectError(f"no daemon answers at {url}")
    home = load_config().home_path
    (home / "state").mkdir(parents=True, exist_ok=True)
    code_root = str(Path(package_file).resolve().parent.parent)  # the aghmem running now, not another copy
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [code_root, os.environ.get("PYTHONPATH")]))}
    log.warning("no aghmem daemon at %s: starting one (log: %s)", url, home / "state" / "daemon.log")
    with open(home / "state" / "daemon.log", "ab") as out:
        subprocess.Popen(
            [sys.executable, "-m", "aghmem", "serve"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if _healthy(url):
            return
        time.sleep(0.1)
    raise httpx.ConnectError(f"started a daemon, but none answers at {url} after {START_TIMEOUT:.0f} s")


def run(url: str, *, token: str | None, workspace: str | None, start: bool) -> None:
    """Bridge stdin/stdout to the MCP endpoint at `url` until stdin ends."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="aghmem mcp: %(message)s")
    anyio.run(Bridge(url, token=token, workspace=workspace, start=start).run)

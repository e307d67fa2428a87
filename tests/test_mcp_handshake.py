"""The MCP handshake answered before the SDK is loaded is the SDK's (issue 16).

A daemon answers a plain `initialize` without importing the SDK (a second
of CPU after a start); that answer must be, byte for byte, what the SDK
answers to the same request, for every protocol version and the shapes of
request it takes on; others go to the SDK.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from aghmem.faces.mcp import handshake
from aghmem.testing import Daemon

HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def initialize(version: str = "2025-06-18", ident: Any = 1, capabilities: Any = None, **info: str) -> dict[str, Any]:
    client = {"name": "t", "version": "0", **info}
    params = {"protocolVersion": version, "capabilities": capabilities or {}, "clientInfo": client}
    return {"jsonrpc": "2.0", "id": ident, "method": "initialize", "params": params}


VARIANTS = [
    *(initialize(version) for version in (*HANDSHAKE_PROTOCOL_VERSIONS, "2026-07-28", "1999-01-01", "")),
    initialize(ident="abc"), initialize(ident=0), initialize(ident=-5), initialize(title="Test client"),
    initialize(capabilities={"roots": {"listChanged": True}}), initialize(capabilities={"sampling": {}}),
    initialize(capabilities={"elicitation": {}, "roots": {}}), initialize(name="客户端 ü"),
]


def test_the_versions_are_the_sdks() -> None:
    assert handshake.HANDSHAKE_VERSIONS == tuple(HANDSHAKE_PROTOCOL_VERSIONS)


def test_only_the_plain_handshake_is_answered_here() -> None:
    plain = json.dumps(initialize()).encode()
    assert handshake.initialize_answer(HEADERS, plain) is not None
    for headers in ({**HEADERS, "accept": "text/event-stream"}, {**HEADERS, "content-type": "text/plain"},
                    {**HEADERS, "mcp-session-id": "x"}, {**HEADERS, "mcp-protocol-version": "2025-06-18"}):
        assert handshake.initialize_answer(headers, plain) is None
    for message in ({**initialize(), "method": "tools/list"}, {**initialize(), "extra": 1}, [initialize()],
                    initialize(ident=True), initialize(ident=1.5), initialize(capabilities={"roots": {"listChanged": "yes"}}),
                    initialize(capabilities={"experimental": {}}), initialize(website="x")):
        assert handshake.initialize_answer(HEADERS, json.dumps(message).encode()) is None, message
    assert handshake.initialize_answer(HEADERS, b"{not json") is None
    assert handshake.initialize_answer(HEADERS, b"[" * 10000) is None  # json.loads raised RecursionError


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Any:
    daemon = Daemon(tmp_path_factory.mktemp("handshake") / "home").start()  # mcp.warm_up off: built on first use
    yield daemon
    daemon.stop()


def post(daemon: Daemon, message: Any) -> Any:
    return daemon.post("/mcp", message, headers={"Accept": HEADERS["accept"]})


def test_the_answer_given_before_the_sdk_is_the_sdks(daemon: Daemon) -> None:
    first = post(daemon, initialize())  # the daemon's first MCP request: answered without the SDK
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    listed = post(daemon, {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
    assert listed.status_code == 200 and listed.json()["result"]["tools"]  # this one built the SDK's server
    again = post(daemon, initialize())
    assert (again.status_code, again.headers["content-type"], again.content) == (200, "application/json", first.content)
    for message in VARIANTS:
        sdk = post(daemon, message)
        here = handshake.initialize_answer(HEADERS, json.dumps(message).encode())
        assert here is not None, message
        assert sdk.status_code == 200 and sdk.content == here, (message, sdk.text, here)


def test_the_endpoint_answers_the_handshake_without_building_the_server(tmp_path: Any) -> None:
    import anyio

    from aghmem.config import load_config
    from aghmem.faces.mcp.endpoint import McpEndpoint
    from aghmem.faces.security import Allowlist
    from aghmem.service.service import MemoryService

    service = MemoryService(load_config(home=tmp_path / "home", env={}))
    endpoint = McpEndpoint(service, Allowlist.of(service.config.server))
    body = json.dumps(initialize()).encode()
    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": [(k.encode(), v.encode()) for k, v in HEADERS.items()]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        anyio.run(endpoint, scope, receive, send)
    finally:
        service.close()
    assert sent[0]["status"] == 200 and sent[1]["body"] == handshake.initialize_answer(HEADERS, body)
    assert endpoint.face is None  # the SDK's server was not built for it


def test_a_daemon_stopped_while_the_server_is_built_logs_no_error(tmp_path: Any, caplog: Any) -> None:
    # `make run` stopped a second after its start: the warm-up's import
    # finished after the lifespan had ended, and an AssertionError was
    # logged as "could not build the MCP server".
    import anyio

    from aghmem.config import load_config
    from aghmem.errors import Unavailable
    from aghmem.faces.mcp.endpoint import McpEndpoint
    from aghmem.faces.security import Allowlist
    from aghmem.service.service import MemoryService

    service = MemoryService(load_config(home=tmp_path / "home", env={}))
    service.start(watch=False)
    endpoint = McpEndpoint(service, Allowlist.of(service.config.server))

    async def stopped_then_warmed() -> None:
        async with endpoint.running():
            endpoint.serving()
        await endpoint._warm()  # what the warm-up does when its import ends after the stop
        with pytest.raises(Unavailable, match="stopping"):
            await endpoint.ready()

    try:
        with caplog.at_level("ERROR", logger="aghmem.mcp"):
            anyio.run(stopped_then_warmed)
    finally:
        service.close()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert endpoint.face is None


def test_json_nested_too_deeply_before_the_sdk_is_built_is_a_parse_error(tmp_path: Any) -> None:
    daemon = Daemon(tmp_path / "home").start()  # mcp.warm_up off: this is the first MCP request
    try:
        for body in (b"[" * 10000, json.dumps({**initialize(), "params": {"deep": json.loads("[" * 900 + "]" * 900)}}).encode()):
            answer = daemon.post("/mcp", content=body, headers=HEADERS)
            assert answer.status_code < 500, answer.text
        assert post(daemon, initialize()).status_code == 200
    finally:
        daemon.stop()
    assert "Traceback" not in daemon.log()

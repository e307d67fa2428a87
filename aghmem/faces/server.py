"""`aghmem serve`: run the daemon under uvicorn until SIGINT/SIGTERM."""

from __future__ import annotations

import fcntl
import gc
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Callable

import uvicorn
from starlette.types import ASGIApp

from .. import faults
from ..config import Config, is_loopback_host, parse_duration
from ..errors import ConfigError
from ..service.service import MemoryService
from ..storage.files import atomic_write, utc_now
from .app import create_app
from .http_protocol import HeaderDeadlineProtocol

log = logging.getLogger("aghmem")

# uvicorn's default; asyncio listens again with it when it takes the socket.
LISTEN_BACKLOG = 2048


def check_bind(config: Config) -> None:
    host = config.server.host
    if not is_loopback_host(host) and not config.server.token:
        raise ConfigError(
            f"refusing to listen on {host}: it is not a loopback address and no token is set "
            "(set server.token in the config or AGHMEM_TOKEN)"
        )


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    address = "127.0.0.1" if host == "localhost" else host.strip("[]")
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY only on connections
    # accepted from such a socket; without it every response waits ~40 ms
    # for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    # Listen now, not when uvicorn gets to it after the lifespan start-up:
    # from here on a client that connects is queued by the kernel (and
    # served once the app is up) instead of refused.
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


class AnnouncingServer(uvicorn.Server):
    """A uvicorn server that calls `on_ready` once it serves: after the
    app's lifespan start-up (recovery, scan) and after the listening socket
    is handed to the event loop, so whoever reads the announcement can
    connect and be answered."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self._on_ready()


def hold_home(home: Path) -> int:
    """Take HOME for this process (an flock the kernel drops when it exits,
    crash or not); a clear error if another daemon has it. Returns the fd to
    keep open."""
    state = home / "state"
    state.mkdir(parents=True, exist_ok=True)
    fd = os.open(state / "daemon.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        try:
            other = json.loads((state / "server.json").read_text())
            who = f"pid {other['pid']}, {other['url']}"
        except (OSError, ValueError, KeyError):
            who = "starting up"
        raise ConfigError(f"another aghmem daemon ({who}) is using {home}; stop it, or give this one another --home") from None
    return fd


def _stopped(signum: int, frame: FrameType | None) -> None:
    log.info("stopping on signal %d", signum)


def freeze_start_up_heap() -> None:
    """What start-up made lives as long as the daemon: out of the cyclic
    collector's sight, a full collection walks only what came since (at 20k
    memories, one was a 50-100 ms pause in some search)."""
    gc.freeze()


def uvicorn_config(app: ASGIApp, config: Config) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=HeaderDeadlineProtocol.for_timeout(parse_duration(config.server.header_timeout)),
        log_level="warning",
        access_log=False,
        lifespan="on",
        # No proxy stands in front of a local daemon: a client's X-Forwarded-Proto
        # must not set the scheme the Origin check compares with.
        proxy_headers=False,
        timeout_graceful_shutdown=10,
        backlog=LISTEN_BACKLOG,
    )


def serve(config: Config, config_path: Path | None = None) -> None:
    """Start the daemon and block until it is told to stop."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    check_bind(config)
    home_lock = hold_home(config.home_path)
    sock = bind_socket(config.server.host, config.server.port)
    host, port = config.server.host, sock.getsockname()[1]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    state_file = config.home_path / "state" / "server.json"

    def announce(ready: bool) -> None:
        info = {"pid": os.getpid(), "url": url, "host": host, "port": port, "started_at": utc_now(), "ready": ready}
        atomic_write(state_file, json.dumps(info).encode(), durable=False)

    def on_serving() -> None:
        """Serving (clients are answered): announced, and again once the files are in."""
        app.state.serving()  # the MCP warm-up may begin
        if service.ready.is_set():
            on_ready()
            return
        announce(False)
        log.info("aghmem serving on %s, taking in the files (home %s)", url, config.home_path)
        threading.Thread(target=lambda: service.ready.wait() and on_ready(), name="aghmem-announce", daemon=True).start()

    def on_ready() -> None:
        announce(True)
        freeze_start_up_heap()
        faults.point("server.announced")
        log.info("aghmem ready on %s (home %s)", url, config.home_path)

    service = MemoryService(config, config_path=config_path)
    app = create_app(service)
    server = AnnouncingServer(uvicorn_config(app, config), on_serving)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then restores the
    # handlers it found and re-raises the signal. With these in place the
    # re-raised signal is a no-op, so cleanup below runs and we exit 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stopped)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        os.close(home_lock)
        try:
            if json.loads(state_file.read_text()).get("pid") == os.getpid():
                state_file.unlink()
        except (OSError, ValueError):
            pass
    log.info("aghmem stopped")

"""uvicorn's HTTP protocol, with a deadline for a request's headers.

uvicorn times out idle keep-alive connections but never a request whose
headers trickle in: 300 clients sending a header line a second each held a
connection forever, and enough of them exhaust the daemon's descriptors
until `/healthz` fails. Here a request's headers must arrive within
`server.header_timeout` of its first byte, and when more than MAX_PENDING
connections are waiting on headers the oldest is dropped, so a flood of slow
clients cannot crowd out a health check.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_PENDING = 256


class HeaderDeadlineProtocol(HttpToolsProtocol):
    header_timeout = 10.0  # seconds; `for_timeout` makes the class a server uses

    @classmethod
    def for_timeout(cls, seconds: float) -> type["HeaderDeadlineProtocol"]:
        return type(cls.__name__, (cls,), {"header_timeout": seconds})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Shared by every connection of this server: those still sending headers, oldest first.
        state = self.server_state
        if not hasattr(state, "awaiting_headers"):
            state.awaiting_headers = OrderedDict()  # type: ignore[attr-defined]
        self._awaiting: OrderedDict[HeaderDeadlineProtocol, None] = state.awaiting_headers  # type: ignore[attr-defined]
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._await_headers()  # the next request on a kept-alive connection

    def on_headers_complete(self) -> None:
        self._headers_done()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_done()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        if self._deadline is not None:
            return
        self._deadline = self.loop.call_later(self.header_timeout, self._drop)
        self._awaiting[self] = None
        while len(self._awaiting) > MAX_PENDING:
            oldest = next(iter(self._awaiting))
            oldest._drop()

    def _headers_done(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._awaiting.pop(self, None)

    def _drop(self) -> None:
        """Too slow with its headers: close without an answer."""
        self._headers_done()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

"""A fake OpenAI-compatible chat endpoint on a loopback port, scripted by tests.

    with FakeLLM() as llm:
        llm.script(reply('{"op": "add"}'), status(500), slow(2.0, "late"), raw("not json"))
        # base_url = llm.base_url  (…/v1)

Each request takes the next scripted answer; with none left it answers
`default` (an empty completion). Requests are kept in `requests`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int = 200
    text: str = ""
    delay: float = 0.0
    body: bytes | None = None  # sent as is (malformed answers)


def reply(text: str) -> Answer:
    return Answer(text=text)


def status(code: int) -> Answer:
    return Answer(status=code, body=b'{"error": {"message": "boom"}}')


def slow(seconds: float, text: str = "") -> Answer:
    return Answer(text=text, delay=seconds)


def raw(body: str) -> Answer:
    return Answer(body=body.encode())


class FakeLLM:
    def __init__(self, default: Answer | None = None) -> None:
        self.default = default or Answer()
        self.requests: list[dict[str, Any]] = []
        self._script: list[Answer] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **request})
                    answer = fake._script.pop(0) if fake._script else fake.default
                time.sleep(answer.delay)
                body = answer.body
                if body is None:
                    body = json.dumps({
                        "id": "chatcmpl-fake", "object": "chat.completion", "model": request.get("model", "fake"),
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop"}],
                    }).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    def __enter__(self) -> "FakeLLM":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

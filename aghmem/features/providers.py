"""Providers: the builtin `local` (deterministic rules) and `llm`, any
OpenAI-compatible `/v1/chat/completions` endpoint behind a circuit breaker.

The breaker opens after `provider.failure_threshold` consecutive failures
(timeouts, HTTP errors, malformed answers) and stays open for
`provider.cooldown`; then one call is let through (half-open): success
closes it, failure opens it again. While it is open, callers fall back to
the rules without waiting on the network.

Which provider is active, and which are disabled, survives restarts in
`HOME/state/providers.json`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..config import Config, parse_duration
from ..controller.decisions import stamp
from ..errors import Conflict, NotFound
from ..storage.files import atomic_write

log = logging.getLogger("aghmem.providers")

Clock = Callable[[], dt.datetime]
LOCAL, LLM = "local", "llm"


class ProviderError(Exception):
    """One failed call; `code` is what `last_error_code` shows."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Completion:
    text: str
    model: str
    latency_ms: float


class CircuitBreaker:
    def __init__(self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = max(1, threshold)
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.last_error_code: str | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self.opened_at >= self.cooldown else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def cooldown_left(self) -> float:
        return 0.0 if self.opened_at is None else max(0.0, self.cooldown - (self.clock() - self.opened_at))

    def success(self) -> None:
        with self._lock:
            self.failures, self.opened_at = 0, None

    def failure(self, code: str) -> None:
        with self._lock:
            self.failures += 1
            self.last_error_code = code
            if self.failures >= self.threshold or self.opened_at is not None:
                self.opened_at = self.clock()  # (re)open: a half-open probe failed too


@dataclass(frozen=True)
class Guard:
    """A breaker of some calls' own, checked with the global one (a bound
    memory configuration's, COMPAT §2.6): either open, no call. `timeout`
    caps those calls' timeout."""

    name: str
    breaker: CircuitBreaker
    timeout: float | None = None


class ChatClient:
    """POST {base_url}/chat/completions, the OpenAI wire format."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        import httpx  # here, not at the top: most daemons never call a provider, and it is 60 ms of start-up

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers)

    def complete(self, model: str, messages: list[dict[str, str]], *, timeout: float, max_tokens: int) -> Completion:
        import httpx  # already loaded by __init__

        started = time.perf_counter()
        body = {"model": model, "messages": messages, "temperature": 0, "max_tokens": max_tokens}
        try:
            response = self._http.post("/chat/completions", json=body, timeout=timeout)
        except httpx.TimeoutException:
            raise ProviderError("timeout", f"no answer within {timeout:g} s") from None
        except httpx.TransportError as exc:
            raise ProviderError("unreachable", f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise ProviderError(f"http_{response.status_code}", response.text[:200])
        try:
            data = response.json()
            text = data["choices"][0]["message"]["content"]
            if not isinstance(text, str):
                raise TypeError("content is not a string")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ProviderError("malformed_response", f"not a chat completion: {exc}") from None
        return Completion(text, str(data.get("model") or model), (time.perf_counter() - started) * 1000)

    def close(self) -> None:
        self._http.close()


class Providers:
    def __init__(self, config: Config, state_path: Path, clock: Clock) -> None:
        self.config = config
        self.state_path = state_path
        self.clock = clock
        settings = config.provider
        self.breaker = CircuitBreaker(settings.failure_threshold, parse_duration(settings.cooldown))
        self.active = settings.name if settings.name in (LOCAL, LLM) else LOCAL
        self.disabled: set[str] = set()
        self._client: ChatClient | None = None
        self._client_lock = threading.Lock()
        self._load_state()

    # --- state -------------------------------------------------------------

    def _load_state(self) -> None:
        try:
            state = json.loads(self.state_path.read_text())
        except (FileNotFoundError, ValueError):
            return
        if state.get("active") in (LOCAL, LLM):
            self.active = state["active"]
        self.disabled = {name for name in state.get("disabled", []) if name == LLM}

    def _save_state(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        data = {"active": self.active, "disabled": sorted(self.disabled)}
        atomic_write(self.state_path, json.dumps(data).encode("utf-8"), durable=False)

    @property
    def configured(self) -> bool:
        settings = self.config.provider
        return bool(settings.base_url and settings.model)

    def llm_usable(self, guard: Guard | None = None) -> bool:
        """Whether a call may go out now (configured, enabled, active, breaker
        shut, and `guard`'s breaker too)."""
        usable = self.active == LLM and self.configured and LLM not in self.disabled and self.breaker.allow()
        return usable and (guard is None or guard.breaker.allow())

    # --- calls -------------------------------------------------------------

    def complete(self, messages: list[dict[str, str]], *, model: str | None = None, timeout: float | None = None,
                 max_tokens: int = 1024, guard: Guard | None = None) -> Completion:
        """One chat completion through the breaker (and `guard`'s); ProviderError
        if one is open, the provider is not usable, or the call fails."""
        if not self.llm_usable(guard):
            raise ProviderError("unavailable", self._unavailable_reason(guard))
        settings = self.config.provider
        with self._client_lock:
            if self._client is None:
                self._client = ChatClient(settings.base_url, os.environ.get(settings.api_key_env) or None)
            client = self._client
        timeout = timeout or parse_duration(settings.timeout)
        if guard is not None and guard.timeout:
            timeout = min(timeout, guard.timeout)
        try:
            completion = client.complete(model or settings.model, messages, timeout=timeout, max_tokens=max_tokens)
        except ProviderError as exc:
            for breaker in (self.breaker, guard.breaker if guard else None):
                if breaker is not None:
                    breaker.failure(exc.code)
            log.warning("provider llm: %s (%s)", exc.code, exc)
            raise
        self.breaker.success()
        if guard is not None:
            guard.breaker.success()
        return completion

    def _unavailable_reason(self, guard: Guard | None = None) -> str:
        if self.active != LLM:
            return f"the active provider is {self.active}"
        if not self.configured:
            return "provider.base_url and provider.model are not set"
        if LLM in self.disabled:
            return "the llm provider is disabled"
        if guard is not None and self.breaker.allow():
            broken = guard.breaker
            return f"the circuit of memory configuration {guard.name} is open after {broken.failures} failure(s); retry in {broken.cooldown_left():.0f} s"
        return f"circuit open after {self.breaker.failures} failure(s); retry in {self.breaker.cooldown_left():.0f} s"

    # --- views and switches --------------------------------------------------

    def view(self, name: str) -> dict[str, Any]:
        if name == LOCAL:
            return {
                "name": LOCAL, "builtin": True, "active": self.active == LOCAL, "enabled": True, "status": "active"
                if self.active == LOCAL else "available", "failure_count": 0, "cooldown_until": None,
                "last_error_code": None, "tools": ["controller", "extractor"], "model": None, "base_url": None,
            }
        if name != LLM:
            raise NotFound(f"no provider {name!r}; there are {LOCAL} and {LLM}", provider=name)
        if not self.configured:
            status = "unconfigured"
        elif LLM in self.disabled:
            status = "disabled"
        elif self.breaker.state != "closed":
            status = f"circuit_{self.breaker.state}"
        else:
            status = "active" if self.active == LLM else "available"
        left = self.breaker.cooldown_left()
        return {
            "name": LLM, "builtin": False, "active": self.active == LLM, "enabled": LLM not in self.disabled,
            "status": status, "failure_count": self.breaker.failures,
            "cooldown_until": stamp(self.clock() + dt.timedelta(seconds=left), ms=False) if left else None,
            "last_error_code": self.breaker.last_error_code, "tools": ["controller", "extractor"],
            "model": self.config.provider.model or None, "base_url": self.config.provider.base_url or None,
        }

    def list(self) -> list[dict[str, Any]]:
        return [self.view(LOCAL), self.view(LLM)]

    def select(self, name: str) -> dict[str, Any]:
        self.view(name)  # 404 for an unknown name
        if name == LLM and not self.configured:
            raise Conflict("the llm provider needs provider.base_url and provider.model in the config", provider=name)
        if name in self.disabled:
            raise Conflict(f"provider {name} is disabled; enable it first", provider=name)
        self.active = name
        self._save_state()
        return self.view(name)

    def set_enabled(self, name: str, enabled: bool) -> tuple[dict[str, Any], bool]:
        """(the provider's view, whether this changed its state)."""
        before = self.view(name)
        if name == LOCAL:
            if not enabled:
                raise Conflict("the local provider is the fallback of every other one and cannot be disabled", provider=name)
            return before, False
        if enabled:
            self.disabled.discard(name)
            self.breaker.success()  # a person said try again
        else:
            self.disabled.add(name)
            if self.active == name:
                self.active = LOCAL
        self._save_state()
        after = self.view(name)
        return after, (before["enabled"], before["status"]) != (after["enabled"], after["status"])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

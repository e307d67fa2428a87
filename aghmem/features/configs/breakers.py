"""A bound configuration's circuit breaker (COMPAT §2.6): provider calls
made for a scope whose most specific bound configuration has
`persistence.circuit_breaker.enabled = true` go through a breaker of that
configuration's own as well as the global `[provider]` one: either open,
no call (the caller takes its rules path). `max_failures` is the
threshold, `reset_timeout` the cooldown (unset: the `[provider]` values),
`timeout` caps each call.

One breaker per configuration (`project/id`), shared by every scope bound
to it and kept across calls; a change of the configuration (a PUT, a hand
edit) starts it afresh. `enabled = false` (or unset): only the global
breaker applies.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from ...config import parse_duration as config_duration
from ...model import Selector
from ..providers import CircuitBreaker, Guard
from ..sessions import SessionMeta
from .bindings import Bindings
from .validation import parse_duration
from .window import session_selector


class ConfigBreakers:
    def __init__(self, bindings: Bindings) -> None:
        self.bindings = bindings
        self._breakers: dict[str, tuple[str, CircuitBreaker]] = {}  # ref → (the config it was made for, breaker)
        self._lock = threading.Lock()

    def for_scope(self, selector: Selector) -> Guard | None:
        """The guard of calls made for `selector`, or None (no bound breaker)."""
        if not self.bindings.config.compat.cfg.bindings:
            return None  # the common case
        bound = self.bindings.effective(selector).bound
        if not bound:
            return None
        _, ref, config = bound[0]
        settings = (config.get("persistence") or {}).get("circuit_breaker") or {}
        if settings.get("enabled") is not True:
            return None
        made_for = json.dumps(config, sort_keys=True, default=str)
        with self._lock:
            known = self._breakers.get(ref)
            if known is None or known[0] != made_for:
                known = (made_for, self._breaker(settings))
                self._breakers[ref] = known
        timeout = parse_duration(settings["timeout"]) if settings.get("timeout") else None
        return Guard(ref, known[1], timeout or None)

    def for_session(self, meta: SessionMeta) -> Guard | None:
        """The guard of the llm extractor's calls for a session's scope."""
        return self.for_scope(session_selector(meta))

    def _breaker(self, settings: dict[str, Any]) -> CircuitBreaker:
        provider = self.bindings.config.provider
        reset = parse_duration(settings["reset_timeout"]) if settings.get("reset_timeout") else None
        return CircuitBreaker(
            settings.get("max_failures") or provider.failure_threshold,
            reset if reset is not None else config_duration(provider.cooldown),
        )

"""Which configurations apply to a scope (COMPAT §2.5), and what of them
the daemon enforces (§2.6).

`[compat.cfg.bindings]` maps a scope pattern to `project/id`:
`global`, `ws:<id>`, `agent:<name>[@<ws>]` (that scope only), `ws:<id>/*`
(the workspace and every agent scope in it), `cf:<account>/<namespace>`
(a CF namespace: as `ws:<its workspace id>/*`, the id from
compat.cf.namespace_bindings, else from the namespace's namespace.toml),
`*` (every scope). Privacy policies add up; the
redaction string, limits, flushing and breaker come from the most specific
pattern (exact > `ws:…/*` or `cf:` > `*`).
"""

from __future__ import annotations

import re
import threading
import tomllib
from dataclasses import dataclass, field
from typing import Any

from ...compat_config import ACCOUNT_ID
from ...config import Config
from ...controller.safety import Scanner
from ...model import Selector
from .store import ConfigStore

ENFORCED = ("privacy_policy.redact_patterns", "privacy_policy.default_redaction_string",
            "privacy_policy.non_persistable_message_types")
WINDOW_FIELDS = ("max_messages", "max_tokens", "flushing", "token_allocation", "persistence.circuit_breaker")
_CF_NAME = re.compile(r"^[a-z0-9-]{1,32}$")  # a CF namespace name (features/cloudflare/namespaces.py)
NOT_ENFORCED = "persistence.ttl,persistence.type,locking,token_provider,default_key_template"


@dataclass
class Effective:
    """A scope's bound configurations, most specific first."""

    bound: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (pattern, ref, config)

    @property
    def redact_patterns(self) -> list[str]:
        return [p for _, _, c in self.bound for p in (c.get("privacy_policy") or {}).get("redact_patterns", [])]

    def redaction(self, fallback: str) -> str:
        for _, _, config in self.bound:
            text = (config.get("privacy_policy") or {}).get("default_redaction_string")
            if text:
                return text
        return fallback

    @property
    def non_persistable(self) -> set[str]:
        return {t for _, _, c in self.bound for t in (c.get("privacy_policy") or {}).get("non_persistable_message_types", [])}

    def most_specific(self) -> dict[str, Any] | None:
        return self.bound[0][2] if self.bound else None


def specificity(pattern: str) -> int:
    if pattern == "*":
        return 1
    if pattern.endswith("/*") or pattern.startswith("cf:"):
        return 2
    return 3


class Bindings:
    def __init__(self, config: Config, store: ConfigStore) -> None:
        self.config = config
        self.store = store
        self.generation = 0  # bumped by every config file change
        self._cache: dict[tuple[Any, ...], Scanner | None] = {}
        self._lock = threading.Lock()

    def changed(self, _target: str = "") -> None:
        with self._lock:
            self.generation += 1
            self._cache.clear()

    def patterns(self) -> dict[str, str]:
        return dict(self.config.compat.cfg.bindings)

    def matches(self, pattern: str, scope_key: str) -> bool:
        if pattern == "*":
            return True
        if pattern.startswith("cf:"):
            ws = self.cf_workspace(pattern[3:])
            return bool(ws) and self.matches(f"ws:{ws}/*", scope_key)
        if pattern.endswith("/*"):
            ws = pattern[3:-2] if pattern.startswith("ws:") else None
            return ws is not None and (scope_key == f"ws:{ws}" or scope_key.endswith(f"@{ws}"))
        return pattern == scope_key

    def cf_workspace(self, path: str) -> str | None:
        """The workspace of CF namespace `<account>/<name>`: a bound name's,
        else the one its namespace.toml gives (none while it does not exist)."""
        account, _, namespace = path.partition("/")
        bound = self.config.compat.cf.namespace_bindings.get(namespace)
        if bound or not ACCOUNT_ID.fullmatch(account) or not _CF_NAME.fullmatch(namespace):
            return bound
        toml = self.config.home_path / self.config.compat.cf.root / account / namespace / ".agh" / "namespace.toml"
        try:
            ns_id = tomllib.loads(toml.read_text(encoding="utf-8")).get("id")
        except (OSError, ValueError):
            return None
        return "ws_" + ns_id.lower() if isinstance(ns_id, str) else None

    def effective(self, selector: Selector) -> Effective:
        found = []
        for pattern, ref in self.patterns().items():
            if self.matches(pattern, selector.key):
                config = self.store.load(ref)
                if config is not None:
                    found.append((pattern, ref, config))
        found.sort(key=lambda item: -specificity(item[0]))
        return Effective(found)

    def scanner(self, selector: Selector) -> Scanner | None:
        """The controller's scanner for a bound scope (the global patterns
        plus the bound ones); None for a scope with no bound patterns."""
        bindings = self.config.compat.cfg.bindings
        if not bindings:
            return None  # the common case, on every write and every file a scan reads
        key = (selector.key, self.generation, tuple(sorted(bindings.items())))
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        effective = self.effective(selector)
        scanner = None
        if effective.redact_patterns:
            policy = self.config.privacy_policy
            redaction = effective.redaction(policy.default_redaction_string)
            scanner = Scanner(
                redact_patterns=policy.redact_patterns, redaction=redaction,
                bound=[(p, redaction) for p in effective.redact_patterns],
            )
        with self._lock:
            self._cache[key] = scanner
        return scanner

    def references(self, project: str, config_id: str) -> list[str]:
        ref = f"{project}/{config_id}"
        return sorted(p for p, r in self.patterns().items() if r == ref)

    def missing(self) -> list[dict[str, str]]:
        """Bindings whose configuration is absent or broken (a warning)."""
        return [{"pattern": p, "config": r} for p, r in sorted(self.patterns().items()) if self.store.load(r) is None]

    def view(self) -> dict[str, Any]:
        """compat.cfg.effective for GET /api/memory/config."""
        out = {}
        for pattern, ref in sorted(self.patterns().items()):
            config = self.store.load(ref)
            enforced = [] if config is None else [f for f in (*ENFORCED, *WINDOW_FIELDS) if _has(config, f)]
            out[pattern] = {"config": ref, "present": config is not None, "enforced": enforced}
        return out


def _has(config: dict[str, Any], dotted: str) -> bool:
    value: Any = config
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True

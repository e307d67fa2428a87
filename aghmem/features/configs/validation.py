"""What a memory configuration may hold (COMPAT §2.3), checked the way
compozy checks it (engine/memory/config.go), with its wording in the
messages: `memory config ID 'x': token allocation sum (1.200) must be
approximately 1.0`.

`normalize()` returns the configuration as it is stored: known keys only,
empty values left out, in the file's key order (fileformat.py writes it).
Everything here raises ValidationError; the face answers 400 invalid_input.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

from ...controller.safety import re2_refusal
from ...errors import ValidationError

TYPES = ("token_based", "message_count_based", "buffer")
PERSISTENCE_TYPES = ("redis", "in_memory")
FLUSHING_TYPES = ("hybrid_summary", "simple_fifo", "lru", "token_aware_lru")
# The file's key order (§2.2): compozy's own fields, then the keys compozy
# stores without using them here.
ORDER = (
    "resource", "id", "description", "version", "type", "max_tokens", "max_messages", "max_context_ratio",
    "token_allocation", "flushing", "persistence", "privacy_policy", "locking", "token_provider",
    "default_key_template",
)
STORED_ONLY = (
    "eviction_policy", "privacy_scope", "expiration", "model", "model_context_size", "token_counter", "metadata",
    "disable_flush",
)
TOP_KEYS = frozenset(ORDER + STORED_ONLY)
MAX_PATTERNS, MAX_PATTERN_CHARS, MAX_REDACTION_CHARS = 64, 512, 64
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)")
_ENV_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")


class Checker:
    """The messages of one configuration (`memory config ID 'x': …`)."""

    def __init__(self, config_id: str) -> None:
        self.config_id = config_id

    def fail(self, message: str, field: str | None = None) -> ValidationError:
        return ValidationError(f"memory config ID '{self.config_id}': {message}", field=field)

    def object(self, value: Any, name: str, keys: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"{name} must be an object", name)
        unknown = sorted(set(value) - set(keys))
        if unknown:
            raise self.fail(f"{name} has unknown field(s) {', '.join(unknown)}", f"{name}.{unknown[0]}")
        return value

    def string(self, value: Any, name: str, max_chars: int = 1000) -> str:
        if not isinstance(value, str):
            raise self.fail(f"{name} must be a string", name)
        if len(value) > max_chars:
            raise self.fail(f"{name} is {len(value)} characters; at most {max_chars}", name)
        return value

    def integer(self, value: Any, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise self.fail(f"{name} must be an integer", name)
        if value <= 0:
            raise self.fail(f"{name} ({value}) must be > 0", name)
        return value

    def number(self, value: Any, name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(f"{name} must be a number", name)
        return value

    def fraction(self, value: Any, name: str, *, zero: bool = False) -> float:
        number = self.number(value, name)
        if number < 0 or number > 1 or (number == 0 and not zero):
            bound = ">= 0" if zero else "> 0"
            raise self.fail(f"{name} ({number:.2f}) must be {bound} and <= 1", name)
        return number

    def duration(self, value: Any, name: str) -> str:
        text = self.string(value, name, 64)
        if parse_duration(text) is None:
            raise self.fail(f"invalid {name} duration format '{text}'", name)
        if text.startswith("-"):
            raise self.fail(f"{name} must be non-negative, got '{text}'", name)
        return text

    def choice(self, value: Any, name: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise self.fail(f"{name} must be one of {' | '.join(allowed)}, got {value!r}", name)
        return value


def parse_duration(text: str) -> float | None:
    """Seconds in a human duration (`30s`, `5m`, `24h`, `7d`, `1h30m`; `0`);
    None when it is not one."""
    body = text[1:] if text.startswith("-") else text
    if body == "0":
        return 0.0
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    parts = _DURATION_PART.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        return None
    seconds = sum(float(n) * units[u] for n, u in parts)
    return -seconds if text.startswith("-") else seconds


def normalize(body: dict[str, Any], config_id: str) -> dict[str, Any]:
    """The stored form of a PUT body (or of a file's content); `id` and
    `resource` are the path's (a body's own are overwritten, as compozy
    does); `etag` is ignored."""
    c = Checker(config_id)
    given = {k: v for k, v in body.items() if k not in ("etag", "id", "resource")}
    unknown = sorted(set(given) - TOP_KEYS)
    if unknown:
        raise c.fail(f"unknown field(s) {', '.join(unknown)}", unknown[0])
    given = {k: v for k, v in given.items() if not _empty(v)}
    out: dict[str, Any] = {"resource": "memory", "id": config_id}
    for key, limit in (("description", 1000), ("version", 64), ("default_key_template", 512)):
        if key in given:
            out[key] = c.string(given[key], key, limit)
    if "type" not in given:
        raise c.fail("type is required (token_based | message_count_based | buffer)", "type")
    out["type"] = c.choice(given["type"], "type", TYPES)
    for key in ("max_tokens", "max_messages"):
        if given.get(key) not in (None, 0):
            out[key] = c.integer(given[key], key)
    if given.get("max_context_ratio") not in (None, 0):
        out["max_context_ratio"] = c.fraction(given["max_context_ratio"], "max_context_ratio")
    for key, check in SECTIONS.items():
        if key in given:
            out[key] = check(c, given[key])
    if "persistence" not in given:
        raise c.fail("persistence is required", "persistence")
    for key in STORED_ONLY:
        if key in given:
            out[key] = given[key]
    _check_limits(c, out)
    return ordered(out)


def _check_limits(c: Checker, out: dict[str, Any]) -> None:
    if "max_context_ratio" in out and "token_provider" not in out:
        raise c.fail("max_context_ratio requires token_provider to be configured", "max_context_ratio")
    if out["type"] == "token_based" and not any(k in out for k in ("max_tokens", "max_context_ratio", "max_messages")):
        raise c.fail("token_based memory must have either max_tokens, max_context_ratio, or max_messages set", "max_tokens")
    if out["type"] == "message_count_based" and "max_messages" not in out:
        raise c.fail("message_count_based memory must have max_messages set", "max_messages")


def _token_allocation(c: Checker, value: Any) -> dict[str, Any]:
    value = c.object(value, "token_allocation", ("short_term", "long_term", "system", "user_defined"))
    out = {k: c.fraction(value[k], f"token_allocation.{k}", zero=True) for k in ("short_term", "long_term", "system") if k in value}
    total = sum(out.values())
    user = value.get("user_defined")
    if not _empty(user):
        if not isinstance(user, dict):
            raise c.fail("token_allocation.user_defined must be an object", "token_allocation.user_defined")
        out["user_defined"] = {str(k): c.number(user[k], f"token_allocation.user_defined.{k}") for k in sorted(user)}
        total += sum(out["user_defined"].values())
    if abs(total - 1.0) > 0.001:
        raise c.fail(f"token allocation sum ({total:.3f}) must be approximately 1.0", "token_allocation")
    return out


def _flushing(c: Checker, value: Any) -> dict[str, Any]:
    value = c.object(value, "flushing", ("type", "summarize_threshold", "summary_tokens", "summarize_oldest_percent"))
    out: dict[str, Any] = {"type": c.choice(value.get("type"), "flushing.type", FLUSHING_TYPES)}
    hybrid = out["type"] == "hybrid_summary"
    if hybrid or "summarize_threshold" in value:
        c.number(value.get("summarize_threshold", 0), "flushing.summarize_threshold")
        threshold = value.get("summarize_threshold", 0)
        if threshold <= 0 or threshold > 1:
            raise c.fail(f"flushing.summarize_threshold ({threshold:.2f}) must be > 0 and <= 1", "flushing.summarize_threshold")
        out["summarize_threshold"] = threshold
    if hybrid or "summary_tokens" in value:
        tokens = value.get("summary_tokens", 0)
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens <= 0:
            raise c.fail(f"flushing.summary_tokens ({tokens}) must be > 0", "flushing.summary_tokens")
        out["summary_tokens"] = tokens
    if value.get("summarize_oldest_percent") not in (None, 0):
        percent = c.number(value["summarize_oldest_percent"], "flushing.summarize_oldest_percent")
        if percent > 1:
            raise c.fail(f"flushing.summarize_oldest_percent ({percent}) is a fraction in (0, 1]: write 0.3 for 30%",
                         "flushing.summarize_oldest_percent")
        out["summarize_oldest_percent"] = c.fraction(percent, "flushing.summarize_oldest_percent")
    return out


def _persistence(c: Checker, value: Any) -> dict[str, Any]:
    value = c.object(value, "persistence", ("type", "ttl", "circuit_breaker"))
    out: dict[str, Any] = {"type": c.choice(value.get("type"), "persistence.type", PERSISTENCE_TYPES)}
    if not _empty(value.get("ttl")):
        out["ttl"] = c.duration(value["ttl"], "persistence.ttl")
    elif out["type"] != "in_memory":
        raise c.fail(f"persistence.ttl is required for persistence type '{out['type']}'", "persistence.ttl")
    breaker = value.get("circuit_breaker")
    if not _empty(breaker):
        breaker = c.object(breaker, "persistence.circuit_breaker", ("enabled", "timeout", "max_failures", "reset_timeout"))
        cb: dict[str, Any] = {}
        if "enabled" in breaker:
            if not isinstance(breaker["enabled"], bool):
                raise c.fail("persistence.circuit_breaker.enabled must be true or false", "persistence.circuit_breaker.enabled")
            cb["enabled"] = breaker["enabled"]
        if breaker.get("max_failures") not in (None, 0):
            cb["max_failures"] = c.integer(breaker["max_failures"], "persistence.circuit_breaker.max_failures")
        for key in ("timeout", "reset_timeout"):
            if not _empty(breaker.get(key)):
                cb[key] = c.duration(breaker[key], f"persistence.circuit_breaker.{key}")
        if cb:
            out["circuit_breaker"] = cb
    return out


def _privacy_policy(c: Checker, value: Any) -> dict[str, Any]:
    value = c.object(value, "privacy_policy", ("redact_patterns", "non_persistable_message_types", "default_redaction_string"))
    out: dict[str, Any] = {}
    patterns = value.get("redact_patterns")
    if not _empty(patterns):
        if not isinstance(patterns, list) or len(patterns) > MAX_PATTERNS:
            raise c.fail(f"privacy_policy.redact_patterns must be a list of at most {MAX_PATTERNS} patterns", "privacy_policy.redact_patterns")
        out["redact_patterns"] = [_pattern(c, p) for p in patterns]
    types = value.get("non_persistable_message_types")
    if not _empty(types):
        if not isinstance(types, list):
            raise c.fail("privacy_policy.non_persistable_message_types must be a list of strings", "privacy_policy.non_persistable_message_types")
        out["non_persistable_message_types"] = [c.string(t, "privacy_policy.non_persistable_message_types[]", 128) for t in types]
    if not _empty(value.get("default_redaction_string")):
        out["default_redaction_string"] = c.string(value["default_redaction_string"], "privacy_policy.default_redaction_string", MAX_REDACTION_CHARS)
    return out


def _pattern(c: Checker, pattern: Any) -> str:
    name = "privacy_policy.redact_patterns"
    text = c.string(pattern, name + "[]", MAX_PATTERN_CHARS)
    try:
        re.compile(text)
    except re.error as exc:
        raise c.fail(f"invalid redaction pattern '{text}': {exc}", name) from None
    refusal = re2_refusal(text)
    if refusal is not None:
        # RE2 is compozy's engine and the one patterns run on here (linear time).
        raise c.fail(f"redaction pattern '{text}' is not RE2 ({refusal}): no look-around, back references, "
                     "possessive or atomic forms, at most 1000 repeats", name)
    return text


def _locking(c: Checker, value: Any) -> dict[str, Any]:
    value = c.object(value, "locking", ("append_ttl", "clear_ttl", "flush_ttl"))
    return {k: c.duration(value[k], f"locking.{k}") for k in ("append_ttl", "clear_ttl", "flush_ttl") if not _empty(value.get(k))}


def _token_provider(c: Checker, value: Any) -> dict[str, Any]:
    keys = ("provider", "model", "api_key", "api_key_env", "endpoint", "fallback", "settings")
    value = c.object(value, "token_provider", keys)
    out = {k: c.string(value[k], f"token_provider.{k}", 512) for k in keys[:-1] if not _empty(value.get(k))}
    if "api_key" in out and not _ENV_REF.fullmatch(out["api_key"]):
        raise c.fail("token_provider.api_key must be empty or an environment reference like ${OPENAI_API_KEY}: "
                     "literal keys are not stored (use api_key_env)", "token_provider.api_key")
    if "api_key_env" in out and not _ENV_NAME.fullmatch(out["api_key_env"]):
        raise c.fail("token_provider.api_key_env must be an environment variable name (^[A-Z_][A-Z0-9_]*$)", "token_provider.api_key_env")
    if "endpoint" in out and not _URL.fullmatch(out["endpoint"]):
        raise c.fail("token_provider.endpoint must be an http(s) URL", "token_provider.endpoint")
    settings = value.get("settings")
    if not _empty(settings):
        if not isinstance(settings, dict) or not all(isinstance(v, str) for v in settings.values()):
            raise c.fail("token_provider.settings must map names to strings", "token_provider.settings")
        out["settings"] = {str(k): settings[k] for k in sorted(settings)}
    return out


SECTIONS: dict[str, Callable[[Checker, Any], dict[str, Any]]] = {
    "token_allocation": _token_allocation,
    "flushing": _flushing,
    "persistence": _persistence,
    "privacy_policy": _privacy_policy,
    "locking": _locking,
    "token_provider": _token_provider,
}


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def ordered(config: dict[str, Any]) -> dict[str, Any]:
    """The keys in the file's order; the nested objects as built above."""
    return {k: config[k] for k in ORDER + STORED_ONLY if k in config and not _empty(config[k])}

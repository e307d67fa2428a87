"""The file of one configuration: compozy's resource YAML, written the same
way every time (key order of validation.ORDER, UTF-8, LF), so the same
configuration always gives the same bytes and the ETag (sha256 of the
bytes) changes exactly when the file does."""

from __future__ import annotations

import hashlib
from typing import Any

import yaml

from ...errors import AghmemError, ValidationError
from .validation import normalize


class BrokenConfig(AghmemError):
    """A stored file that does not parse or validate (HTTP 500 `internal`,
    the one 500 the spec asks for; the detail names the error, not the path)."""

    code = "memory.internal"


def render(config: dict[str, Any]) -> bytes:
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, default_flow_style=False, width=4096)
    return text.encode("utf-8")


def etag(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def parse(raw: bytes, config_id: str) -> dict[str, Any]:
    """The configuration a file holds, checked as a PUT body is; BrokenConfig
    if it is not one."""
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BrokenConfig(f"memory config ID '{config_id}': the stored file is not valid YAML: {_first_line(exc)}") from None
    if not isinstance(data, dict):
        raise BrokenConfig(f"memory config ID '{config_id}': the stored file does not hold a mapping")
    resource = data.get("resource")
    if resource != "memory":
        raise BrokenConfig(f"memory config ID '{config_id}': resource field must be 'memory', got '{resource or ''}'")
    if data.get("id") != config_id:
        raise BrokenConfig(f"memory config ID '{config_id}': the stored id '{data.get('id')}' does not match the file name")
    try:
        return normalize(data, config_id)
    except ValidationError as exc:
        raise BrokenConfig(exc.message) from None


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]

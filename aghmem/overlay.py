"""TOML tables laid onto typed dataclasses: the checking half of config.

An unknown key or a value of the wrong type is a ConfigError naming the
key's path, so a typo stops the daemon at start instead of being ignored.
"""

from __future__ import annotations

import dataclasses
from typing import Any, get_type_hints

from .errors import ConfigError


def overlay(target: Any, data: dict[str, Any], prefix: str = "") -> None:
    """Set `target`'s fields from `data`, recursing into nested dataclasses."""
    hints = get_type_hints(type(target))
    known = {f.name for f in dataclasses.fields(target)}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in known:
            raise ConfigError(f"unknown config key: {path}")
        current = getattr(target, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"config key {path} must be a table")
            overlay(current, value, path + ".")
            continue
        setattr(target, key, coerce(hints[key], value, path))


def coerce(hint: Any, value: Any, path: str) -> Any:
    """`value` as the field's type; bool is never taken for a number."""
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    elif getattr(hint, "__origin__", None) is list:
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
    elif getattr(hint, "__origin__", None) is dict:
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return dict(value)
        name = "a table of strings"
        raise ConfigError(f"config key {path} must be {name}, got {type(value).__name__}")
    name = getattr(hint, "__name__", str(hint))
    raise ConfigError(f"config key {path} must be {name}, got {type(value).__name__}")

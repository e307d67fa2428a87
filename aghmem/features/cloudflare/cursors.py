"""Opaque list cursors (COMPAT §1.5): base64url, no padding, of compact
JSON with a version; anything that will not decode is a 400."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ...errors import ValidationError


def encode(payload: dict[str, Any]) -> str:
    raw = json.dumps({"v": 1, **payload}, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(cursor: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """The cursor's fields, all of `keys` present as strings, or a 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):  # "[" * 5000 is a RecursionError
        data = None
    if not isinstance(data, dict) or data.get("v") != 1 or not all(isinstance(data.get(k), str) for k in keys):
        raise ValidationError("invalid cursor", field="cursor")
    return data


def per_page(raw: str | None, *, default: int = 20, maximum: int = 1000) -> int:
    """The `per_page` query parameter: a whole number 1…maximum."""
    if raw is None:
        return default
    text = raw.strip()
    if not text.isdigit() or len(text) > 7 or not 1 <= int(text) <= maximum:
        raise ValidationError(f"per_page must be a whole number from 1 to {maximum}", field="per_page")
    return int(text)

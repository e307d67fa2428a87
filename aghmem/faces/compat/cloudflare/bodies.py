"""Reading CF request bodies: a JSON object (whatever the Content-Type,
as curl without -H sends form-encoded), camelCase fields with their
snake_case aliases, and unknown fields reported, not refused (§1.5)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ....errors import ValidationError
from ...api.parsing import json_object, read_body

NOTICE_UNKNOWN = 10100
ALIASES = {"sessionId": "session_id", "thinkingLevel": "thinking_level", "responseLength": "response_length", "referenceDate": "reference_date"}


async def read_object(request: Request, *, cap: int | None = None) -> dict[str, Any]:
    """The body's JSON object whatever its Content-Type (curl without -H
    sends a form type); an empty or blank body is `{}`."""
    raw = await read_body(request, cap=cap)
    return json_object(raw) if raw.strip() else {}


def take(body: dict[str, Any], names: tuple[str, ...]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The known fields by their camelCase name (a snake_case alias that
    disagrees with it is a 400), and the notices for the rest."""
    values: dict[str, Any] = {}
    for name in names:
        alias = ALIASES.get(name)
        if alias in body and name in body and body[alias] != body[name]:
            raise ValidationError(f"{name} and {alias} disagree", field=name)
        if name in body:
            values[name] = body[name]
        elif alias in body:
            values[name] = body[alias]
    known = {*names, *(ALIASES[n] for n in names if n in ALIASES)}
    unknown = sorted(k for k in body if k not in known)
    notices = [{"code": NOTICE_UNKNOWN, "message": f"ignored unknown field(s): {', '.join(unknown)}"}] if unknown else []
    return values, notices


def text(values: dict[str, Any], name: str, *, required: bool = False, max_bytes: int | None = None, max_chars: int | None = None) -> str | None:
    """A string field (null or absent: None, unless required)."""
    value = values.get(name)
    if value is None:
        if required:
            raise ValidationError(f"{name} is required", field=name, pointer=f"/{name}")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string", field=name, pointer=f"/{name}")
    if max_chars is not None and not 1 <= len(value) <= max_chars:
        raise ValidationError(f"{name} must be 1-{max_chars} characters", field=name, pointer=f"/{name}")
    if max_bytes is not None and not 1 <= len(value.encode("utf-8")) <= max_bytes:
        raise ValidationError(f"{name} must be 1-{max_bytes} bytes of UTF-8", field=name, pointer=f"/{name}")
    return value


def choice(values: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = values.get(name)
    if value is None:
        return default
    if value not in allowed:
        raise ValidationError(f"{name} must be one of {', '.join(allowed)}", field=name, pointer=f"/{name}")
    return value

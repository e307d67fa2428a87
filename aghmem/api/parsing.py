"""Reading requests: JSON bodies with a size cap, query selectors, numbers."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from ..errors import TooLarge, ValidationError
from ..model import SELECTOR_FIELDS, Selector, has_selector_fields, resolve_selector


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object; an empty body is `{}`.

    A body over `server.max_body_bytes` is 413 (checked on Content-Length
    first, then while reading, so a chunked upload cannot get past it); a
    non-empty body must be sent as application/json.
    """
    cap: int = request.app.state.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_size = int(declared)
        except ValueError:
            raise ValidationError("Content-Length is not a number") from None
        if declared_size > cap:
            raise TooLarge(f"request body is {declared_size} bytes; the limit is {cap}", limit=cap)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise TooLarge(f"request body is over the limit of {cap} bytes", limit=cap)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise ValidationError("send the body as JSON with Content-Type: application/json", content_type=content_type)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError("body must be a JSON object")
    return data


def query_selector(request: Request, *, optional: bool = False) -> Selector | None:
    """The selector in the query string; with `optional`, None when absent."""
    query = {key: request.query_params.get(key) for key in SELECTOR_FIELDS}
    if optional and not has_selector_fields(query):
        return None
    return resolve_selector(query)


def query_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(f"{name} must be a whole number", field=name) from None


def query_flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "").lower()
    if raw in ("", "false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise ValidationError(f"{name} must be true or false", field=name)


def if_match(request: Request) -> str | None:
    """The content hash in If-Match, quotes (and a weak W/ prefix) removed."""
    value = request.headers.get("if-match")
    if value is None:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')

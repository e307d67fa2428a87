"""Reading requests: JSON bodies with a size cap, query selectors, numbers."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.requests import Request

from ...errors import TooLarge, UnsupportedMediaType, ValidationError
from ...model import SELECTOR_FIELDS, Selector, has_selector_fields, resolve_selector
from ..json_depth import MAX_JSON_DEPTH, nested_too_deeply
from .payloads.spec import MAX_INT, Field


async def read_json(request: Request, *, cap: int | None = None) -> dict[str, Any]:
    """The request's JSON object; an empty body is `{}`.

    A body over `cap` (default `server.max_body_bytes`; a route that takes
    more, like a compat ingest, passes its own) is 413, checked on
    Content-Length first, then while reading, so a chunked upload cannot
    get past it; a non-empty body must be sent as application/json.
    """
    raw = await read_body(request, cap=cap)
    if not raw:
        return {}
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType("send the body as JSON with Content-Type: application/json", content_type=content_type)
    return json_object(raw)


def json_object(raw: bytes) -> dict[str, Any]:
    """`raw` as a JSON object whose numbers a file, SQLite and JSON can all
    hold, without lone surrogates, nested at most MAX_JSON_DEPTH levels;
    ValidationError otherwise."""
    try:
        data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ValidationError(f"body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep") from None
    if not isinstance(data, dict):
        raise ValidationError("body must be a JSON object")
    reject_lone_surrogates(data)
    if nested_too_deeply(data):
        raise ValidationError(f"body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep")
    return data


async def read_body(request: Request, *, cap: int | None = None) -> bytes:
    """The raw body, at most `cap` bytes (413 past it). It is kept on the
    request, so a route that reads it to choose a handler (the /api/memory
    dispatcher) can hand the same request on; the next read checks its own cap."""
    limit: int = request.app.state.max_body_bytes if cap is None else cap
    if hasattr(request, "_body"):  # read before, under another cap
        raw: bytes = request._body
        if len(raw) > limit:
            raise TooLarge(f"request body is {len(raw)} bytes; the limit is {limit}", limit=limit)
        return raw
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_size = int(declared)
        except ValueError:
            raise ValidationError("Content-Length is not a number") from None
        if declared_size > limit:
            raise TooLarge(f"request body is {declared_size} bytes; the limit is {limit}", limit=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body is over the limit of {limit} bytes", limit=limit)
        chunks.append(chunk)
    request._body = b"".join(chunks)  # Starlette's own cache: body() and stream() answer from it
    return request._body


# Numbers a file, SQLite and JSON can all hold: finite floats (1e400 parses
# as inf, which YAML writes as .inf and JSON cannot answer) and integers in
# SQLite's 64 bits (MAX_INT).


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_INT:
        raise ValueError(f"{text} is out of range (at most {MAX_INT})")
    return value


# JSON may spell a lone UTF-16 surrogate (`"\ud800"`), and json.loads passes
# it through (raw bytes ED A0 80 too: it decodes with surrogatepass). Such a
# string is not text: it cannot be encoded as UTF-8, so it would fail deep in
# the write path (hashing, the file, the ledger) after work had begun.
_SURROGATE = re.compile("[\ud800-\udfff]")

# A step back to the parent in a JSON path: (parent crumb, key or index).
_Crumb = tuple["_Crumb | None", "str | int"] | None


def _has_surrogate(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


def _printable(key: str) -> str:
    """A key as it can be shown (and encoded) in an error: `\\ud800` for a surrogate."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _path(crumb: _Crumb) -> str:
    """`events[0].payload.content` from the chain of crumbs."""
    parts: list[str | int] = []
    while crumb is not None:
        crumb, step = crumb
        parts.append(step)
    text = ""
    for step in reversed(parts):
        text += f"[{step}]" if isinstance(step, int) else (f".{_printable(step)}" if text else _printable(step))
    return text


def lone_surrogate_path(data: Any) -> str | None:
    """The path of a string or key holding a lone surrogate (the first the
    walk meets), else None. Iterative: the nesting depth costs no stack, and
    a path is only spelled out for the one that is found."""
    stack: list[tuple[Any, _Crumb]] = [(data, None)]
    while stack:
        value, crumb = stack.pop()
        if isinstance(value, str):
            if _has_surrogate(value):
                return _path(crumb)
        elif isinstance(value, dict):
            for key in value:
                if _has_surrogate(key):
                    return _path((crumb, key))
            stack.extend(((item, (crumb, key)) for key, item in reversed(value.items())))
        elif isinstance(value, list):
            stack.extend(((value[i], (crumb, i)) for i in range(len(value) - 1, -1, -1)))
    return None


def reject_lone_surrogates(data: Any) -> None:
    """400 naming the field when any string or key holds a lone surrogate."""
    field = lone_surrogate_path(data)
    if field is not None:
        raise ValidationError(
            f"{field} holds a lone UTF-16 surrogate (such as \\ud800), which is not text; send valid Unicode",
            field=field,
        )


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
    return whole_number(raw, name)


def whole_number(raw: str, name: str) -> int:
    """A query or path parameter as an integer SQLite can hold."""
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"{name} must be a whole number", field=name) from None
    if abs(value) > MAX_INT:
        raise ValidationError(f"{name} is out of range (at most {MAX_INT})", field=name)
    return value


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


def query_value(request: Request, name: str, spec: Field) -> str | None:
    """A text query parameter held to its declaration (an enum, a pattern);
    None when absent or empty."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    spec.check(raw, name)
    return raw

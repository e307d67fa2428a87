"""compozy's list cursor: base64url (no padding) of `v2:after:<id>` or
`v2:before:<id>`; the raw form the seed's example shows is taken too."""

from __future__ import annotations

import base64
import binascii
import bisect
from dataclasses import dataclass

from ...errors import ValidationError


class InvalidCursor(ValidationError):
    """400 `invalid_cursor`, detail `Invalid cursor parameter`."""


def encode(direction: str, value: str) -> str:
    return base64.urlsafe_b64encode(f"v2:{direction}:{value}".encode()).decode().rstrip("=")


def decode(text: str) -> tuple[str, str]:
    """(direction, id) of a cursor; InvalidCursor when it is not one."""
    raw = text
    if not text.startswith("v2:"):
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
        except (binascii.Error, ValueError):
            raise InvalidCursor("Invalid cursor parameter") from None
    for direction in ("after", "before"):
        prefix = f"v2:{direction}:"
        if raw.startswith(prefix) and len(raw) > len(prefix):
            return direction, raw[len(prefix):]
    raise InvalidCursor("Invalid cursor parameter")


@dataclass
class Page:
    ids: list[str]
    next_cursor: str | None
    prev_cursor: str | None


def page(ids: list[str], limit: int, cursor: str | None) -> Page:
    """One window of `ids` (sorted): after the cursor's id, or the last
    `limit` before it; cursors to the windows on either side."""
    start = 0
    if cursor:
        direction, value = decode(cursor)
        if direction == "after":
            start = bisect.bisect_right(ids, value)
        else:
            start = max(0, bisect.bisect_left(ids, value) - limit)
            window = ids[start : bisect.bisect_left(ids, value)]
            return _page(ids, start, window)
    return _page(ids, start, ids[start : start + limit])


def _page(ids: list[str], start: int, window: list[str]) -> Page:
    more = start + len(window) < len(ids)
    return Page(
        window,
        encode("after", window[-1]) if window and more else None,
        encode("before", window[0]) if window and start > 0 else None,
    )
